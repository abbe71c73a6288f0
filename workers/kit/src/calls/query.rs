//! awsQuery calls (form-encoded bodies: `Action=GetRolePolicy&RoleName=...`): IAM's and
//! CloudFormation's.

use super::Call;
use super::describe::Scope;

/// The value of `key` in a form-encoded body, decoded (`+` is a space, `%XX` a byte).
pub(super) fn field(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == key).then(|| decode(v))
    })
}

fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|b| (*b as char).to_digit(16))
                .map(|d| d as u8)
        };
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push(hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0));
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An IAM call: its action, and the role or policy it names.
pub(super) fn iam(scope: &Scope, body: &[u8]) -> Call {
    let resource = if let Some(arn) = field(body, "PolicyArn") {
        arn
    } else if let Some(role) = field(body, "RoleName") {
        format!("arn:aws:iam::{}:role/{role}", scope.account)
    } else {
        "*".into()
    };
    Call {
        operation: field(body, "Action").unwrap_or_else(|| "?".into()),
        resource,
        ..Call::default()
    }
}

/// A CloudFormation call: its action, and the stack it names (any stack id).
pub(super) fn cloudformation(scope: &Scope, body: &[u8]) -> Call {
    let resource = match field(body, "StackName") {
        Some(arn) if arn.starts_with("arn:") => arn,
        Some(name) => format!(
            "arn:aws:cloudformation:{}:{}:stack/{name}/*",
            scope.region, scope.account
        ),
        None => "*".into(),
    };
    Call {
        operation: field(body, "Action").unwrap_or_else(|| "?".into()),
        resource,
        ..Call::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudformation_calls_name_their_stack() {
        let scope = Scope {
            region: "us-east-1".into(),
            ..Scope::default()
        };
        let c = cloudformation(
            &scope,
            b"Action=ListStackResources&Version=2010-05-15&StackName=app",
        );
        assert_eq!(c.operation, "ListStackResources");
        assert_eq!(c.resource, "arn:aws:cloudformation:us-east-1::stack/app/*");
    }

    #[test]
    fn iam_calls_name_their_role_or_policy() {
        let scope = Scope::default();
        let c = iam(
            &scope,
            b"Action=GetRolePolicy&Version=2010-05-08&RoleName=app-backup&PolicyName=worker",
        );
        assert_eq!(c.operation, "GetRolePolicy");
        assert_eq!(c.resource, "arn:aws:iam:::role/app-backup");
        let c = iam(
            &scope,
            b"Action=GetPolicyVersion&PolicyArn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2Fservice-role%2FX&VersionId=v1",
        );
        assert_eq!(c.operation, "GetPolicyVersion");
        assert_eq!(c.resource, "arn:aws:iam::aws:policy/service-role/X");
        assert_eq!(field(b"a=b+c%2", "a").as_deref(), Some("b c%2"));
    }
}
