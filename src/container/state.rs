//! A container's state directory and record: `<root>/<id>/state.json`.
//!
//! The record holds what the OCI runtime spec's `state` operation reports (its
//! version, the id, the status, the pid, the bundle, annotations), and what
//! `delete` needs to clean up after the container from the record alone: its
//! cgroup's directories, its veth, its address lease, the tag of its NAT rules. It
//! is written when there is something new in it: a thing made on the host, the
//! process, a change of status. So a starter killed at any moment leaves a record
//! that says what exists. A folder with no record yet is a container being created
//! that owns nothing so far.
//!
//! The root (default `/run/nsbox`, a `tmpfs` that a reboot empties, as the
//! containers are then gone too) also holds the network's shared files, in
//! `<root>/net/`.

use super::security::Recorded;
use super::{ContainerId, Error, proc_file};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The root of the state directories when the caller picks none.
pub const DEFAULT_ROOT: &str = "/run/nsbox";

/// The version of the OCI runtime spec whose `state` the record follows.
pub const OCI_VERSION: &str = "1.0.2";

const RECORD: &str = "state.json";

// ANCHOR: status
/// Where a container is in its life (the OCI runtime spec's four statuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// `create` is making it.
    Creating,
    /// Made, its process waiting for `start`.
    Created,
    /// Its command runs.
    Running,
    /// Its process has ended. Never written: whoever reads the record sees that
    /// the process is gone ([`State::refreshed`]).
    Stopped,
}
// ANCHOR_END: status

/// The state record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    /// The container's process as the host sees it (0 before it exists).
    pub pid: i32,
    /// The OCI bundle's directory (none yet: nsbox has no bundles so far).
    pub bundle: String,
    pub annotations: BTreeMap<String, String>,
    /// What `delete` needs to undo (nsbox's own; the spec allows more fields).
    pub cleanup: Cleanup,
    /// The defences the container's processes have, so `exec` gives its command
    /// the same (nsbox's own).
    #[serde(default, skip_serializing_if = "Recorded::is_off")]
    pub security: Recorded,
}

/// What exists on the host because of the container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Cleanup {
    /// When the process started, in clock ticks after boot (`/proc/PID/stat`), so
    /// that a pid the kernel has reused is not taken for the container.
    pub start_time: u64,
    /// The cgroup's directories (one on v2, one per controller on v1).
    pub cgroup: Vec<PathBuf>,
    pub network: Option<NetworkRecord>,
    /// Lesson 08's `--keep`: where the container's own layer (what it wrote) goes
    /// instead of away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_layer: Option<PathBuf>,
    /// The bind mount that keeps the network namespace (`/run/netns/nsbox-<id>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub netns_mount: Option<PathBuf>,
    /// `--userns=auto`: the first host uid of the slice of ids it holds (see
    /// `id_slices`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_slice: Option<u32>,
}

/// The container's network: its lease, its veth and its NAT rules.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkRecord {
    pub bridge: String,
    pub subnet: String,
    pub address: Ipv4Addr,
    pub host_end: String,
    /// The veth pair is ours: `create` made it. (Until then a link of that name
    /// would be another's, which `delete` must leave alone.)
    #[serde(default)]
    pub veth_made: bool,
    /// Whether NAT rules (masquerade or published ports) were asked for.
    pub nat: bool,
    /// The comment on its NAT rules.
    pub nat_tag: String,
    pub remove_bridge: bool,
}

impl State {
    /// The record of a container `create` is starting to make.
    pub fn new(id: &ContainerId) -> State {
        State {
            oci_version: OCI_VERSION.to_string(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            bundle: String::new(),
            annotations: BTreeMap::new(),
            cleanup: Cleanup::default(),
            security: Recorded::default(),
        }
    }

    /// Is the container's process still there (and not a zombie)?
    pub fn process_alive(&self) -> bool {
        self.pid > 0 && start_time_of(self.pid) == Some(self.cleanup.start_time)
    }

    /// The record as it is now: a container said to be created or running whose
    /// process is gone (it ended, or its starter was killed) is stopped.
    pub fn refreshed(mut self) -> State {
        let live = matches!(self.status, Status::Created | Status::Running);
        if live && !self.process_alive() {
            self.status = Status::Stopped;
        }
        self
    }
}

/// When a process started (ticks after boot), or `None` if it is gone or a zombie:
/// fields 22 and 3 of `/proc/PID/stat`.
pub fn start_time_of(pid: i32) -> Option<u64> {
    let stat = proc_file::read(format!("/proc/{pid}/stat")).ok()?;
    // Field 2 is the command's name in parentheses, and may hold spaces: count
    // from the last `)`. Field 3 comes first after it, so field 22 is the 20th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let (state, start_time) = (*fields.first()?, fields.get(19)?);
    (state != "Z").then(|| start_time.parse().ok()).flatten()
}

// ANCHOR: state_dir
/// `<root>/<id>/`: one container's folder.
pub struct StateDir {
    root: PathBuf,
    dir: PathBuf,
    id: ContainerId,
}

impl StateDir {
    /// Makes the folder: the id is taken while it exists.
    pub fn claim(root: &Path, id: &ContainerId) -> Result<StateDir, Error> {
        let dir = root.join(id.as_str());
        let doing = || format!("mkdir {}", dir.display());
        // Another container's delete may remove an empty root between our two
        // mkdirs: try again then.
        for _ in 0..3 {
            std::fs::create_dir_all(root).map_err(Error::state(doing()))?;
            match std::fs::create_dir(&dir) {
                Ok(()) => {
                    let (root, id) = (root.to_path_buf(), id.clone());
                    return Ok(StateDir { root, dir, id });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let id = id.to_string();
                    return Err(Error::ContainerExists { id, dir });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::state(doing())(e)),
            }
        }
        Err(Error::state(doing())(io::Error::other(
            "its parent kept vanishing",
        )))
    }

