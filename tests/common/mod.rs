//! What every proof needs: root, the binaries, a guard that checks the host is left
//! as it was, and transcripts the book can show. One file per concern; the tests
//! use the names re-exported here (`use common::*`).
// Each test file uses a different part of this module (and of what it re-exports).
#![allow(dead_code, unused_imports)]

use nsbox::lessons;

pub mod binaries;
pub mod engine;
pub mod host_guard;
pub mod links;
pub mod proc;
pub mod process;
pub mod registry;
pub use registry::free_port;
pub mod repository;
pub mod run;
pub mod running;
pub mod state;
pub mod transcript;
pub mod users;

pub use binaries::bin;
pub use engine::{
    Holdings, Nsbox, Session, alive, fetch, parent_of, probe_volumes, wait_for,
};
pub use host_guard::{HostGuard, host, host_exclusive};
pub use links::{GONE_WITHIN, link_names, veths, wait_until_gone};
pub use proc::{
    cgroup_dirs_of, host_hostname, host_pids, ns_inode, pids_in_namespace,
    status_field,
};
pub use process::{RUN_LIMIT, Started, read_in_background};
pub use repository::give_to_repository_owner;
pub use run::{
    Run, cgroup_version, host_command, run, run_command, run_merged, run_with_input,
};
pub use running::{Running, Source, container_pid_in};
pub use transcript::{Transcript, assert_transcript, normalisations};
pub use users::{TempDir, UNPRIVILEGED, invoking_user, run_as, run_as_with_env};

/// The lesson binaries, in the course's order: the names of the catalog's lessons
/// (`nsbox::lessons`).
pub const LESSONS: [&str; 8] = [
    lessons::UTS.name,
    lessons::IPC.name,
    lessons::PID.name,
    lessons::MNT.name,
    lessons::USER.name,
    lessons::NET.name,
    lessons::CGROUPS.name,
    lessons::ROOTFS.name,
];

pub fn probe() -> &'static str {
    bin("nsbox-probe")
}

/// Fails the test, saying how to run it, unless we are root. A proof that did not
/// run must never look like one that passed.
pub fn require_root() {
    if !nix::unistd::geteuid().is_root() {
        panic!(
            "\n\nthis test runs the lessons for real, which needs root (it creates namespaces).\n\
             Run the tests with `cargo test` from the repository: .cargo/config.toml runs them\n\
             through sudo when you are not root. Or run them as root: `sudo -E cargo test`.\n"
        );
    }
}
