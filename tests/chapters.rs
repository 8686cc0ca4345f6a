//! Every command a chapter asks you to type works when you paste it, as you.
//!
//! The convention the chapters follow (the introduction tells the reader in one
//! sentence):
//!
//! - A command for you to type is a line of a ```sh block: one command per line, `#`
//!   starts a comment, a line that ends in `\` goes on on the next. A line that ends
//!   in `# cgroup v1` or `# cgroup v2` is for machines with that cgroup version
//!   only.
//! - A word in angle brackets is a value you read off your screen: `<pid>` the
//!   container's pid on the host, `<dir>` its cgroup directory, `<your machine's
//!   address>` an address of the host, `<id>` the id of the container `nsbox
//!   run -d` printed last.
//! - Code in the prose is not for pasting as it is. It names a command a block
//!   holds, or it is the answer to an exercise that needs your code first, or a
//!   repair for a machine in a bad state (`sudo umount /proc`).
//!
//! So this test reads every ```sh block of the introduction and of
//! `lessons/*/README.md`, and types each line into a terminal, the way you would:
//!
//! - as you: the user behind sudo when the tests run through sudo (`cargo test` as
//!   an ordinary user), or root when they run as root (CI). Either way with
//!   `PATH=/usr/local/bin:/usr/bin:/bin` and the directory of your cargo, as on
//!   Debian, where only root's PATH has /usr/sbin and /sbin;
//! - into real terminals: `script` gives each shell a pseudo-terminal, as a terminal
//!   window does, so shells are interactive and sudo behaves as it does for you;
//! - with a `cargo` that does what `cargo run` does, minus the build (the binaries
//!   are built already, and a cargo started inside `cargo test` would wait for the
//!   build directory's lock forever). The lines themselves are typed exactly as the
//!   chapter writes them;
//! - for chapters 06 and 07, whose commands make a bridge and NAT rules, in a
//!   network of the test's own (see [`Sandbox`]), so that your machine's network
//!   never sees them.
//!
//! Which terminal each block goes to, and what the chapter says it prints, is the
//! chapter's plan, at the end of this file. Blocks are numbered from 1 in each
//! chapter, and the commands of a block from 1.

mod common;

use common::process::{self, ProcessInfo};
use common::*;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rstest::rstest;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The chapters, in the book's order.
const CHAPTERS: &[&str] = &[
    "book/src/introduction.md",
    "lessons/00-doctor/README.md",
    "lessons/01-uts/README.md",
    "lessons/02-ipc/README.md",
    "lessons/03-pid/README.md",
    "lessons/04-mnt/README.md",
    "lessons/05-user/README.md",
    "lessons/06-net/README.md",
    "lessons/07-cgroups/README.md",
    "lessons/08-rootfs/README.md",
    "lessons/09-runtime/README.md",
    "lessons/10-hardening/README.md",
];

/// The blocks this test does not run, and why. Keep this list short.
const NOT_RUN: &[(&str, usize, &str)] = &[(
    "book/src/introduction.md",
    2,
    "it runs every test of the course, this one included",
)];

// ---------------------------------------------------------------------------------------------
// Reading the chapters.

/// One command of a chapter, as you would type it.
#[derive(Clone, Debug)]
struct Typed {
    /// The command, its lines joined where one ended in `\`.
    text: String,
    /// Where it starts in the chapter's file (from 1), for messages.
    line: usize,
}

/// The commands of each ```sh block of a chapter, in order.
fn sh_blocks(chapter: &str) -> Vec<Vec<Typed>> {
    let text = std::fs::read_to_string(Path::new(ROOT).join(chapter)).unwrap();
    let mut blocks = Vec::new();
    let mut block: Option<Vec<Typed>> = None;
    // A command whose last line ended in `\`, waiting for the rest.
    let mut unfinished: Option<Typed> = None;
    for (index, line) in text.lines().enumerate() {
        // Blocks in lists are indented: the indentation is not part of the commands.
        let line = line.trim();
        let Some(commands) = &mut block else {
            if line == "```sh" {
                block = Some(Vec::new());
            }
            continue;
        };
        if line == "```" {
            blocks.push(block.take().unwrap());
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let command = match unfinished.take() {
            Some(start) => Typed {
                text: format!("{} {line}", start.text),
                line: start.line,
            },
            None => Typed {
                text: line.to_string(),
                line: index + 1,
            },
        };
        match command.text.strip_suffix('\\') {
            Some(start) => {
                unfinished = Some(Typed {
                    text: start.trim_end().to_string(),
                    line: command.line,
                })
            }
            None => commands.push(command),
        }
    }
    blocks
}

/// The cgroup version a line is for, if it says (`… # cgroup v2`).
fn cgroup_version_of(command: &str) -> Option<&'static str> {
    ["v1", "v2"]
        .into_iter()
        .find(|version| command.ends_with(&format!("# cgroup {version}")))
}

/// The cgroup version of this machine, as the chapter's `stat -fc %T /sys/fs/cgroup`
/// tells it: v2 when /sys/fs/cgroup is a cgroup2 filesystem, v1 (or hybrid)
/// otherwise.
fn cgroup_version_here() -> &'static str {
    let fs = nix::sys::statfs::statfs("/sys/fs/cgroup").unwrap();
    if fs.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        "v2"
    } else {
        "v1"
    }
}

// ---------------------------------------------------------------------------------------------
// The plan: what to do with each block.

/// The chapter's "first terminal", "second terminal", "third terminal".
const FIRST: usize = 1;
const SECOND: usize = 2;
const THIRD: usize = 3;

/// One step of a chapter's plan.
#[derive(Clone, Debug)]
struct Step {
    what: Do,
    /// The chapter the block is in, if not the one the plan is for (a chapter that
    /// says "repeat the experiment of chapter 04").
    from: Option<&'static str>,
    /// The block, from 1 (0 for the steps that type nothing).
    block: usize,
    terminal: usize,
    expect: Vec<Expect>,
}

#[derive(Clone, Copy, Debug)]
enum Do {
    /// Type the block's commands one by one; each runs to its end.
    Run,
    /// The same, but its last command starts a program that stays in the foreground
    /// (a container's shell, `sleep 60`): what is typed next into that terminal goes
    /// to it.
    Start(Ready),
    /// The chapter's cleanup: run like `Run`, and also when the test fails before
    /// it.
    Cleanup,
    /// The program in the foreground of the terminal ends by itself.
    WaitForEnd,
    /// Stop the program in the foreground of the terminal, as you would with Ctrl-C.
    Stop,
    /// Wait, as the chapter tells you to ("after a second").
    Pause(Duration),
}

/// When a program started in the foreground is ready for the next step.
#[derive(Clone, Copy, Debug)]
enum Ready {
    /// Its container has started its command.
    Container,
    /// Its container listens on this TCP port.
    Listening(u16),
    /// It runs (for a program that is not a container, such as `ip monitor`).
    Running,
}

