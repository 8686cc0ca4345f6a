//! PID namespaces and the duties of PID 1.
//!
//! The first process in a new PID namespace is its PID 1, and the kernel treats it
//! like the host's init:
//! - it only receives the signals it has installed a handler for. Signals whose
//!   action is the default (say SIGTERM to `sleep`) are thrown away, even when root
//!   sends them from outside; only SIGKILL and SIGSTOP from an ancestor namespace
//!   always get through;
//! - every orphan in the namespace becomes its child, and it must `wait` for them,
//!   or they stay zombies;
//! - when it exits, the kernel kills (SIGKILL) every other process in the namespace.
//!
//! Most programs were not written to be PID 1. With `--init`, lesson 03 makes PID 1
//! a tiny init of ours ([`run_init`]) that starts the command as PID 2, passes
//! signals on to it, reaps orphans, and exits the way the command did (as `tini` and
//! `docker run --init` do).

use super::exec;
use super::exit::Ending;
use super::handshake::{Channel, Failure, Message};
use super::signals::{self, SignalInbox};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, pipe2, read, write};
use procfs::process::Process;

/// The name our init shows in `ps` (the `comm` of PID 1).
pub const INIT_NAME: &str = "nsbox-init";

/// The pid of a process as seen from inside its own PID namespace (the last `NSpid`
/// entry of `/proc/<pid>/status`), and the whole chain from the host's view down.
pub fn nspids(pid: Pid) -> procfs::ProcResult<Vec<i32>> {
    let status = Process::new(pid.as_raw())?.status()?;
    Ok(status.nspid.unwrap_or_else(|| vec![pid.as_raw()]))
}

// ANCHOR: drops_signal
/// Will the kernel throw `signal` away instead of delivering it to `pid`? True when
/// `pid` is PID 1 of its namespace, has no handler for the signal (its `SigCgt` bit
/// is clear) and does not block it (a blocked signal waits in the queue, as our
/// init's do: see `signals`).
pub fn drops_signal(pid: Pid, signal: Signal) -> bool {
    let Ok(process) = Process::new(pid.as_raw()) else {
        return false;
    };
    let Ok(status) = process.status() else {
        return false;
    };
    let is_pid_1 = status.nspid.as_deref().and_then(|ids| ids.last()) == Some(&1);
    let bit = 1 << (signal as u64 - 1);
    let has_handler = status.sigcgt & bit != 0;
    let blocked = status.sigblk & bit != 0;
    is_pid_1
        && !has_handler
        && !blocked
        && !matches!(signal, Signal::SIGKILL | Signal::SIGSTOP)
}
// ANCHOR_END: drops_signal

// ANCHOR: init
/// Runs as PID 1 of the new PID namespace: starts the command, then loops until it
/// ends, passing signals on and reaping every child the kernel hands us. Returns our
/// exit code, which is the command's as a shell would give it. `step` is our place
/// in the child's list of steps (the command's exec is the next one).
pub fn run_init(
    command: &[String],
    step: usize,
    channel: &Channel,
    old_mask: &SigSet,
) -> u8 {
    let _ = nix::sys::prctl::set_name(c"nsbox-init");
    // The parent blocked the signals we watch before clone(2); we inherited that
    // mask, so they wait in the inbox for us instead of being dropped.
    let Ok(inbox) = SignalInbox::open() else {
        return 125;
    };
    let command_pid = match start_command(command, old_mask) {
        Ok(pid) => pid,
        Err(Failed::Init(errno)) => {
            let _ = channel.send(&Message::Failed(Failure { step, errno }));
            return 125;
        }
        Err(Failed::Exec(errno)) => {
            let exec = step + 1;
            let _ = channel.send(&Message::Failed(Failure { step: exec, errno }));
            return if errno == Errno::ENOENT { 127 } else { 126 };
        }
    };
    let _ = channel.send(&Message::CommandStarted(command_pid.as_raw()));
    // ANCHOR: init_loop
    loop {
        // ANCHOR: exercise
        let Ok(arrival) = inbox.next() else {
            return 125;
        };
        if arrival.signal != Signal::SIGCHLD {
            // For the command. The terminal sends Ctrl-C to its whole group, the
            // command included: pass on only what it did not get already.
            if !arrival.from_terminal {
                let _ = kill(command_pid, arrival.signal);
            }
            continue;
        }
        // SIGCHLD: children ended, perhaps several for one signal. Reap them all:
        // -1 is any child, orphans included; WNOHANG returns StillAlive at once
        // when every child left is still running.
        loop {
            let any = Pid::from_raw(-1);
            let status = match waitpid(any, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(status) => status,
            };
            let (Some(pid), Some(ending)) =
                (status.pid(), Ending::from_wait_status(status))
            else {
                continue;
            };
            if pid == command_pid {
                let code = ending.shell_code();
                let _ = channel.send(&Message::CommandEnded(code));
                return code;
            }
            let _ = channel.send(&Message::ReapedOrphan(pid.as_raw()));
        }
        // ANCHOR_END: exercise
    }
    // ANCHOR_END: init_loop
}
// ANCHOR_END: init

/// What went wrong starting the command: our own fork, or its exec.
enum Failed {
    Init(Errno),
    Exec(Errno),
}

/// Forks the command. A close-on-exec pipe tells us whether its `exec` worked: it
/// reads end-of-file if it did, or the error number if it did not.
fn start_command(command: &[String], old_mask: &SigSet) -> Result<Pid, Failed> {
    let (reader, writer) = pipe2(OFlag::O_CLOEXEC).map_err(Failed::Init)?;
    // SAFETY: init is single-threaded, so the forked child can run any code of ours.
    match unsafe { fork() }.map_err(Failed::Init)? {
        ForkResult::Child => {
            drop(reader);
            let _ = signals::restore_mask(old_mask);
            let errno = exec::exec(command);
            let _ = write(&writer, &(errno as i32).to_ne_bytes());
            // SAFETY: _exit ends the process at once, without running the parent's
            // exit hooks.
            unsafe {
                nix::libc::_exit(if errno == Errno::ENOENT { 127 } else { 126 })
            }
        }
        ForkResult::Parent { child } => {
            drop(writer);
            let mut errno = [0u8; 4];
            match read(&reader, &mut errno) {
                Ok(4) => {
                    let _ = waitpid(child, None);
                    Err(Failed::Exec(Errno::from_raw(i32::from_ne_bytes(errno))))
                }
                _ => Ok(child),
            }
        }
    }
}
