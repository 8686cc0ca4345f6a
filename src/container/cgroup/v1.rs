//! cgroup v1: a tree per controller (`/sys/fs/cgroup/memory/`,
//! `/sys/fs/cgroup/cpu/`, …).
//!
//! The container gets a directory in each tree it needs, under the cgroup our own
//! process is in there (`/proc/self/cgroup` tells which), so whatever limits the
//! machine already put on us still apply to the container too. v1 allows a cgroup
//! with processes to have children.

use super::common::{
    Cgroup, keyed_value, mount_point_and_type, remove_dir_when_empty, write_file,
};
use super::limits::{CPU_PERIOD_US, Limits, Usage};
use crate::container::steps::Step;
use crate::container::{Error, rootfs};
use nix::unistd::Pid;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The v1 controllers we use: cpuacct counts CPU time (it is often mounted with
/// cpu).
const V1_CONTROLLERS: [&str; 4] = ["memory", "cpu", "cpuacct", "pids"];

pub struct V1Cgroup {
    /// (controller, directory), one per tree; controllers mounted together share
    /// one.
    dirs: Vec<(String, PathBuf)>,
}

/// The mount point of the v1 tree that has `controller`, from `/proc/self/mountinfo`
/// text: its super options (the last field) list the controllers, e.g.
/// `rw,cpu,cpuacct`.
pub fn mount_of(mountinfo: &str, controller: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (mount_point, fstype) = mount_point_and_type(line);
        let options = line.rsplit(' ').next()?;
        (fstype == "cgroup" && options.split(',').any(|o| o == controller))
            .then(|| mount_point.to_string())
    })
}

/// Our own cgroup in the tree of `controller`, from `/proc/self/cgroup`
/// (`4:memory:/a/b`).
pub fn own_cgroup(controller: &str) -> String {
    let text = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines()
        .find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, controllers, path) =
                (parts.next()?, parts.next()?, parts.next()?);
            controllers
                .split(',')
                .any(|c| c == controller)
                .then(|| path.to_string())
        })
        .unwrap_or_else(|| "/".to_string())
}

// ANCHOR: create_v1
impl V1Cgroup {
    /// A folder in the memory, cpu, cpuacct and pids trees, under our own cgroup in
    /// each.
    pub fn planned(name: &str) -> Result<V1Cgroup, Error> {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(Error::cgroup("reading /proc/self/mountinfo"))?;
        let mut dirs: Vec<(String, PathBuf)> = Vec::new();
        for controller in V1_CONTROLLERS {
            let Some(mount) = mount_of(&mountinfo, controller) else {
                continue; // cpuacct is a nicety: without it we report no CPU time
            };
            let own = own_cgroup(controller);
            let dir = PathBuf::from(format!(
                "{mount}{}/{name}",
                own.trim_end_matches('/')
            ));
            if dirs.iter().any(|(_, d)| *d == dir) {
                continue; // co-mounted with one we have already (cpu,cpuacct)
            }
            dirs.push((controller.to_string(), dir));
        }
        Ok(V1Cgroup { dirs })
    }

    /// `mkdir` in each tree.
    fn make_dirs(&self) -> Result<(), Error> {
        for (_, dir) in &self.dirs {
            std::fs::create_dir(dir)
                .map_err(Error::cgroup(format!("mkdir {}", dir.display())))?;
        }
        Ok(())
    }
}
// ANCHOR_END: create_v1

impl V1Cgroup {
    /// The directory of the tree that has `controller`.
    fn dir(&self, controller: &str) -> Option<&PathBuf> {
        self.dirs
            .iter()
            .find(|(c, d)| {
                c == controller || d.join(format!("{controller}.stat")).exists()
            })
            .map(|(_, d)| d)
    }

    fn read(&self, controller: &str, file: &str) -> String {
        self.dir(controller)
            .and_then(|d| std::fs::read_to_string(d.join(file)).ok())
            .unwrap_or_default()
    }
}

// ANCHOR: apply_v1
impl Cgroup for V1Cgroup {
    fn paths(&self) -> Vec<String> {
        self.dirs
            .iter()
            .map(|(_, d)| d.display().to_string())
            .collect()
    }

    // ANCHOR: view_inside_v1
    /// A v1 hierarchy cannot be mounted in a user namespace, and would show the
    /// whole machine's tree: a small tmpfs instead, with the container's own
    /// folder of each controller bound on it, all read-only.
    fn view_inside(&self, dir: &Path) -> Vec<Step> {
        let mut steps = vec![Step::Mount(Box::new(rootfs::tmpfs(dir, "mode=755")))];
        for (controller, host_dir) in &self.dirs {
            steps.push(Step::Bind {
                from: host_dir.clone(),
                to: dir.join(controller),
                read_only: true,
            });
        }
        // The tmpfs itself read-only too, now that its folders are made.
        let read_only = rootfs::tmpfs_read_only_again(dir, "mode=755");
        steps.push(Step::Mount(Box::new(read_only)));
        steps
    }
    // ANCHOR_END: view_inside_v1

    fn make(&self) -> Result<(), Error> {
        self.make_dirs()
    }

    fn apply(&self, limits: &Limits) -> io::Result<Vec<String>> {
        // ANCHOR: exercise
        let mut written = Vec::new();
        let mut write = |controller: &str, file: &str, value: String| {
            let dir = self
                .dir(controller)
                .ok_or_else(|| io::Error::other(format!("no {controller} tree")))?;
            write_file(&dir.join(file), &value)?;
            written.push(format!("{controller}/…/{file} = {value}"));
            io::Result::Ok(())
        };
        if let Some(memory) = limits.memory {
            write("memory", "memory.limit_in_bytes", memory.0.to_string())?;
            // Memory plus swap, where the kernel counts it: the same, so no swapping
            // out.
            if self
                .dir("memory")
                .is_some_and(|d| d.join("memory.memsw.limit_in_bytes").exists())
            {
                write(
                    "memory",
                    "memory.memsw.limit_in_bytes",
                    memory.0.to_string(),
                )?;
            }
        }
        if let Some(cpus) = limits.cpus {
            write("cpu", "cpu.cfs_period_us", CPU_PERIOD_US.to_string())?;
            write("cpu", "cpu.cfs_quota_us", cpus.quota_us().to_string())?;
        }
        if let Some(pids) = limits.pids {
            write("pids", "pids.max", pids.0.to_string())?;
        }
        Ok(written)
        // ANCHOR_END: exercise
    }

    fn attach(&self, pid: Pid) -> io::Result<()> {
        for (_, dir) in &self.dirs {
            write_file(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    fn usage(&self) -> Usage {
        Usage {
            peak_memory: self
                .read("memory", "memory.max_usage_in_bytes")
                .trim()
                .parse()
                .ok(),
            cpu_time: self
                .read("cpuacct", "cpuacct.usage")
                .trim()
                .parse()
                .ok()
                .map(Duration::from_nanos),
            oom_kills: keyed_value(
                &self.read("memory", "memory.oom_control"),
                "oom_kill",
            )
            .unwrap_or(0),
            pids_refused: keyed_value(&self.read("pids", "pids.events"), "max")
                .unwrap_or(0),
        }
    }

    fn remove(&self) -> io::Result<()> {
        let mut first_error = None;
        for (_, dir) in &self.dirs {
            if let Err(e) = remove_dir_when_empty(dir) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
// ANCHOR_END: apply_v1
