//! The child's side: which steps it takes for this container ([`plan`]), and
//! taking them ([`run`]).

use super::handshake::{Channel, Failure, Message};
use super::net::Attachment;
use super::net::inside;
use super::steps::{ChildError, Step};
use super::{Container, Namespace, exec, mount, pid, signals, user, uts};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};

// ANCHOR: plan
/// The steps the child takes, in order, for this container (and its network, once
/// leased). The one place that decides them: the child runs this list, and the
/// narration prints it. Each lesson that needs a step in the child adds it here.
pub fn plan(container: &Container, network: Option<&Attachment>) -> Vec<Step> {
    let new = |namespace| container.namespaces.contains(&namespace);
    let maps_root = container.id_maps.as_ref().is_some_and(|m| m.maps_root());
    let mut steps = Vec::new();
    if new(Namespace::User) && maps_root {
        steps.push(Step::BecomeRoot);
    }
    if new(Namespace::Cgroup) {
        // The parent has put us in our cgroup by now: it becomes our "/".
        steps.push(Step::UnshareCgroup);
    }
    if let Some(name) = &container.hostname {
        steps.push(Step::SetHostname(name.clone()));
    }
    if let Some(attachment) = network {
        steps.extend(inside::steps(attachment));
    }
    if new(Namespace::Mount) {
        steps.push(Step::SetPropagation(container.propagation));
        if new(Namespace::Pid) {
            steps.push(Step::MountProc);
        }
    }
    if container.die_with_parent {
        // Last before exec: the kernel forgets it when our user ids change.
        steps.push(Step::DieWithParent);
    }
    if container.init {
        steps.push(Step::BecomeInit);
    }
    steps.push(Step::Exec(container.command.clone()));
    steps
}
// ANCHOR_END: plan

// ANCHOR: run
/// Takes the steps in order. Returns only if one failed (or our init ended): the
/// exit code. A failed step is reported to the parent by its place in the list.
pub fn run(steps: &[Step], channel: &Channel, old_mask: &SigSet) -> isize {
    for (index, step) in steps.iter().enumerate() {
        let result = match step {
            Step::BecomeInit => {
                let command = command_of(steps);
                return pid::run_init(command, index, channel, old_mask) as isize;
            }
            Step::Exec(command) => {
                let _ = signals::restore_mask(old_mask);
                Err(exec::exec(command))
            }
            step => take(step, channel),
        };
        if let Err(errno) = result {
            let _ = channel.send(&Message::Failed(Failure { step: index, errno }));
            let error = ChildError {
                step: step.clone(),
                errno,
            };
            return error.exit_code() as isize;
        }
    }
    125 // Not reached: the list ends with Exec.
}
// ANCHOR_END: run

/// One step that is not the end of the list.
fn take(step: &Step, channel: &Channel) -> Result<(), Errno> {
    match step {
        Step::BecomeRoot => user::become_root(),
        Step::UnshareCgroup => {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        }
        Step::SetHostname(name) => uts::set_hostname(name),
        Step::SetPropagation(mode) => mount::set_propagation(*mode),
        Step::MountProc => mount::mount_proc(),
        Step::DieWithParent => die_with_parent(channel),
        network => inside::configure(network).map_err(|error| {
            Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO))
        }),
    }
}

/// The command the list ends with.
fn command_of(steps: &[Step]) -> &[String] {
    match steps.last() {
        Some(Step::Exec(command)) => command,
        _ => &[],
    }
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
fn die_with_parent(channel: &Channel) -> Result<(), Errno> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    if channel.peer_gone() {
        std::process::exit(125);
    }
    Ok(())
}
// ANCHOR_END: die_with_parent
