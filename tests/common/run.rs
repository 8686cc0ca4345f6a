//! Running a binary, or any command, to the end: its exit code and what it printed.

use super::bin;
use super::process::{self, read_in_background};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};

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
    let mut started = process::start_piped(&mut command);
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

/// `v1` or `v2`, from a lesson's narration: the two versions print different files,
/// so a transcript that shows them has one snapshot per version (the tests also run
/// in a cgroup v2 VM).
pub fn cgroup_version(run: &Run) -> &'static str {
    if run.stderr.contains("cgroup v2") {
        "v2"
    } else {
        "v1"
    }
}
