//! A terminal for the container (`nsbox run -t`): a pty from the container's own
//! `devpts`.
//!
//! A pty is a pair: the *slave* end behaves like a terminal (a shell reads and
//! writes it, `stty` sets it, Ctrl-C typed into it becomes SIGINT), and whatever
//! is written on the slave end comes out of the *master* end, and back. The child
//! makes the pair inside the container, from the `devpts` mounted on its
//! `/dev/pts` (a new instance: its ptys are numbered from 0 and invisible to the
//! host's), makes the slave its controlling terminal and its stdin, stdout and
//! stderr, and sends the master to the parent over the channel. The parent copies
//! between the user's terminal and the master.

use super::handshake::{Channel, Message};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use std::os::fd::{AsFd, AsRawFd};

// ANCHOR: open_terminal
/// In the child, after the root switch: `/dev/ptmx` is the container's. Opens a
/// pty, makes its slave end our controlling terminal and our 0, 1 and 2, and hands
/// the master end to the parent.
pub fn open_terminal(channel: &Channel) -> Result<(), Errno> {
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY)?;
    grantpt(&master)?;
    unlockpt(&master)?;
    let slave_path = ptsname_r(&master)?;
    // A new session first: only a session leader can take a controlling terminal.
    nix::unistd::setsid()?;
    let slave = nix::fcntl::open(
        slave_path.as_str(),
        OFlag::O_RDWR,
        nix::sys::stat::Mode::empty(),
    )?;
    // SAFETY: TIOCSCTTY takes an integer argument (0: do not steal it from
    // another session); `slave` is an open terminal.
    if unsafe { nix::libc::ioctl(slave.as_raw_fd(), nix::libc::TIOCSCTTY, 0) } < 0 {
        return Err(Errno::last());
    }
    nix::unistd::dup2_stdin(&slave)?;
    nix::unistd::dup2_stdout(&slave)?;
    nix::unistd::dup2_stderr(&slave)?;
    channel
        .send_with_fd(&Message::Terminal(-1), master.as_fd().as_raw_fd())
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)))
    // Our copy of the master closes here; the parent has its own.
}
// ANCHOR_END: open_terminal
