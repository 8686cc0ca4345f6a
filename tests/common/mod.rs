//! What every proof needs: root, the binaries, a guard that checks the host is left
//! as it was, and transcripts the book can show.
#![allow(dead_code)] // each test file uses a different part of this module

use nsbox::container::narrate;
use rstest::fixture;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod process;
pub use process::{RUN_LIMIT, Started, read_in_background};

/// The lesson binaries, in the course's order.
pub const LESSONS: [&str; 7] = [
    "01-uts",
    "02-ipc",
    "03-pid",
    "04-mnt",
    "05-user",
    "06-net",
    "07-cgroups",
];

/// The path of a binary of this package.
pub fn bin(name: &str) -> &'static str {
    match name {
        "01-uts" => env!("CARGO_BIN_EXE_01-uts"),
        "02-ipc" => env!("CARGO_BIN_EXE_02-ipc"),
        "03-pid" => env!("CARGO_BIN_EXE_03-pid"),
        "04-mnt" => env!("CARGO_BIN_EXE_04-mnt"),
        "05-user" => env!("CARGO_BIN_EXE_05-user"),
        "06-net" => env!("CARGO_BIN_EXE_06-net"),
        "07-cgroups" => env!("CARGO_BIN_EXE_07-cgroups"),
        "nsbox-probe" => env!("CARGO_BIN_EXE_nsbox-probe"),
        _ => panic!("no binary named {name}"),
    }
}

pub fn probe() -> &'static str {
    bin("nsbox-probe")
}

/// Fails the test, saying how to run it, unless we are root. A proof that did not
/// run must never look like one that passed.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "\n\nthis test runs the lessons for real, which needs root (it creates namespaces).\n\
             Run the tests with `cargo test` from the repository: .cargo/config.toml runs them\n\
             through sudo when you are not root. Or run them as root: `sudo -E cargo test`.\n"
        );
    }
}

/// The outcome of one finished run.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<std::process::Output> for Run {
    /// The exit code as a shell shows it: the code, or 128 + the signal that killed
    /// it.
    fn from(out: std::process::Output) -> Run {
        use std::os::unix::process::ExitStatusExt;
        Run {
            code: out
                .status
                .code()
                .unwrap_or_else(|| 128 + out.status.signal().unwrap()),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

/// Runs a binary to the end with `input` on stdin (nothing: stdin is empty).
pub fn run(name: &str, args: &[&str]) -> Run {
    run_with_input(name, args, "")
}

pub fn run_with_input(name: &str, args: &[&str], input: &str) -> Run {
    let mut command = Command::new(bin(name));
    command.args(args);
    run_command(command, input)
}

/// Runs any command to the end, with `input` on its stdin, and collects what it
/// printed.
pub fn run_command(mut command: Command, input: &str) -> Run {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut started = process::start(&mut command);
    let child = &mut started.child;
    let mut stdin = child.stdin.take().unwrap();
    // A program that exits without reading its stdin closes the pipe: that is no
    // error here.
    let _ = stdin.write_all(input.as_bytes());
    drop(stdin);
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let code = started.wait_limited();
    // What it left behind could hold the pipes open: stop that first (see
    // `Started::stop`).
    drop(started);
    Run {
        code,
        stdout: stdout.recv().unwrap(),
        stderr: stderr.recv().unwrap(),
    }
}

/// Runs a binary with stdout and stderr going into one pipe, so the text comes out
/// in the order a terminal would show it. Returns the exit code and the text.
pub fn run_merged(name: &str, args: &[&str]) -> (i32, String) {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let writer2 = writer.as_fd().try_clone_to_owned().unwrap();
    let mut command = Command::new(bin(name));
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2));
    let mut started = process::start(&mut command);
    // Our copies of the pipe's write end must go, or the reader never sees its end.
    drop(command);
    let text = read_in_background(File::from(reader));
    let code = started.wait_limited();
    drop(started);
    (code, text.recv().unwrap())
}

