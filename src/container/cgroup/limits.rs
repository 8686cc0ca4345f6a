//! The limits a container may be given, and what it used: plain numbers, checked
//! and read by [`super::v1`] and [`super::v2`].

use std::fmt;
use std::time::Duration;

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

/// A number of bytes of memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemorySize(pub u64);

/// The smallest memory limit we accept: less and the command cannot even start.
pub const MIN_MEMORY: u64 = 4 << 20;

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

/// A share of CPU time, as a number of CPUs (0.5: half of one).
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

/// A number of processes: at least one, the command itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PidCount(pub u64);

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
