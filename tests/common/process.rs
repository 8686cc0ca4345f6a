//! Starting the programs a test runs, and stopping them again whatever happens to
//! the test.
//!
//! Every program a test starts leads a process group of its own, and everything it
//! forks stays in that group (a container too: nothing in the lessons calls
//! `setsid`). When the test lets go of it, passed, failed or panicked, the group is
//! stopped and waited for. The host guard then reads the kernel's list of processes
//! (`/proc/*/stat`) to check that the group is empty.

use std::cell::RefCell;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{SigHandler, Signal, kill, killpg, signal};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

/// How long any one run may take before the test gives up on it (and stops it).
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

/// How long a lesson gets to clean up (its veth, cgroup, lease) once its container
/// is killed.
const CLEAN_UP_LIMIT: Duration = Duration::from_secs(10);

thread_local! {
    /// The process groups this test's thread started, in order. (A test runs in one
    /// thread; none of ours starts programs from another.)
    static STARTED: RefCell<Vec<Pid>> = const { RefCell::new(Vec::new()) };
    /// Processes found alive in a group after its leader had ended by itself, in
    /// order: what a program left behind on the host. (They were killed when found.)
    static LEFT_BEHIND: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Where the thread's two lists stand now (a host guard remembers it when it is
/// made).
#[derive(Clone, Copy, Debug)]
pub struct Mark {
    started: usize,
    left_behind: usize,
}

pub fn mark() -> Mark {
    Mark {
        started: STARTED.with(|s| s.borrow().len()),
        left_behind: LEFT_BEHIND.with(|l| l.borrow().len()),
    }
}

/// The leaders `stop` has reaped. Their pids, which are their groups' ids, are free:
/// the kernel may give them to other tests' programs, which `killpg` or a look at
/// the group must then leave alone. (A pid started again leaves this set.)
static REAPED: std::sync::Mutex<std::collections::BTreeSet<i32>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn reaped() -> std::sync::MutexGuard<'static, std::collections::BTreeSet<i32>> {
    REAPED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Of these process groups, the ones whose leader has not been reaped: only those
/// are still certainly ours.
pub fn not_reaped(groups: Vec<Pid>) -> Vec<Pid> {
    let reaped = reaped();
    groups
        .into_iter()
        .filter(|group| !reaped.contains(&group.as_raw()))
        .collect()
}

/// The process groups this thread started since `mark`.
pub fn started_since(mark: Mark) -> Vec<Pid> {
    STARTED.with(|s| s.borrow()[mark.started..].to_vec())
}

/// What programs started since `mark` left behind when they ended.
pub fn left_behind_since(mark: Mark) -> Vec<String> {
    LEFT_BEHIND.with(|l| l.borrow()[mark.left_behind..].to_vec())
}

/// A program the test started, stopped with its whole process group when dropped.
pub struct Started {
    pub child: Child,
    /// The program, for messages.
    command: String,
    /// It has ended (we saw it without reaping it).
    ended: bool,
    /// It has been reaped, and its pid is free for the kernel to give again.
    reaped: bool,
}

/// Starts `command` as the leader of a new process group.
///
/// SIGINT and SIGQUIT go back to their default actions in the program: a shell that
/// starts a job in the background (`cargo test &`) leaves them ignored, an ignored
/// signal stays ignored across `exec`, and a proof that Ctrl-C reaches the container
/// would then fail for a reason that has nothing to do with the lesson.
pub fn start(command: &mut Command) -> Started {
    command.process_group(0);
    // Whole lines of narration, for the tests to search (transcripts wrap them
    // again), unless the test says otherwise.
    let width = nsbox::container::narrate::WIDTH_VARIABLE;
    if !command.get_envs().any(|(name, _)| name == width) {
        command.env(width, "0");
    }
    // SAFETY: runs in the forked child before exec; sigaction(2) is
    // async-signal-safe and the closure touches no memory of the parent's.
    unsafe {
        command.pre_exec(|| {
            for sig in [Signal::SIGINT, Signal::SIGQUIT] {
                signal(sig, SigHandler::SigDfl).map_err(std::io::Error::from)?;
            }
            Ok(())
        });
    }
    let child = spawn_retrying(command);
    let pid = Pid::from_raw(child.id() as i32);
    STARTED.with(|s| s.borrow_mut().push(pid));
    reaped().remove(&pid.as_raw());
    Started {
        child,
        command: command.get_program().to_string_lossy().into_owned(),
        ended: false,
        reaped: false,
    }
}

/// [`start`], with the program's stdin, stdout and stderr piped to the test.
pub fn start_piped(command: &mut Command) -> Started {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    start(command)
}

/// A binary just copied can be "busy" for a moment: another test thread may have
/// forked while the copy was open for writing, and that child holds it until it
/// execs. Retry.
fn spawn_retrying(command: &mut Command) -> Child {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(e)
                if e.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && tries < 100 =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other.expect("start the program"),
        }
    }
}

