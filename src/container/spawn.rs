//! Creating the child with `clone(2)`, and what the child does until it becomes the
//! command.

use super::handshake::{self, Channel, Message};
use super::steps::Step;
use super::{Container, Error, Namespace, child, user};
use nix::errno::Errno;
use nix::sched::clone;
use nix::sys::signal::{SigSet, Signal};
use nix::unistd::Pid;
use std::os::fd::{AsRawFd, RawFd};

/// The child's stack. `clone(2)` without `CLONE_VM` gives the child a copy of our
/// memory, so this only needs to hold the child's few calls before `exec` (or our
/// small init's loop).
const STACK_SIZE: usize = 1024 * 1024;

/// A child waiting at the door for [`Message::Go`].
pub struct Child {
    /// Its pid as we (the host) see it.
    pub pid: Pid,
    /// Our end of the channel.
    pub channel: Channel,
}

// ANCHOR: spawn
/// Calls `clone(2)` with the container's namespace flags; the child will take
/// `steps` after Go. The child inherits
/// `old_mask`'s replacement (the watched signals blocked) and restores `old_mask`
/// before `exec`.
pub fn spawn(
    container: &Container,
    steps: &[Step],
    old_mask: &SigSet,
) -> Result<Child, Error> {
    let (parent_end, child_end) =
        handshake::channel().map_err(Error::sys("socketpair"))?;
    let parent_end_fd = parent_end.as_raw_fd();
    let mut stack = vec![0u8; STACK_SIZE];
    let flags = container.clone_flags();
    let child_main =
        Box::new(|| child_main(steps, &child_end, parent_end_fd, old_mask));
    // SAFETY: this process is single-threaded, and without CLONE_VM the child gets
    // its own copy of memory, as after fork(2): it can run any of our code. `stack`
    // outlives the call in our memory, and the child has its own copy of it.
    let pid = unsafe {
        clone(child_main, &mut stack, flags, Some(Signal::SIGCHLD as i32))
    }
    .map_err(|errno| clone_error(container, errno))?;
    Ok(Child {
        pid,
        channel: parent_end,
    })
}
// ANCHOR_END: spawn

// ANCHOR: child_main
/// The child's whole life before `exec`. Its return value is its exit code, used
/// only when something failed.
fn child_main(
    steps: &[Step],
    channel: &Channel,
    parent_end: RawFd,
    old_mask: &SigSet,
) -> isize {
    // We got a copy of the parent's end too. Close it: if the parent dies, we then
    // read end-of-file below instead of waiting forever.
    let _ = nix::unistd::close(parent_end);
    if !matches!(channel.recv(), Ok(Some(Message::Go))) {
        return 125; // The parent is gone: nobody is left to tell.
    }
    child::run(steps, channel, old_mask)
}
// ANCHOR_END: child_main

/// The flags as a student would write them: `CLONE_NEWUTS | CLONE_NEWIPC | SIGCHLD`.
pub fn flag_names(namespaces: &[super::Namespace]) -> String {
    let names: Vec<&str> = namespaces
        .iter()
        .filter(|ns| ns.made_by_clone())
        .map(|ns| ns.flag_name())
        .collect();
    let mut names = names.join(" | ");
    if !names.is_empty() {
        names.push_str(" | ");
    }
    names + "SIGCHLD"
}

fn clone_error(container: &Container, errno: Errno) -> Error {
    let refused = matches!(errno, Errno::EPERM | Errno::ENOSPC | Errno::EUSERS);
    // A user namespace can be refused by a setting even to root inside another user
    // namespace.
    if refused && container.namespaces.contains(&Namespace::User) {
        let program = std::env::args().next().unwrap_or_default();
        let program = program.rsplit('/').next().unwrap_or_default();
        if let Some(error) = user::forbidding_setting(program) {
            return error;
        }
    }
    let hint = match errno {
        Errno::EPERM => " (the kernel refused: this needs root)",
        Errno::EINVAL => " (this kernel does not support one of these namespaces)",
        Errno::ENOSPC | Errno::EUSERS => {
            " (a namespace count limit in /proc/sys/user/ is reached)"
        }
        _ => "",
    };
    Error::Clone {
        flags: flag_names(&container.namespaces),
        errno,
        hint,
    }
}
