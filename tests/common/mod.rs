//! What every proof needs: root, the binaries, a guard that checks the host is left as it was,
//! and transcripts the book can show.
#![allow(dead_code)] // each test file uses a different part of this module

use rstest::fixture;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long any one run may take before the test gives up on it (and kills it).
pub const RUN_LIMIT: Duration = Duration::from_secs(30);

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

/// Fails the test, saying how to run it, unless we are root. A proof that did not run must
/// never look like one that passed.
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
    /// The exit code as a shell shows it: the code, or 128 + the signal that killed it.
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
    let mut child = Command::new(bin(name))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the binary");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let stdout = read_in_background(child.stdout.take().unwrap());
    let stderr = read_in_background(child.stderr.take().unwrap());
    let code = wait_limited(&mut child);
    Run {
        code,
        stdout: stdout.recv().unwrap(),
        stderr: stderr.recv().unwrap(),
    }
}

/// Runs a binary with stdout and stderr going into one pipe, so the text comes out in the
/// order a terminal would show it. Returns the exit code and the text.
pub fn run_merged(name: &str, args: &[&str]) -> (i32, String) {
    let (reader, writer) = nix::unistd::pipe().unwrap();
    let writer2 = writer.as_fd().try_clone_to_owned().unwrap();
    let mut child = Command::new(bin(name))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .spawn()
        .expect("start the binary");
    let text = read_in_background(File::from(reader));
    let code = wait_limited(&mut child);
    (code, text.recv().unwrap())
}

fn read_in_background(mut source: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = source.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    rx
}

/// Waits for the child, killing it (and failing the test) if it runs past [`RUN_LIMIT`].
fn wait_limited(child: &mut Child) -> i32 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            use std::os::unix::process::ExitStatusExt;
            return status
                .code()
                .unwrap_or_else(|| 128 + status.signal().unwrap());
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run took longer than {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A lesson binary still running, whose narration (stderr) and output (stdout) the test can
/// wait on line by line while it checks the host from outside.
pub struct Running {
    child: Child,
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
    pub fn from_command(mut command: Command) -> Running {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the binary");
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
            child,
            lines,
            stdout: Vec::new(),
            stderr: Vec::new(),
            seen: [0, 0],
        }
    }

    /// The lesson binary's own pid.
    pub fn pid(&self) -> nix::unistd::Pid {
        nix::unistd::Pid::from_raw(self.child.id() as i32)
    }

    /// Waits for a line from `source` that contains `text`, and returns it. Lines are looked
    /// at once each, in order: lines that came while waiting for the other source count too.
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
                    let _ = self.child.kill();
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
        let stdin = self.child.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Closes its stdin (a container blocked in `cat` goes on).
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Waits for it to end; returns its exit code, with all the output collected.
    pub fn finish(mut self) -> Run {
        let code = wait_limited(&mut self.child);
        while let Ok((from, line)) = self.lines.recv_timeout(Duration::from_secs(5)) {
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
            .map(|kind| std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap())
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

/// Checks, when the test ends, that the host is as it was and that no process of the
/// containers the test watched is still alive.
///
/// Tests that change host state on purpose (they create an IPC object on the host, say) take
/// the lock exclusively; all others share it. The lock is a file in Cargo's test scratch dir,
/// so it works across test binaries run in parallel (`cargo nextest`) too.
pub struct HostGuard {
    before: HostState,
    namespaces: BTreeSet<(String, u64)>,
    pids: BTreeSet<i32>,
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
            .open(path)
            .unwrap();
        let mode = if exclusive {
            nix::fcntl::FlockArg::LockExclusive
        } else {
            nix::fcntl::FlockArg::LockShared
        };
        #[allow(deprecated)] // nix's Flock wrapper takes the file by value; this is simpler here
        nix::fcntl::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), mode).unwrap();
        HostGuard {
            before: HostState::read(),
            namespaces: BTreeSet::new(),
            pids: BTreeSet::new(),
            _lock: lock,
        }
    }

    /// Remembers the container a run's narration names: its pid and the namespaces that
    /// the narration table marks NEW. All must be gone when the test ends.
    pub fn watch(&mut self, narration: &str) {
        for line in narration.lines() {
            if let Some(pid) = container_pid_in(line) {
                self.pids.insert(pid.as_raw());
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            if let [kind, inode, "NEW", ..] = words.as_slice() {
                self.namespaces
                    .insert((kind.to_string(), inode.parse().unwrap()));
            }
        }
    }

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
        for (kind, inode) in &self.namespaces {
            let left = pids_in_namespace(kind, *inode);
            if !left.is_empty() {
                problems.push(format!(
                    "processes {left:?} still live in {kind} namespace {inode}"
                ));
            }
        }
        for pid in &self.pids {
            if let Some(state) = status_field(*pid, "State") {
                let inside = self
                    .namespaces
                    .iter()
                    .any(|(kind, inode)| ns_inode(&pid.to_string(), kind) == Some(*inode));
                if inside {
                    problems.push(format!("container pid {pid} is still there ({state})"));
                }
            }
        }
        problems
    }
}

