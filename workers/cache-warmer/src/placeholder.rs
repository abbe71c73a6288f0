//! Putting an id (read from a list source, so from outside) into a URL or a Redis key: it is
//! percent-encoded as one URL segment (everything but `A-Z a-z 0-9 - . _ ~`), so an id cannot
//! add a path segment (`/`), a query (`?`), a fragment (`#`), user info (`@`) or a key
//! namespace (`:`), and `.` / `..` (which URL parsers resolve as path steps) are refused.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use stoker_kit::JobError;

/// RFC 3986 unreserved characters stay; everything else is encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `id`, encoded.
pub fn encode(id: &str) -> String {
    utf8_percent_encode(id, SEGMENT).to_string()
}

/// `template` with `{id}` replaced by the encoded `id`.
pub fn in_url(template: &str, id: &str) -> Result<String, JobError> {
    if matches!(id, "" | "." | "..") {
        return Err(JobError::permanent(
            "bad_id",
            format!(
                "the id {id:?} cannot be placed in a URL (it would change the path): fix the list source"
            ),
        ));
    }
    Ok(template.replace("{id}", &encode(id)))
}

/// `pattern` with `{id}` replaced by the encoded `id`.
pub fn in_key(pattern: &str, id: &str) -> String {
    pattern.replace("{id}", &encode(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_one_segment() {
        let url = in_url(
            "https://api.example.com/guild/{id}/top?x=1",
            "a/b?c#d@e f..:g",
        )
        .expect("encoded");
        assert_eq!(
            url,
            "https://api.example.com/guild/a%2Fb%3Fc%23d%40e%20f..%3Ag/top?x=1"
        );
        let parsed = url::Url::parse(&url).expect("a URL");
        assert_eq!(parsed.host_str(), Some("api.example.com"));
        assert_eq!(parsed.path_segments().expect("path").count(), 3);
        assert_eq!(parsed.query(), Some("x=1"));
        assert_eq!(parsed.fragment(), None);
        assert_eq!(
            in_url("https://h/{id}", "naïve-1_2~3").unwrap(),
            "https://h/na%C3%AFve-1_2~3"
        );
    }

    #[test]
    fn dot_segments_are_refused() {
        for id in ["..", ".", ""] {
            let e = in_url("https://h/a/{id}/b", id).unwrap_err();
            assert!(
                e.is_permanent() && e.to_string().contains("cannot be placed"),
                "{e}"
            );
        }
        assert!(in_url("https://h/a/{id}", "...").is_ok());
    }

    #[test]
    fn ids_cannot_leave_their_key_namespace() {
        assert_eq!(in_key("guild:{id}:top", "1:admin"), "guild:1%3Aadmin:top");
        assert_eq!(in_key("guild:{id}", "7"), "guild:7");
    }
}
