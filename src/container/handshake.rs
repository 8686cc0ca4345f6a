//! The channel between the parent and the child, and the messages they send.
//!
//! The child is created stopped at a door: it waits for [`Message::Go`] before it
//! does anything, so the parent can first prepare what only it can prepare (uid maps
//! in lesson 05, a veth in 06, cgroups in 07). If a step in the child fails, the
//! child says so with [`Message::Failed`] instead of dying with a bare exit code.
//!
//! The channel is a `SOCK_SEQPACKET` socket pair: every `send` arrives as one whole
//! message. Both ends are close-on-exec, which gives us a free signal: when the
//! parent reads end-of-file, the child's end was closed by a successful `exec`.

use nix::errno::Errno;
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

// ANCHOR: message
/// Everything parent and child say to each other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// Parent → child: everything is ready, carry on.
    Go,
    /// Child → parent: a step failed, and the child will exit.
    Failed(Failure),
    /// Init → parent: the command started, as this pid inside the container.
    CommandStarted(i32),
    /// Init → parent: it reaped an orphan with this pid (inside).
    ReapedOrphan(i32),
    /// Init → parent: the command ended; the exit code a shell would report.
    CommandEnded(u8),
    /// The child made its terminal: the message carries the master end of its
    /// pty (the number it has in the receiving process).
    Terminal(i32),
}
// ANCHOR_END: message

/// A step the child could not take: its place in the child's list of steps (the
/// parent has the same list), and the error number the kernel gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: usize,
    pub errno: Errno,
}

impl Message {
    /// Messages travel as short lines of text, easy to read in `strace`.
    fn encode(&self) -> String {
        match self {
            Message::Go => "go".into(),
            Message::Failed(e) => format!("failed {} {}", e.errno as i32, e.step),
            Message::CommandStarted(pid) => format!("started {pid}"),
            Message::ReapedOrphan(pid) => format!("reaped {pid}"),
            Message::CommandEnded(code) => format!("ended {code}"),
            Message::Terminal(_) => "terminal".into(),
        }
    }

    fn decode(text: &str) -> Option<Message> {
        let (word, rest) = text.split_once(' ').unwrap_or((text, ""));
        match word {
            "go" => Some(Message::Go),
            "failed" => {
                let (errno, step) = rest.split_once(' ')?;
                let errno = Errno::from_raw(errno.parse().ok()?);
                let step = step.parse().ok()?;
                Some(Message::Failed(Failure { step, errno }))
            }
            "started" => Some(Message::CommandStarted(rest.parse().ok()?)),
            "reaped" => Some(Message::ReapedOrphan(rest.parse().ok()?)),
            "ended" => Some(Message::CommandEnded(rest.parse().ok()?)),
            // The number is filled in from the descriptor that came with it.
            "terminal" => Some(Message::Terminal(-1)),
            _ => None,
        }
    }
}

/// One end of the channel.
#[derive(Debug)]
pub struct Channel {
    fd: OwnedFd,
}

// ANCHOR: channel
/// Makes the two ends: one for the parent, one for the child.
pub fn channel() -> nix::Result<(Channel, Channel)> {
    let (parent, child) = socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    Ok((Channel { fd: parent }, Channel { fd: child }))
}
// ANCHOR_END: channel

impl AsRawFd for Channel {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.fd.as_raw_fd()
    }
}

impl Channel {
    /// Sends one message.
    pub fn send(&self, message: &Message) -> io::Result<()> {
        let bytes = message.encode();
        socket::send(
            self.fd.as_raw_fd(),
            bytes.as_bytes(),
            MsgFlags::MSG_NOSIGNAL,
        )?;
        Ok(())
    }

    /// Has the other end been closed (its process exited)? Does not wait: `poll(2)`
    /// reports `POLLHUP` on a socket whose peer closed its end.
    pub fn peer_gone(&self) -> bool {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let fd = self.fd.as_fd();
        let mut fds = [PollFd::new(fd, PollFlags::empty())];
        match poll(&mut fds, PollTimeout::ZERO) {
            Ok(_) => fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLHUP)),
            Err(_) => false,
        }
    }

    /// Waits for one message. `None` means the other end is closed: the other side
    /// exited, or (for the parent) the child's `exec` succeeded and closed it.
    pub fn recv(&self) -> io::Result<Option<Message>> {
        self.recv_with(MsgFlags::empty())
    }

    /// Like [`Channel::recv`], but returns `Ok(None)` at once if no message is
    /// waiting.
    pub fn try_recv(&self) -> io::Result<Option<Message>> {
        match self.recv_with(MsgFlags::MSG_DONTWAIT) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            other => other,
        }
    }

    fn recv_with(&self, flags: MsgFlags) -> io::Result<Option<Message>> {
        use nix::sys::socket::{ControlMessageOwned, recvmsg};
        let mut buffer = [0u8; 4096];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let (len, passed) = loop {
            let mut parts = [std::io::IoSliceMut::new(&mut buffer)];
            match recvmsg::<()>(
                self.fd.as_raw_fd(),
                &mut parts,
                Some(&mut space),
                flags | MsgFlags::MSG_CMSG_CLOEXEC,
            ) {
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(errno.into()),
                Ok(received) => {
                    let fd = received.cmsgs()?.find_map(|cmsg| match cmsg {
                        ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
                        _ => None,
                    });
                    break (received.bytes, fd);
                }
            }
        };
        if len == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&buffer[..len]);
        match (Message::decode(&text), passed) {
            (Some(Message::Terminal(_)), Some(fd)) => {
                Ok(Some(Message::Terminal(fd)))
            }
            (Some(message), None) => Ok(Some(message)),
            _ => Err(io::Error::other(format!("unknown message {text:?}"))),
        }
    }

    // ANCHOR: send_fd
    /// Sends `message` with a file descriptor: the kernel gives the receiving
    /// process its own descriptor for the same open file (`SCM_RIGHTS`), under a
    /// number of its own. This is how a file opened inside the container (the
    /// terminal's master end) reaches the parent.
    pub fn send_with_fd(
        &self,
        message: &Message,
        fd: std::os::fd::RawFd,
    ) -> io::Result<()> {
        use nix::sys::socket::{ControlMessage, sendmsg};
        let bytes = message.encode();
        let parts = [std::io::IoSlice::new(bytes.as_bytes())];
        let fds = [fd];
        let rights = [ControlMessage::ScmRights(&fds)];
        sendmsg::<()>(
            self.fd.as_raw_fd(),
            &parts,
            &rights,
            MsgFlags::MSG_NOSIGNAL,
            None,
        )?;
        Ok(())
    }
    // ANCHOR_END: send_fd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_survive_the_channel() {
        let (parent, child) = channel().unwrap();
        let failed = Failure {
            step: 3,
            errno: Errno::ENOENT,
        };
        for message in [
            Message::Go,
            Message::Failed(failed),
            Message::CommandStarted(2),
            Message::ReapedOrphan(4),
            Message::CommandEnded(143),
        ] {
            child.send(&message).unwrap();
            assert_eq!(parent.recv().unwrap(), Some(message));
        }
        assert_eq!(parent.try_recv().unwrap(), None);
        drop(child);
        assert_eq!(
            parent.recv().unwrap(),
            None,
            "end-of-file once the other end is closed"
        );
    }
}
