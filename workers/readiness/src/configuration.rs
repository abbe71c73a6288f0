//! A function's deployed configuration: it exists (`function.exists`), and its memory and
//! timeout are still what the optimizer last applied (`function.config`): a deploy or a hand
//! edit since then undoes the optimizer's work without anyone noticing; and they are what the
//! optimizer last recommended (`function.recommendation`), applied or not.

use stoker_optimizer::advice::Advice;
use stoker_optimizer::apply::{Applier, Change};

use crate::check::Check;
use crate::evidence::unreadable;

/// What the function runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployed {
    pub memory_mb: u32,
    pub timeout_s: u32,
}

/// `function.exists`, and `function.config` when it does. `optimizer` reads the optimizer's
/// last applied change of the function (the ops table). `None` when the function is not
/// there (its other checks would only repeat that).
pub async fn check(
    lambda: &aws_sdk_lambda::Client,
    optimizer: &Applier,
    function: &str,
) -> Option<Vec<Check>> {
    const EXISTS: &str = "function.exists";
    let deployed = match lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
    {
        Ok(c) => Deployed {
            memory_mb: c.memory_size().unwrap_or(0).max(0) as u32,
            timeout_s: c.timeout().unwrap_or(0).max(0) as u32,
        },
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return None;
        }
        Err(e) => {
            return Some(vec![Check::fail(
                EXISTS,
                function,
                unreadable("GetFunctionConfiguration", &e),
            )]);
        }
    };
    let exists = Check::pass(
        EXISTS,
        function,
        format!(
            "{} MB, timeout {} s",
            deployed.memory_mb, deployed.timeout_s
        ),
    );
    let config = match optimizer.last(function).await {
        Ok(last) => against_optimizer(function, deployed, last.as_ref()),
        Err(e) => Check::fail(
            "function.config",
            function,
            format!("could not read the optimizer's last change: {e}"),
        ),
    };
    let advice = match stoker_optimizer::advice::last(
        &optimizer.ddb,
        &optimizer.ops_table,
        function,
    )
    .await
    {
        Ok(a) => against_advice(function, deployed, a.as_ref()),
        Err(e) => Check::fail(
            ADVICE,
            function,
            format!("could not read the optimizer's advice: {e}"),
        ),
    };
    Some(vec![exists, config, advice])
}

const ADVICE: &str = "function.recommendation";

/// How the deployed configuration compares with the optimizer's last recommendation.
pub fn against_advice(function: &str, deployed: Deployed, advice: Option<&Advice>) -> Check {
    let Some(a) = advice else {
        return Check::pass(
            ADVICE,
            function,
            "the optimizer has not reviewed it in the last 30 days",
        );
    };
    let (memory_mb, timeout_s) = a.wanted();
    if (deployed.memory_mb, deployed.timeout_s) == (memory_mb, timeout_s) {
        return Check::pass(
            ADVICE,
            function,
            format!(
                "{memory_mb} MB, {timeout_s} s, as the optimizer recommended on {}",
                a.at
            ),
        );
    }
    let saving = a
        .estimated_monthly_savings_usd
        .filter(|s| *s > 0.0)
        .map(|s| format!(", saving about {s:.2} USD a month"))
        .unwrap_or_default();
    Check::warn(
        ADVICE,
        function,
        format!(
            "{} MB, {} s deployed; the optimizer recommended {memory_mb} MB, {timeout_s} s on {}{saving}: apply it (the optimizer's apply mode, for a function tagged stoker:optimize=true) or put it in the function's template",
            deployed.memory_mb, deployed.timeout_s, a.at
        ),
    )
}

/// The one check of a function that is not deployed.
pub fn missing(function: &str) -> Check {
    Check::fail(
        "function.exists",
        function,
        "no such function: deploy it, or take it out of the request",
    )
}

/// How the deployed configuration compares with the optimizer's last applied change.
pub fn against_optimizer(function: &str, deployed: Deployed, last: Option<&Change>) -> Check {
    const CHECK: &str = "function.config";
    let Some(c) = last.filter(|c| c.status == "applied") else {
        return Check::pass(
            CHECK,
            function,
            match last {
                Some(c) => format!("the optimizer's last change was {} ({})", c.status, c.at),
                None => "the optimizer has applied no change to it".into(),
            },
        );
    };
    if deployed.memory_mb == c.memory_mb && deployed.timeout_s == c.timeout_s {
        Check::pass(
            CHECK,
            function,
            format!(
                "{} MB, {} s, as the optimizer applied on {}",
                c.memory_mb, c.timeout_s, c.at
            ),
        )
    } else {
        Check::warn(
            CHECK,
            function,
            format!(
                "{} MB, {} s deployed, but the optimizer applied {} MB, {} s on {}: a deploy or an edit changed it since; run the optimizer again or put its values in the template",
                deployed.memory_mb, deployed.timeout_s, c.memory_mb, c.timeout_s, c.at
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Status;

    fn change(status: &str) -> Change {
        Change {
            function: "f".into(),
            previous_memory_mb: 1024,
            previous_timeout_s: 30,
            memory_mb: 512,
            timeout_s: 10,
            alias: "live".into(),
            previous_alias_version: None,
            version: Some("3".into()),
            status: status.into(),
            at: "2026-12-01T00:00:00Z".into(),
            event_id: "e".into(),
        }
    }

    #[test]
    fn a_function_changed_since_the_optimizer_applied_its_values_warns() {
        let as_applied = Deployed {
            memory_mb: 512,
            timeout_s: 10,
        };
        let edited = Deployed {
            memory_mb: 1024,
            timeout_s: 10,
        };
        let applied = change("applied");
        assert_eq!(
            against_optimizer("f", as_applied, Some(&applied)).status,
            Status::Pass
        );
        let c = against_optimizer("f", edited, Some(&applied));
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.evidence.contains("optimizer applied 512 MB"),
            "{}",
            c.evidence
        );
        assert_eq!(against_optimizer("f", edited, None).status, Status::Pass);
        assert_eq!(
            against_optimizer("f", edited, Some(&change("rolled_back"))).status,
            Status::Pass
        );
    }

    #[test]
    fn a_function_running_other_than_recommended_warns() {
        let advice = Advice {
            finding: stoker_optimizer::recommend::Finding::NotOptimized,
            memory_mb: 1024,
            timeout_s: 10,
            recommended_memory_mb: Some(512),
            recommended_timeout_s: None,
            estimated_monthly_savings_usd: Some(4.2),
            at: "2026-12-01T00:00:00Z".into(),
        };
        let running = |memory_mb| Deployed {
            memory_mb,
            timeout_s: 10,
        };
        let c = against_advice("f", running(1024), Some(&advice));
        assert_eq!(c.status, Status::Warn);
        assert!(
            c.evidence.contains("recommended 512 MB, 10 s")
                && c.evidence.contains("saving about 4.20 USD"),
            "{}",
            c.evidence
        );
        assert_eq!(
            against_advice("f", running(512), Some(&advice)).status,
            Status::Pass
        );
        assert_eq!(
            against_advice("f", running(1024), None).status,
            Status::Pass
        );
    }
}