/// The System V IPC objects on the host, as (`ipcrm` option, id).
fn sysv_ipc_objects() -> BTreeSet<(&'static str, String)> {
    let mut objects = BTreeSet::new();
    for (kind, option) in [("msg", "-q"), ("sem", "-s"), ("shm", "-m")] {
        let table = std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap();
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
    /// Removes the IPC objects that appeared on the host during the test. Only a lesson that
    /// failed to isolate makes them (the starting version of exercise 02, say), and a failed
    /// proof must still leave the host as it was. Tests that make host objects on purpose
    /// hold the lock exclusively and remove their own before the guard is dropped.
    fn remove_new_ipc_objects(&self) {
        for (option, id) in sysv_ipc_objects().difference(&self.before.sysv_objects) {
            let _ = Command::new("ipcrm").args([*option, id.as_str()]).status();
        }
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.remove_new_ipc_objects();
            return;
        }
        // Processes the kernel is tearing down can take a moment to vanish from /proc.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut problems = self.problems();
        while !problems.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            problems = self.problems();
        }
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
    pub fn lesson(&mut self, name: &str, args: &[&str], output: &str) -> &mut Self {
        let shown: Vec<String> = args.iter().map(|a| shell_word(a)).collect();
        self.line(&format!(
            "$ cargo run -q --bin {name} -- {}",
            shown.join(" ")
        ));
        self.text.push_str(output);
        self
    }

    /// Adds `$ cargo run …` with its output composed from separate stdout and stderr, in the
    /// order a terminal shows it: the narration up to the command's start (the "go!" line,
    /// or init's "started" line), then the command's output, then the rest of the narration.
    /// Where the command's output and the parent's narration run at the same time, a merged
    /// pipe would show them in whichever order the scheduler chose.
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

fn shell_word(word: &str) -> String {
    if word.contains(|c: char| c.is_whitespace() || "'\"$;&|()*".contains(c)) {
        format!("'{}'", word.replace('\'', r"'\''"))
    } else {
        word.to_string()
    }
}

/// Checks a transcript against `lessons/<lesson>/transcripts/<name>.snap`, after replacing
/// what changes from run to run (pids, inode numbers, IPC keys) with placeholders. The book
/// includes these files, so what it shows is what this test saw.
pub fn assert_transcript(lesson: &str, name: &str, transcript: &Transcript) {
    let dir: PathBuf = [env!("CARGO_MANIFEST_DIR"), "lessons", lesson, "transcripts"]
        .iter()
        .collect();
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let probe_path = regex_escape(probe());
    settings.add_filter(&probe_path, "nsbox-probe");
    for (pattern, replacement) in normalisations() {
        settings.add_filter(pattern, replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, transcript.text()));
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

/// A private directory under /tmp that anyone may enter (for running a copy of a binary as
/// another user), removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("nsbox-test-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The unprivileged user the rootless proofs run as (no account needs to exist for it).
pub const UNPRIVILEGED: u32 = 47000;

impl TempDir {
    /// Copies binaries of this package into the directory (readable and runnable by anyone),
    /// and returns the copies' paths, in order.
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
        nix::unistd::chown(&self.path, id, Some(nix::unistd::Gid::from_raw(uid))).unwrap();
    }
}

/// Runs a program as an unprivileged uid/gid (no supplementary groups), to the end.
pub fn run_as(uid: u32, program: &str, args: &[&str]) -> Run {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command
        .args(args)
        .uid(uid)
        .gid(uid)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .current_dir("/")
        .stdin(Stdio::null());
    // A copy just written can be "busy" for a moment: another test thread may have forked
    // while the copy was open for writing, and that child holds it until it execs. Retry.
    let mut tries = 0;
    let out = loop {
        match command.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other.expect("start the program"),
        }
    };
    Run::from(out)
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
