//! AWS naming rules, checked before any side effect. Each returns what is allowed on failure.

fn chars_ok(s: &str, extra: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// A Lambda function name, partial ARN (`123456789012:function:name`) or full ARN, optionally
/// with a `:qualifier`.
pub fn lambda_function(s: &str) -> Result<(), String> {
    let allowed = "a function name (1-64 of A-Z a-z 0-9 - _) or a Lambda function ARN";
    if s.is_empty() || s.len() > 140 {
        return Err(format!("`{s}` is not {allowed} (at most 140 characters)"));
    }
    let name = if let Some(rest) = s.strip_prefix("arn:") {
        // arn:partition:lambda:region:account:function:name[:qualifier]
        let parts: Vec<&str> = rest.split(':').collect();
        let ok_shape = (parts.len() == 6 || parts.len() == 7)
            && parts[0].starts_with("aws")
            && parts[1] == "lambda"
            && !parts[2].is_empty()
            && parts[3].len() == 12
            && parts[3].chars().all(|c| c.is_ascii_digit())
            && parts[4] == "function";
        if !ok_shape {
            return Err(format!("`{s}` is not {allowed}"));
        }
        if parts.len() == 7 {
            qualifier(parts[6])?;
        }
        parts[5]
    } else {
        s
    };
    if name.is_empty() || name.len() > 64 || !chars_ok(name, "-_") {
        return Err(format!("`{s}` is not {allowed}"));
    }
    Ok(())
}

/// A Lambda qualifier: `$LATEST`, a version number, or an alias name.
pub fn qualifier(s: &str) -> Result<(), String> {
    if s == "$LATEST" || (!s.is_empty() && s.len() <= 128 && chars_ok(s, "-_")) {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a qualifier ($LATEST, a version number, or an alias of 1-128 of A-Z a-z 0-9 - _)"
        ))
    }
}

/// A DynamoDB table name: 3-255 of A-Z a-z 0-9 _ - .
pub fn dynamodb_table(s: &str) -> Result<(), String> {
    if (3..=255).contains(&s.len()) && chars_ok(s, "_-.") {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ - .)"
        ))
    }
}

/// A CloudWatch namespace: 1-255 printable ASCII, not starting with `AWS/`.
pub fn cloudwatch_namespace(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 255 || !chars_ok(s, ".-_/#:") {
        Err(format!(
            "`{s}` is not a CloudWatch namespace (1-255 of A-Z a-z 0-9 . - _ / # :)"
        ))
    } else if s.starts_with("AWS/") {
        Err(format!(
            "`{s}` is reserved for AWS (namespaces starting with AWS/)"
        ))
    } else {
        Ok(())
    }
}

/// A CloudWatch metric or dimension name: 1-255 characters, no control characters.
pub fn cloudwatch_name(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 255 || s.chars().any(char::is_control) || s.starts_with(':') {
        Err(format!(
            "`{s}` is not a CloudWatch name (1-255 characters, no control characters, not starting with :)"
        ))
    } else {
        Ok(())
    }
}

/// An absolute http(s) URL with a host; no credentials in it.
pub fn http_url(url: &str) -> Result<(), String> {
    let s = url;
    // Errors quote the URL without its query, fragment or credentials (they may hold tokens).
    let shown = shown_url(url);
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .ok_or_else(|| format!("`{shown}` is not an http:// or https:// URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(format!("`{shown}` has no host"));
    }
    if authority.contains('@') {
        return Err(
            "URLs must not carry credentials (user:password@); use headers from configuration"
                .to_owned(),
        );
    }
    if s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "`{shown}` is not a valid URL (at most 2048 characters, no spaces)"
        ));
    }
    // Parsers disagree on these, and an allow-list is checked by one of them: refuse them.
    if s.contains('\\') {
        return Err(format!(
            "`{shown}` holds a backslash, which some parsers read as `/`; use `/`"
        ));
    }
    if !authority.is_ascii() {
        return Err(format!(
            "`{shown}` has a non-ASCII host; write internationalized names in punycode (xn--...)"
        ));
    }
    if let Some(inside) = authority.strip_prefix('[') {
        let Some((literal, after)) = inside.split_once(']') else {
            return Err(format!("`{shown}` has an unclosed IPv6 literal (`[`)"));
        };
        if literal.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!(
                "`{shown}` has `[{literal}]`, which is not an IPv6 address (zone ids are not allowed)"
            ));
        }
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return Err(format!(
                "`{shown}` has something other than a port after its IPv6 literal"
            ));
        }
    } else if authority.contains(['[', ']']) {
        return Err(format!("`{shown}` has a bracket outside an IPv6 literal"));
    } else if let Some((_, port)) = authority.rsplit_once(':')
        && !is_port(port)
    {
        return Err(format!(
            "`{shown}` has `{port}`, which is not a port (1-65535)"
        ));
    }
    Ok(())
}