/// A lesson binary still running, whose narration (stderr) and output (stdout) the
/// test can wait on line by line while it checks the host from outside.
pub struct Running {
    started: Started,
    lines: mpsc::Receiver<(Source, String)>,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    /// How many lines of stdout and of stderr `wait_for` has already looked at.
    seen: [usize; 2],
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Source {
    Stdout,
    Stderr,
}

impl Running {
    pub fn start(name: &str, args: &[&str]) -> Running {
        let mut command = Command::new(bin(name));
        command.args(args);
        Running::from_command(command)
    }

    /// Starts any command, with its stdin, stdout and stderr piped to the test.
    /// Whatever it starts is stopped when the `Running` is dropped, if the test did
    /// not wait for it.
    pub fn from_command(mut command: Command) -> Running {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut started = process::start(&mut command);
        let child = &mut started.child;
        let (tx, lines) = mpsc::channel();
        for (source, stream) in [
            (
                Source::Stdout,
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            ),
            (Source::Stderr, Box::new(child.stderr.take().unwrap())),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send((source, line));
                }
            });
        }
        Running {
            started,
            lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
            seen: [0, 0],
        }
    }

    /// The lesson binary's own pid.
    pub fn pid(&self) -> nix::unistd::Pid {
        self.started.pid()
    }

    /// Waits for a line from `source` that contains `text`, and returns it. Lines
    /// are looked at once each, in order: lines that came while waiting for the
    /// other source count too.
    pub fn wait_for(&mut self, source: Source, text: &str) -> String {
        let deadline = Instant::now() + RUN_LIMIT;
        loop {
            let (lines, seen) = match source {
                Source::Stdout => (&self.stdout, &mut self.seen[0]),
                Source::Stderr => (&self.stderr, &mut self.seen[1]),
            };
            while *seen < lines.len() {
                *seen += 1;
                if lines[*seen - 1].contains(text) {
                    return lines[*seen - 1].clone();
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok((from, line)) => self.keep(from, &line),
                Err(_) => {
                    self.started.stop();
                    panic!(
                        "no {source:?} line containing {text:?} came; stdout: {:?}, stderr: {:?}",
                        self.stdout, self.stderr
                    );
                }
            }
        }
    }

    fn keep(&mut self, from: Source, line: &str) {
        match from {
            Source::Stdout => self.stdout.push(line.to_string()),
            Source::Stderr => self.stderr.push(line.to_string()),
        }
    }

    /// The container's pid on the host, read from the narration.
    pub fn container_pid(&mut self) -> nix::unistd::Pid {
        let line = self.wait_for(Source::Stderr, "the child is host pid");
        container_pid_in(&line).expect("a pid in the narration")
    }

    /// Sends a signal to the lesson binary.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(self.pid(), signal).unwrap();
    }

    /// Writes a line to its stdin (a container blocked in `read` goes on).
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.started.child.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes its stdin (a container blocked in `cat` goes on).
    pub fn close_stdin(&mut self) {
        drop(self.started.child.stdin.take());
    }

    /// Waits for it to end; returns its exit code, with all the output collected.
    pub fn finish(mut self) -> Run {
        let code = self.started.wait_limited();
        self.started.stop();
        while let Ok((from, line)) = self.lines.recv_timeout(Duration::from_secs(5))
        {
            self.keep(from, &line);
        }
        Run {
            code,
            stdout: self.stdout.iter().map(|line| format!("{line}\n")).collect(),
            stderr: self.stderr.iter().map(|line| format!("{line}\n")).collect(),
        }
    }
}

