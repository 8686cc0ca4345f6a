//! `delete`: everything a container made on the host, removed, from its state
//! record alone.

use crate::container::cgroup;
use crate::container::net::{self, Attachment, NetworkConfig};
use crate::container::state::{NetworkRecord, State, StateDir};
use crate::container::{ContainerId, Error, Narrator};
use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::path::Path;
use std::time::Duration;

// ANCHOR: delete
/// Kills the container's process if it is still there, gives its address back,
/// deletes its veth pair and NAT rules, removes its cgroup, and last its state
/// folder.
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
    let record = dir.read().unwrap_or_else(|_| State::new(id));
    if record.process_alive() {
        kill_and_wait_gone(record.pid);
    }
    let mut first_error = None;
    if let Some(network) = &record.cleanup.network {
        let (config, attachment) = network_of(network, root)?;
        // Whatever happened, delete the veth pair and give the address back.
        if let Err(error) =
            net::detach(&config, &attachment, network.veth_made, narrator)
        {
            narrator.error(&error);
            first_error.get_or_insert(error);
        }
    }
    let cgroup = &record.cleanup.cgroup;
    if !cgroup.is_empty() {
        let paths: Vec<String> =
            cgroup.iter().map(|p| p.display().to_string()).collect();
        match cgroup::remove_recorded(cgroup) {
            Ok(()) => narrator.say(format!("removed {}", paths.join(" "))),
            Err(error) => {
                let error = Error::cgroup("removing it")(error);
                narrator.error(&error);
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    net::release_all(root, id).map_err(Error::network("the lease files"))?;
    dir.remove()
}
// ANCHOR_END: delete

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
