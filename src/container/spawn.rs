//! Creating the child with `clone(2)`, and what the child does until it becomes the
//! command.

use super::exec::exec;
use super::handshake::{self, Channel, ChildError, Message};
use super::net::{self, Attachment};
use super::{Container, Error, Namespace, mount, pid, signals, user, uts};
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
/// Calls `clone(2)` with the container's namespace flags. The child inherits
/// `old_mask`'s replacement (the watched signals blocked) and restores `old_mask`
/// before `exec`.
pub fn spawn(
    container: &Container,
    network: Option<&Attachment>,
    old_mask: &SigSet,
) -> Result<Child, Error> {
    let (parent_end, child_end) =
        handshake::channel().map_err(Error::sys("socketpair"))?;
    let parent_end_fd = parent_end.as_raw_fd();
    let mut stack = vec![0u8; STACK_SIZE];
    let flags = container.clone_flags();
    let child_main = Box::new(|| {
        child_main(container, network, &child_end, parent_end_fd, old_mask)
    });
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
    container: &Container,
    network: Option<&Attachment>,
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
    let error = match prepare(container, network)
        .and_then(|()| die_with_parent(channel))
    {
        Ok(()) if container.init => {
            return pid::run_init(&container.command, channel, old_mask) as isize;
        }
        Ok(()) => {
            let _ = signals::restore_mask(old_mask);
            exec(&container.command)
        }
        Err(error) => error,
    };
    let _ = channel.send(&Message::Failed(error.clone()));
    error.exit_code() as isize
}
// ANCHOR_END: child_main

/// What the child sets up inside its new namespaces. Each lesson that needs a step
/// in the child adds one line here.
fn prepare(
    container: &Container,
    network: Option<&Attachment>,
) -> Result<(), ChildError> {
    if container.namespaces.contains(&Namespace::User)
        && container
            .id_maps
            .as_ref()
            .is_some_and(|maps| maps.maps_root())
    {
        user::become_root().map_err(failed("setresuid(0, 0, 0)".into()))?;
    }
    if container.namespaces.contains(&Namespace::Cgroup) {
        // The parent has put us in our cgroup by now: that cgroup becomes our "/".
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(failed("unshare(CLONE_NEWCGROUP)".into()))?;
    }
    if let Some(name) = &container.hostname {
        uts::set_hostname(name).map_err(failed(format!("sethostname({name:?})")))?;
    }
    if let Some(attachment) = network {
        net::configure_inside(attachment).map_err(|(step, error)| ChildError {
            step,
            errno: Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO)),
        })?;
    }
    if container.namespaces.contains(&Namespace::Mount) {
        let mode = container.propagation;
        mount::set_propagation(mode)
            .map_err(failed(format!("mount --make-r{mode} /")))?;
        if container.namespaces.contains(&Namespace::Pid) {
            mount::mount_proc()
                .map_err(failed("mount -t proc proc /proc".into()))?;
        }
    }
    Ok(())
}

// ANCHOR: die_with_parent
/// Asks the kernel to SIGKILL us if the parent dies, so a killed lesson binary does
/// not leave its container running (with an address and a veth nobody will clean
/// up).
///
/// Surprise: the kernel forgets this request whenever our user ids change, which
/// `become_root` just did; so it is the last step before `exec`. And the parent may
/// have died already, before we asked: then its end of the channel is closed, and we
/// stop here.
fn die_with_parent(channel: &Channel) -> Result<(), ChildError> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)
        .map_err(failed("prctl(PR_SET_PDEATHSIG)".into()))?;
    if channel.peer_gone() {
        std::process::exit(125);
    }
    Ok(())
}
// ANCHOR_END: die_with_parent

/// Turns an errno into a [`ChildError`] for this step.
fn failed(step: String) -> impl FnOnce(Errno) -> ChildError {
    move |errno| ChildError { step, errno }
}

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
