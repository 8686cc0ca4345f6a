//! Trying something in a child process, so that the doctor itself stays as it was.
//!
//! Every check that asks the kernel for something (a namespace, a mount, a network
//! link) runs in a child made with `fork(2)`. What the child gets dies with it: its
//! namespaces, the mounts and links in them. The child answers through a pipe, with
//! one line: `ok`, or the errno and the step the kernel refused.

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, fork, pipe2};
use std::fs::File;
use std::io::Read;

/// The step of a try that the kernel refused, and why (`unshare(CLONE_NEWUTS)`,
/// `ENOSPC`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub step: String,
    pub errno: Errno,
}

impl Refusal {
    /// For `map_err`: this step failed with that errno.
    pub fn at(step: impl Into<String>) -> impl FnOnce(Errno) -> Refusal {
        let step = step.into();
        move |errno| Refusal { step, errno }
    }

    /// The same for calls that return an `io::Error` (netlink, files).
    pub fn at_io(step: impl Into<String>) -> impl FnOnce(std::io::Error) -> Refusal {
        let step = step.into();
        move |error| Refusal {
            step,
            errno: Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO)),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}: {}", self.step, self.errno.desc())
    }
}

// ANCHOR: in_child
/// Runs `attempt` in a child process and returns what it found.
pub fn in_child(
    attempt: impl FnOnce() -> Result<(), Refusal>,
) -> Result<(), Refusal> {
    let (reader, writer) = pipe2(OFlag::O_CLOEXEC).map_err(Refusal::at("pipe2"))?;
    // SAFETY: the doctor is single-threaded, so the child is a whole copy of a
    // consistent process: it may allocate and run any of our code before it exits.
    match unsafe { fork() }.map_err(Refusal::at("fork"))? {
        ForkResult::Child => {
            drop(reader);
            let answer = match attempt() {
                Ok(()) => "ok".to_string(),
                Err(refusal) => format!("{} {}", refusal.errno as i32, refusal.step),
            };
            let _ = nix::unistd::write(&writer, answer.as_bytes());
            // SAFETY: _exit(2) ends the child at once, without running the parent's
            // exit handlers or flushing its copy of the parent's output buffers a
            // second time.
            unsafe { nix::libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut answer = String::new();
            let _ = File::from(reader).read_to_string(&mut answer);
            let _ = waitpid(child, None);
            parse_answer(&answer)
        }
    }
}
// ANCHOR_END: in_child

fn parse_answer(answer: &str) -> Result<(), Refusal> {
    if answer == "ok" {
        return Ok(());
    }
    let died = || Refusal {
        step: "the child that tried it died without answering".to_string(),
        errno: Errno::UnknownErrno,
    };
    let (errno, step) = answer.split_once(' ').ok_or_else(died)?;
    let errno = errno.parse().map_err(|_| died())?;
    Err(Refusal {
        step: step.to_string(),
        errno: Errno::from_raw(errno),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(parse_answer("ok"), Ok(()));
        let refusal = parse_answer("28 unshare(CLONE_NEWUTS)").unwrap_err();
        assert_eq!(refusal.errno, Errno::ENOSPC);
        assert_eq!(refusal.step, "unshare(CLONE_NEWUTS)");
        assert!(parse_answer("").is_err());
    }
}