/// What the chapter says a command does. Every command must exit with 0 unless its
/// step says otherwise.
#[derive(Clone, Debug)]
enum Expect {
    /// The command (numbered from 1 in its block) exits with this code.
    Exits(usize, i32),
    /// What it prints contains this.
    Prints(usize, &'static str),
    /// It prints this line.
    PrintsLine(usize, &'static str),
    /// What it prints does not contain this.
    DoesNotPrint(usize, &'static str),
}

fn step(what: Do, block: usize, terminal: usize) -> Step {
    Step {
        what,
        from: None,
        block,
        terminal,
        expect: Vec::new(),
    }
}

fn run(block: usize, terminal: usize) -> Step {
    step(Do::Run, block, terminal)
}

fn start(block: usize, terminal: usize) -> Step {
    step(Do::Start(Ready::Container), block, terminal)
}

fn start_when(ready: Ready, block: usize, terminal: usize) -> Step {
    step(Do::Start(ready), block, terminal)
}

fn cleanup(block: usize, terminal: usize) -> Step {
    step(Do::Cleanup, block, terminal)
}

fn wait_for_end(terminal: usize) -> Step {
    step(Do::WaitForEnd, 0, terminal)
}

fn stop(terminal: usize) -> Step {
    step(Do::Stop, 0, terminal)
}

fn pause(seconds: u64) -> Step {
    step(Do::Pause(Duration::from_secs(seconds)), 0, FIRST)
}

impl Step {
    fn prints(mut self, command: usize, text: &'static str) -> Step {
        self.expect.push(Expect::Prints(command, text));
        self
    }

    fn prints_line(mut self, command: usize, line: &'static str) -> Step {
        self.expect.push(Expect::PrintsLine(command, line));
        self
    }

    fn does_not_print(mut self, command: usize, text: &'static str) -> Step {
        self.expect.push(Expect::DoesNotPrint(command, text));
        self
    }

    fn exits(mut self, command: usize, code: i32) -> Step {
        self.expect.push(Expect::Exits(command, code));
        self
    }

    fn from(mut self, chapter: &'static str) -> Step {
        self.from = Some(chapter);
        self
    }

    /// The chapter whose block this step types.
    fn chapter(&self, plan_of: &'static str) -> &'static str {
        self.from.unwrap_or(plan_of)
    }

    fn types_a_block(&self) -> bool {
        matches!(self.what, Do::Run | Do::Start(_) | Do::Cleanup)
    }
}

// ---------------------------------------------------------------------------------------------
// Who types: you.

/// The reader: the user behind sudo, or root when the tests run as root.
#[derive(Clone, Debug)]
struct Reader {
    name: String,
    home: PathBuf,
}

impl Reader {
    fn find() -> Reader {
        let behind_sudo = std::env::var("SUDO_USER")
            .ok()
            .filter(|name| name != "root" && nix::unistd::geteuid().is_root());
        let user = match behind_sudo {
            Some(name) => nix::unistd::User::from_name(&name).unwrap(),
            None => nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap(),
        };
        let user = user.expect("the user running the tests has an account");
        Reader {
            name: user.name,
            home: user.dir,
        }
    }

    fn is_root(&self) -> bool {
        self.name == "root"
    }

    /// The environment of your terminal: a Debian PATH, with no /usr/sbin or /sbin,
    /// and the directory of the cargo that built this test (rustup puts it in
    /// ~/.cargo/bin).
    fn environment(&self) -> Vec<(String, String)> {
        let cargo_dir = Path::new(env!("CARGO")).parent().unwrap().display();
        let path = format!("/usr/local/bin:/usr/bin:/bin:{cargo_dir}");
        let home = self.home.display().to_string();
        [
            ("HOME", home.as_str()),
            ("USER", self.name.as_str()),
            ("LOGNAME", self.name.as_str()),
            ("PATH", path.as_str()),
            ("SHELL", "/bin/bash"),
            ("LANG", "C.UTF-8"),
            // No colours, no full-screen programs: the test reads what a terminal
            // shows.
            ("TERM", "dumb"),
        ]
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
    }
}

/// Where, and as whom, a chapter's commands run.
struct Setting {
    reader: Reader,
    /// The working directory: what your clone looks like to the commands.
    directory: TempDir,
    /// The network the commands see: the host's, or a sandbox's.
    sandbox: Option<Sandbox>,
}

/// The binaries `cargo build` would have built: `target/debug/<name>` in the working
/// directory. The lessons, and these.
const OTHER_BINARIES: [&str; 3] = ["doctor", "nsbox-probe", "nsbox"];

fn binary(name: &str) -> &'static str {
    match name {
        "doctor" => env!("CARGO_BIN_EXE_doctor"),
        _ => bin(name),
    }
}

impl Setting {
    fn new(network: Network) -> Setting {
        // The working directory holds target/debug/ with links to the binaries this
        // test was built with, so that `target/debug/05-user` means what it means in
        // your clone.
        let directory = TempDir::new("chapters");
        let debug = directory.path.join("target/debug");
        std::fs::create_dir_all(&debug).unwrap();
        for name in LESSONS.iter().chain(&OTHER_BINARIES) {
            std::os::unix::fs::symlink(binary(name), debug.join(name)).unwrap();
        }
        Setting {
            reader: Reader::find(),
            directory,
            sandbox: match network {
                Network::Host => None,
                Network::Sandbox => Some(Sandbox::new()),
            },
        }
    }

    /// A command that runs `program` as you, in the chapter's network, in your
    /// environment.
    fn as_reader(&self, program: &[&str]) -> Command {
        let mut words: Vec<String> = Vec::new();
        if let Some(sandbox) = &self.sandbox {
            let holder = sandbox.holder.pid().to_string();
            words.extend(
                ["nsenter", "--target", &holder, "--net", "--mount", "--"]
                    .map(String::from),
            );
        }
        if !self.reader.is_root() {
            words.extend(
                ["runuser", "-u", &self.reader.name, "--"].map(String::from),
            );
        }
        words.extend(["env", "-i"].map(String::from));
        for (name, value) in self.reader.environment() {
            words.push(format!("{name}={value}"));
        }
        words.extend(program.iter().map(|word| word.to_string()));
        let mut command = Command::new(&words[0]);
        command.args(&words[1..]);
        command
    }

    /// What the commands need in your shell: no prompt, no echo (so that what the
    /// terminal shows is only what the commands print), the working directory, the
    /// `cargo` below, and a line after each command with its exit code.
    fn shell_setup(&self) -> String {
        let directory = self.directory.path.display();
        let binaries = self.directory.path.join("target/debug");
        let as_root = Path::new(ROOT).join("scripts/as-root");
        let cargo = cargo_function(&as_root, &binaries);
        format!(
            "PS1= PS2=; stty -echo; cd {directory}; {cargo}; \
             PROMPT_COMMAND='printf \"\\n%s%s %s\\n\" __chapters _outer__ \"$?\"'"
        )
    }
}

/// `cargo`, as a shell function: `cargo run [-q] --bin NAME [-- ARGS]` runs the
/// built binary through `scripts/as-root`, as Cargo's runner does; `cargo build` has
/// nothing left to do.
fn cargo_function(as_root: &Path, binaries: &Path) -> String {
    let (as_root, binaries) = (as_root.display(), binaries.display());
    format!(
        "cargo() {{ \
           case $1 in build) return 0 ;; run) shift ;; \
             *) echo \"the test's cargo knows run and build only\" >&2; return 2 ;; esac; \
           local name=; \
           while [ $# -gt 0 ]; do case $1 in \
             -q|--quiet) shift ;; --bin) name=$2; shift 2 ;; --) shift; break ;; \
             *) echo \"the test's cargo run does not know $1\" >&2; return 2 ;; esac; done; \
           '{as_root}' '{binaries}'/\"$name\" \"$@\"; }}"
    )
}

// ---------------------------------------------------------------------------------------------
// A network of the test's own, for chapters 06 and 07.

#[derive(Clone, Copy)]
enum Network {
    Host,
    Sandbox,
}

/// Chapters 06 and 07 make a bridge, NAT rules and leases with the lessons'
/// defaults. Done on your machine's real network, that would leave a bridge behind
/// and could break it, so the test plays the host in a network namespace of its own,
/// as tests/net.rs does, with a mount namespace of its own where /run (the lessons'
/// leases, `ip netns` names) is a fresh tmpfs. Like a host, it has `lo` up and an
/// `eth0`, with a documentation address.
struct Sandbox {
    holder: Started,
}

/// The sandbox's `eth0` address: `<your machine's address>`.
const SANDBOX_ADDRESS: &str = "192.0.2.1";

impl Sandbox {
    fn new() -> Sandbox {
        let setup = format!(
            "mount -t tmpfs nsbox-chapters /run && ip link set lo up && \
             ip link add eth0 type veth peer name eth1 && \
             ip addr add {SANDBOX_ADDRESS}/24 dev eth0 && \
             ip link set eth0 up && ip link set eth1 up && exec sleep infinity"
        );
        let mut command = Command::new("unshare");
        command
            .args(["--net", "--mount", "sh", "-c", &setup])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut holder = process::start(&mut command);
        let errors = read_in_background(holder.child.stderr.take().unwrap());
        // Ready when the setup is done and `sleep` holds the namespaces.
        let deadline = Instant::now() + RUN_LIMIT;
        while program_of(holder.pid().as_raw()).is_none_or(|p| !p.ends_with("sleep"))
        {
            if holder.child.try_wait().unwrap().is_some()
                || Instant::now() > deadline
            {
                let said = errors.recv_timeout(Duration::from_secs(1));
                panic!(
                    "the network sandbox did not start: {}",
                    said.unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Sandbox { holder }
    }
}

// ---------------------------------------------------------------------------------------------
// Terminals.

/// A line with the exit code, printed after each command: by `PROMPT_COMMAND` in the
/// terminal's own bash, and by a command the test types after each line it types
/// into a shell inside a container. The commands write the marker in two halves, so
/// that their own text, should a terminal echo it, never looks like one.
const OUTER: &str = "__chapters_outer__";
const INNER: &str = "__chapters_inner__";
const INNER_MARKER: &str = r#"printf '\n%s%s %s\n' __chapters _inner__ "$?""#;

/// How a command ended, and what the terminal showed meanwhile.
#[derive(Debug)]
struct Outcome {
    code: i32,
    output: Vec<String>,
    /// The program in the foreground (a container's shell) ended: `exit`, or it
    /// died.
    foreground_ended: bool,
    /// It had not ended when the test gave up waiting.
    timed_out: bool,
}

/// A program started in a terminal that is still in its foreground.
struct Foreground {
    /// Everything the terminal showed since it started.
    output: Vec<String>,
    /// Whether the test has switched off the prompt of the shell it runs.
    prompt_off: bool,
}

/// A terminal window with your shell in it: a bash in a pseudo-terminal, made by
/// `script`.
struct Terminal {
    number: usize,
    started: Started,
    input: ChildStdin,
    screen: Screen,
    /// The interactive bash.
    shell: Pid,
    foreground: Option<Foreground>,
}

impl Terminal {
    fn open(number: usize, setting: &Setting) -> Terminal {
        let mut command = setting.as_reader(&[
            "script",
            "-qfc",
            "bash --norc --noprofile",
            "/dev/null",
        ]);
        let (reader, writer) = nix::unistd::pipe().unwrap();
        let writer2 = writer.as_fd().try_clone_to_owned().unwrap();
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2));
        let mut started = process::start(&mut command);
        // Our copies of the pipe's write end must go, or the reader never sees its
        // end.
        drop(command);
        let input = started.child.stdin.take().unwrap();
        let screen = Screen::new(File::from(reader));
        let shell = wait_for_shell(started.pid());
        let mut terminal = Terminal {
            number,
            started,
            input,
            screen,
            shell,
            foreground: None,
        };
        terminal.type_line(&setting.shell_setup());
        let setup = terminal.read_until_marker(OUTER, RUN_LIMIT);
        assert!(
            setup.as_ref().is_ok_and(|o| o.code == 0),
            "terminal {number} did not start: {setup:?}"
        );
        terminal
    }

    fn type_line(&mut self, text: &str) {
        writeln!(self.input, "{text}").unwrap();
        self.input.flush().unwrap();
    }

    /// Reads what the terminal shows until a marker line comes: `wanted`, or the
    /// terminal shell's own, which means that whatever ran in its foreground has
    /// ended. If none comes within `limit`: what the terminal showed meanwhile.
    fn read_until_marker(
        &mut self,
        wanted: &str,
        limit: Duration,
    ) -> Result<Outcome, Vec<String>> {
        let deadline = Instant::now() + limit;
        let mut output = Vec::new();
        loop {
            let Some(line) = self.screen.next_line(deadline) else {
                // A question that waits for an answer has no end of line yet.
                output.extend(self.screen.unfinished_line());
                return Err(output);
            };
            for marker in [wanted, OUTER] {
                if let Some(code) = marker_code(&line, marker) {
                    drop_trailing_empty_lines(&mut output);
                    return Ok(Outcome {
                        code,
                        output,
                        foreground_ended: marker == OUTER && wanted != OUTER,
                        timed_out: false,
                    });
                }
            }
            if let Some(foreground) = &mut self.foreground {
                foreground.output.push(line.clone());
            }
            output.push(line);
        }
    }

    /// Types a command and waits for it to end. In a container's shell in the
    /// foreground, the test types the inner marker after it (and, once, switches the
    /// shell's prompt off).
    fn run(&mut self, text: &str) -> Outcome {
        let Some(prompt_off) = self.foreground.as_ref().map(|f| f.prompt_off) else {
            self.type_line(text);
            return self.read_or_time_out(OUTER);
        };
        // A line for the container's shell must never reach the terminal's own
        // shell: it would run on the host.
        assert!(
            self.container().is_some(),
            "terminal {}: nothing runs in the foreground to type {text:?} into",
            self.number
        );
        if !prompt_off {
            self.type_line("PS1= PS2=");
            self.type_line(INNER_MARKER);
            self.read_or_time_out(INNER);
            self.foreground.as_mut().unwrap().prompt_off = true;
        }
        self.type_line(text);
        // `exit` ends the shell: the next marker is the terminal's own, with its
        // exit code.
        if text != "exit" {
            self.type_line(INNER_MARKER);
        }
        let outcome = self.read_or_time_out(INNER);
        if outcome.foreground_ended || text == "exit" {
            self.foreground = None;
        }
        outcome
    }

    /// Waits up to [`RUN_LIMIT`] for a marker; a command still running then (waiting
    /// for input, say) is reported as such by the check.
    fn read_or_time_out(&mut self, marker: &str) -> Outcome {
        self.read_until_marker(marker, RUN_LIMIT)
            .unwrap_or_else(|output| Outcome {
                code: -1,
                output,
                foreground_ended: false,
                timed_out: true,
            })
    }

    /// Types a command that stays in the foreground, and waits until it is ready.
    fn start(&mut self, text: &str, ready: Ready) {
        self.type_line(text);
        self.foreground = Some(Foreground {
            output: Vec::new(),
            prompt_off: false,
        });
        let deadline = Instant::now() + RUN_LIMIT;
        while !self.is_ready(ready) {
            // Whatever it printed so far; the terminal's marker means it has ended
            // already.
            if let Ok(outcome) =
                self.read_until_marker(OUTER, Duration::from_millis(20))
            {
                panic!(
                    "terminal {}: {text:?} ended at once, with {}:\n{}",
                    self.number,
                    outcome.code,
                    indent(&self.foreground.take().unwrap().output)
                );
            }
            assert!(
                Instant::now() < deadline,
                "terminal {}: {text:?} was not ready within {RUN_LIMIT:?}:\n{}",
                self.number,
                indent(&self.foreground.as_ref().unwrap().output)
            );
        }
        if let Ready::Running = ready {
            // A moment for it to get going (`ip monitor` to subscribe).
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    fn is_ready(&self, ready: Ready) -> bool {
        match ready {
            Ready::Container => self.container().is_some(),
            Ready::Listening(port) => {
                self.container().is_some_and(|c| listens_on(c, port))
            }
            Ready::Running => !process::children_of(self.shell).is_empty(),
        }
    }

    /// The container running in the terminal's foreground, if any.
    fn container(&self) -> Option<Pid> {
        container_below(self.shell)
    }

    /// Waits for the program in the foreground to end by itself.
    fn wait_for_end(&mut self) -> Outcome {
        let mut outcome = self.read_or_time_out(OUTER);
        outcome.output = self.foreground.take().unwrap().output;
        outcome
    }

    /// Stops the program in the foreground. A container is killed, as by a second
    /// Ctrl-C: its lesson then cleans up (veth, cgroup, lease) and ends. Anything
    /// else is killed.
    fn stop(&mut self) -> Outcome {
        match self.container() {
            Some(container) => {
                let _ = kill(container, Signal::SIGKILL);
            }
            None => kill_all_below(self.shell),
        }
        let outcome = match self.read_until_marker(OUTER, Duration::from_secs(15)) {
            Ok(outcome) => outcome,
            Err(_) => {
                kill_all_below(self.shell);
                self.read_or_time_out(OUTER)
            }
        };
        Outcome {
            output: self.foreground.take().map(|f| f.output).unwrap_or_default(),
            ..outcome
        }
    }

    /// Leaves the shell, as `exit` does, and waits for the terminal to close.
    fn close(mut self) {
        if self.foreground.is_some() {
            self.stop();
        }
        self.type_line("exit");
        let code = self.started.wait_limited();
        assert_eq!(code, 0, "terminal {} did not close cleanly", self.number);
    }

    /// Kills everything in the terminal, the containers first so that their lessons
    /// clean up.
    fn kill_everything(&mut self) {
        if let Some(container) = self.container() {
            let _ = kill(container, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(10);
            while !process::children_of(self.shell).is_empty()
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        kill_all_below(self.started.pid());
    }
}

/// What a terminal shows, line by line. A terminal ends its lines with "\r\n".
struct Screen {
    /// What the terminal writes, as it comes, read in a thread of its own.
    chunks: mpsc::Receiver<Vec<u8>>,
    /// What came after the last complete line.
    pending: Vec<u8>,
}

impl Screen {
    fn new(mut source: File) -> Screen {
        let (tx, chunks) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = source.read(&mut buffer) {
                let _ = tx.send(buffer[..n].to_vec());
            }
        });
        Screen {
            chunks,
            pending: Vec::new(),
        }
    }

    /// The next line, if one comes before `deadline`.
    fn next_line(&mut self, deadline: Instant) -> Option<String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                return Some(line.trim_end_matches(['\r', '\n']).to_string());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = self.chunks.recv_timeout(left).ok()?;
            self.pending.extend(chunk);
        }
    }

    /// The last line, not finished yet, if there is one.
    fn unfinished_line(&self) -> Option<String> {
        let line = String::from_utf8_lossy(&self.pending).trim().to_string();
        (!line.is_empty()).then_some(line)
    }
}

/// The exit code in a marker line, if `line` is one.
fn marker_code(line: &str, marker: &str) -> Option<i32> {
    line.split_once(marker)?.1.trim().parse().ok()
}

fn drop_trailing_empty_lines(lines: &mut Vec<String>) {
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
}

fn indent(lines: &[String]) -> String {
    lines.iter().map(|l| format!("    {l}\n")).collect()
}

// ---------------------------------------------------------------------------------------------
// What the kernel says about the processes in a terminal.

/// The processes below `top`, nearest first.
fn descendants(top: Pid) -> Vec<ProcessInfo> {
    let all = process::processes();
    let mut found: Vec<ProcessInfo> = Vec::new();
    let mut next = std::collections::VecDeque::from([top.as_raw()]);
    while let Some(parent) = next.pop_front() {
        for p in all.iter().filter(|p| p.parent == parent) {
            next.push_back(p.pid);
            found.push(p.clone());
        }
    }
    found
}

/// The interactive bash that `script` starts below `top`.
fn wait_for_shell(top: Pid) -> Pid {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        let shell = descendants(top)
            .into_iter()
            .find(|p| p.command == "bash --norc --noprofile");
        if let Some(shell) = shell {
            return Pid::from_raw(shell.pid);
        }
        assert!(
            Instant::now() < deadline,
            "no shell started in the terminal"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The program a process runs.
fn program_of(pid: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/exe")).ok()
}

fn namespaces_of(pid: i32) -> Vec<Option<u64>> {
    ["ipc", "mnt", "net", "pid", "user", "uts"]
        .iter()
        .map(|kind| ns_inode(&pid.to_string(), kind))
        .collect()
}

/// The container running below a shell: the first process below it that is in
/// namespaces of its own and runs its command already (a lesson's child runs the
/// lesson's program until it calls `exec`; so does `unshare` until it execs the
/// shell).
fn container_below(shell: Pid) -> Option<Pid> {
    let ours = namespaces_of(shell.as_raw());
    descendants(shell)
        .into_iter()
        .filter(|p| p.state != 'Z')
        .find(|p| {
            let program = program_of(p.pid);
            program.is_some()
                && program != program_of(p.parent)
                && namespaces_of(p.pid) != ours
        })
        .map(|p| Pid::from_raw(p.pid))
}

fn kill_all_below(top: Pid) {
    for p in descendants(top) {
        let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
    }
}

/// Whether a process's network namespace has a TCP socket listening on `port`.
fn listens_on(pid: Pid, port: u16) -> bool {
    let local = format!(":{port:04X}");
    ["tcp", "tcp6"].iter().any(|table| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/net/{table}"))
            .unwrap_or_default();
        // Columns: sl, local address, remote address, state (0A: listening), …
        text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.len() > 3 && fields[1].ends_with(&local) && fields[3] == "0A"
        })
    })
}

/// `<dir>` in a line about `<dir>/memory.current`: the container's cgroup directory
/// that holds that file. On v1 each controller has a tree of its own, and the file's
/// name starts with its controller's.
fn cgroup_dir(container: Pid, text: &str) -> String {
    let file = text.split("<dir>/").nth(1).unwrap_or("");
    let controller = file.split('.').next().unwrap();
    let cgroups =
        std::fs::read_to_string(format!("/proc/{container}/cgroup")).unwrap();
    // Lines are `ID:CONTROLLERS:PATH`; on v2 there is one, `0::PATH`.
    for line in cgroups.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (
            fields.next(),
            fields.next().unwrap(),
            fields.next().unwrap(),
        );
        if cgroup_version_here() == "v2" && controllers.is_empty() {
            return format!("/sys/fs/cgroup{path}");
        }
        if controllers.split(',').any(|c| c == controller) {
            return format!("{}{path}", v1_mount_point(controller));
        }
    }
    panic!("no cgroup of {container} has the {controller} controller:\n{cgroups}");
}

/// Where the v1 tree of a controller is mounted, from the mount table.
fn v1_mount_point(controller: &str) -> String {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for line in table.lines() {
        // `… MOUNT_POINT … - FSTYPE SOURCE SUPER_OPTIONS`
        let (left, right) = line.split_once(" - ").unwrap();
        let right: Vec<&str> = right.split(' ').collect();
        if right[0] == "cgroup" && right[2].split(',').any(|o| o == controller) {
            return left.split(' ').nth(4).unwrap().to_string();
        }
    }
    panic!("no cgroup v1 tree has the {controller} controller");
}

/// `pidof NAME` finds every process of that name on the machine. A line that kills
/// what it finds must find only what this test started: a lesson of another test
/// would die too.
fn check_pidof_finds_only_ours(text: &str, shells: &[Pid]) {
    let Some(rest) = text.split("pidof ").nth(1) else {
        return;
    };
    let name: String = rest.chars().take_while(|c| !" )".contains(*c)).collect();
    let ours: Vec<i32> = shells
        .iter()
        .flat_map(|shell| descendants(*shell))
        .map(|p| p.pid)
        .collect();
    for pid in host_pids() {
        let comm =
            std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        assert!(
            comm.trim() != name || ours.contains(&pid),
            "another {name} runs (pid {pid}), not started by this test: the chapter's \
             `pidof {name}` would find it too. Run this test while no other nsbox test runs."
        );
    }
}

/// A word in angle brackets, such as `<pid>`, if the command has one.
fn placeholder_in(text: &str) -> Option<&str> {
    let start = text.find('<')?;
    let length = text[start..].find('>')? + 1;
    let word = &text[start..start + length];
    let inside = &word[1..length - 1];
    let is_words = !inside.is_empty()
        && inside
            .chars()
            .all(|c| c.is_ascii_lowercase() || " '".contains(c));
    is_words.then_some(word)
}

// ---------------------------------------------------------------------------------------------
// Running a chapter.

/// A chapter being run: its terminals, and the cleanup it still owes the host.
struct ChapterRun {
    path: &'static str,
    setting: Setting,
    terminals: BTreeMap<usize, Terminal>,
    /// The terminals in the order their foreground programs started.
    started: Vec<usize>,
    /// The chapter's cleanup commands not run yet, with their chapters: run even
    /// when the test fails.
    cleanups: Vec<(&'static str, Typed)>,
    /// The last container id (12 hexadecimal digits on a line of their own) a
    /// command printed: what `<id>` means.
    last_id: Option<String>,
}

fn run_chapter(path: &'static str, network: Network) {
    let plan = plan(path);
    let mut chapter = ChapterRun {
        path,
        setting: Setting::new(network),
        terminals: BTreeMap::new(),
        started: Vec::new(),
        cleanups: Vec::new(),
        last_id: None,
    };
    for step in plan.iter().filter(|s| matches!(s.what, Do::Cleanup)) {
        let from = step.chapter(path);
        chapter
            .cleanups
            .extend(block_of(path, step).into_iter().map(|typed| (from, typed)));
    }
    for step in &plan {
        chapter.take(step);
    }
    chapter.finish();
}

/// The commands of the block a step types.
fn block_of(plan_of: &'static str, step: &Step) -> Vec<Typed> {
    let chapter = step.chapter(plan_of);
    let blocks = sh_blocks(chapter);
    match blocks.get(step.block.wrapping_sub(1)) {
        Some(block) => block.clone(),
        None => panic!(
            "{chapter} has no block {} (it has {})",
            step.block,
            blocks.len()
        ),
    }
}

impl ChapterRun {
    fn terminal(&mut self, number: usize) -> &mut Terminal {
        let setting = &self.setting;
        self.terminals
            .entry(number)
            .or_insert_with(|| Terminal::open(number, setting))
    }

    fn take(&mut self, step: &Step) {
        match step.what {
            Do::Run | Do::Cleanup => self.type_block(step, false),
            Do::Start(_) => self.type_block(step, true),
            Do::WaitForEnd => {
                let outcome = self.terminal(step.terminal).wait_for_end();
                self.check(step, 1, "(the program started in it)", &outcome);
            }
            Do::Stop => {
                let outcome = self.terminal(step.terminal).stop();
                self.check(
                    step,
                    1,
                    "(the program started in it, stopped)",
                    &outcome,
                );
            }
            Do::Pause(time) => std::thread::sleep(time),
        }
    }

    fn type_block(&mut self, step: &Step, last_starts: bool) {
        let commands = block_of(self.path, step);
        let version = cgroup_version_here();
        // A block that starts a program is typed at your shell: you would leave what
        // still runs in that terminal first.
        let terminal = self.terminal(step.terminal);
        if last_starts && terminal.foreground.is_some() {
            terminal.stop();
        }
        for (index, typed) in commands.iter().enumerate() {
            if cgroup_version_of(&typed.text).is_some_and(|v| v != version) {
                continue;
            }
            let text = self.fill_in(&typed.text);
            check_pidof_finds_only_ours(&text, &self.shells());
            if last_starts && index + 1 == commands.len() {
                self.start(step, &text);
            } else {
                let outcome = self.terminal(step.terminal).run(&text);
                if matches!(step.what, Do::Cleanup) {
                    let chapter = step.chapter(self.path);
                    self.cleanups.retain(|(c, done)| {
                        (*c, done.line) != (chapter, typed.line)
                    });
                }
                self.check(step, index + 1, &text, &outcome);
                self.remember_id(&outcome);
            }
        }
    }

    /// Keeps the last container id a command printed, as you would read it off your
    /// screen.
    fn remember_id(&mut self, outcome: &Outcome) {
        let is_id = |line: &&String| {
            line.len() == 12
                && line
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        };
        if let Some(id) = outcome.output.iter().rev().find(is_id) {
            self.last_id = Some(id.clone());
        }
    }

    /// The host pid of nsbox's container `id`, from its record under the default
    /// state root (in the sandbox's own /run, when there is one).
    fn nsbox_pid(&self, id: &str) -> Option<String> {
        let prefix = match &self.setting.sandbox {
            Some(sandbox) => format!("/proc/{}/root", sandbox.holder.pid()),
            None => String::new(),
        };
        let path = format!("{prefix}/run/nsbox/{id}/state.json");
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
        Some(record["pid"].as_i64()?.to_string())
    }

    fn start(&mut self, step: &Step, text: &str) {
        let Do::Start(ready) = step.what else {
            unreachable!()
        };
        self.terminal(step.terminal).start(text, ready);
        self.started.retain(|&t| t != step.terminal);
        self.started.push(step.terminal);
    }

    /// The shells of the terminals open now.
    fn shells(&self) -> Vec<Pid> {
        self.terminals.values().map(|t| t.shell).collect()
    }

    /// The container started last that still runs: the one `<pid>` means.
    fn latest_container(&self) -> Option<Pid> {
        self.started
            .iter()
            .rev()
            .filter_map(|number| self.terminals[number].container())
            .next()
    }

    /// The command with its placeholders filled in, as you would from your screen.
    fn fill_in(&self, text: &str) -> String {
        let mut text = text.to_string();
        if text.contains("<id>") {
            let id = self.last_id.as_deref().unwrap_or_else(|| {
                panic!("{text:?} needs a container id; no command printed one")
            });
            text = text.replace("<id>", id);
        }
        // A container nsbox runs in the background: its pid is in its record.
        let detached = self.last_id.as_deref().and_then(|id| self.nsbox_pid(id));
        if text.contains("<pid>")
            && self.latest_container().is_none()
            && let Some(pid) = detached
        {
            text = text.replace("<pid>", &pid);
        }
        if text.contains("<pid>") || text.contains("<dir>") {
            let container = self.latest_container().unwrap_or_else(|| {
                panic!("{text:?} needs a running container; none runs")
            });
            if text.contains("<dir>") {
                text = text.replace("<dir>", &cgroup_dir(container, &text));
            }
            text = text.replace("<pid>", &container.to_string());
        }
        if text.contains("<your machine's address>") {
            assert!(self.setting.sandbox.is_some(), "no address to fill in");
            text = text.replace("<your machine's address>", SANDBOX_ADDRESS);
        }
        if let Some(unknown) = placeholder_in(&text) {
            panic!("{text:?}: this test does not know the placeholder {unknown}");
        }
        text
    }

    /// Checks a command's outcome against what the chapter says.
    fn check(&self, step: &Step, command: usize, text: &str, outcome: &Outcome) {
        // A program you stop ends as it ends; everything else ends with 0 unless the
        // chapter says otherwise.
        let mut expected_code = match step.what {
            Do::Stop => None,
            _ => Some(0),
        };
        let mut problems = Vec::new();
        let printed = outcome.output.join("\n");
        for expect in &step.expect {
            match *expect {
                Expect::Exits(n, code) if n == command => expected_code = Some(code),
                Expect::PrintsLine(n, wanted)
                    if n == command
                        && !outcome.output.iter().any(|l| l.trim() == wanted) =>
                {
                    problems.push(format!(
                        "the chapter says it prints the line {wanted:?}"
                    ))
                }
                Expect::Prints(n, wanted)
                    if n == command && !printed.contains(wanted) =>
                {
                    problems.push(format!("the chapter says it prints {wanted:?}"))
                }
                Expect::DoesNotPrint(n, unwanted)
                    if n == command && printed.contains(unwanted) =>
                {
                    problems.push(format!(
                        "the chapter says it does not print {unwanted:?}"
                    ))
                }
                _ => {}
            }
        }
        if outcome.timed_out {
            problems.insert(0, format!("it was still running after {RUN_LIMIT:?}"));
        } else if let Some(expected) =
            expected_code.filter(|&code| code != outcome.code)
        {
            problems.insert(
                0,
                format!("it exited with {}, not {expected}", outcome.code),
            );
        }
        if outcome.foreground_ended
            && !matches!(step.what, Do::WaitForEnd | Do::Stop)
            && text != "exit"
        {
            problems.push("the program in the foreground ended".to_string());
        }
        if !problems.is_empty() {
            let place = self.place(step, command, text);
            let problems = problems.join("; ");
            panic!(
                "{place}\n{problems}; it printed:\n{}",
                indent(&outcome.output)
            );
        }
    }

    /// Where a command is, in words: chapter, line, block, terminal, and the command
    /// as the chapter writes it and as the test typed it.
    fn place(&self, step: &Step, command: usize, typed: &str) -> String {
        let chapter = step.chapter(self.path);
        let written = sh_blocks(chapter)
            .get(step.block.wrapping_sub(1))
            .and_then(|block| block.get(command.wrapping_sub(1)))
            .cloned();
        let mut place = chapter.to_string();
        if let Some(written) = &written {
            place.push_str(&format!(", line {}", written.line));
        }
        place.push_str(&format!(
            " (block {}, in terminal {}):\n    {typed}",
            step.block, step.terminal
        ));
        if let Some(written) = written.filter(|w| w.text != typed) {
            place.push_str(&format!("\n  (the chapter writes: {})", written.text));
        }
        place
    }

    /// Stops what runs, in the reverse order it started, and closes the terminals.
    fn finish(mut self) {
        for number in self.started.clone().iter().rev() {
            let terminal = self.terminals.get_mut(number).unwrap();
            if terminal.foreground.is_some() {
                terminal.stop();
            }
        }
        let terminals = std::mem::take(&mut self.terminals);
        for terminal in terminals.into_values() {
            terminal.close();
        }
        assert!(
            self.cleanups.is_empty(),
            "the plan of {} never ran its cleanup: {:?}",
            self.path,
            self.cleanups
        );
    }
}

impl Drop for ChapterRun {
    /// After a failure: stop everything, then run the chapter's cleanup that did not
    /// run, so that the host is as it was (the host guard checks it next).
    fn drop(&mut self) {
        for terminal in self.terminals.values_mut() {
            terminal.kill_everything();
        }
        self.terminals.clear();
        // In the chapter's directory, with the test's `cargo` (a real one would wait
        // for the build directory's lock forever).
        let directory = self.setting.directory.path.display().to_string();
        let as_root = Path::new(ROOT).join("scripts/as-root");
        let binaries = self.setting.directory.path.join("target/debug");
        let cargo = cargo_function(&as_root, &binaries);
        for (_, typed) in std::mem::take(&mut self.cleanups) {
            let text = format!("cd '{directory}'; {cargo}; {}", typed.text);
            let _ = self.setting.as_reader(&["bash", "-c", &text]).output();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The chapters.

#[rstest]
fn introduction(_host: HostGuard) {
    run_chapter("book/src/introduction.md", Network::Host);
}

#[rstest]
fn chapter_00_doctor(_host_exclusive: HostGuard) {
    run_chapter("lessons/00-doctor/README.md", Network::Host);
}

#[rstest]
fn chapter_01_uts(_host: HostGuard) {
    run_chapter("lessons/01-uts/README.md", Network::Host);
}

#[rstest]
fn chapter_02_ipc(_host: HostGuard) {
    run_chapter("lessons/02-ipc/README.md", Network::Host);
}

#[rstest]
fn chapter_03_pid(_host: HostGuard) {
    run_chapter("lessons/03-pid/README.md", Network::Host);
}

/// Mounts on the host (the propagation experiment): no other test may run meanwhile.
#[rstest]
fn chapter_04_mnt(_host_exclusive: HostGuard) {
    run_chapter("lessons/04-mnt/README.md", Network::Host);
}

/// Exercise 3 repeats chapter 04's experiment, which mounts on the host.
#[rstest]
fn chapter_05_user(_host_exclusive: HostGuard) {
    run_chapter("lessons/05-user/README.md", Network::Host);
}

#[rstest]
fn chapter_06_net(_host: HostGuard) {
    run_chapter("lessons/06-net/README.md", Network::Sandbox);
}

#[rstest]
fn chapter_07_cgroups(_host: HostGuard) {
    run_chapter("lessons/07-cgroups/README.md", Network::Sandbox);
}

/// The examples need no network (`--network none`); the escape reaches the host's
/// files, which it only lists.
#[rstest]
fn chapter_08_rootfs(_host: HostGuard) {
    run_chapter("lessons/08-rootfs/README.md", Network::Host);
}

/// nsbox's containers bind their network namespaces under /run/netns, make the
/// nsbox0 bridge and NAT rules, and publish port 8080: all in the network sandbox,
/// whose /run is its own (the state root, /run/nsbox, too).
#[rstest]
fn chapter_09_runtime(_host: HostGuard) {
    run_chapter("lessons/09-runtime/README.md", Network::Sandbox);
}

/// nsbox's containers, on the default bridge: in the network sandbox, as 09's.
/// Every attempt the chapter makes asks for something harmless, in case a
/// defence is broken.
#[rstest]
fn chapter_10_hardening(_host: HostGuard) {
    run_chapter("lessons/10-hardening/README.md", Network::Sandbox);
}

/// Every ```sh block of every chapter is typed by the chapter's plan, or is listed
/// in `NOT_RUN` with the reason; and no step names a block that does not exist.
/// (Needs no root: it only reads.)
#[test]
fn every_block_has_a_place_in_a_plan() {
    let mut problems = Vec::new();
    for &chapter in CHAPTERS {
        let blocks = sh_blocks(chapter);
        let plan = plan(chapter);
        for step in plan.iter().filter(|s| s.types_a_block()) {
            let from = step.chapter(chapter);
            let count = sh_blocks(from).len();
            if step.block == 0 || step.block > count {
                problems.push(format!(
                    "{chapter}: a step types block {} of {from}, which has {count}",
                    step.block
                ));
            }
        }
        for number in 1..=blocks.len() {
            let typed = plan
                .iter()
                .any(|s| s.types_a_block() && s.from.is_none() && s.block == number);
            let not_run =
                NOT_RUN.iter().any(|&(c, b, _)| c == chapter && b == number);
            if !typed && !not_run {
                problems.push(format!(
                    "{chapter}: block {number} (line {}) is in no step of the plan",
                    blocks[number - 1].first().map_or(0, |t| t.line)
                ));
            }
        }
    }
    let mut on_disk: Vec<String> =
        std::fs::read_dir(Path::new(ROOT).join("lessons"))
            .unwrap()
            .map(|e| {
                format!(
                    "lessons/{}/README.md",
                    e.unwrap().file_name().to_string_lossy()
                )
            })
            .collect();
    on_disk.sort();
    for chapter in on_disk {
        if !CHAPTERS.contains(&chapter.as_str()) {
            problems.push(format!("{chapter} is not in CHAPTERS"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each chapter's plan: which terminal each block goes to, and what the chapter says
/// its commands print or how they exit.
fn plan(chapter: &str) -> Vec<Step> {
    match chapter {
        "book/src/introduction.md" => {
            vec![run(1, FIRST).prints_line(1, "container")]
        }
        "lessons/00-doctor/README.md" => {
            vec![run(1, FIRST).prints(1, "Every lesson can work here")]
        }
        "lessons/01-uts/README.md" => vec![
            // The interactive shell.
            start(1, FIRST),
            run(2, FIRST)
                .prints_line(1, "container")
                .prints_line(3, "renamed"),
            // Exercise 1.
            start(3, FIRST),
            run(4, SECOND).prints(1, "uts:["),
            run(5, SECOND).prints_line(1, "container"),
        ],
        "lessons/02-ipc/README.md" => vec![
            start(1, FIRST),
            run(2, FIRST).prints(1, "Message queue id"),
            run(3, SECOND),
            // Exercise 1: the queue, listed from the container's namespace.
            run(4, SECOND).prints(1, "0x"),
        ],
        "lessons/03-pid/README.md" => vec![
            // The second SIGTERM becomes a SIGKILL.
            start(1, FIRST),
            run(2, SECOND),
            wait_for_end(FIRST).exits(1, 137),
            // Exercise 2: a PID 1 with a handler.
            start(3, FIRST),
            run(4, SECOND),
            wait_for_end(FIRST).prints(1, "bye"),
            // Exercise 3: "after a second", a zombie.
            start(5, FIRST),
            pause(2),
            run(6, SECOND).prints(1, " Z"),
            stop(FIRST),
            // Exercise 4.
            run(7, FIRST).exits(1, 1).prints(1, "No such process"),
        ],
        "lessons/04-mnt/README.md" => vec![
            // Try it yourself: the host is the first terminal, the container the
            // second.
            run(1, FIRST),
            start(2, SECOND),
            run(3, SECOND),
            run(4, FIRST).prints(1, "from-container"),
            run(5, FIRST),
            run(6, SECOND).prints(1, "from-host"),
            run(7, SECOND),
            run(8, SECOND).prints(1, "shared:"),
            run(9, FIRST).prints(1, "shared:"),
            // An interactive sh that is PID 1 of its own PID namespace cannot give
            // the terminal back to a process group it cannot see: it says so and
            // exits with 2.
            run(10, SECOND).exits(1, 2),
            // Still there after the container exited.
            run(11, FIRST).prints(1, "from-container"),
            cleanup(12, FIRST),
            cleanup(13, FIRST),
            // Exercise 1.
            run(14, FIRST),
            run(15, FIRST),
            // Exercise 2: findmnt fails, diff finds differences, then two procfs.
            start(16, FIRST),
            run(17, SECOND).exits(1, 1),
            run(18, SECOND).exits(1, 1),
            run(19, SECOND).prints(1, "noexec"),
        ],
        "lessons/05-user/README.md" => vec![
            run(1, FIRST).prints(1, "uid=0(root)"),
            // Try it yourself.
            start(2, FIRST),
            run(3, FIRST).prints(1, "uid=0(root)").exits(8, 2), // exit: as in chapter 04
            run(4, FIRST).prints(1, "made-inside"),
            cleanup(5, FIRST),
            // Exercise 1: a map written by hand; the second write is refused.
            start(6, FIRST),
            run(7, FIRST).prints(2, "uid=65534"),
            run(8, SECOND),
            run(9, FIRST).prints(1, "uid=0(root)"),
            run(10, SECOND),
            run(11, SECOND)
                .exits(1, 1)
                .prints(1, "Operation not permitted"),
            // Exercise 2: a range, with sudo.
            start(12, FIRST),
            run(13, FIRST),
            run(14, SECOND).prints(1, "100000").prints(1, "100001"),
            stop(FIRST),
            cleanup(15, SECOND),
            // Exercise 3: chapter 04's experiment, with this lesson as the
            // container.
            run(1, FIRST).from("lessons/04-mnt/README.md"),
            start(16, SECOND),
            run(3, SECOND).from("lessons/04-mnt/README.md"),
            run(4, FIRST)
                .from("lessons/04-mnt/README.md")
                .does_not_print(1, "from-container"),
            run(17, SECOND).prints(1, "master:"),
            stop(SECOND),
            cleanup(12, FIRST).from("lessons/04-mnt/README.md"),
            cleanup(13, FIRST).from("lessons/04-mnt/README.md"),
        ],
        "lessons/06-net/README.md" => vec![
            // Try it yourself: a container, seen from inside and from the host.
            start(1, FIRST),
            run(2, FIRST).prints(1, "10.89.0.2"),
            run(3, SECOND)
                .prints(2, "master nsbox0")
                .prints(3, "10.89.0.2")
                .prints(4, "10.89.0.2"),
            run(4, SECOND).prints(2, "default via 10.89.0.1"),
            // ip monitor, while another container comes and goes.
            start_when(Ready::Running, 5, SECOND),
            run(6, THIRD),
            // The host end appears, its peer made in the container's namespace.
            // (`Deleted` comes when the kernel frees that namespace: a moment later,
            // maybe after the stop.)
            stop(SECOND).prints(1, "link-netnsid"),
            // --nat.
            start(7, FIRST),
            run(8, SECOND).prints(1, "masquerade"),
            // --publish: through the host's address, not through 127.0.0.1 (curl:
            // 28, timeout).
            start_when(Ready::Listening(8000), 9, FIRST),
            run(10, SECOND).prints(1, "Directory listing").exits(2, 28),
            // Exercise 1, with the server's container running.
            run(11, SECOND)
                .prints(1, "master nsbox0")
                .prints(2, "eth0@if"),
            // Exercise 3: the lesson killed; its lease and its rule are left.
            start(12, FIRST),
            run(13, SECOND),
            wait_for_end(FIRST).exits(1, 137),
            run(14, SECOND)
                .prints(1, "\"status\"")
                .prints(2, "10.89.0.2")
                .prints(3, "nsbox-"),
        ],
        "lessons/07-cgroups/README.md" => vec![
            run(1, FIRST),
            run(2, FIRST),
            // Watch the memory: 40 MiB fit, 100 MiB are killed, and the kernel
            // counts it.
            start(3, FIRST),
            run(4, SECOND),
            run(5, FIRST)
                .prints(1, "allocated 40 MiB")
                .exits(2, 137)
                .prints(2, "Killed"),
            run(6, SECOND).prints(1, "oom_kill 1"),
            stop(FIRST),
            // A limit that stops (killed, 137), and the CPU.
            run(7, FIRST).exits(1, 137),
            run(8, FIRST).prints(1, "wall"),
            run(9, FIRST).prints(1, "wall"),
            // Too many processes: the shell cannot fork (2), and the cgroup holds
            // 20.
            start(10, FIRST),
            run(11, FIRST).exits(1, 2).prints(1, "fork"),
            run(12, SECOND).prints(1, "20"),
            // The cgroup, from inside.
            start(13, FIRST),
            run(14, FIRST).prints(3, "8"),
            stop(FIRST),
            // Exercise 2's check.
            run(15, FIRST).prints(1, "wall"),
            cleanup(16, FIRST),
        ],
        "lessons/08-rootfs/README.md" => vec![
            // The image's /, then the mounts inside.
            run(1, FIRST).prints(1, "linuxrc"),
            run(2, FIRST)
                .prints(1, "/ overlay")
                .prints(1, "/dev/pts devpts"),
            // One container's write: not seen by the next, nor in the image.
            run(3, FIRST)
                .prints(1, "mine")
                .exits(2, 1)
                .prints(2, "No such file"),
            // --keep: what the container wrote, and the whiteout.
            run(4, FIRST)
                .prints(2, "/new")
                .prints(3, "character special file 0,0"),
            // The escape: out after chroot, not after pivot_root.
            run(5, FIRST)
                .prints(1, "/usr/share")
                .exits(2, 1)
                .prints(2, "No such file"),
            // The container's own memory limit.
            run(6, FIRST).prints(1, "67108864"),
            // Volumes: the write lands on the host, the read-only one refuses.
            run(7, FIRST)
                .exits(2, 1)
                .prints(2, "Read-only file system")
                .prints(3, "hi"),
            // The image the chapter's containers shared.
            cleanup(8, FIRST),
        ],
        "lessons/09-runtime/README.md" => vec![
            // run in the foreground, then -d: the id comes back at once.
            run(1, FIRST).prints_line(1, "hello"),
            run(2, FIRST)
                .prints(1, "Exited (0)")
                .prints(1, "Up ")
                .prints(1, "talk"),
            // "After a second": both lines are in the log.
            pause(2),
            run(3, FIRST)
                .prints_line(1, "hi")
                .prints_line(1, "oops")
                .prints(2, " stdout F hi")
                .prints(2, " stderr F oops"),
            // stop: sleep, PID 1, ignores SIGTERM; SIGKILL after 2 s.
            run(4, FIRST)
                .prints_line(1, "talk")
                .prints_line(2, "137")
                .prints_line(3, "hello"),
            // exec, and the pid inspect shows.
            run(5, FIRST)
                .prints(2, "1 root     sleep 1000")
                .prints(4, "\"Pid\""),
            // nsenter, by hand: the same PID 1.
            run(6, FIRST).prints(1, "1 root     sleep 1000"),
            // The network namespace, by its name under /run/netns.
            run(7, FIRST)
                .prints(1, "nsbox-")
                .prints(2, "eth0@if")
                .prints(2, "10.89.0."),
            // A namespace kept by a bind mount alone.
            run(8, FIRST)
                .prints(4, "demo0@demo1")
                .prints(4, "demo1@demo0"),
            cleanup(9, FIRST),
            // -p: 127.0.0.1 reaches the container (curl -f: an answer, 200).
            run(10, FIRST),
            pause(1),
            run(11, FIRST),
            cleanup(12, FIRST),
            cleanup(13, FIRST),
        ],
        "lessons/10-hardening/README.md" => vec![
            // Docker's 14 capabilities; all of them with --privileged; their names.
            run(1, FIRST)
                .prints_line(1, "CapEff:\t00000000a80425fb")
                .prints_line(1, "CapBnd:\t00000000a80425fb")
                .prints(2, "CapEff:\t0000")
                .prints(3, "cap_chown cap_dac_override"),
            // The clock, a mount, /proc/sys: refused (busybox's date exits 0).
            run(2, FIRST)
                .prints(1, "can't set date: Operation not permitted")
                .exits(2, 1)
                .prints(2, "permission denied")
                .exits(3, 1)
                .prints(3, "Read-only file system"),
            // The filter is on; unshare -U refused by it alone, allowed without.
            run(3, FIRST)
                .prints_line(1, "Seccomp:\t2")
                .exits(2, 1)
                .prints(2, "Operation not permitted")
                .exits(3, 0),
            // A node made with mknod does not open.
            run(4, FIRST).exits(1, 1).prints(1, "Permission denied"),
        ],
        _ => panic!("no plan for {chapter}"),
    }
}
