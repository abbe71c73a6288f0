//! The Redis URL and client: read at start from an SSM SecureString parameter (deployments)
//! or `STOKER_REDIS_URL` (local development); `redis://` or `rediss://` (TLS, rustls, the
//! system's root certificates). Errors name the parameter and the redacted URL, never the
//! password.

use aws_sdk_ssm::error::DisplayErrorContext;
use aws_sdk_ssm::types::ParameterType;

use crate::config::RedisUrlFrom;
use crate::redact::Secret;

/// The URL, reading the SSM parameter when one is named.
pub async fn read(from: RedisUrlFrom, ssm: &aws_sdk_ssm::Client) -> Result<Secret, String> {
    let name = match from {
        RedisUrlFrom::Env(url) => return Ok(url),
        RedisUrlFrom::Parameter(name) => name,
    };
    let out = ssm
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| {
            format!(
                "the Redis URL could not be read from the SSM parameter {name} (STOKER_REDIS_URL_PARAMETER): {}; check the name and that the role may ssm:GetParameter it (and kms:Decrypt its key)",
                DisplayErrorContext(&e)
            )
        })?;
    let param = out
        .parameter
        .ok_or_else(|| format!("the SSM parameter {name} has no value"))?;
    if param.r#type != Some(ParameterType::SecureString) {
        return Err(format!(
            "the SSM parameter {name} is a {}, not a SecureString: store the Redis URL encrypted (aws ssm put-parameter --type SecureString)",
            param
                .r#type
                .as_ref()
                .map_or("parameter of no type", |t| t.as_str())
        ));
    }
    param
        .value
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| format!("the SSM parameter {name} is empty: put the Redis URL in it"))
}

/// A client for `url` (no connection yet).
pub fn client(url: &Secret) -> Result<redis::Client, String> {
    redis::Client::open(url.expose()).map_err(|e| {
        format!(
            "the Redis URL {url} is not valid ({}): use redis://[user:password@]host:port[/db], or rediss:// for TLS",
            url.scrub(&e.to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_urls_build_a_tls_client() {
        let c =
            client(&Secret::new("rediss://app:s3cret@cache.example.com:6380/2")).expect("rediss");
        assert!(
            matches!(c.get_connection_info().addr(), redis::ConnectionAddr::TcpTls { host, port: 6380, insecure: false, .. } if host == "cache.example.com"),
            "{:?}",
            c.get_connection_info().addr()
        );
        assert_eq!(c.get_connection_info().redis_settings().db(), 2);
        assert!(client(&Secret::new("redis://127.0.0.1:6379")).is_ok());
    }

    #[test]
    fn a_bad_url_is_refused_without_its_password() {
        let e = client(&Secret::new("redis://app:s3cret@cache:notaport")).unwrap_err();
        assert!(!e.contains("s3cret"), "{e}");
        assert!(e.contains("redis://***@cache:notaport"), "{e}");
        let e = client(&Secret::new("http://app:s3cret@cache:6379")).unwrap_err();
        assert!(!e.contains("s3cret") && e.contains("rediss://"), "{e}");
    }
}
