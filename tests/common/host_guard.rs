//! The host-state guard: what the host holds before a test and after it, and no
//! process left alive.

use super::process;
use super::{give_to_repository_owner, host_hostname, require_root};
use rstest::fixture;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What the host looks like, in the parts a lesson could spoil.
#[derive(Debug, PartialEq)]
struct HostState {
    hostname: String,
    sysv_ipc: String,
    sysv_objects: BTreeSet<(&'static str, String)>,
    mounts: String,
}

impl HostState {
    fn read() -> HostState {
        let sysv = ["msg", "sem", "shm"]
            .iter()
            .map(|kind| {
                std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap()
            })
            .collect::<Vec<_>>()
            .join("\n");
        HostState {
            hostname: host_hostname(),
            sysv_ipc: sysv,
            sysv_objects: sysv_ipc_objects(),
            mounts: mount_points(),
        }
    }
}

/// The host's mount points (mount ids change on every mount, so they are left out).
fn mount_points() -> String {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(|line| line.split(' ').skip(3).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Checks, when the test ends, that the host is as it was and that nothing the test
/// started is still alive.
///
/// Which processes are the test's is read from the kernel, not from what the lessons
/// say: every program a test starts leads a process group of its own (see
/// [`process`]), and everything it forks, the container included, stays in that
/// group. When the test ends, no process of those groups may be alive, and none may
/// have been found alive when its program ended by itself.
///
/// Tests that change host state on purpose (they create an IPC object on the host,
/// say) take the lock exclusively; all others share it. The lock is a file in
/// Cargo's test scratch dir, so it works across test binaries run in parallel
/// (`cargo nextest`) too.
pub struct HostGuard {
    before: HostState,
    /// Where the thread's lists of started groups and leftovers stood when the guard
    /// was made.
    since: process::Mark,
    /// The test asked for the problems itself ([`HostGuard::into_problems`]).
    answered: bool,
    _lock: File,
}

#[fixture]
pub fn host() -> HostGuard {
    HostGuard::new(false)
}

#[fixture]
pub fn host_exclusive() -> HostGuard {
    HostGuard::new(true)
}

impl HostGuard {
    fn new(exclusive: bool) -> HostGuard {
        require_root();
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("host-state.lock");
        let lock = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        give_to_repository_owner(&path);
        let mode = if exclusive {
            nix::fcntl::FlockArg::LockExclusive
        } else {
            nix::fcntl::FlockArg::LockShared
        };
        #[allow(deprecated)]
        // nix's Flock wrapper takes the file by value; this is simpler here
        nix::fcntl::flock(std::os::fd::AsRawFd::as_raw_fd(&lock), mode).unwrap();
        HostGuard {
            before: HostState::read(),
            since: process::mark(),
            answered: false,
            _lock: lock,
        }
    }

    /// The problems, for a test that proves the guard finds them: the guard then
    /// cleans up as usual but fails nothing itself.
    pub fn into_problems(mut self) -> Vec<String> {
        self.answered = true;
        self.problems()
    }

    /// What is wrong with the host now, compared with when the guard was made.
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let now = HostState::read();
        if now.hostname != self.before.hostname {
            problems.push(format!(
                "the host's hostname changed: {:?} -> {:?}",
                self.before.hostname, now.hostname
            ));
        }
        if now.sysv_ipc != self.before.sysv_ipc {
            problems.push(format!(
                "the host's System V IPC objects changed:\n{}\n->\n{}",
                self.before.sysv_ipc, now.sysv_ipc
            ));
        }
        if now.mounts != self.before.mounts {
            problems.push("the host's mount table changed".to_string());
        }
        for left in process::left_behind_since(self.since) {
            problems.push(format!("a process outlived its program: {left}"));
        }
        // A lesson's container is named after the lesson's pid, which leads its
        // process group: its veth's host end is `nsb<pid>`. The kernel deletes the
        // pair a moment after the container ends (the drop waits for it).
        let veths = super::links::veths();
        let started = process::started_since(self.since);
        for group in &started {
            let host_end = format!("nsb{group}");
            if veths.contains(&host_end) {
                problems.push(format!(
                    "the veth {host_end} of process group {group} is still here"
                ));
            }
        }
        // A reaped program's group was empty when it was reaped (`Started::stop`);
        // its id may since belong to another test's program.
        for group in process::not_reaped(started) {
            for p in process::group_members(group) {
                problems.push(format!(
                    "pid {} ({}) of process group {group} is still alive",
                    p.pid, p.command
                ));
            }
        }
        problems
    }
}

/// The System V IPC objects on the host, as (`ipcrm` option, id).
fn sysv_ipc_objects() -> BTreeSet<(&'static str, String)> {
    let mut objects = BTreeSet::new();
    for (kind, option) in [("msg", "-q"), ("sem", "-s"), ("shm", "-m")] {
        let table =
            std::fs::read_to_string(format!("/proc/sysvipc/{kind}")).unwrap();
        // Columns: key, id, …; the first line is the header.
        for line in table.lines().skip(1) {
            if let Some(id) = line.split_whitespace().nth(1) {
                objects.insert((option, id.to_string()));
            }
        }
    }
    objects
}

impl HostGuard {
    /// Removes the IPC objects that appeared on the host during the test. Only a
    /// lesson that failed to isolate makes them (the starting version of exercise
    /// 02, say), and a failed proof must still leave the host as it was. Tests that
    /// make host objects on purpose hold the lock exclusively and remove their own
    /// before the guard is dropped.
    fn remove_new_ipc_objects(&self) {
        for (option, id) in sysv_ipc_objects().difference(&self.before.sysv_objects)
        {
            let _ = Command::new("ipcrm").args([*option, id.as_str()]).status();
        }
    }
}

impl HostGuard {
    /// Kills what is left of the groups the test started (a failed test included),
    /// and deletes the containers the killed lessons left.
    fn kill_started_groups(&self) {
        let groups = process::started_since(self.since);
        for group in process::not_reaped(groups.clone()) {
            let _ =
                nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
        super::state::delete_left_records(&groups);
    }
}

impl Drop for HostGuard {
    fn drop(&mut self) {
        if std::thread::panicking() || self.answered {
            self.kill_started_groups();
            self.remove_new_ipc_objects();
            return;
        }
        // Processes the kernel is tearing down can take a moment to vanish from
        // /proc, and a dead container's veth pair from the host.
        let deadline = Instant::now() + super::links::GONE_WITHIN;
        let mut problems = self.problems();
        while !problems.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            problems = self.problems();
        }
        self.kill_started_groups();
        self.remove_new_ipc_objects();
        assert!(
            problems.is_empty(),
            "the test left the host changed:\n{}",
            problems.join("\n")
        );
    }
}
