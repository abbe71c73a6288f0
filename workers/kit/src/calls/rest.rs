//! The REST services a worker calls (Lambda, S3): the operation from the method and the path
//! (and S3's `x-id` query parameter, which the SDK adds for most object operations), the
//! resource from the path or the host.

use std::collections::BTreeMap;

use super::Call;
use super::describe::{Req, Scope};

/// A URI split into its parts (no validation: what the SDK sends is well formed).
#[derive(Debug, Clone, Copy)]
pub(super) struct Uri<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
}

impl<'a> Uri<'a> {
    pub fn parse(uri: &'a str) -> Uri<'a> {
        let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
        let (host, path_query) = match rest.find('/') {
            Some(i) if uri.contains("://") => (&rest[..i], &rest[i..]),
            Some(_) => ("", rest),
            None => (rest, "/"),
        };
        let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
        Uri { host, path, query }
    }

    /// A query parameter's value, decoded (`Some("")` for a bare `?uploads`).
    pub fn param(&self, name: &str) -> Option<String> {
        self.query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| decode(v))
    }
}

/// Percent-decoding (`%3A` → `:`, `+` kept: paths and the SDK's queries do not use it for spaces).
pub(super) fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn call(operation: &str, resource: String) -> Call {
    Call {
        operation: operation.to_owned(),
        resource,
        ..Call::default()
    }
}

/// A function's ARN from what a path names: a name, `name:qualifier`, a partial ARN
/// (`123456789012:function:name`) or a full ARN; `qualifier` from the query when given.
fn function_arn(scope: &Scope, named: &str, qualifier: Option<String>) -> String {
    let base = if named.starts_with("arn:") {
        named.to_owned()
    } else if named.contains(":function:") {
        format!("arn:aws:lambda:{}:{named}", scope.region)
    } else {
        format!(
            "arn:aws:lambda:{}:{}:function:{named}",
            scope.region, scope.account
        )
    };
    match qualifier.filter(|q| !q.is_empty()) {
        Some(q) => format!("{base}:{q}"),
        None => base,
    }
}

/// A Lambda API call.
pub(super) fn lambda(scope: &Scope, method: &str, uri: &Uri<'_>) -> Call {
    let segs: Vec<String> = uri.path.trim_matches('/').split('/').map(decode).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let q = || uri.param("Qualifier");
    let f = |name: &str| function_arn(scope, name, None);
    let fq = |name: &str| function_arn(scope, name, q());
    let c = match (method, segs.as_slice()) {
        ("GET", [_, "functions"]) => call("ListFunctions", "*".into()),
        ("POST", [_, "functions", name, "invocations"]) => call("Invoke", fq(name)),
        ("POST", [_, "functions", name, "invoke-async"]) => call("InvokeAsync", f(name)),
        ("GET", [_, "functions", name, "configuration"]) => {
            call("GetFunctionConfiguration", fq(name))
        }
        ("PUT", [_, "functions", name, "configuration"]) => {
            call("UpdateFunctionConfiguration", f(name))
        }
        ("GET", [_, "functions", name, "versions"]) => call("ListVersionsByFunction", f(name)),
        ("POST", [_, "functions", name, "versions"]) => call("PublishVersion", f(name)),
        ("GET", [_, "functions", name, "aliases"]) => call("ListAliases", f(name)),
        ("POST", [_, "functions", name, "aliases"]) => call("CreateAlias", f(name)),
        ("GET", [_, "functions", name, "aliases", _]) => call("GetAlias", f(name)),
        ("PUT", [_, "functions", name, "aliases", _]) => call("UpdateAlias", f(name)),
        ("DELETE", [_, "functions", name, "aliases", _]) => call("DeleteAlias", f(name)),
        ("GET", [_, "functions", name, "provisioned-concurrency"]) => {
            call("GetProvisionedConcurrencyConfig", fq(name))
        }
        ("PUT", [_, "functions", name, "provisioned-concurrency"]) => {
            call("PutProvisionedConcurrencyConfig", fq(name))
        }
        ("DELETE", [_, "functions", name, "provisioned-concurrency"]) => {
            call("DeleteProvisionedConcurrencyConfig", fq(name))
        }
        ("GET", [_, "functions", name]) => call("GetFunction", fq(name)),
        ("DELETE", [_, "functions", name]) => call("DeleteFunction", fq(name)),
        ("GET", [_, "tags", arn]) => call("ListTags", (*arn).to_owned()),
        ("POST", [_, "tags", arn]) => call("TagResource", (*arn).to_owned()),
        ("DELETE", [_, "tags", arn]) => call("UntagResource", (*arn).to_owned()),
        _ => call(&format!("?{method} {}", uri.path), "*".into()),
    };
    Call {
        context: BTreeMap::new(),
        ..c
    }
}

/// The bucket of a virtual-hosted request (`bucket.s3.us-east-1.amazonaws.com`), if it is one.
fn host_bucket(host: &str) -> Option<&str> {
    let host = host.split(':').next().unwrap_or(host);
    let i = host.find(".s3.").or_else(|| host.find(".s3-"))?;
    Some(&host[..i])
}

/// An S3 call.
pub(super) fn s3(_scope: &Scope, req: &Req<'_>, uri: &Uri<'_>) -> Call {
    let path = uri.path.trim_start_matches('/');
    let (bucket, key) = match host_bucket(uri.host) {
        Some(b) => (b.to_owned(), decode(path)),
        None => {
            let (b, k) = path.split_once('/').unwrap_or((path, ""));
            (decode(b), decode(k))
        }
    };
    let bucket_arn = format!("arn:aws:s3:::{bucket}");
    let object_arn = format!("{bucket_arn}/{key}");
    let has = |p: &str| uri.param(p).is_some();
    let method = req.method;
    let op = if let Some(id) = uri.param("x-id") {
        id
    } else if key.is_empty() {
        match method {
            "GET" if uri.param("list-type").as_deref() == Some("2") => "ListObjectsV2".into(),
            "GET" if has("versions") => "ListObjectVersions".into(),
            "GET" if has("publicAccessBlock") => "GetPublicAccessBlock".into(),
            "GET" if has("versioning") => "GetBucketVersioning".into(),
            "GET" => "ListObjects".into(),
            "HEAD" => "HeadBucket".into(),
            "POST" if has("delete") => "DeleteObjects".into(),
            _ => format!("?{method} {}", uri.path),
        }
    } else {
        match method {
            "GET" => "GetObject".into(),
            "HEAD" => "HeadObject".into(),
            "PUT" if req.copy_source.is_some() => "CopyObject".into(),
            "PUT" if has("partNumber") => "UploadPart".into(),
            "PUT" => "PutObject".into(),
            "DELETE" if has("uploadId") => "AbortMultipartUpload".into(),
            "DELETE" => "DeleteObject".into(),
            "POST" if has("uploads") => "CreateMultipartUpload".into(),
            "POST" if has("uploadId") => "CompleteMultipartUpload".into(),
            _ => format!("?{method} {}", uri.path),
        }
    };
    let bucket_level = key.is_empty();
    let mut c = call(&op, if bucket_level { bucket_arn } else { object_arn });
    if bucket_level && let Some(prefix) = uri.param("prefix") {
        c.context.insert("s3:prefix".into(), vec![prefix]);
    }
    c
}
