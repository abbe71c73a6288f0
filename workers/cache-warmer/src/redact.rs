//! Secrets out of anything the worker says: a URL's password becomes `***`, its query and
//! fragment are dropped (tokens travel there), e.g. `redis://app:s3cret@cache:6379/0` ->
//! `redis://app:***@cache:6379/0`, `https://api.example.com/menu?token=abc` ->
//! `https://api.example.com/menu`. Every URL in an error, log line, report or event goes
//! through [`url`](fn@url).

use std::fmt;

/// `raw` without its password, query and fragment; also when `raw` does not parse.
pub fn url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut u) => {
            u.set_query(None);
            u.set_fragment(None);
            if u.password().is_some() {
                let _ = u.set_password(Some("***"));
            } else if !u.username().is_empty() {
                // A lone user part is often the token itself (`redis://TOKEN@host`).
                let _ = u.set_username("***");
            }
            u.to_string()
        }
        Err(_) => textual(raw),
    }
}

/// The same, by text alone, for what is not a URL.
fn textual(raw: &str) -> String {
    let cut = raw.find(['?', '#']).map_or(raw, |i| &raw[..i]);
    let (scheme, rest) = match cut.find("://") {
        Some(i) => cut.split_at(i + 3),
        None => ("", cut),
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}***{}", &rest[at..]),
        None => cut.to_owned(),
    }
}

/// A secret string (the Redis URL): its `Debug` and `Display` show only the redacted form.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself: only for the client that needs it, never for a message.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` (a library's error message) with this URL, its password and its query replaced
    /// by `***`, in case the library quoted them.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(&self.0, &url(&self.0));
        if let Ok(u) = url::Url::parse(&self.0) {
            let decoded = u.password().map(|p| {
                percent_encoding::percent_decode_str(p)
                    .decode_utf8_lossy()
                    .into_owned()
            });
            for secret in [
                u.password().map(str::to_owned),
                decoded,
                u.query().map(str::to_owned),
            ]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            {
                out = out.replace(&secret, "***");
            }
        }
        out
    }
}

impl From<String> for Secret {
    fn from(v: String) -> Self {
        Secret(v)
    }
}

impl From<&str> for Secret {
    fn from(v: &str) -> Self {
        Secret(v.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", url(&self.0))
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_queries_never_survive() {
        for (raw, shown) in [
            (
                "redis://app:s3cret@cache:6379/0",
                "redis://app:***@cache:6379/0",
            ),
            (
                "rediss://:s3cret@cache.example.com:6380",
                "rediss://:***@cache.example.com:6380",
            ),
            ("redis://cache:6379", "redis://cache:6379"),
            ("redis://s3cret@cache:6379", "redis://***@cache:6379"),
            (
                "https://api.example.com/menu?token=s3cret#x",
                "https://api.example.com/menu",
            ),
            (
                "http://u:s3cret@api.example.com/a?b=c",
                "http://u:***@api.example.com/a",
            ),
            // Not URLs: still cut by text.
            (
                "redis://app:s3cret@cache:notaport/0",
                "redis://***@cache:notaport/0",
            ),
            ("not a url?token=s3cret", "not a url"),
            ("http://[::1/x?token=s3cret", "http://[::1/x"),
        ] {
            assert_eq!(url(raw), shown, "{raw}");
            assert!(!url(raw).contains("s3cret"));
        }
    }

    #[test]
    fn a_secret_prints_redacted() {
        let s = Secret::new("redis://app:s3cret@cache:6379");
        assert_eq!(
            format!("{s} {s:?}"),
            r#"redis://app:***@cache:6379 "redis://app:***@cache:6379""#
        );
        assert_eq!(s.expose(), "redis://app:s3cret@cache:6379");
        let quoted = "cannot use redis://app:s3cret@cache:6379: wrong password s3cret";
        assert_eq!(
            s.scrub(quoted),
            "cannot use redis://app:***@cache:6379: wrong password ***"
        );
        let encoded = Secret::new("redis://:p%40ss@cache:6379");
        assert_eq!(encoded.scrub("auth p@ss / p%40ss"), "auth *** / ***");
    }
}
