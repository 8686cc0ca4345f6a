//! `delete`: everything a container made on the host, removed, from its state
//! record alone.

use crate::container::cgroup;
use crate::container::net::{self, Attachment, NetworkConfig};
use crate::container::rootfs::Layers;
use crate::container::state::{NetworkRecord, State, StateDir};
use crate::container::{ContainerId, Error, Narrator, id_slices};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;

// ANCHOR: delete
/// Kills the container's process if it is still there, gives its address back
/// (its veth pair, left to the kernel, holds it until the kernel deletes it),
/// deletes its NAT rules, removes its cgroup, and last its state folder.
/// It needs nothing but the record, so it works after the process that created
/// the container was killed. A failure is told and the record kept, so `delete`
/// can be tried again.
pub fn delete(
    root: &Path,
    id: &ContainerId,
    narrator: &Narrator,
) -> Result<(), Error> {
    let dir = StateDir::open(root, id).inspect_err(|_| {
        // A `delete` killed between removing the container's folder and removing
        // the then empty root leaves the root: it goes now (only if empty).
        let _ = std::fs::remove_dir(root);
    })?;
    let record = release_from(&dir, narrator)?;
    if let Some(kept) = &record.cleanup.keep_layer {
        keep_layer(&dir, kept, narrator)?;
    }
    // By id, recorded or not: a starter killed between taking a slice and
    // writing it down leaves a line only this finds.
    id_slices::give_back(dir.root(), id)?;
    dir.remove()
}
// ANCHOR_END: delete

/// What `delete` does but removing the folder: the container's process, network,
/// cgroup and network namespace name go; its record, its layer and the files a
/// runtime keeps beside them (a log) stay. The runtime calls it when a container
/// ends, so that a stopped container holds nothing but files until `nsbox rm`.
pub fn release(
    root: &Path,
    id: &ContainerId,
    narrator: &Narrator,
) -> Result<(), Error> {
    release_from(&StateDir::open(root, id)?, narrator).map(|_| ())
}

/// Releases what the record lists, and writes down that it is gone.
fn release_from(dir: &StateDir, narrator: &Narrator) -> Result<State, Error> {
    let (root, id) = (dir.root().to_path_buf(), dir.id().clone());
    let mut record = dir.read().unwrap_or_else(|_| State::new(&id));
    if record.process_alive() {
        kill_and_wait_gone(record.pid);
    }
    let mut first_error = None;
    let mut failed = |error: Error| {
        narrator.error(&error);
        first_error.get_or_insert(error);
    };
    if let Some(path) = &record.cleanup.netns_mount {
        match net::unbind_netns(path) {
            Ok(()) => narrator.say(format!("umount {}; rm it", path.display())),
            Err(error) => failed(error),
        }
    }
    if let Some(network) = &record.cleanup.network {
        let (config, attachment) = network_of(network, &root)?;
        // Whatever happened, give the address back and remove the NAT rules.
        if let Err(error) =
            net::detach(&config, &attachment, network.veth_made, narrator)
        {
            failed(error);
        }
    }
    let cgroup = &record.cleanup.cgroup;
    if !cgroup.is_empty() {
        let paths: Vec<String> =
            cgroup.iter().map(|p| p.display().to_string()).collect();
        match cgroup::remove_recorded(cgroup) {
            Ok(()) => narrator.say(format!("removed {}", paths.join(" "))),
            Err(error) => failed(Error::cgroup("removing it")(error)),
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    net::release_all(&root, &id).map_err(Error::network("the lease files"))?;
    let held = &record.cleanup;
    if held.network.is_some()
        || !held.cgroup.is_empty()
        || held.netns_mount.is_some()
    {
        record.cleanup.network = None;
        record.cleanup.cgroup.clear();
        record.cleanup.netns_mount = None;
        dir.write(&record)?;
    }
    Ok(record)
}

/// The network as `create` had it, rebuilt from the record.
fn network_of(
    record: &NetworkRecord,
    root: &Path,
) -> Result<(NetworkConfig, Attachment), Error> {
    let subnet = record.subnet.parse().map_err(|e| {
        Error::state("the recorded subnet")(std::io::Error::other(e))
    })?;
    let config = NetworkConfig {
        bridge: record.bridge.clone(),
        subnet,
        address: Some(record.address),
        state_dir: root.to_path_buf(),
        remove_bridge: record.remove_bridge,
        nat: record.nat,
        publish: Vec::new(),
        publish_on_loopback: false,
    };
    let attachment = Attachment {
        address: record.address,
        subnet,
        host_end: record.host_end.clone(),
        tag: record.nat_tag.clone(),
    };
    Ok((config, attachment))
}

/// SIGKILL, then wait (up to 5 s) until the process is gone. It may not be our
/// child, so we cannot `waitpid` it: we watch `/proc` instead.
fn kill_and_wait_gone(pid: i32) {
    let _ = nix::sys::signal::kill(Pid::from_raw(pid), Signal::SIGKILL);
    for _ in 0..500 {
        if crate::container::state::start_time_of(pid).is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `--keep`: the container's own layer moves out of its folder, before the folder
/// goes.
fn keep_layer(
    dir: &StateDir,
    kept: &Path,
    narrator: &Narrator,
) -> Result<(), Error> {
    let upper = Layers::under(&dir.path().join("rootfs")).upper;
    if !upper.exists() {
        return Ok(()); // killed before it was made: nothing to keep
    }
    let failed = || format!("mv {} {}", upper.display(), kept.display());
    if let Some(parent) = kept.parent() {
        std::fs::create_dir_all(parent).map_err(Error::state(failed()))?;
    }
    std::fs::rename(&upper, kept).map_err(Error::state(failed()))?;
    narrator.say(format!(
        "kept what the container wrote (its upper layer) in {}: rm -r it when done",
        kept.display()
    ));
    Ok(())
}
