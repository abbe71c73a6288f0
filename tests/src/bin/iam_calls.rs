//! `iam-calls [-v] [--template FILE] [DIR]`: checks every AWS call the workers made in a test run against their roles
//! in infra/template.yaml (see `stoker_it::iam_calls` for what it proves and what it does not).
//! `-v` also lists what each statement allowed; `--template` checks against another copy of the
//! template (a proposed change) instead of the one built in. DIR defaults to `$STOKER_RECORD_CALLS` (`./scripts/test` sets it and runs this after the tests).
//! Exit status: 0 when AWS would allow every call, 1 when it would deny one, 2 when there is
//! nothing to check.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut args: Vec<_> = std::env::args_os().skip(1).collect();
    let verbose = args.first().is_some_and(|a| a == "-v");
    if verbose {
        args.remove(0);
    }
    let template = if args.first().is_some_and(|a| a == "--template") && args.len() > 1 {
        let path = PathBuf::from(args.remove(1));
        args.remove(0);
        match std::fs::read_to_string(&path).map(|t| serde_norway::from_str(&t)) {
            Ok(Ok(t)) => t,
            Ok(Err(e)) => {
                eprintln!("iam-calls: {} is not YAML: {e}", path.display());
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("iam-calls: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    } else {
        stoker_it::cfn::template()
    };
    let dir = args
        .into_iter()
        .next()
        .or_else(|| std::env::var_os(stoker_kit::calls::VAR))
        .map(PathBuf::from);
    let Some(dir) = dir else {
        eprintln!(
            "iam-calls: name the directory of recorded calls (or set {}); record them by running the integration tests with {0}=<dir>",
            stoker_kit::calls::VAR
        );
        return ExitCode::from(2);
    };
    let calls = match stoker_it::iam_calls::load(&dir) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iam-calls: cannot read {}: {e}", dir.display());
            return ExitCode::from(2);
        }
    };
    if calls.is_empty() {
        eprintln!(
            "iam-calls: no calls recorded in {}: were the tests run with {}={0}?",
            dir.display(),
            stoker_kit::calls::VAR
        );
        return ExitCode::from(2);
    }
    let report = stoker_it::iam_calls::check(&template, &calls);
    if verbose {
        print!("{}", report.allowed());
    }
    print!("{report}");
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        println!(
            "fix: grant each denied action on its resource in the worker's role (infra/template.yaml), or stop making the call"
        );
        ExitCode::from(1)
    }
}
