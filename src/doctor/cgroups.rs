//! The cgroup version, and the controllers lesson 07 uses: memory, cpu and pids.
//!
//! [`cgroup::detect`] reads which version holds the controllers. Then, as root, the
//! doctor makes a test cgroup where 07 would make its own, writes a limit to it, and
//! removes it again. On cgroup v2 it does not switch controllers on (07 does, in
//! `cgroup.subtree_control`): that would change the machine.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem, RUN_AS_ROOT};
use crate::container::cgroup::{self, CONTROLLERS, Layout, v1};
use std::io;
use std::path::{Path, PathBuf};

pub fn check(report: &Report, findings: &mut Findings, root: bool) {
    report.section("cgroups (lessons 07 and 08)");
    let layout = match cgroup::detect() {
        Ok(layout) => layout,
        Err(error) => {
            let problem = no_controllers(error.to_string());
            report.line(Mark::Bad, &problem.because);
            report.detail(format!("fix: {}", problem.fix));
            findings.record(Need::Cgroups, Outcome::Fails(problem));
            return;
        }
    };
    report.line(Mark::Good, &layout);
    if !root {
        report.line(
            Mark::Skipped,
            "memory, cpu, pids: not tried, making a cgroup needs root",
        );
        findings
            .record(Need::Cgroups, Outcome::not_tried("needs root", RUN_AS_ROOT));
        return;
    }
    let mut outcome = Outcome::Works;
    for controller in CONTROLLERS {
        match try_controller(&layout, controller) {
            Ok(done) => report.line(Mark::Good, format!("{controller:<6} {done}")),
            Err(problem) => {
                report
                    .line(Mark::Bad, format!("{controller:<6} {}", problem.because));
                report.detail(format!("fix: {}", problem.fix));
                outcome = Outcome::Fails(problem);
            }
        }
    }
    findings.record(Need::Cgroups, outcome);
}

fn no_controllers(because: String) -> Problem {
    Problem {
        because,
        fix: "boot with the controller on: look for cgroup_disable= in /proc/cmdline and remove \
              it (on a Raspberry Pi, add cgroup_enable=memory to cmdline.txt), then reboot"
            .to_string(),
    }
}

/// The file 07 writes for this controller's limit, and a value to try.
fn limit_file(layout: &Layout, controller: &str) -> (&'static str, &'static str) {
    let v2 = matches!(layout, Layout::V2 { .. });
    match (controller, v2) {
        ("memory", true) => ("memory.max", "67108864"),
        ("memory", false) => ("memory.limit_in_bytes", "67108864"),
        ("cpu", true) => ("cpu.max", "25000 100000"),
        ("cpu", false) => ("cpu.cfs_quota_us", "25000"),
        _ => ("pids.max", "8"),
    }
}

/// Where 07 would put its cgroup: under the v2 root, or under our own cgroup in the
/// v1 tree.
fn test_cgroup(layout: &Layout, controller: &str) -> Option<PathBuf> {
    let name = format!("nsbox-doctor-{}", std::process::id());
    match layout {
        Layout::V2 { mount } => Some(Path::new(mount).join(name)),
        Layout::V1 { .. } => {
            let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
            let mount = v1::mount_of(&mountinfo, controller)?;
            let own = v1::own_cgroup(controller);
            Some(PathBuf::from(format!(
                "{mount}{}/{name}",
                own.trim_end_matches('/')
            )))
        }
    }
}

const SWITCHED_ON_BY_07: &str = "in cgroup.controllers; 07 switches it on for its own cgroups (a test cgroup was made and \
     removed)";

/// The kernel build option for a controller.
fn config_option(controller: &str) -> &'static str {
    match controller {
        "memory" => "CONFIG_MEMCG",
        "cpu" => "CONFIG_CFS_BANDWIDTH",
        _ => "CONFIG_CGROUP_PIDS",
    }
}

// ANCHOR: try_controller
/// `mkdir` a test cgroup, write a limit to it, `rmdir` it.
fn try_controller(layout: &Layout, controller: &str) -> Result<String, Problem> {
    let dir = test_cgroup(layout, controller).ok_or_else(|| {
        no_controllers(format!("no cgroup tree has the {controller} controller"))
    })?;
    std::fs::create_dir(&dir).map_err(|e| cannot("mkdir", &dir, &e))?;
    let (file, value) = limit_file(layout, controller);
    let path = dir.join(file);
    let written = if path.exists() {
        std::fs::write(&path, value).map(|()| true)
    } else {
        Ok(false)
    };
    let removed = std::fs::remove_dir(&dir);
    let written =
        written.map_err(|e| cannot(&format!("echo {value} >"), &path, &e))?;
    removed.map_err(|e| cannot("rmdir", &dir, &e))?;
    match (written, layout) {
        (true, _) => Ok(format!(
            "a test cgroup took {file} = {value} (made and removed)"
        )),
        // On v2, a controller's files appear once the parent switches it on for its
        // children.
        (false, Layout::V2 { .. }) => Ok(SWITCHED_ON_BY_07.to_string()),
        (false, Layout::V1 { .. }) => Err(Problem {
            because: format!("a test cgroup has no {file}"),
            fix: format!("a kernel built with {}", config_option(controller)),
        }),
    }
}
// ANCHOR_END: try_controller

fn cannot(what: &str, path: &Path, error: &io::Error) -> Problem {
    let read_only = matches!(
        error.raw_os_error(),
        Some(nix::libc::EROFS | nix::libc::EACCES)
    );
    Problem {
        because: format!("{what} {}: {error}", path.display()),
        fix: if read_only {
            "/sys/fs/cgroup is not writable here (inside a container?): run the lessons on the \
             machine itself, or in a virtual machine"
                .to_string()
        } else {
            "see `dmesg` for what the kernel said".to_string()
        },
    }
}
