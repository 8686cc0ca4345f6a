//! cgroups: how much a container may use.
//!
//! Namespaces decide what a process can *see*; control groups decide how much it can
//! *use*. A cgroup is a directory in a special filesystem: make one with `mkdir`,
//! set a limit by writing a file in it, and put a process in it by writing its pid
//! to `cgroup.procs`. Its children go with it, and the kernel counts what they all
//! use together.
//!
//! There are two versions of that filesystem, and students meet both:
//! - **v2** (one "unified" tree at `/sys/fs/cgroup`; Ubuntu 22.04+, Debian 12,
//!   Fedora): `memory.max`, `cpu.max`, `pids.max`; a controller is switched on for a
//!   cgroup's children in its parent's `cgroup.subtree_control`. See [`v2`].
//! - **v1** (a tree per controller: `/sys/fs/cgroup/memory/`, `/sys/fs/cgroup/cpu/`,
//!   …; older systems, and "hybrid" ones where a v2 tree with few controllers sits
//!   beside them): `memory.limit_in_bytes`, `cpu.cfs_quota_us`, `pids.max`. See
//!   [`v1`].
//!
//! [`create`] looks at which version holds the controllers we need, and returns one
//! [`Cgroup`] that hides the difference from the rest of nsbox.

pub mod v1;
pub mod v2;

use super::Error;
use nix::unistd::Pid;
use std::fmt;
use std::io;
use std::str::FromStr;
use std::time::Duration;

/// The controllers a container's cgroup uses: memory and CPU are always counted (for
/// the report at exit), and pids when it is limited.
pub const CONTROLLERS: [&str; 3] = ["memory", "cpu", "pids"];

/// What the student asked to limit.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Limits {
    /// Bytes of memory.
    pub memory: Option<MemorySize>,
    /// CPUs' worth of time, e.g. 0.5 for half of one CPU.
    pub cpus: Option<Cpus>,
    /// Processes (and threads) at once.
    pub pids: Option<PidCount>,
}

/// `--memory 64M`: a number of bytes, with an optional K, M or G (powers of 1024).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemorySize(pub u64);

/// The smallest memory limit we accept: less and the command cannot even start.
pub const MIN_MEMORY: u64 = 4 << 20;

impl FromStr for MemorySize {
    type Err = String;

    fn from_str(text: &str) -> Result<MemorySize, String> {
        let usage = || format!("'{text}' is not a size like 64M, 512K or 1G");
        let trimmed = text.trim_end_matches(['B', 'b']).trim_end_matches('i');
        let (digits, unit) =
            match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
                Some((i, _)) => trimmed.split_at(i),
                None => (trimmed, ""),
            };
        let number: u64 = digits.parse().map_err(|_| usage())?;
        let scale: u64 = match unit.to_ascii_uppercase().as_str() {
            "" => 1,
            "K" => 1 << 10,
            "M" => 1 << 20,
            "G" => 1 << 30,
            _ => return Err(usage()),
        };
        let bytes = number.checked_mul(scale).ok_or_else(usage)?;
        if bytes < MIN_MEMORY {
            return Err(format!(
                "'{text}' is too little memory: give the container at least 4M"
            ));
        }
        Ok(MemorySize(bytes))
    }
}

impl fmt::Display for MemorySize {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", mebibytes(self.0))
    }
}

/// "64 MiB", "1.5 MiB".
pub fn mebibytes(bytes: u64) -> String {
    let mib = bytes as f64 / (1 << 20) as f64;
    if mib.fract() == 0.0 {
        format!("{mib:.0} MiB")
    } else {
        format!("{mib:.1} MiB")
    }
}

/// `--cpus 0.5`: a share of CPU time, as a number of CPUs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cpus(pub f64);

/// The scheduler's period for CPU quotas, in microseconds (its default).
pub const CPU_PERIOD_US: u64 = 100_000;

impl Cpus {
    /// The time the container may run in each period: `quota / period = cpus`.
    pub fn quota_us(self) -> u64 {
        (self.0 * CPU_PERIOD_US as f64).round() as u64
    }
}

impl FromStr for Cpus {
    type Err = String;

    fn from_str(text: &str) -> Result<Cpus, String> {
        let cpus: f64 = text.parse().map_err(|_| {
            format!("'{text}' is not a number of CPUs like 0.5 or 2")
        })?;
        let available =
            std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // The kernel takes quotas of 1 ms and more: 0.01 of a 100 ms period.
        if !(0.01..=available).contains(&cpus) {
            return Err(format!(
                "--cpus {text}: give a number from 0.01 to {available} \
                 (the CPUs this machine has)"
            ));
        }
        Ok(Cpus(cpus))
    }
}

/// `--pids 8`: at least one process, the command itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidCount(pub u64);

impl FromStr for PidCount {
    type Err = String;

    fn from_str(text: &str) -> Result<PidCount, String> {
        match text.parse::<u64>() {
            Ok(0) => Err(
                "--pids 0 would not even let the command start: give 1 or more"
                    .into(),
            ),
            Ok(n) => Ok(PidCount(n)),
            Err(_) => Err(format!("'{text}' is not a number of processes")),
        }
    }
}

