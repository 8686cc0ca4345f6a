//! `state` and `kill`: asking about a container, and signalling it, by its id.

use crate::container::state::{State, StateDir, Status};
use crate::container::{ContainerId, Error};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;

/// The container's record as it is now: if its process is gone (its starter was
/// killed, say), it is stopped, whatever the record last said.
pub fn state(root: &Path, id: &ContainerId) -> Result<State, Error> {
    Ok(StateDir::open(root, id)?.read()?.refreshed())
}

/// Sends `signal` to the container's process.
pub fn kill(root: &Path, id: &ContainerId, signal: Signal) -> Result<(), Error> {
    let state = state(root, id)?;
    if state.status == Status::Stopped || state.pid <= 0 {
        return Err(Error::NotRunning { id: id.to_string() });
    }
    nix::sys::signal::kill(Pid::from_raw(state.pid), signal)
        .map_err(Error::sys("kill"))
}
