//! The export bucket's basics, readable through the API: public access blocked
//! (`bucket.public_access`, all four settings) and versioning on (`bucket.versioning`: a
//! deleted or overwritten export stays recoverable).

use crate::check::Check;
use crate::evidence::unreadable;

/// Both checks of `bucket`.
pub async fn check(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<Check> {
    let public = match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(o) => blocked(bucket, o.public_access_block_configuration()),
        Err(e)
            if e.as_service_error()
                .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::code(s))
                == Some("NoSuchPublicAccessBlockConfiguration") =>
        {
            blocked(bucket, None)
        }
        Err(e) => Check::fail(
            "bucket.public_access",
            bucket,
            unreadable("GetPublicAccessBlock", &e),
        ),
    };
    let versioning = match s3.get_bucket_versioning().bucket(bucket).send().await {
        Ok(o) => match o.status() {
            Some(aws_sdk_s3::types::BucketVersioningStatus::Enabled) => {
                Check::pass("bucket.versioning", bucket, "versioning enabled")
            }
            other => Check::warn(
                "bucket.versioning",
                bucket,
                format!(
                    "versioning {}: a pruned or overwritten export cannot be recovered; enable it",
                    other.map_or("never enabled", |s| s.as_str())
                ),
            ),
        },
        Err(e) => Check::fail(
            "bucket.versioning",
            bucket,
            unreadable("GetBucketVersioning", &e),
        ),
    };
    vec![public, versioning]
}

/// The verdict on a bucket's public access block (`None`: it has none).
pub fn blocked(
    bucket: &str,
    config: Option<&aws_sdk_s3::types::PublicAccessBlockConfiguration>,
) -> Check {
    const CHECK: &str = "bucket.public_access";
    let on = |v: Option<bool>| v == Some(true);
    let open: Vec<&str> = match config {
        None => vec!["no public access block at all"],
        Some(c) => [
            ("BlockPublicAcls", c.block_public_acls()),
            ("IgnorePublicAcls", c.ignore_public_acls()),
            ("BlockPublicPolicy", c.block_public_policy()),
            ("RestrictPublicBuckets", c.restrict_public_buckets()),
        ]
        .into_iter()
        .filter(|(_, v)| !on(*v))
        .map(|(name, _)| name)
        .collect(),
    };
    if open.is_empty() {
        Check::pass(CHECK, bucket, "public access blocked (all four settings)")
    } else {
        Check::fail(
            CHECK,
            bucket,
            format!(
                "public access not blocked ({} off): the exports hold table data; turn all four settings on",
                open.join(", ")
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;
    use aws_sdk_s3::types::PublicAccessBlockConfiguration as Pab;

    #[test]
    fn every_setting_must_be_on() {
        let all = Pab::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(true)
            .restrict_public_buckets(true)
            .build();
        assert_eq!(blocked("b", Some(&all)).status, Status::Pass);
        let one_off = Pab::builder()
            .block_public_acls(true)
            .ignore_public_acls(true)
            .block_public_policy(false)
            .restrict_public_buckets(true)
            .build();
        let c = blocked("b", Some(&one_off));
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.evidence.contains("BlockPublicPolicy off"),
            "{}",
            c.evidence
        );
        assert_eq!(blocked("b", None).status, Status::Fail);
    }
}
