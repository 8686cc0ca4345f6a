//! `wait`: the container's command runs until it ends; we pass on the signals we
//! get meanwhile.

use super::{Created, stop};
use crate::container::describe::command_name;
use crate::container::exit::{self, Ending};
use crate::container::handshake::Message;
use crate::container::signals::{Arrival, SignalInbox};
use crate::container::spawn::Child;
use crate::container::{Error, Narrator, pid};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

/// Waits for the container's process to end, and says how its command ended. The
/// container is then stopped: its record needs no new write for that, as whoever
/// reads it sees that the process is gone (see [`super::state()`]).
pub fn wait(created: &mut Created, narrator: &Narrator) -> Result<Ending, Error> {
    let child = created.child.pid;
    let ending = match wait_passing_signals(child, &created.inbox, narrator) {
        Ok(ending) => ending,
        Err(error) => {
            stop(child);
            return Err(error);
        }
    };
    let ending = read_init_report(&created.child, narrator).unwrap_or(ending);
    narrator.say(format!(
        "{} {ending}, so {} exits with {}",
        command_name(&created.container),
        narrator.program(),
        exit::explain_code(ending)
    ));
    Ok(ending)
}

// ANCHOR: wait
/// Waits for the child to end, passing on the signals we get meanwhile.
fn wait_passing_signals(
    child: Pid,
    inbox: &SignalInbox,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    let mut warned = false;
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => {
                if let Some(ending) = Ending::from_wait_status(status) {
                    return Ok(ending);
                }
            }
            Err(errno) => {
                return Err(Error::Sys {
                    call: "waitpid",
                    errno,
                });
            }
        }
        let arrival = inbox.next().map_err(Error::sys("read(signalfd)"))?;
        if arrival.signal != Signal::SIGCHLD {
            pass_on(child, arrival, &mut warned, narrator);
        }
    }
}
// ANCHOR_END: wait

// ANCHOR: pass_on
/// Sends the child a signal we got, unless the terminal already sent it to the whole
/// foreground group. If the child is a PID 1 that will drop it, say so; if it
/// happens twice, use SIGKILL, which the kernel always delivers from outside the
/// namespace.
fn pass_on(child: Pid, arrival: Arrival, warned: &mut bool, narrator: &Narrator) {
    let name = arrival.signal.as_str();
    if !arrival.from_terminal {
        let _ = kill(child, arrival.signal);
        narrator.say(format!("got {name}, passed it on to host pid {child}"));
    }
    if !pid::drops_signal(child, arrival.signal) {
        return;
    }
    if *warned {
        narrator.say(format!("{name} again: sending SIGKILL to host pid {child}"));
        let _ = kill(child, Signal::SIGKILL);
        return;
    }
    *warned = true;
    narrator.say(format!(
        "note: the container's PID 1 has no handler for {name}, so the kernel \
         drops it (PID 1 is special, see chapter 03). Send it again to kill it \
         with SIGKILL, or use --init."
    ));
}
// ANCHOR_END: pass_on

/// With `--init`, our init reports what happened inside: orphans it reaped and how
/// the command itself ended (its own exit code carries the same number).
fn read_init_report(child: &Child, narrator: &Narrator) -> Option<Ending> {
    let mut ending = None;
    while let Ok(Some(message)) = child.channel.try_recv() {
        match message {
            Message::ReapedOrphan(pid) => narrator.say(format!(
                "{} reaped orphan pid {pid} (it had exited, and its parent was \
                 gone)",
                pid::INIT_NAME
            )),
            Message::CommandEnded(code) => {
                ending = Some(Ending::from_shell_code(code))
            }
            _ => {}
        }
    }
    ending
}
