//! The user's side of `nsbox run -t`: our terminal in raw mode, and the bytes and
//! the window size passed between it and the container's pty.
//!
//! In raw mode our terminal hands every key to us as it is typed (no line editing,
//! no echo, Ctrl-C a byte instead of SIGINT), and we write it into the container's
//! pty: there the pty's own line discipline echoes, edits lines, and turns Ctrl-C
//! into SIGINT for the container's foreground process. Two terminals in a row,
//! and only the inner one may act like one.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::thread::JoinHandle;

/// Our terminal in raw mode while this lives; put back as it was when dropped
/// (also when nsbox fails half-way).
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    /// Raw mode on our stdin, if it is a terminal (else nothing to do).
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ =
                termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

// ANCHOR: window_size
/// Gives the container's terminal the size of ours (`stty size` inside then
/// agrees with the window). The kernel sends SIGWINCH to the container's
/// foreground process when the size changes, as it does to ours.
pub fn copy_window_size(master: &impl AsRawFd) {
    let mut size = nix::libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let ours = std::io::stdout().as_raw_fd();
    // SAFETY: TIOCGWINSZ fills the winsize we pass, TIOCSWINSZ reads it; both
    // descriptors are open.
    unsafe {
        if nix::libc::ioctl(ours, nix::libc::TIOCGWINSZ, &mut size) == 0 {
            nix::libc::ioctl(master.as_raw_fd(), nix::libc::TIOCSWINSZ, &size);
        }
    }
}
// ANCHOR_END: window_size

// ANCHOR: attach
/// Joins our terminal to the container's: its size follows our window's, ours goes
/// raw, and (`interactive`) what we type goes to it. Call it before starting any
/// other thread (see [`follow_window_size`]). Dropping the guard puts our terminal
/// back.
pub fn attach(master: &OwnedFd, interactive: bool) -> std::io::Result<RawMode> {
    follow_window_size(master)?;
    let raw_mode = RawMode::enter();
    if interactive {
        pass_input(master)?;
    }
    Ok(raw_mode)
}
// ANCHOR_END: attach

/// Follows our window's size: blocks SIGWINCH (call it before starting any other
/// thread, so they all inherit the block) and returns a thread that copies the
/// size each time it arrives.
pub fn follow_window_size(master: &OwnedFd) -> std::io::Result<JoinHandle<()>> {
    let mut winch = SigSet::empty();
    winch.add(Signal::SIGWINCH);
    winch.thread_block()?;
    let inbox = SignalFd::with_flags(&winch, SfdFlags::SFD_CLOEXEC)?;
    let master = master.try_clone()?;
    Ok(std::thread::spawn(move || {
        while let Ok(Some(_)) = inbox.read_signal() {
            copy_window_size(&master);
        }
    }))
}

/// A thread that passes what we type on to the container's terminal. It ends
/// with our stdin, or when the container's terminal is gone.
pub fn pass_input(master: &OwnedFd) -> std::io::Result<()> {
    let mut master = File::from(master.try_clone()?);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdin.read(&mut buffer) {
            if read == 0 || master.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
    });
    Ok(())
}
