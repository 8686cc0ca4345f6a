//! Proofs for `nsbox run -it`: the container's terminal is a pty of its own
//! devpts, it follows our window's size, Ctrl-C reaches the command inside, and our
//! terminal is put back as it was. The test plays the user's terminal: it holds
//! the master end of a pty whose slave end is nsbox's stdin, stdout and stderr.

mod common;

use common::*;
use nix::pty::{OpenptyResult, Winsize, openpty};
use nix::sys::termios::{self, LocalFlags};
use rstest::rstest;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The user's side: the master end, and all it has shown so far.
struct UserTerminal {
    master: File,
    shown: Arc<Mutex<String>>,
}

impl UserTerminal {
    fn type_in(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).unwrap();
    }

    /// Waits until the screen shows `text` after position `from`; returns the
    /// position after it.
    fn wait_for(&self, text: &str, from: usize) -> usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let shown = self.shown.lock().unwrap().clone();
            if let Some(at) = shown.get(from..).and_then(|rest| rest.find(text)) {
                return from + at + text.len();
            }
            assert!(Instant::now() < deadline, "no {text:?} in {shown:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        set_size(&self.master, rows, cols);
    }
}

fn set_size(fd: &impl AsRawFd, rows: u16, cols: u16) {
    let size = Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads the winsize we pass; the descriptor is a pty.
    let done =
        unsafe { nix::libc::ioctl(fd.as_raw_fd(), nix::libc::TIOCSWINSZ, &size) };
    assert_eq!(done, 0, "TIOCSWINSZ");
}

/// One test's nsbox: its state root and image store, and, when the test ends
/// (failed or not), no process of its left: the program on the pty is killed and
/// every container removed, before the folders go.
struct Nsbox {
    root: TempDir,
    storage: TempDir,
    on_the_pty: Option<std::process::Child>,
}

impl Nsbox {
    fn new() -> Nsbox {
        Nsbox {
            root: TempDir::new("terminal-root"),
            storage: TempDir::new("terminal-storage"),
            on_the_pty: None,
        }
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec![
            "--root",
            self.root.path.to_str().unwrap(),
            "--storage",
            self.storage.path.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        all
    }

    fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new(bin("nsbox"));
        command.args(self.args(args));
        run_command(command, "")
    }

    /// Starts `nsbox ARGS` on a pty of its own.
    fn start_on_a_pty(&mut self, args: &[&str]) -> (UserTerminal, OwnedFd) {
        let (child, user, slave) = start_on_a_pty(&self.args(args));
        self.on_the_pty = Some(child);
        (user, slave)
    }

    /// Waits for the program on the pty to end: its exit code.
    fn wait(&mut self) -> Option<i32> {
        wait_limited(self.on_the_pty.as_mut().unwrap())
    }

    fn check_nothing_left(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.root.path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "{left:?}");
    }
}

impl Drop for Nsbox {
    fn drop(&mut self) {
        if let Some(mut child) = self.on_the_pty.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for id in self.run(&["ps", "-a", "-q"]).stdout.lines() {
            let _ = self.run(&["rm", "-f", id]);
        }
    }
}

/// Starts `nsbox ARGS` on the slave end of a new pty, as its controlling terminal.
fn start_on_a_pty(args: &[&str]) -> (std::process::Child, UserTerminal, OwnedFd) {
    let OpenptyResult { master, slave } = openpty(None, None).unwrap();
    set_size(&master, 30, 100);
    let mut command = Command::new(bin("nsbox"));
    command.args(args);
    for (i, stdio) in [0, 1, 2]
        .map(|_| Stdio::from(slave.try_clone().unwrap()))
        .into_iter()
        .enumerate()
    {
        match i {
            0 => command.stdin(stdio),
            1 => command.stdout(stdio),
            _ => command.stderr(stdio),
        };
    }
    // SAFETY: between fork and exec the child only makes two system calls.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()?;
            if nix::libc::ioctl(0, nix::libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = command.spawn().unwrap();
    let mut reader = File::from(master.try_clone().unwrap());
    let shown = Arc::new(Mutex::new(String::new()));
    let screen = Arc::clone(&shown);
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(read) = reader.read(&mut buffer) {
            if read == 0 {
                break;
            }
            screen
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..read]));
        }
    });
    let user = UserTerminal {
        master: File::from(master),
        shown,
    };
    (child, user, slave)
}

#[rstest]
fn a_terminal_of_its_own_that_follows_ours(_host_exclusive: HostGuard) {
    let mut nsbox = Nsbox::new();
    let (mut user, slave) = nsbox.start_on_a_pty(&[
        "run",
        "--rm",
        "-it",
        "--network",
        "none",
        "busybox",
        "sh",
    ]);
    // The size it started with, then a new one: SIGWINCH reaches nsbox, which
    // passes the size on.
    user.type_in("stty size\r");
    let at = user.wait_for("30 100", 0);
    user.resize(40, 120);
    std::thread::sleep(Duration::from_millis(300));
    user.type_in("stty size\r");
    let at = user.wait_for("40 120", at);
    // Its own devpts: pty 0 of an instance that is not the host's.
    let host_devpts = std::fs::metadata("/dev/pts/ptmx").unwrap();
    user.type_in("tty; stat -c 'dev=%d' /dev/pts/ptmx\r");
    let at = user.wait_for("/dev/pts/0", at);
    let at = user.wait_for("dev=", at);
    let inside: String = user.shown.lock().unwrap()[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    use std::os::unix::fs::MetadataExt;
    assert_ne!(inside, host_devpts.dev().to_string(), "the host's devpts");
    // Ctrl-C: the pty inside turns it into SIGINT for the command.
    user.type_in("sleep 30\r");
    std::thread::sleep(Duration::from_millis(500));
    let typed = Instant::now();
    user.type_in("\x03");
    user.type_in("echo rc=$?\r");
    let at = user.wait_for("rc=130", at);
    assert!(typed.elapsed() < Duration::from_secs(10), "sleep ran on");
    user.type_in("exit 3\r");
    let _ = at;
    assert_eq!(nsbox.wait(), Some(3), "{}", user.shown.lock().unwrap());
    // Our terminal is put back: line editing and echo, as before.
    let flags = termios::tcgetattr(&slave).unwrap().local_flags;
    assert!(
        flags.contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "{flags:?}"
    );
    nsbox.check_nothing_left();
}

fn wait_limited(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nsbox did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `nsbox exec -it`: a terminal from the container's devpts for the command that
/// joins it, its exit code back, our terminal put back.
#[rstest]
fn exec_gets_a_terminal_too(_host_exclusive: HostGuard) {
    let mut nsbox = Nsbox::new();
    let started =
        nsbox.run(&["run", "-d", "--network", "none", "busybox", "sleep", "60"]);
    assert_eq!(started.code, 0, "{started:?}");
    let id = started.stdout.trim().to_string();
    let (mut user, slave) = nsbox.start_on_a_pty(&["exec", "-it", &id, "sh"]);
    user.type_in("tty; stty size\r");
    let at = user.wait_for("/dev/pts/", 0);
    user.wait_for("30 100", at);
    user.type_in("exit 4\r");
    assert_eq!(nsbox.wait(), Some(4), "{}", user.shown.lock().unwrap());
    let flags = termios::tcgetattr(&slave).unwrap().local_flags;
    assert!(
        flags.contains(LocalFlags::ICANON | LocalFlags::ECHO),
        "{flags:?}"
    );
    assert_eq!(nsbox.run(&["rm", "-f", &id]).code, 0);
    nsbox.check_nothing_left();
}