/// Finds "host pid N" in a narration line.
pub fn container_pid_in(text: &str) -> Option<nix::unistd::Pid> {
    let rest = text.split("the child is host pid ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(nix::unistd::Pid::from_raw(digits.parse().ok()?))
}

/// The inode of a process's namespace of one type (`/proc/<pid>/ns/<kind>`).
pub fn ns_inode(pid: &str, kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

/// Every pid on the host.
pub fn host_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The pids of the processes in a namespace, found by its inode.
pub fn pids_in_namespace(kind: &str, inode: u64) -> Vec<i32> {
    host_pids()
        .into_iter()
        .filter(|pid| ns_inode(&pid.to_string(), kind) == Some(inode))
        .collect()
}

/// A field of `/proc/<pid>/status`, e.g. `State` or `NSpid`.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

pub fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// The host-state guard.

/// What the host looks like, in the parts a lesson could spoil.
#[derive(Debug, PartialEq)]
struct HostState {
    hostname: String,
    sysv_ipc: String,
    sysv_objects: BTreeSet<(&'static str, String)>,
    mounts: String,
}

impl HostState {
    fn read() -> HostState {
        let sysv = ["msg", "sem", "shm"]
            .iter()
            .map(|kind| {
                std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n");
        HostState {
            hostname: host_hostname(),
            sysv_ipc: sysv,
            sysv_objects: sysv_ipc_objects(),
            mounts: mount_points(),
        }
    }
}

/// The host's mount points (mount ids change on every mount, so they are left out).
fn mount_points() -> String {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|line| line.split(' ').skip(3).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks, when the test ends, that the host is as it was and that nothing the test
/// started is still alive.
///
/// Which processes are the test's is read from the kernel, not from what the lessons
/// say: every program a test starts leads a process group of its own (see
/// [`process`]), and everything it forks, the container included, stays in that
/// group. When the test ends, no process of those groups may be alive, and none may
/// have been found alive when its program ended by itself.
///
/// Tests that change host state on purpose (they create an IPC object on the host,
/// say) take the lock exclusively; all others share it. The lock is a file in
/// Cargo's test scratch dir, so it works across test binaries run in parallel
/// (`cargo nextest`) too.
pub struct HostGuard {
    before: HostState,
    /// Where the thread's lists of started groups and leftovers stood when the guard
    /// was made.
    since: process::Mark,
    /// The test asked for the problems itself ([`HostGuard::into_problems`]).
    answered: bool,
    _lock: File,
}

#[fixture]
pub fn host() -> HostGuard {
    HostGuard::new(false)
}

#[fixture]
pub fn host_exclusive() -> HostGuard {
    HostGuard::new(true)
}

impl HostGuard {
    fn new(exclusive: bool) -> HostGuard {
        require_root();
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-state.lock");
        let lock = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        give_to_repository_owner(&path);
        let mode = if exclusive {
            nix::fcntl::FlockArg::LockExclusive
        } else {
            nix::fcntl::FlockArg::LockShared
        };
        #[allow(deprecated)]
        // nix's Flock wrapper takes the file by value; this is simpler here
        nix::fcntl::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), mode).unwrap();
        HostGuard {
            before: HostState::read(),
            since: process::mark(),
            answered: false,
            _lock: lock,
        }
    }

    /// The problems, for a test that proves the guard finds them: the guard then
    /// cleans up as usual but fails nothing itself.
    pub fn into_problems(mut self) -> Vec<String> {
        self.answered = true;
        self.problems()
    }

    /// What is wrong with the host now, compared with when the guard was made.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let now = HostState::read();
        if now.hostname != self.before.hostname {
            problems.push(format!(
                "the host's hostname changed: {:?} -> {:?}",
                self.before.hostname, now.hostname
            ));
        }
        if now.sysv_ipc != self.before.sysv_ipc {
            problems.push(format!(
                "the host's System V IPC objects changed:\n{}\n->\n{}",
                self.before.sysv_ipc, now.sysv_ipc
            ));
        }
        if now.mounts != self.before.mounts {
            problems.push("the host's mount table changed".to_string());
        }
        for left in process::left_behind_since(self.since) {
            problems.push(format!("a process outlived its program: {left}"));
        }
        for group in process::started_since(self.since) {
            for p in process::group_members(group) {
                problems.push(format!(
                    "pid {} ({}) of process group {group} is still alive",
                    p.pid, p.command
                ));
            }
        }
        problems
    }
}

/// The System V IPC objects on the host, as (`ipcrm` option, id).
fn sysv_ipc_objects() -> BTreeSet<(&'static str, String)> {
    let mut objects = BTreeSet::new();
    for (kind, option) in [("msg", "-q"), ("sem", "-s"), ("shm", "-m")] {
        let table =
            std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap();
        // Columns: key, id, …; the first line is the header.
        for line in table.lines().skip(1) {
            if let Some(id) = line.split_whitespace().nth(1) {
                objects.insert((option, id.to_string()));
            }
        }
    }
    objects
}

impl HostGuard {
    /// Removes the IPC objects that appeared on the host during the test. Only a
    /// lesson that failed to isolate makes them (the starting version of exercise
    /// 02, say), and a failed proof must still leave the host as it was. Tests that
    /// make host objects on purpose hold the lock exclusively and remove their own
    /// before the guard is dropped.
    fn remove_new_ipc_objects(&self) {
        for (option, id) in sysv_ipc_objects().difference(&self.before.sysv_objects)
        {
            let _ = Command::new("ipcrm").args([*option, id.as_str()]).status();
        }
    }
}

impl HostGuard {
    /// Kills what is left of the groups the test started (a failed test included).
    fn kill_started_groups(&self) {
        for group in process::started_since(self.since) {
            let _ =
                nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        if std::thread::panicking() || self.answered {
            self.kill_started_groups();
            self.remove_new_ipc_objects();
            return;
        }
        // Processes the kernel is tearing down can take a moment to vanish from
        // /proc.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut problems = self.problems();
        while !problems.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            problems = self.problems();
        }
        self.kill_started_groups();
        self.remove_new_ipc_objects();
        assert!(
            problems.is_empty(),
            "the test left the host changed:\n{}",
            problems.join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Transcripts for the book.

/// A terminal session the book shows: each command as typed, then what it printed.
#[derive(Default)]
pub struct Transcript {
    text: String,
}

impl Transcript {
    /// Adds `$ cargo run -q --bin NAME -- ARGS` and its merged output.
    /// The words are kept apart by [`WORD_BREAK`]: once the placeholders are in, a
    /// line too wide for the book is broken between words with ` \`, as a reader
    /// would type it (and may paste it).
    pub fn lesson(&mut self, name: &str, args: &[&str], output: &str) -> &mut Self {
        let mut words = vec![format!("$ cargo run -q --bin {name} --")];
        words.extend(args.iter().map(|a| shell_word(a)));
        self.line(&words.join(&WORD_BREAK.to_string()));
        self.text.push_str(output);
        self
    }

    /// Adds `$ cargo run …` with its output composed from separate stdout and
    /// stderr, in the order a terminal shows it: the narration up to the command's
    /// start (the "go!" line, or init's "started" line), then the command's output,
    /// then the rest of the narration. Where the command's output and the parent's
    /// narration run at the same time, a merged pipe would show them in whichever
    /// order the scheduler chose.
    pub fn lesson_parts(
        &mut self,
        name: &str,
        args: &[&str],
        stdout: &str,
        stderr: &str,
    ) -> &mut Self {
        let lines: Vec<&str> = stderr.lines().collect();
        let start = lines
            .iter()
            .rposition(|l| l.contains("] go!") || l.contains(") started "))
            .map_or(0, |i| i + 1);
        let mut output = String::new();
        for line in &lines[..start] {
            output.push_str(line);
            output.push('\n');
        }
        output.push_str(stdout);
        for line in &lines[start..] {
            output.push_str(line);
            output.push('\n');
        }
        self.lesson(name, args, &output)
    }

    /// Adds any command line and its output.
    pub fn command(&mut self, line: &str, output: &str) -> &mut Self {
        self.line(&format!("$ {line}"));
        self.text.push_str(output);
        self
    }

    pub fn line(&mut self, line: &str) -> &mut Self {
        self.text.push_str(line);
        self.text.push('\n');
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The widest line the book shows (see tests/book.rs).
const BOOK_WIDTH: usize = 85;

/// Between the words of a command line in a transcript until it is normalised: the
/// line may be broken there. (Where it breaks depends on the placeholders, which
/// are not as wide as the paths and numbers they replace.)
const WORD_BREAK: char = '\u{1f}';

/// Shell words joined by spaces, broken with ` \` and a 4-space indent where the
/// line would pass [`BOOK_WIDTH`].
fn break_command_line(words: &[String]) -> String {
    let mut text = String::new();
    let mut width = 0;
    for (i, word) in words.iter().enumerate() {
        let room_for_backslash = if i + 1 < words.len() { 2 } else { 0 };
        if i > 0 && width + 1 + word.len() + room_for_backslash > BOOK_WIDTH {
            text.push_str(" \\\n    ");
            width = 4;
        } else if i > 0 {
            text.push(' ');
            width += 1;
        }
        text.push_str(word);
        width += word.len();
    }
    text
}

fn shell_word(word: &str) -> String {
    if word.contains(|c: char| c.is_whitespace() || "'\"$;&|()*".contains(c)) {
        format!("'{}'", word.replace('\'', r"'\''"))
    } else {
        word.to_string()
    }
}

/// Checks a transcript against `lessons/<lesson>/transcripts/<name>.snap`, after
/// replacing what changes from run to run (pids, inode numbers, IPC keys, who ran
/// it) with placeholders. The book includes these files, so what it shows is what
/// this test saw.
///
/// On a difference the test fails naming the first line that differs. insta keeps
/// its own workflow: outside CI it writes the new version beside the old as
/// `<name>.snap.new`, for `cargo insta review`. Files written into the repository
/// are given to its owner: under sudo the test runs as root, and a root-owned file
/// in a student's clone is one they cannot change.
pub fn assert_transcript(lesson: &str, name: &str, transcript: &Transcript) {
    let dir: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "lessons", lesson, "transcripts"]
            .iter()
            .collect();
    let text = normalise_transcript(transcript.text());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, text.as_str()));
    }));
    give_files_to_repository_owner(&dir);
    if let Err(panic) = outcome {
        let snap = dir.join(format!("{name}.snap"));
        match first_difference(&snap, &text) {
            Some(difference) => panic!("{difference}"),
            None => std::panic::resume_unwind(panic),
        }
    }
}

/// A transcript as the book shows it. Narration wraps at 80 columns, and a
/// placeholder such as `[PID]` is not as wide as the number it replaces, so the
/// tests run the lessons with whole lines of narration (see `process::start`), put
/// the placeholders in, then wrap them the way the lessons do
/// (`nsbox::container::narrate::wrap`).
fn normalise_transcript(text: &str) -> String {
    let filtered = apply_filters(&transcript_filters(), text);
    let mut out: Vec<String> = Vec::new();
    let mut lines = filtered.lines().peekable();
    while let Some(line) = lines.next() {
        if line.contains(WORD_BREAK) {
            let words: Vec<String> =
                line.split(WORD_BREAK).map(String::from).collect();
            out.push(break_command_line(&words));
            continue;
        }
        let Some(prefix) = narration_prefix(line) else {
            out.push(line.to_string());
            continue;
        };
        // A message of several lines (an error and its fix) goes on under its prefix.
        let indent = " ".repeat(prefix.len());
        let mut message = line[prefix.len()..].to_string();
        while let Some(next) = lines.next_if(|next| {
            next.starts_with(&indent) && !next[indent.len()..].starts_with(' ')
        }) {
            message.push('\n');
            message.push_str(&next[indent.len()..]);
        }
        out.push(narrate::wrap(&prefix, &message, narrate::DEFAULT_WIDTH));
    }
    let mut joined = out.join("\n");
    if filtered.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// `[03-pid] ` or `03-pid: error: ` at the start of a line of narration.
fn narration_prefix(line: &str) -> Option<String> {
    let program = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if let Some(rest) = line.strip_prefix('[') {
        let name = rest.split(']').next()?;
        if program(name) && rest[name.len()..].starts_with("] ") {
            return Some(format!("[{name}] "));
        }
    }
    let (name, _) = line.split_once(": error: ")?;
    program(name).then(|| format!("{name}: error: "))
}

/// The replacements a transcript gets: [`normalisations`], the probe's path, and the
/// user who ran the tests (the user behind sudo), whom lessons 06 and 07 map to root
/// inside.
fn transcript_filters() -> Vec<(String, String)> {
    let mut filters: Vec<(String, String)> = normalisations()
        .into_iter()
        .map(|(pattern, replacement)| (pattern.to_string(), replacement.to_string()))
        .collect();
    // Where chapter 07 tells the reader to copy the probe.
    filters.push((regex_escape(probe()), "/tmp/nsbox-probe".to_string()));
    let (uid, gid) = invoking_user();
    filters.push((format!(r"(uid_map: 0) {uid} 1\b"), "$1 [UID] 1".to_string()));
    filters.push((format!(r"(gid_map: 0) {gid} 1\b"), "$1 [GID] 1".to_string()));
    filters
}

/// The user and group who ran the tests: the ones behind sudo, or our own.
pub fn invoking_user() -> (u32, u32) {
    let from_sudo = |name: &str| std::env::var(name).ok()?.parse::<u32>().ok();
    match (from_sudo("SUDO_UID"), from_sudo("SUDO_GID")) {
        (Some(uid), Some(gid)) if nix::unistd::geteuid().is_root() => (uid, gid),
        _ => (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        ),
    }
}

fn apply_filters(filters: &[(String, String)], text: &str) -> String {
    let mut text = text.to_string();
    for (pattern, replacement) in filters {
        let regex = regex::Regex::new(pattern).unwrap();
        text = regex.replace_all(&text, replacement.as_str()).into_owned();
    }
    text
}

/// Where this run's transcript first differs from the stored one, in words.
fn first_difference(snap: &Path, new: &str) -> Option<String> {
    let stored = std::fs::read_to_string(snap).unwrap_or_default();
    // The snapshot file: a header between two `---` lines, then the transcript.
    let stored = stored.splitn(3, "---\n").nth(2).unwrap_or("");
    let old: Vec<&str> = stored.trim_end().lines().collect();
    let new: Vec<&str> = new.trim_end().lines().collect();
    let at = (0..old.len().max(new.len())).find(|&i| old.get(i) != new.get(i))?;
    let show = |line: Option<&&str>| {
        line.map_or("(no line: the transcript ends)".into(), |l| {
            format!("{l:?}")
        })
    };
    let pending = snap.with_extension("snap.new");
    let review = if pending.exists() {
        format!(
            "\nthe whole new transcript is in {}",
            in_repository(&pending)
        )
    } else {
        String::new()
    };
    Some(format!(
        "the transcript differs from {} (what the book shows), at line {} of the transcript:\n  book: {}\n  now:  {}{review}",
        in_repository(snap),
        at + 1,
        show(old.get(at)),
        show(new.get(at)),
    ))
}

/// What the book replaces, and with what. Chapter text explains each placeholder.
pub fn normalisations() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"host pid \d+", "host pid [PID]"),
        (r"/proc/\d{2,}/", "/proc/[PID]/"),
        (r"status: \d+ ", "status: [PID] "),
        (r"\b40265\d{5}\b", "[INODE]"),
        (r"0x[0-9a-f]{8}", "[KEY]"),
        (r"(Message queue id:) \d+", "$1 [ID]"),
        (r"(?m)^(\[KEY\]) +\d+ +", "$1 [ID] "),
        (r"orphan pid \d+", "orphan pid [N]"),
        (r"\bns([bp])\d+", "ns${1}[PID]"),
        (r"(?m)^(\d+: \w+)@if\d+", "$1@if[N]"),
        (r"(eth0@if)\d+", "${1}[N]"),
        (r"link/ether [0-9a-f:]{17}", "link/ether [MAC]"),
        (r"fe80::[0-9a-f:]+/64", "fe80::[MAC]/64"),
        (r"netns \d+", "netns [PID]"),
        (
            r"/sys/fs/cgroup/nsbox/nsbox-\d+",
            "/sys/fs/cgroup/nsbox/nsbox-[PID]",
        ),
        (
            r"/sys/fs/cgroup/(\w+)/\S*?nsbox-\d+",
            "/sys/fs/cgroup/$1/…/nsbox-[PID]",
        ),
        (r"echo \d+ > cgroup.procs", "echo [PID] > cgroup.procs"),
        (r"peak memory [\d.]+ MiB", "peak memory [N] MiB"),
        (r"CPU time [\d.]+ s", "CPU time [T] s"),
        (r"/tmp/nsbox-test-[\w.-]+", "[TMP]"),
        (r"(?m)^(root +\d+ +\d+) +\d+ +\d\d:\d\d", "$1 [C] [TIME]"),
    ]
}

