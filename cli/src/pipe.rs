//! A reader that stops early (`stoker status | head -3`) closes stdout under us. `println!`
//! then panics (Rust ignores SIGPIPE); end quietly instead, with the shell's code for a process
//! SIGPIPE stopped (141), as other command-line tools do, not with a panic and a backtrace.

/// The exit code of a command stopped by SIGPIPE (128 + 13), as shells report it.
pub const CLOSED_STDOUT_EXIT: i32 = 141;

/// Installs the panic hook that turns "failed printing to stdout: Broken pipe" into a quiet
/// exit; every other panic goes to the default hook as before.
pub fn exit_quietly_when_stdout_closes() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload_as_str().is_some_and(is_closed_stdout) {
            std::process::exit(CLOSED_STDOUT_EXIT);
        }
        default(info);
    }));
}

fn is_closed_stdout(message: &str) -> bool {
    message.starts_with("failed printing to stdout") && message.contains("Broken pipe")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_closed_stdout_is_quiet() {
        assert!(is_closed_stdout(
            "failed printing to stdout: Broken pipe (os error 32)"
        ));
        assert!(!is_closed_stdout(
            "failed printing to stdout: No space left on device"
        ));
        assert!(!is_closed_stdout("index out of bounds"));
    }
}
