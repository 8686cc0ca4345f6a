//! `start`: the container's process goes through the door, to its command.

use super::{Created, stop, wait_quietly};
use crate::container::describe::command_name;
use crate::container::handshake::{Failure, Message};
use crate::container::state::Status;
use crate::container::steps::{ChildError, Step};
use crate::container::{Error, Narrator, pid};
use std::os::fd::FromRawFd;

/// Sends Go, and waits until the command runs (or a step before it failed, which
/// the error names). The container is then running; if it failed, it is stopped,
/// which its record shows without a write (see [`super::state()`]).
pub fn start(created: &mut Created, narrator: &Narrator) -> Result<(), Error> {
    let child = created.child.pid;
    let result = go(created, narrator);
    match &result {
        Ok(()) => created.set_status(Status::Running)?,
        // A failed step: the child has exited (and been reaped).
        Err(Error::Child(_)) => {}
        Err(_) => stop(child),
    }
    result
}

fn go(created: &mut Created, narrator: &Narrator) -> Result<(), Error> {
    created.child.channel.send(&Message::Go)?;
    let mut message = created.child.channel.recv()?;
    if let Some(Message::Terminal(fd)) = message {
        // SAFETY: the kernel just made this descriptor for us (SCM_RIGHTS), and
        // nothing else owns it.
        created.terminal = Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
        message = created.child.channel.recv()?;
    }
    let (child, steps) = (&created.child, &created.steps);
    match message {
        // End-of-file: exec closed the child's close-on-exec end. The command runs.
        None => Ok(()),
        Some(Message::CommandStarted(inside)) => {
            narrator.say(format!(
                "{} (pid 1) started {} as pid {inside}",
                pid::INIT_NAME,
                command_name(&created.container)
            ));
            Ok(())
        }
        Some(Message::Failed(failure)) => {
            wait_quietly(child.pid);
            Err(child_error(steps, failure))
        }
        Some(other) => Err(Error::Handshake(std::io::Error::other(format!(
            "unexpected message from the child: {other:?}"
        )))),
    }
}

/// The step the child named by its place in the list, and what the kernel said.
fn child_error(steps: &[Step], failure: Failure) -> Error {
    match steps.get(failure.step) {
        Some(step) => Error::Child(ChildError {
            step: step.clone(),
            errno: failure.errno,
        }),
        None => Error::Handshake(std::io::Error::other(format!(
            "the child reported step {} of {}",
            failure.step,
            steps.len()
        ))),
    }
}
