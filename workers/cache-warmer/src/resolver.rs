//! The HTTP client's DNS resolver: it resolves a host name and refuses it when any of its
//! addresses is one [`crate::address`] refuses. The client connects only to what this returns,
//! so there is no window between a check and the connection (DNS rebinding), and a failed
//! lookup fails the request (closed). IP-literal URLs never reach a resolver: they are judged
//! by [`crate::policy::check`].

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::address;

/// Resolves with the system resolver, then filters.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allow = self.allow_private;
        Box::pin(async move {
            let addrs = resolve_with(&host, allow, |h| async move {
                tokio::net::lookup_host((h.as_str(), 0))
                    .await
                    .map(|a| a.collect())
            })
            .await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// `host`'s addresses from `lookup`, or why they may not be used.
pub async fn resolve_with<F, Fut>(
    host: &str,
    allow_private: bool,
    lookup: F,
) -> Result<Vec<SocketAddr>, Box<dyn Error + Send + Sync>>
where
    F: FnOnce(String) -> Fut,
    Fut: Future<Output = std::io::Result<Vec<SocketAddr>>>,
{
    let addrs = lookup(host.to_owned())
        .await
        .map_err(|e| LookupFailed(format!("{host} could not be resolved ({e})")))?;
    if addrs.is_empty() {
        return Err(LookupFailed(format!("{host} resolved to no address")).into());
    }
    for a in &addrs {
        if let Some(why) = address::refusal(a.ip(), allow_private) {
            return Err(
                AddressRefused(format!("{host} resolves to a refused address: {why}")).into(),
            );
        }
    }
    Ok(addrs)
}

/// A host resolved to an address the worker may not reach (permanent).
#[derive(Debug)]
pub struct AddressRefused(pub String);

/// A host could not be resolved (the request fails; retryable).
#[derive(Debug)]
pub struct LookupFailed(pub String);

impl fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for LookupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Error for AddressRefused {}
impl Error for LookupFailed {}

/// The [`AddressRefused`] somewhere in `e`'s chain of causes.
pub fn refused_in<'a>(e: &'a (dyn Error + 'static)) -> Option<&'a AddressRefused> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<AddressRefused>() {
            return Some(r);
        }
        cur = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> std::io::Result<Vec<SocketAddr>> {
        Ok(list
            .iter()
            .map(|a| SocketAddr::new(a.parse().expect("ip"), 0))
            .collect())
    }

    #[tokio::test]
    async fn any_refused_address_refuses_the_host() {
        let got = resolve_with("api.example.com", false, |_| async {
            addrs(&["93.184.216.34", "10.0.0.7"])
        })
        .await
        .unwrap_err();
        let refused = refused_in(got.as_ref()).expect("AddressRefused");
        assert!(
            refused
                .0
                .contains("api.example.com resolves to a refused address: 10.0.0.7 is private"),
            "{refused}"
        );
        let ok = resolve_with("api.example.com", false, |_| async {
            addrs(&["93.184.216.34"])
        })
        .await
        .expect("public");
        assert_eq!(ok.len(), 1);
    }

    #[tokio::test]
    async fn the_opt_in_admits_private_but_never_metadata() {
        assert!(
            resolve_with("localhost", true, |_| async {
                addrs(&["127.0.0.1", "::1"])
            })
            .await
            .is_ok()
        );
        let e = resolve_with("evil.example.com", true, |_| async {
            addrs(&["169.254.169.254"])
        })
        .await
        .unwrap_err();
        assert!(e.to_string().contains("never fetched"), "{e}");
    }

    #[tokio::test]
    async fn a_failed_or_empty_lookup_fails_closed() {
        let e = resolve_with("nowhere.invalid", true, |_| async {
            Err(std::io::Error::other("no such host"))
        })
        .await
        .unwrap_err();
        assert!(e.downcast_ref::<LookupFailed>().is_some(), "{e}");
        let e = resolve_with("empty.example.com", true, |_| async { addrs(&[]) })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("no address"), "{e}");
    }

    #[tokio::test]
    async fn the_system_resolver_is_filtered() {
        let r = GuardedResolver {
            allow_private: false,
        };
        let e = match r.resolve("localhost".parse().expect("name")).await {
            Ok(_) => panic!("localhost was not refused"),
            Err(e) => e,
        };
        assert!(refused_in(e.as_ref()).is_some(), "{e}");
    }
}
