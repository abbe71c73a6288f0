//! Which URLs the cache-warmer may fetch: http(s) only, a host on the allow-list, and never an
//! address that is link-local (169.254.0.0/16, fe80::/10) or the EC2 metadata service
//! (fd00:ec2::254), checked on the resolved addresses too, so a published event cannot turn
//! the worker into a proxy into the network.

use std::net::IpAddr;

use reqwest::Url;

/// Why a URL is refused (permanent: the event must change).
pub fn check(url: &str, allowed: &[String]) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{url:?}: only http and https URLs are fetched"));
    }
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_ascii_lowercase();
    if let Ok(ip) = host.parse::<IpAddr>() {
        forbidden_ip(ip).map_or(Ok(()), Err)?;
    }
    let on_list = allowed.iter().any(|a| match a.strip_prefix('.') {
        Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
        None => host == *a,
    });
    if !on_list {
        return Err(format!(
            "host {host} is not on the cache-warmer's allow-list (STOKER_CACHE_ALLOWED_HOSTS = {})",
            if allowed.is_empty() {
                "empty".to_owned()
            } else {
                allowed.join(",")
            }
        ));
    }
    Ok(parsed)
}

/// Refuses a host whose name resolves to a forbidden address.
pub async fn check_resolved(url: &Url) -> Result<(), String> {
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    // An unresolvable host is left to the request itself (a retryable failure).
    if let Ok(addrs) = tokio::net::lookup_host((host.as_str(), port)).await {
        for a in addrs {
            forbidden_ip(a.ip()).map_or(Ok(()), Err)?;
        }
    }
    Ok(())
}

fn forbidden_ip(ip: IpAddr) -> Option<String> {
    let bad = match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    == "fd00:ec2::254"
                        .parse::<std::net::Ipv6Addr>()
                        .unwrap_or(std::net::Ipv6Addr::UNSPECIFIED)
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_link_local())
        }
    };
    bad.then(|| format!("{ip} is a link-local or metadata address: never fetched"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "api.example.com".into(),
            ".cdn.example.com".into(),
            "127.0.0.1".into(),
        ]
    }

    #[test]
    fn allow_list_hosts_and_domains() {
        assert!(check("https://api.example.com/menu", &allowed()).is_ok());
        assert!(check("https://img.cdn.example.com/x", &allowed()).is_ok());
        assert!(check("http://127.0.0.1:8080/x", &allowed()).is_ok());
        let e = check("https://evil.example.org/", &allowed()).unwrap_err();
        assert!(e.contains("not on the cache-warmer's allow-list"), "{e}");
        assert!(check("https://xapi.example.com/", &allowed()).is_err());
        assert!(check("ftp://api.example.com/", &allowed()).is_err());
        assert!(check("not a url", &allowed()).is_err());
    }

    #[test]
    fn metadata_and_link_local_are_refused_even_when_listed() {
        let listed = vec![
            "169.254.169.254".into(),
            "[fd00:ec2::254]".into(),
            "fd00:ec2::254".into(),
        ];
        for u in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.1.1]/",
        ] {
            let e = check(u, &listed).unwrap_err();
            assert!(e.contains("link-local or metadata"), "{u}: {e}");
        }
    }
}
