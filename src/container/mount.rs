//! The mount namespace: a private copy of the mount table, and a `/proc` of the
//! container's own.
//!
//! `clone(CLONE_NEWNS)` gives the child a *copy* of our mount table. But a copy of a
//! *shared* mount stays in the same peer group as the original, and mounts made
//! under it propagate both ways. systemd mounts `/` shared, so on most machines a
//! container that mounts `/proc` without first making its tree private mounts it on
//! the host too: the host's `ps` then lists the container's processes, and the
//! host's `/proc` breaks when the container's procfs goes away. So the first thing
//! the child does in its new mount namespace is choose the propagation of its whole
//! tree, and `/proc` is always made private before anything is mounted on it.

use nix::mount::{MsFlags, mount};
use std::fmt;
use std::str::FromStr;

// ANCHOR: propagation
/// How mount and unmount events travel between this mount and its copies
/// (`mount(8)`, "shared subtree operations").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Propagation {
    /// Events go both ways between the container and the host.
    Shared,
    /// Events come in from the host, none go out.
    Slave,
    /// No events either way. The default, and what container runtimes use.
    #[default]
    Private,
    /// Private, and the mount cannot be bind-mounted elsewhere either.
    Unbindable,
}
// ANCHOR_END: propagation

impl Propagation {
    pub const ALL: [Propagation; 4] = [
        Propagation::Shared,
        Propagation::Slave,
        Propagation::Private,
        Propagation::Unbindable,
    ];

    /// The `mount(2)` flag that sets it.
    pub fn flag(self) -> MsFlags {
        match self {
            Propagation::Shared => MsFlags::MS_SHARED,
            Propagation::Slave => MsFlags::MS_SLAVE,
            Propagation::Private => MsFlags::MS_PRIVATE,
            Propagation::Unbindable => MsFlags::MS_UNBINDABLE,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Propagation::Shared => "shared",
            Propagation::Slave => "slave",
            Propagation::Private => "private",
            Propagation::Unbindable => "unbindable",
        }
    }
}

impl fmt::Display for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Propagation {
    type Err = String;

    fn from_str(text: &str) -> Result<Propagation, String> {
        Propagation::ALL
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| {
                format!("unknown propagation '{text}': use shared, slave, private or unbindable")
            })
    }
}

// ANCHOR: set_propagation
/// Runs in the child: gives every mount in its tree the chosen propagation. This is
/// `mount --make-r<mode> /`: no source, no filesystem type, only the flags.
pub fn set_propagation(mode: Propagation) -> nix::Result<()> {
    mount_flags("/", MsFlags::MS_REC | mode.flag())
}
// ANCHOR_END: set_propagation

// ANCHOR: mount_proc
/// Runs in the child: mounts a new procfs on `/proc`. A procfs shows the processes
/// of the PID namespace of the process that mounts it, so `ps` inside now lists only
/// the container's. `/proc` is made private first, so this mount never propagates to
/// the host, whatever propagation the rest of the tree has.
pub fn mount_proc() -> nix::Result<()> {
    mount_flags("/proc", MsFlags::MS_REC | MsFlags::MS_PRIVATE)?;
    // ANCHOR: exercise
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mount(Some("proc"), "/proc", Some("proc"), flags, None::<&str>)
    // ANCHOR_END: exercise
}
// ANCHOR_END: mount_proc

/// `mount(2)` that only changes flags of an existing mount.
fn mount_flags(target: &str, flags: MsFlags) -> nix::Result<()> {
    mount(None::<&str>, target, None::<&str>, flags, None::<&str>)
}
