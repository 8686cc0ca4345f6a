//! `nsbox` as the runtime's proofs run it: a state root and an image store of the
//! test's own (temporary folders), and a check that a container left nothing on
//! the host.

use super::{
    Run, TempDir, Transcript, bin, host_command, run_command, veths, wait_until_gone,
};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// One test's nsbox: its state root and its image store.
pub struct Nsbox {
    pub root: TempDir,
    pub storage: TempDir,
}

impl Nsbox {
    pub fn new() -> Nsbox {
        Nsbox {
            root: TempDir::new("runtime-root"),
            storage: TempDir::new("runtime-storage"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("nsbox"));
        command
            .arg("--root")
            .arg(&self.root.path)
            .arg("--storage")
            .arg(&self.storage.path)
            .args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args), "")
    }

    /// Runs and expects success; returns stdout, trimmed.
    pub fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "nsbox {args:?}: {}{}", run.stdout, run.stderr);
        run.stdout.trim().to_string()
    }

    /// The container's record, as the library wrote it.
    pub fn record(&self, id: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.root.path.join(id).join("state.json"))
                .unwrap_or_else(|e| panic!("no record for {id}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    pub fn pid(&self, id: &str) -> i32 {
        self.record(id)["pid"].as_i64().unwrap() as i32
    }

    /// What the container holds on the host, while it runs, read from the kernel.
    pub fn holdings(&self, id: &str) -> Holdings {
        let record = self.record(id);
        let cleanup = &record["cleanup"];
        let cgroups = cleanup["cgroup"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| PathBuf::from(p.as_str().unwrap()))
            .collect();
        Holdings {
            pid: self.pid(id),
            monitor: parent_of(self.pid(id)),
            cgroups,
            host_end: cleanup["network"]["hostEnd"].as_str().map(String::from),
            netns: PathBuf::from(format!("/run/netns/nsbox-{id}")),
        }
    }

    /// Fails unless every container is gone with everything it held.
    pub fn check_gone(&self, holdings: &[Holdings]) {
        for held in holdings {
            wait_for("the container's process to end", || !alive(held.pid));
            wait_for("the monitor to end", || !held.monitor.is_some_and(alive));
            for cgroup in &held.cgroups {
                assert!(!cgroup.exists(), "cgroup left: {}", cgroup.display());
            }
            assert!(!held.netns.exists(), "left: {}", held.netns.display());
            if let Some(end) = &held.host_end {
                let left = wait_until_gone(std::slice::from_ref(end), veths);
                assert!(left.is_empty(), "veth left: {left:?}");
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.root.path.display().to_string();
        let ours: Vec<&str> = mounts
            .lines()
            .filter(|l| l.contains("/run/netns/nsbox-") || l.contains(&root))
            .collect();
        assert!(ours.is_empty(), "mounts left: {ours:?}");
        let left: Vec<_> = std::fs::read_dir(&self.root.path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "the state root still holds {left:?}");
        let tables = host_command("nft", &["list", "tables"]);
        assert!(!tables.contains("nsbox"), "nftables still has {tables}");
    }
}

impl Drop for Nsbox {
    /// A test that failed half-way leaves no container running: `rm -f` them all
    /// before the folders go.
    fn drop(&mut self) {
        let ids = run_command(self.command(&["ps", "-a", "-q"]), "").stdout;
        for id in ids.lines() {
            let _ = run_command(self.command(&["rm", "-f", id]), "");
        }
    }
}

/// What one container held on the host.
pub struct Holdings {
    pub pid: i32,
    pub monitor: Option<i32>,
    pub cgroups: Vec<PathBuf>,
    pub host_end: Option<String>,
    pub netns: PathBuf,
}

pub fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .unwrap()
            .1
            .trim_start()
            .starts_with('Z')
    })
}

/// The parent of a process (field 4 of /proc/PID/stat).
pub fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Waits, up to 15 s, until `done`.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "waited 15 s for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A terminal session with nsbox, recorded for the book.
pub struct Session<'a> {
    pub nsbox: &'a Nsbox,
    pub transcript: Transcript,
    /// The port of the test's registry, shown as `[PORT]`.
    pub port: Option<String>,
    /// More text to show as something else: `(what, shown as)`.
    pub shown_as: Vec<(String, String)>,
}

