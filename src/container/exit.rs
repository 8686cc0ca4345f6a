//! How a container ended, and the exit code that a shell would give for it.

use nix::sys::signal::Signal;
use nix::sys::wait::WaitStatus;
use std::fmt;

/// How the process we waited for ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// It called `exit(code)`.
    Exited(i32),
    /// A signal killed it.
    Killed(Signal),
}

impl Ending {
    /// Reads a `waitpid(2)` result; `None` for statuses that are not an ending
    /// (stopped, …).
    pub fn from_wait_status(status: WaitStatus) -> Option<Ending> {
        match status {
            WaitStatus::Exited(_, code) => Some(Ending::Exited(code)),
            WaitStatus::Signaled(_, signal, _) => Some(Ending::Killed(signal)),
            _ => None,
        }
    }

    // ANCHOR: shell_code
    /// The exit code a shell reports: the code itself, or 128 + the signal's number.
    pub fn shell_code(self) -> u8 {
        match self {
            Ending::Exited(code) => code as u8,
            Ending::Killed(signal) => 128 + signal as u8,
        }
    }
    // ANCHOR_END: shell_code

    /// Reads back an ending that travelled as a shell code (from our init, see
    /// `pid`).
    pub fn from_shell_code(code: u8) -> Ending {
        match code.checked_sub(128).map(|n| Signal::try_from(n as i32)) {
            Some(Ok(signal)) => Ending::Killed(signal),
            _ => Ending::Exited(code as i32),
        }
    }
}

impl fmt::Display for Ending {
    /// "exited with code 7" / "was killed by SIGTERM (signal 15)".
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Ending::Exited(code) => write!(f, "exited with code {code}"),
            Ending::Killed(signal) => {
                write!(
                    f,
                    "was killed by {} (signal {})",
                    signal.as_str(),
                    *signal as i32
                )
            }
        }
    }
}

/// How the exit code was derived, for the last line of narration.
pub fn explain_code(ending: Ending) -> String {
    match ending {
        Ending::Exited(code) => code.to_string(),
        Ending::Killed(signal) => {
            format!("128+{} = {}", signal as i32, ending.shell_code())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_codes_round_trip() {
        for ending in [
            Ending::Exited(0),
            Ending::Exited(7),
            Ending::Killed(Signal::SIGTERM),
            Ending::Killed(Signal::SIGKILL),
        ] {
            assert_eq!(Ending::from_shell_code(ending.shell_code()), ending);
        }
        assert_eq!(Ending::Killed(Signal::SIGTERM).shell_code(), 143);
        assert_eq!(explain_code(Ending::Killed(Signal::SIGINT)), "128+2 = 130");
    }
}
