//! A lesson still running: the test reads its narration and output line by line
//! while it looks at the host from outside.

use super::process::{self, RUN_LIMIT, Started};
use super::{Run, bin};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
        let mut started = process::start_piped(&mut command);
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
            let waited_for = format!("a {source:?} line containing {text:?}");
            self.receive(deadline, &waited_for);
        }
    }

    /// Waits until `count` lines have come from `source`, and returns the last.
    pub fn wait_for_lines(&mut self, source: Source, count: usize) -> String {
        let deadline = Instant::now() + RUN_LIMIT;
        loop {
            let lines = match source {
                Source::Stdout => &self.stdout,
                Source::Stderr => &self.stderr,
            };
            if lines.len() >= count {
                return lines[count - 1].clone();
            }
            self.receive(deadline, &format!("{source:?} line {count}"));
        }
    }

    /// Keeps the next line from either source; if none comes by `deadline`, stops
    /// the program and fails the test.
    fn receive(&mut self, deadline: Instant, waited_for: &str) {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok((from, line)) => self.keep(from, &line),
            Err(_) => {
                self.started.stop();
                panic!(
                    "{waited_for} never came; stdout: {:?}, stderr: {:?}",
                    self.stdout, self.stderr
                );
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
