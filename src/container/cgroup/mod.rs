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

pub mod common;
pub mod limits;
pub mod v1;
pub mod v2;

pub use common::{CONTROLLERS, Cgroup};
pub use limits::{
    CPU_PERIOD_US, Cpus, Limits, MIN_MEMORY, MemorySize, PidCount, Usage, mebibytes,
};

use super::{ContainerId, Error};
use common::mount_point_and_type;
use std::fmt;

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
        .map_err(Error::cgroup("reading /proc/self/mountinfo"))?;
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
    Err(Error::NoCgroupControllers {
        missing: missing.join(", "),
    })
}
// ANCHOR_END: detect

/// The container's cgroup, `nsbox-<id>`, in the version this machine uses: where
/// its directories go. [`Cgroup::make`] makes them.
pub fn planned(layout: &Layout, id: &ContainerId) -> Result<Box<dyn Cgroup>, Error> {
    let name = id.cgroup_name();
    let cgroup: Box<dyn Cgroup> = match layout {
        Layout::V2 { mount } => Box::new(v2::V2Cgroup::planned(mount, &name)),
        Layout::V1 { .. } => Box::new(v1::V1Cgroup::planned(&name)?),
    };
    Ok(cgroup)
}

// ANCHOR: remove_recorded
/// Removes a cgroup known only by its directories (read from a state record, after
/// the process that made it is gone): kills what is left in each, removes it, and
/// the v2 `nsbox/` folder above it if no other container uses it.
pub fn remove_recorded(dirs: &[std::path::PathBuf]) -> std::io::Result<()> {
    let mut first_error = None;
    for dir in dirs {
        // cgroup.kill (v2, Linux 5.14+) kills every process in the cgroup at once.
        let kill = dir.join("cgroup.kill");
        if kill.exists() {
            let _ = std::fs::write(&kill, "1");
        }
        if let Err(e) = common::remove_dir_when_empty(dir) {
            first_error.get_or_insert(e);
        }
        if let Some(parent) = dir.parent().filter(|p| p.ends_with("nsbox")) {
            let _ = std::fs::remove_dir(parent);
        }
    }
    first_error.map_or(Ok(()), Err)
}
// ANCHOR_END: remove_recorded
