//! Signals: the lesson binary passes the ones it gets on to the container, and
//! learns from `SIGCHLD` that the container ended.
//!
//! We do not install signal handlers. We *block* the signals we care about and read
//! them from a `signalfd(2)`, one at a time, in an ordinary loop: no code runs at a
//! surprising moment.

use nix::sys::signal::{SigSet, SigmaskHow, Signal, sigprocmask};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The signals a user sends to stop or poke a program; we pass them on to the
/// container.
pub const FORWARDED: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// `si_code` of a signal the kernel itself sent, e.g. the terminal's Ctrl-C
/// (`SI_KERNEL`).
const SI_KERNEL: i32 = 0x80;

/// The forwarded signals and `SIGCHLD`.
fn watched() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

// ANCHOR: block
/// Blocks the watched signals and returns the mask we had before, which the child
/// restores before `exec` (a blocked mask is inherited across `clone` and `exec`).
pub fn block_watched() -> nix::Result<SigSet> {
    let mut old = SigSet::empty();
    sigprocmask(SigmaskHow::SIG_BLOCK, Some(&watched()), Some(&mut old))?;
    Ok(old)
}

/// In the child, before `exec`: the mask the parent had before [`block_watched`].
pub fn restore_mask(old: &SigSet) -> nix::Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(old), None)
}
// ANCHOR_END: block

/// A signal that arrived, and who sent it.
#[derive(Clone, Copy, Debug)]
pub struct Arrival {
    pub signal: Signal,
    /// The terminal sent it (Ctrl-C, Ctrl-\, hang-up) to the whole foreground
    /// process group, so the container got it too and we must not send it a second
    /// time.
    pub from_terminal: bool,
}

/// Where blocked signals wait until we read them.
pub struct SignalInbox {
    fd: SignalFd,
}

impl SignalInbox {
    /// Opens a close-on-exec signalfd for the watched signals. Block them first.
    pub fn open() -> nix::Result<SignalInbox> {
        let fd = SignalFd::with_flags(&watched(), SfdFlags::SFD_CLOEXEC)?;
        Ok(SignalInbox { fd })
    }

    // ANCHOR: from_terminal
    /// Waits for the next signal.
    pub fn next(&self) -> nix::Result<Arrival> {
        loop {
            if let Some(info) = self.fd.read_signal()? {
                // A signal outside our set cannot arrive here; skip it if it somehow
                // did.
                if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                    let from_terminal = info.ssi_code == SI_KERNEL;
                    return Ok(Arrival {
                        signal,
                        from_terminal,
                    });
                }
            }
        }
    }
    // ANCHOR_END: from_terminal
}