/// A path inside the repository, as the student would type it from there.
fn in_repository(path: &Path) -> String {
    let relative = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path);
    relative.display().to_string()
}

/// The owner of the repository (the clone's user), as (uid, gid).
fn repository_owner() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(env!("CARGO_MANIFEST_DIR")).unwrap();
    (meta.uid(), meta.gid())
}

/// Gives a file the tests wrote inside the repository (or its `target/`) to the
/// repository's owner, so that a student can change or delete it, and `cargo clean`
/// works.
pub fn give_to_repository_owner(path: &Path) {
    let (uid, gid) = repository_owner();
    let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
}

/// Gives every file of a directory that is not its owner's to that owner.
fn give_files_to_repository_owner(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let (uid, _) = repository_owner();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.metadata().is_ok_and(|m| m.uid() != uid) {
            give_to_repository_owner(&entry.path());
        }
    }
}

/// A private directory under /tmp that anyone may enter (for running a copy of a
/// binary as another user), removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        static NEXT: std::sync::atomic::AtomicU32 =
            std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("nsbox-test-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The unprivileged user the rootless proofs run as (no account needs to exist for
/// it).
pub const UNPRIVILEGED: u32 = 47000;

impl TempDir {
    /// Copies binaries of this package into the directory (readable and runnable by
    /// anyone), and returns the copies' paths, in order.
    pub fn with_copies(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|name| {
                let copy = self.path.join(name);
                std::fs::copy(bin(name), &copy).unwrap();
                copy.to_str().unwrap().to_string()
            })
            .collect()
    }

    /// Gives the directory to a user.
    pub fn chown(&self, uid: u32) {
        let id = Some(nix::unistd::Uid::from_raw(uid));
        nix::unistd::chown(&self.path, id, Some(nix::unistd::Gid::from_raw(uid)))
            .unwrap();
    }
}

/// Runs a program as an unprivileged uid/gid (no supplementary groups), to the end.
pub fn run_as(uid: u32, program: &str, args: &[&str]) -> Run {
    run_as_with_env(uid, program, args, &[])
}

/// [`run_as`], with some variables set.
pub fn run_as_with_env(
    uid: u32,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .uid(uid)
        .gid(uid)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .current_dir("/");
    run_command(command, "")
}

/// Runs a command on the host and returns its stdout (panics if it fails).
pub fn host_command(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `text` as a regular expression that matches only itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}