/// A URL as error messages may quote it: without its query and fragment (tokens live there)
/// and with any `user:password@` masked.
pub fn shown_url(url: &str) -> String {
    let cut = url.find(['?', '#']).unwrap_or(url.len());
    let url = &url[..cut.min(200)];
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

fn is_port(p: &str) -> bool {
    p.parse::<u16>().is_ok_and(|n| n > 0) && p.bytes().all(|b| b.is_ascii_digit())
}

/// Headers a request may not set (lower case): the target host and the message framing
/// belong to the worker.
pub const REFUSED_HEADERS: [&str; 9] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

/// An HTTP header a request may set: a token name that is neither `Host` nor one that frames
/// the message, and a value without control characters (no CR/LF: no header injection).
pub fn http_header(name: &str, value: &str) -> Result<(), String> {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || name.len() > 128 || !name.chars().all(token) {
        return Err(format!(
            "`{name}` is not a header name (1-128 token characters)"
        ));
    }
    if REFUSED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "`{name}` may not be set: the worker sets the host and the message framing itself"
        ));
    }
    if value.len() > 4096 || value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "the value of `{name}` holds a control character (CR, LF, ...) or passes 4096 bytes"
        ));
    }
    Ok(())
}

/// A Redis key (or key pattern): 1-1024 bytes, no control characters.
pub fn redis_key(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 1024 || s.chars().any(char::is_control) {
        Err("is not a Redis key (1-1024 bytes, no control characters)".to_owned())
    } else {
        Ok(())
    }
}

/// A tag key (1-128) — values are checked with [`tag_value`].
pub fn tag_key(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 128 || s.starts_with("aws:") {
        Err(format!(
            "`{s}` is not a tag key (1-128 characters, not starting with aws:)"
        ))
    } else {
        Ok(())
    }
}

/// A tag value (0-256).
pub fn tag_value(s: &str) -> Result<(), String> {
    if s.len() > 256 {
        Err("is not a tag value (at most 256 characters)".to_owned())
    } else {
        Ok(())
    }
}

/// A function's plain name: `name` of `name`, `name:alias`, `account:function:name`
/// or a function ARN (how CloudWatch's `FunctionName` and readiness name it).
pub fn function_name(target: &str) -> &str {
    let name = target
        .split_once(":function:")
        .map_or(target, |(_, rest)| rest);
    name.split(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_names_and_arns() {
        assert!(lambda_function("my-fn_1").is_ok());
        assert!(lambda_function("arn:aws:lambda:eu-west-1:123456789012:function:my-fn").is_ok());
        assert!(
            lambda_function("arn:aws:lambda:eu-west-1:123456789012:function:my-fn:live").is_ok()
        );
        assert!(lambda_function("").is_err());
        assert!(lambda_function("my fn").is_err());
        assert!(lambda_function("arn:aws:s3:::bucket").is_err());
        assert!(lambda_function("arn:aws:lambda:eu-west-1:12345:function:x").is_err());
        assert!(lambda_function(&"a".repeat(65)).is_err());
    }

    #[test]
    fn urls_tables_namespaces() {
        assert!(http_url("https://api.example.com/menu?x=1").is_ok());
        assert!(http_url("ftp://x").is_err());
        assert!(http_url("https://user:pw@host/").is_err());
        assert!(http_url("https:///path").is_err());
        assert!(dynamodb_table("orders.v2").is_ok());
        assert!(dynamodb_table("ab").is_err());
        assert!(cloudwatch_namespace("AWS/Lambda").is_err());
        assert!(cloudwatch_namespace("Stoker/App").is_ok());
        assert!(qualifier("$LATEST").is_ok());
        assert!(qualifier("live!").is_err());
    }

    #[test]
    fn targets_are_named_by_their_plain_function_name() {
        for t in [
            "api",
            "api:live",
            "123456789012:function:api",
            "arn:aws:lambda:us-east-1:123456789012:function:api",
            "arn:aws:lambda:us-east-1:123456789012:function:api:7",
        ] {
            assert_eq!(function_name(t), "api", "{t}");
        }
    }
}