impl<'a> Session<'a> {
    pub fn new(nsbox: &'a Nsbox) -> Session<'a> {
        Session {
            nsbox,
            transcript: Transcript::default(),
            port: None,
            shown_as: Vec::new(),
        }
    }

    /// `nsbox ARGS`, its stdout and stderr in one pipe as a terminal shows them.
    pub fn nsbox(&mut self, args: &[&str]) -> (i32, String) {
        let mut command = Command::new("sh");
        command
            .args(["-c", "exec \"$@\" 2>&1", "sh", bin("nsbox")])
            .arg("--root")
            .arg(&self.nsbox.root.path)
            .arg("--storage")
            .arg(&self.nsbox.storage.path)
            .args(args);
        let run = run_command(command, "");
        let output = if args.first() == Some(&"images") {
            self.normalise_table(&run.stdout)
        } else {
            self.normalise(&run.stdout)
        };
        let shown: Vec<String> = args.iter().map(|a| self.normalise(a)).collect();
        let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
        self.transcript.lesson("nsbox", &shown, &output);
        (run.code, run.stdout)
    }

    /// Any command: `shown` is what the book shows, `actual` what runs (`sh -c`).
    pub fn shell(&mut self, shown: &str, actual: &str) -> (i32, String) {
        let mut command = Command::new("sh");
        command.args(["-c", &format!("exec 2>&1; {actual}")]);
        let run = run_command(command, "");
        let output = self.normalise(&run.stdout);
        self.transcript.command(&self.normalise(shown), &output);
        (run.code, run.stdout)
    }

    /// This test's state root as the reader's (`/run/nsbox`), and what changes from
    /// run to run: container ids, times, durations, pids.
    pub fn normalise(&self, text: &str) -> String {
        let root = self.nsbox.root.path.display().to_string();
        let mut text = text.replace(&root, "/run/nsbox");
        for (what, shown_as) in &self.shown_as {
            text = text.replace(what, shown_as);
        }
        if let Some(port) = &self.port {
            text = text.replace(&format!("127.0.0.1:{port}/"), "127.0.0.1:[PORT]/");
        }
        // Images: digests and sizes depend on the host's busybox, which is in the
        // test's image.
        for (pattern, replacement) in [
            (
                r"(?m)^[0-9a-f]{12}: (.*) \([\d.]+k?M?G?B\)$",
                "[LAYER]: $1 ([SIZE])",
            ),
            (r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]"),
        ] {
            let regex = regex::Regex::new(pattern).unwrap();
            text = regex.replace_all(&text, replacement).into_owned();
        }
        for (pattern, replacement) in [
            (r"\b[0-9a-f]{12}\b", "[CONTAINER]"),
            (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z", "[TIME]"),
            (r"Less than a second|\b\d+ seconds?\b", "[N] seconds"),
            (r"--target \d+", "--target [PID]"),
            (r#""Pid": \d+"#, r#""Pid": [PID]"#),
            // `ip -br`: the peer's index (how many links the host has had) and the
            // padding after it, which `ip` makes the name column 16 wide with.
            (r"(?m)^eth0@if\d+ +", "eth0@if[N]       "),
        ] {
            let regex = regex::Regex::new(pattern).unwrap();
            text = regex.replace_all(&text, replacement).into_owned();
        }
        text
    }
}

impl Session<'_> {
    /// `nsbox images`' table, normalised cell by cell (the image id is `[IMAGE]`,
    /// the size `[SIZE]`) and laid out again as nsbox lays it out: columns three
    /// spaces apart, each as wide as its widest cell.
    pub fn normalise_table(&self, table: &str) -> String {
        let rows: Vec<Vec<String>> = table
            .lines()
            .map(|line| {
                let cells: Vec<&str> =
                    line.split("   ").filter(|c| !c.is_empty()).collect();
                cells
                    .iter()
                    .map(|cell| self.normalise(cell.trim()))
                    .collect()
            })
            .collect();
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .enumerate()
            .map(|(n, mut row)| {
                if n > 0 && row.len() == 4 {
                    row[2] = "[IMAGE]".into();
                    row[3] = "[SIZE]".into();
                }
                row
            })
            .collect();
        let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                rows.iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, &width)| format!("{cell:width$}"))
                .collect();
            out.push_str(cells.join("   ").trim_end());
            out.push('\n');
        }
        out
    }
}

/// The `-v` options that put the tests' probe in a container at `/probe`, with
/// the host's C library folders beside it, read-only: the probe is linked
/// dynamically (in the VM, statically: then the folders are only there).
pub fn probe_volumes() -> Vec<String> {
    let mut args = vec!["-v".to_string(), format!("{}:/probe:ro", super::probe())];
    for dir in ["/lib", "/lib64"] {
        if std::path::Path::new(dir).exists() {
            args.push("-v".into());
            args.push(format!("{dir}:{dir}:ro"));
        }
    }
    args
}

/// `GET PATH` on 127.0.0.1:PORT, retried while the server starts.
pub fn fetch(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt =
            std::net::TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| {
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                write!(s, "GET {path} HTTP/1.0\r\n\r\n")?;
                let mut text = String::new();
                s.read_to_string(&mut text)?;
                Ok(text)
            });
        match attempt {
            Ok(text) if !text.is_empty() => return text,
            _ if Instant::now() > deadline => panic!("nothing answered on {port}"),
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}