    /// The folder of an existing container.
    pub fn open(root: &Path, id: &ContainerId) -> Result<StateDir, Error> {
        let dir = root.join(id.as_str());
        if !dir.is_dir() {
            return Err(Error::NoSuchContainer {
                id: id.to_string(),
                dir,
            });
        }
        let (root, id) = (root.to_path_buf(), id.clone());
        Ok(StateDir { root, dir, id })
    }

    pub fn id(&self) -> &ContainerId {
        &self.id
    }

    /// The state root it is in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Reads the record. A folder without one is a container that `create` is
    /// making and that owns nothing yet.
    pub fn read(&self) -> Result<State, Error> {
        let path = self.dir.join(RECORD);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(State::new(&self.id));
            }
            Err(e) => {
                return Err(Error::state(format!("reading {}", path.display()))(e));
            }
        };
        serde_json::from_str(&text).map_err(|e| {
            Error::state(format!("reading {}", path.display()))(e.into())
        })
    }

    /// Writes the record whole or not at all: to a temporary file first, which then
    /// takes the old record's place in one step. A reader never sees half a record,
    /// even if we are killed while writing.
    pub fn write(&self, state: &State) -> Result<(), Error> {
        let path = self.dir.join(RECORD);
        let temporary = self.dir.join(format!(".{RECORD}.new"));
        let failed = || format!("writing {}", path.display());
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| Error::state(failed())(e.into()))?;
        std::fs::write(&temporary, text + "\n").map_err(Error::state(failed()))?;
        replace(&temporary, &path).map_err(Error::state(failed()))
    }

    /// Removes the folder, and the root if that left it empty, so a machine with no
    /// container keeps nothing of ours.
    pub fn remove(self) -> Result<(), Error> {
        std::fs::remove_dir_all(&self.dir)
            .map_err(Error::state(format!("rm -r {}", self.dir.display())))?;
        let _ = std::fs::remove_dir(&self.root);
        Ok(())
    }
}
// ANCHOR_END: state_dir

// ANCHOR: replace
/// Puts the file `new` in the place of `old`, in one step.
///
/// Surprise: on ext4, a `rename(2)` that replaces a file also starts writing the
/// new file to the disk at once (`auto_da_alloc`: so that an editor that saves a
/// file this way finds it whole after a crash). A record that dies with a reboot
/// needs no disk, and on a busy ext4 that write can cost more than the rest of
/// the container's start. Swapping the two files (`RENAME_EXCHANGE`) is just as
/// atomic for a reader and writes nothing; the old record, now under the temporary
/// name, is unlinked. (`/run` is a tmpfs on most machines: there, both are cheap.)
fn replace(new: &Path, old: &Path) -> io::Result<()> {
    use nix::errno::Errno;
    use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
    match renameat2(AT_FDCWD, new, AT_FDCWD, old, RenameFlags::RENAME_EXCHANGE) {
        Ok(()) => std::fs::remove_file(new),
        // No record yet, or a filesystem that cannot swap: a plain rename.
        Err(Errno::ENOENT | Errno::EINVAL) => std::fs::rename(new, old),
        Err(errno) => Err(errno.into()),
    }
}
// ANCHOR_END: replace

/// Is the container holding this id still there (its folder exists)?
pub fn exists(root: &Path, id: &str) -> bool {
    root.join(id).is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_of_stat() {
        let pid = std::process::id() as i32;
        let from_procfs =
            procfs::process::Process::new(pid).unwrap().stat().unwrap();
        assert_eq!(start_time_of(pid), Some(from_procfs.starttime));
        assert_eq!(start_time_of(i32::MAX), None, "no such process");
    }
}
