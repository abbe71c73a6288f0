//! Which URLs the cache-warmer may fetch: http(s) only, a host on the allow-list, and an
//! address that [`crate::address`] accepts. A URL naming an IP address is judged here (it is
//! never resolved); a URL naming a host is judged again at connect time, on every address the
//! name resolves to ([`crate::resolver`]), so a published event cannot turn the worker into a
//! proxy into its own network.

use reqwest::Url;
use url::Host;

use crate::address;
use crate::redact;

/// Why a URL is refused (permanent: the event must change).
pub fn check(url: &str, allowed: &[String], allow_private: bool) -> Result<Url, String> {
    let shown = redact::url(url);
    let parsed = Url::parse(url).map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("{shown:?}: only http and https URLs are fetched"));
    }
    let host = match parsed.host() {
        None => return Err(format!("{shown:?} has no host")),
        Some(Host::Ipv4(ip)) => address_ok(ip.into(), allow_private)?.to_string(),
        Some(Host::Ipv6(ip)) => address_ok(ip.into(), allow_private)?.to_string(),
        Some(Host::Domain(d)) => d.to_ascii_lowercase(),
    };
    let on_list = allowed.iter().any(|a| {
        let a = a.trim_matches(['[', ']']);
        match a.strip_prefix('.') {
            Some(domain) => host == domain || host.ends_with(&format!(".{domain}")),
            None => host == a,
        }
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

fn address_ok(ip: std::net::IpAddr, allow_private: bool) -> Result<std::net::IpAddr, String> {
    address::refusal(ip, allow_private).map_or(Ok(ip), Err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        vec![
            "api.example.com".into(),
            ".cdn.example.com".into(),
            "127.0.0.1".into(),
            "[::1]".into(),
        ]
    }

    #[test]
    fn allow_list_hosts_and_domains() {
        assert!(check("https://api.example.com/menu", &allowed(), false).is_ok());
        assert!(check("https://img.cdn.example.com/x", &allowed(), false).is_ok());
        assert!(check("HTTPS://API.EXAMPLE.COM/x", &allowed(), false).is_ok());
        let e = check("https://evil.example.org/", &allowed(), false).unwrap_err();
        assert!(e.contains("not on the cache-warmer's allow-list"), "{e}");
        assert!(check("https://xapi.example.com/", &allowed(), false).is_err());
        assert!(check("ftp://api.example.com/", &allowed(), false).is_err());
        assert!(check("not a url", &allowed(), false).is_err());
    }

    #[test]
    fn loopback_literals_in_any_spelling_are_refused_even_when_listed() {
        // The Lambda Runtime API, and the spellings a URL parser turns into 127.0.0.1 or ::1.
        for u in [
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "http://2130706433:9001/",
            "http://0x7f.1:9001/",
            "http://127.1:9001/",
            "http://0177.0.0.1/",
            "http://[::1]:9001/",
            "http://[::ffff:127.0.0.1]:9001/",
            "http://[::ffff:7f00:1]/",
            "http://[64:ff9b::7f00:1]/",
            "http://[2002:7f00:1::]/",
        ] {
            let e = check(u, &allowed(), false).unwrap_err();
            assert!(
                e.contains("STOKER_CACHE_ALLOW_PRIVATE_NETWORKS"),
                "{u}: {e}"
            );
        }
        assert!(check("http://127.0.0.1:9001/", &allowed(), true).is_ok());
        assert!(check("http://[::1]:9001/", &allowed(), true).is_ok());
    }

    #[test]
    fn metadata_and_link_local_are_refused_whatever_the_settings() {
        let listed = vec!["169.254.169.254".into(), "[fd00:ec2::254]".into()];
        for u in [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/latest/meta-data/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://0.0.0.0:9001/",
        ] {
            let e = check(u, &listed, true).unwrap_err();
            assert!(e.contains("never fetched"), "{u}: {e}");
        }
    }

    #[test]
    fn refusals_do_not_quote_tokens() {
        let e = check("https://evil.example.org/x?token=s3cret", &allowed(), false).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        let e = check(
            "ftp://u:s3cret@api.example.com/?token=s3cret",
            &allowed(),
            false,
        )
        .unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
    }
}
