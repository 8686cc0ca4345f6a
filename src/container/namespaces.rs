//! The eight namespace types, and how to see which ones a process has.
//!
//! Every process has a link per namespace type in `/proc/<pid>/ns/`. The link's
//! inode number names the namespace: two processes with the same number share it.

use nix::sched::CloneFlags;
use nix::unistd::Pid;
use procfs::process::Process;
use std::ffi::OsStr;

/// A namespace type, in the order `/proc/<pid>/ns/` lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Namespace {
    Cgroup,
    Ipc,
    Mount,
    Net,
    Pid,
    Time,
    User,
    Uts,
}

impl Namespace {
    /// All eight types.
    pub const ALL: [Namespace; 8] = [
        Namespace::Cgroup,
        Namespace::Ipc,
        Namespace::Mount,
        Namespace::Net,
        Namespace::Pid,
        Namespace::Time,
        Namespace::User,
        Namespace::Uts,
    ];

    /// The name of its link in `/proc/<pid>/ns/`.
    pub fn proc_name(self) -> &'static str {
        match self {
            Namespace::Cgroup => "cgroup",
            Namespace::Ipc => "ipc",
            Namespace::Mount => "mnt",
            Namespace::Net => "net",
            Namespace::Pid => "pid",
            Namespace::Time => "time",
            Namespace::User => "user",
            Namespace::Uts => "uts",
        }
    }

    /// Its name in a sentence: "a new UTS namespace".
    pub fn display_name(self) -> &'static str {
        match self {
            Namespace::Cgroup => "cgroup",
            Namespace::Ipc => "IPC",
            Namespace::Mount => "mount",
            Namespace::Net => "network",
            Namespace::Pid => "PID",
            Namespace::Time => "time",
            Namespace::User => "user",
            Namespace::Uts => "UTS",
        }
    }

    // ANCHOR: clone_flag
    /// The `clone(2)` flag that asks for a new namespace of this type.
    pub fn clone_flag(self) -> CloneFlags {
        match self {
            Namespace::Cgroup => CloneFlags::CLONE_NEWCGROUP,
            Namespace::Ipc => CloneFlags::CLONE_NEWIPC,
            Namespace::Mount => CloneFlags::CLONE_NEWNS,
            Namespace::Net => CloneFlags::CLONE_NEWNET,
            Namespace::Pid => CloneFlags::CLONE_NEWPID,
            Namespace::User => CloneFlags::CLONE_NEWUSER,
            Namespace::Uts => CloneFlags::CLONE_NEWUTS,
            // Surprise: CLONE_NEWTIME (0x80) shares its bit with the exit signal
            // that clone(2) takes in its low byte, so clone(2) cannot ask for it.
            // Only unshare(2) and clone3(2) can make a time namespace; no lesson
            // needs one.
            Namespace::Time => CloneFlags::empty(),
        }
    }
    // ANCHOR_END: clone_flag

    // ANCHOR: made_by_clone
    /// Do we ask `clone(2)` for it? Not a cgroup namespace: its root is the cgroup
    /// the process is in when the namespace is made, and at clone time the child is
    /// still in *our* cgroup. So the child makes it itself, with
    /// `unshare(CLONE_NEWCGROUP)`, after the parent has moved it into its own cgroup
    /// (see `spawn::prepare`).
    pub fn made_by_clone(self) -> bool {
        self != Namespace::Cgroup
    }
    // ANCHOR_END: made_by_clone

    /// The flag's name, as the man page spells it.
    pub fn flag_name(self) -> &'static str {
        match self {
            Namespace::Cgroup => "CLONE_NEWCGROUP",
            Namespace::Ipc => "CLONE_NEWIPC",
            Namespace::Mount => "CLONE_NEWNS",
            Namespace::Net => "CLONE_NEWNET",
            Namespace::Pid => "CLONE_NEWPID",
            Namespace::Time => "CLONE_NEWTIME",
            Namespace::User => "CLONE_NEWUSER",
            Namespace::Uts => "CLONE_NEWUTS",
        }
    }
}

/// One row of the comparison: a namespace type, ours and the child's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespacePair {
    pub kind: Namespace,
    /// The inode number of our namespace of this type.
    pub ours: u64,
    /// The inode number of the child's.
    pub child: u64,
}

impl NamespacePair {
    /// Did the child get a namespace of its own?
    pub fn is_new(&self) -> bool {
        self.ours != self.child
    }
}

// ANCHOR: compare_namespaces
/// Reads `/proc/self/ns/*` and `/proc/<child>/ns/*` and pairs them up by type.
pub fn compare_with_child(child: Pid) -> procfs::ProcResult<Vec<NamespacePair>> {
    let ours = Process::myself()?.namespaces()?;
    let theirs = Process::new(child.as_raw())?.namespaces()?;
    let inode = |set: &procfs::process::Namespaces, kind: Namespace| {
        set.0
            .get(OsStr::new(kind.proc_name()))
            .map(|ns| ns.identifier)
    };
    let pairs = Namespace::ALL
        .iter()
        .filter_map(|&kind| {
            Some(NamespacePair {
                kind,
                ours: inode(&ours, kind)?,
                child: inode(&theirs, kind)?,
            })
        })
        .collect();
    Ok(pairs)
}
// ANCHOR_END: compare_namespaces
