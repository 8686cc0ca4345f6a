//! A container's life as separate operations, as the OCI runtime spec has them:
//! [`create()`], [`start()`], [`wait()`], [`state()`], [`kill()`], [`delete()`],
//! and [`exec()`] to run another command in a running container.
//!
//! `create` makes everything and leaves the container's process waiting at the
//! door; `start` lets it through to its command; `wait` sees it end. `create` and
//! `start` record the container's status in its state record (see
//! [`super::state`]); that it stopped, the kernel tells whoever reads the record
//! (its process is gone), so no one writes it. `state`, `kill` and `delete` need
//! nothing but that record and the id: they work from any process, after the one
//! that created the container is gone. A lesson calls create, start, wait and
//! delete in a row (see [`super::run()`]).
//!
//! One file per operation.

mod create;
mod delete;
mod exec;
mod kill;
mod start;
mod wait;

pub use create::create;
pub use delete::{delete, release};
pub use exec::{ExecSettings, Execution, exec, exec_start, exec_with};
pub use kill::{kill, state};
pub use start::start;
pub use wait::wait;

use super::cgroup::{Cgroup, Usage};
use super::net::Attachment;
use super::rootfs::Layers;
use super::signals::SignalInbox;
use super::spawn::Child;
use super::state::{State, StateDir};
use super::steps::Step;
use super::{Container, ContainerId, Error};
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::Pid;

/// A container `create` made: its process waits for [`start()`].
///
/// Today only the process that created it can start it: the Go message travels on
/// the socket pair the two share. (Starting from another process, as `nsbox
/// start ID` or an OCI engine would, needs a door another process can open: a FIFO
/// in the state folder that the child opens and blocks on, as runc's `exec.fifo`.)
pub struct Created {
    container: Container,
    dir: StateDir,
    record: State,
    resources: Resources,
    steps: Vec<Step>,
    child: Child,
    inbox: SignalInbox,
    /// The master end of the container's terminal, once `start` received it.
    terminal: Option<std::os::fd::OwnedFd>,
}

/// What the parent made for the container before the clone, to hand over during the
/// handshake.
struct Resources {
    network: Option<Attachment>,
    cgroup: Option<Box<dyn Cgroup>>,
    layers: Option<Layers>,
}

impl Created {
    pub fn id(&self) -> &ContainerId {
        &self.container.id
    }

    /// The container's process, as the host sees it.
    pub fn pid(&self) -> Pid {
        self.child.pid
    }

    /// The master end of its terminal (`Container::terminal`), after `start`.
    pub fn take_terminal(&mut self) -> Option<std::os::fd::OwnedFd> {
        self.terminal.take()
    }

    /// What its processes used so far (`None` without a cgroup).
    pub fn usage(&self) -> Option<Usage> {
        self.resources.cgroup.as_ref().map(|cgroup| cgroup.usage())
    }

    /// Records a new status.
    fn set_status(&mut self, status: super::state::Status) -> Result<(), Error> {
        self.record.status = status;
        self.dir.write(&self.record)
    }
}

/// Kills and reaps a child we gave up on, so nothing is left behind.
fn stop(child: Pid) {
    let _ = nix::sys::signal::kill(child, Signal::SIGKILL);
    wait_quietly(child);
}

fn wait_quietly(child: Pid) {
    let _ = waitpid(child, None);
}