impl Started {
    pub fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// Waits for it to end and returns its exit code as a shell shows it; stops it
    /// (and fails the test) if it runs past [`RUN_LIMIT`].
    pub fn wait_limited(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(code) = self.code_if_ended() {
                self.ended = true;
                return code;
            }
            if start.elapsed() > RUN_LIMIT {
                self.stop();
                panic!("the run took longer than {RUN_LIMIT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the program and everything it started, and waits for it.
    ///
    /// A lesson cleans up after its container (veth, cgroup, lease, NAT rules) once
    /// the container has ended, so its children (the container) are killed first and
    /// the lesson gets [`CLEAN_UP_LIMIT`] to finish. Then whatever is left of the
    /// group gets SIGKILL.
    ///
    /// The program is reaped last: until then the kernel keeps its pid, which is
    /// also its group's id, from being given to a new process, so `killpg` reaches
    /// only what this program started. (Reaped first, its pid could go, after its
    /// group emptied, to a lesson another test starts at that moment, and `killpg`
    /// would kill that one: pids here come round again after 32768.)
    pub fn stop(&mut self) {
        if self.reaped {
            return;
        }
        if self.ended {
            self.note_left_behind();
        } else {
            let children = children_of(self.pid());
            for child in &children {
                let _ = kill(*child, Signal::SIGKILL);
            }
            if !children.is_empty() {
                let deadline = Instant::now() + CLEAN_UP_LIMIT;
                while Instant::now() < deadline && self.code_if_ended().is_none() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        // The group's leader may be gone already while others of its group live on.
        let _ = killpg(self.pid(), Signal::SIGKILL);
        wait_until_group_is_empty(self.pid());
        let _ = self.child.wait();
        self.reaped = true;
        reaped().insert(self.pid().as_raw());
    }

    /// Its exit code if it has ended, seen without reaping it (`WNOWAIT`).
    fn code_if_ended(&self) -> Option<i32> {
        let flags =
            WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        match waitid(Id::Pid(self.pid()), flags) {
            Ok(WaitStatus::Exited(_, code)) => Some(code),
            Ok(WaitStatus::Signaled(_, signal, _)) => Some(128 + signal as i32),
            _ => None,
        }
    }

    /// The program ended by itself: whatever of its group is still alive (after a
    /// moment for the kernel to finish off processes that are exiting) is a leak,
    /// for the host guard to report.
    fn note_left_behind(&self) {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut left = group_members(self.pid());
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            left = group_members(self.pid());
        }
        let program = self.command.clone();
        LEFT_BEHIND.with(|l| {
            l.borrow_mut().extend(left.iter().map(|p| {
                format!(
                    "pid {} ({}), state {}, left behind by {program}",
                    p.pid, p.command, p.state
                )
            }))
        });
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The exit code as a shell shows it: the code, or 128 + the signal that killed it.
pub fn shell_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap())
}

/// Reads a pipe to the end in a thread of its own.
pub fn read_in_background(
    mut source: impl Read + Send + 'static,
) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = source.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

// ---------------------------------------------------------------------------------------------
// What the kernel says about processes.

/// One process as `/proc/<pid>/stat` describes it.
#[derive(Clone, Debug)]
pub struct ProcessInfo {
    pub pid: i32,
    pub parent: i32,
    pub group: i32,
    pub state: char,
    pub command: String,
}

/// Every process on the host, read from `/proc/<pid>/stat`.
pub fn processes() -> Vec<ProcessInfo> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(read_stat)
        .collect()
}

fn read_stat(pid: i32) -> Option<ProcessInfo> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses: split at
    // the last ')'.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let command = String::from_utf8_lossy(&cmdline)
        .replace('\0', " ")
        .trim()
        .to_string();
    Some(ProcessInfo {
        pid,
        state: fields.first()?.chars().next()?,
        parent: fields.get(1)?.parse().ok()?,
        group: fields.get(2)?.parse().ok()?,
        command,
    })
}

/// The children of a process.
pub fn children_of(pid: Pid) -> Vec<Pid> {
    processes()
        .into_iter()
        .filter(|p| p.parent == pid.as_raw())
        .map(|p| Pid::from_raw(p.pid))
        .collect()
}

/// The processes of a process group that are still alive (zombies not counted: they
/// are gone but for their exit status, which their parent has yet to collect).
pub fn group_members(group: Pid) -> Vec<ProcessInfo> {
    processes()
        .into_iter()
        .filter(|p| p.group == group.as_raw() && p.state != 'Z')
        .collect()
}

/// SIGKILL takes a moment to act on every member; a process in the middle of `exit`
/// still shows in /proc.
fn wait_until_group_is_empty(group: Pid) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !group_members(group).is_empty() && Instant::now() < deadline {
        let _ = killpg(group, Signal::SIGKILL);
        std::thread::sleep(Duration::from_millis(10));
    }
}
