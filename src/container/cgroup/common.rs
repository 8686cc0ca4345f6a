//! What cgroup v1 and v2 share: the [`Cgroup`] trait that hides their difference,
//! the controllers we use, and small helpers for cgroup files.

use super::limits::{Limits, Usage};
use crate::container::Error;
use crate::container::steps::Step;
use nix::unistd::Pid;
use std::io;
use std::path::Path;
use std::time::Duration;

/// The controllers a container's cgroup uses: memory and CPU are always counted (for
/// the report at exit), and pids when it is limited.
pub const CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

// ANCHOR: cgroup_trait
/// A container's cgroup, whichever version it lives in.
pub trait Cgroup {
    /// Its directories: known before they exist, so they can be written down first.
    fn paths(&self) -> Vec<String>;
    /// Makes its directories (`mkdir`).
    fn make(&self) -> Result<(), Error>;
    /// Writes the limits; returns what it wrote, one `file = value` per line.
    fn apply(&self, limits: &Limits) -> io::Result<Vec<String>>;
    /// Moves a process (and so, later, its children) into the cgroup.
    fn attach(&self, pid: Pid) -> io::Result<()>;
    /// What the processes in it used so far.
    fn usage(&self) -> Usage;
    /// Kills whatever is left in it and removes its directories.
    fn remove(&self) -> io::Result<()>;
    /// The steps that show it, read-only, at `dir` in the container's own root
    /// filesystem (lesson 08), once the child is in its cgroup namespace.
    fn view_inside(&self, dir: &Path) -> Vec<Step>;
}
// ANCHOR_END: cgroup_trait

/// The mount point (5th field) and filesystem type (after " - ") of a mountinfo
/// line.
pub(crate) fn mount_point_and_type(line: &str) -> (&str, &str) {
    let mount_point = line.split(' ').nth(4).unwrap_or("");
    let fstype = line
        .split(" - ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or("");
    (mount_point, fstype)
}

/// Reads one `key value` line from a flat-keyed cgroup file such as `memory.events`.
pub(crate) fn keyed_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Writes a value to a cgroup file, saying which file in the error.
pub(crate) fn write_file(path: &std::path::Path, value: &str) -> io::Result<()> {
    std::fs::write(path, value).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("writing '{value}' to {}: {e}", path.display()),
        )
    })
}

/// Waits until a cgroup has no process left (they take a moment to exit after
/// SIGKILL), then removes its directory.
pub(crate) fn remove_dir_when_empty(dir: &std::path::Path) -> io::Result<()> {
    let procs = dir.join("cgroup.procs");
    for _ in 0..500 {
        let left = std::fs::read_to_string(&procs).unwrap_or_default();
        if left.trim().is_empty() {
            break;
        }
        for pid in left.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            let _ = nix::sys::signal::kill(
                Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    match std::fs::remove_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other.map_err(|e| {
            io::Error::new(e.kind(), format!("rmdir {}: {e}", dir.display()))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keyed_files() {
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(1));
        assert_eq!(keyed_value(events, "max"), Some(3));
        assert_eq!(keyed_value(events, "nope"), None);
    }
}