/// What the container used, as the kernel counted it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Usage {
    /// The most memory it used at once, in bytes.
    pub peak_memory: Option<u64>,
    /// The CPU time all its processes used.
    pub cpu_time: Option<Duration>,
    /// How many of its processes the OOM killer killed.
    pub oom_kills: u64,
    /// How many times a fork failed because of `pids.max`.
    pub pids_refused: u64,
}

// ANCHOR: cgroup_trait
/// A container's cgroup, whichever version it lives in.
pub trait Cgroup {
    /// Its directories, for the narration.
    fn paths(&self) -> Vec<String>;
    /// Writes the limits; returns what it wrote, one `file = value` per line.
    fn apply(&self, limits: &Limits) -> io::Result<Vec<String>>;
    /// Moves a process (and so, later, its children) into the cgroup.
    fn attach(&self, pid: Pid) -> io::Result<()>;
    /// What the processes in it used so far.
    fn usage(&self) -> Usage;
    /// Kills whatever is left in it and removes its directories.
    fn remove(&self) -> io::Result<()>;
}
// ANCHOR_END: cgroup_trait

/// Which version holds the controllers, on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Layout {
    /// All controllers we need are in the v2 tree mounted here.
    V2 { mount: String },
    /// They are in v1 trees (with, maybe, a v2 tree beside them: "hybrid").
    V1 { hybrid: bool },
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Layout::V2 { mount } => write!(f, "cgroup v2 (unified, at {mount})"),
            Layout::V1 { hybrid: false } => write!(f, "cgroup v1"),
            Layout::V1 { hybrid: true } => {
                write!(
                    f,
                    "cgroup v1 (hybrid: the v2 tree here lacks the memory, cpu and pids \
                     controllers)"
                )
            }
        }
    }
}

// ANCHOR: detect
/// Reads `/proc/self/mountinfo` for cgroup filesystems and picks the version whose
/// trees have all of [`CONTROLLERS`].
pub fn detect() -> Result<Layout, Error> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| Error::Cgroup(format!("/proc/self/mountinfo: {e}")))?;
    let mut v2_mount = None;
    for line in mountinfo.lines() {
        let (mount_point, fstype) = mount_point_and_type(line);
        if fstype == "cgroup2" && v2_mount.is_none() {
            v2_mount = Some(mount_point.to_string());
        }
    }
    if let Some(mount) = &v2_mount {
        let available =
            std::fs::read_to_string(format!("{mount}/cgroup.controllers"))
                .unwrap_or_default();
        let available: Vec<&str> = available.split_whitespace().collect();
        if CONTROLLERS.iter().all(|c| available.contains(c)) {
            return Ok(Layout::V2 {
                mount: mount.clone(),
            });
        }
    }
    let missing: Vec<&str> = CONTROLLERS
        .iter()
        .copied()
        .filter(|c| v1::mount_of(&mountinfo, c).is_none())
        .collect();
    if missing.is_empty() {
        return Ok(Layout::V1 {
            hybrid: v2_mount.is_some(),
        });
    }
    Err(Error::Cgroup(format!(
        "no cgroup tree here has the {} controller(s): is /sys/fs/cgroup mounted?",
        missing.join(", ")
    )))
}
// ANCHOR_END: detect

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

/// Makes the container's cgroup, named after our pid, in the version this machine
/// uses.
pub fn create(layout: &Layout) -> Result<Box<dyn Cgroup>, Error> {
    let name = format!("nsbox-{}", std::process::id());
    let cgroup: Box<dyn Cgroup> = match layout {
        Layout::V2 { mount } => Box::new(v2::V2Cgroup::create(mount, &name)?),
        Layout::V1 { .. } => Box::new(v1::V1Cgroup::create(&name)?),
    };
    Ok(cgroup)
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
    fn sizes() {
        assert_eq!("64M".parse::<MemorySize>().unwrap().0, 64 << 20);
        assert_eq!("64MiB".parse::<MemorySize>().unwrap().0, 64 << 20);
        assert_eq!("1g".parse::<MemorySize>().unwrap().0, 1 << 30);
        assert_eq!("8388608".parse::<MemorySize>().unwrap().0, 8 << 20);
        for bad in ["0", "lots", "1M", "-5M", "12X", ""] {
            assert!(bad.parse::<MemorySize>().is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn cpus_and_pids() {
        assert_eq!("0.25".parse::<Cpus>().unwrap().quota_us(), 25_000);
        for bad in ["-1", "0", "0.001", "many", "100000"] {
            assert!(bad.parse::<Cpus>().is_err(), "{bad} was accepted");
        }
        assert!("0".parse::<PidCount>().is_err());
        assert_eq!("8".parse::<PidCount>().unwrap().0, 8);
    }

    #[test]
    fn reads_keyed_files() {
        let events = "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n";
        assert_eq!(keyed_value(events, "oom_kill"), Some(1));
        assert_eq!(keyed_value(events, "max"), Some(3));
        assert_eq!(keyed_value(events, "nope"), None);
    }
}
