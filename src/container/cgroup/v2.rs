//! cgroup v2: one tree. Our cgroups live in `/sys/fs/cgroup/nsbox/nsbox-<pid>`.
//!
//! Surprise: in v2, a cgroup with processes in it cannot hand controllers down to
//! child cgroups ("no internal processes"), except the root. Our own process sits in
//! some cgroup with others (a login session, a service), so we do not nest under it:
//! we make `nsbox/` under the root, which holds no process, switch the controllers
//! on for its children, and put each container in a child of it.

use super::common::{
    CONTROLLERS, Cgroup, keyed_value, remove_dir_when_empty, write_file,
};
use super::limits::{CPU_PERIOD_US, Limits, Usage};
use crate::container::steps::Step;
use crate::container::{Error, rootfs};
use nix::unistd::Pid;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub struct V2Cgroup {
    dir: PathBuf,
    parent: PathBuf,
}

// ANCHOR: create_v2
impl V2Cgroup {
    /// `/sys/fs/cgroup/nsbox/NAME`.
    pub fn planned(mount: &str, name: &str) -> V2Cgroup {
        let parent = Path::new(mount).join("nsbox");
        let dir = parent.join(name);
        V2Cgroup { dir, parent }
    }

    /// `mkdir`, after switching on the controllers on the way down.
    fn make_dirs(&self) -> Result<(), Error> {
        let root = self.parent.parent().expect("nsbox/ is under the mount");
        let mkdir = format!("mkdir {}", self.dir.display());
        let enabling = "switching on the controllers";
        // Another run may remove an empty `nsbox/` at any moment between our steps
        // (its last container leaving): start again then.
        for _ in 0..10 {
            enable_controllers(root).map_err(Error::cgroup(enabling))?;
            let parent = make_dir(&self.parent)
                .and_then(|()| enable_controllers(&self.parent));
            match parent {
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                other => other.map_err(Error::cgroup(enabling))?,
            }
            match std::fs::create_dir(&self.dir) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::cgroup(mkdir)(e)),
            }
        }
        Err(Error::cgroup(mkdir)(io::Error::other(
            "its parent kept vanishing",
        )))
    }
}
// ANCHOR_END: create_v2

/// Writes `+memory +cpu +pids` to `cgroup.subtree_control` unless they are on
/// already.
fn enable_controllers(dir: &Path) -> io::Result<()> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&file)?;
    let missing: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| !enabled.split_whitespace().any(|e| e == **c))
        .map(|c| format!("+{c}"))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    write_file(&file, &missing.join(" "))
}

fn make_dir(dir: &Path) -> io::Result<()> {
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        other => other.map_err(|e| {
            io::Error::new(e.kind(), format!("mkdir {}: {e}", dir.display()))
        }),
    }
}

impl V2Cgroup {
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap_or_default()
    }
}

// ANCHOR: apply_v2
impl Cgroup for V2Cgroup {
    fn paths(&self) -> Vec<String> {
        vec![self.dir.display().to_string()]
    }

    // ANCHOR: view_inside_v2
    /// A cgroup2 mounted in a cgroup namespace has the namespace's root as its
    /// root: the container's own cgroup. Read-only: its limits are not its own to
    /// change.
    fn view_inside(&self, dir: &Path) -> Vec<Step> {
        vec![Step::Mount(Box::new(rootfs::cgroup2_read_only(dir)))]
    }
    // ANCHOR_END: view_inside_v2

    fn make(&self) -> Result<(), Error> {
        self.make_dirs()
    }

    fn apply(&self, limits: &Limits) -> io::Result<Vec<String>> {
        // ANCHOR: exercise
        let mut written = Vec::new();
        let mut write = |file: &str, value: String| {
            write_file(&self.dir.join(file), &value)?;
            written.push(format!("{file} = {value}"));
            io::Result::Ok(())
        };
        if let Some(memory) = limits.memory {
            write("memory.max", memory.0.to_string())?;
            // Without this, a machine with swap would swap the container out instead
            // of stopping it at the limit.
            if self.dir.join("memory.swap.max").exists() {
                write("memory.swap.max", "0".into())?;
            }
        }
        if let Some(cpus) = limits.cpus {
            write("cpu.max", format!("{} {}", cpus.quota_us(), CPU_PERIOD_US))?;
        }
        if let Some(pids) = limits.pids {
            write("pids.max", pids.0.to_string())?;
        }
        Ok(written)
        // ANCHOR_END: exercise
    }

    fn attach(&self, pid: Pid) -> io::Result<()> {
        write_file(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    fn usage(&self) -> Usage {
        Usage {
            // memory.peak exists since Linux 5.19.
            peak_memory: self.read("memory.peak").trim().parse().ok(),
            cpu_time: keyed_value(&self.read("cpu.stat"), "usage_usec")
                .map(Duration::from_micros),
            oom_kills: keyed_value(&self.read("memory.events"), "oom_kill")
                .unwrap_or(0),
            pids_refused: keyed_value(&self.read("pids.events"), "max").unwrap_or(0),
        }
    }

    fn remove(&self) -> io::Result<()> {
        // cgroup.kill (Linux 5.14+) kills every process in the cgroup at once.
        let kill = self.dir.join("cgroup.kill");
        if kill.exists() {
            let _ = std::fs::write(&kill, "1");
        }
        remove_dir_when_empty(&self.dir)?;
        // The last container out removes nsbox/ too; another one may still use it.
        let _ = std::fs::remove_dir(&self.parent);
        Ok(())
    }
}
// ANCHOR_END: apply_v2
