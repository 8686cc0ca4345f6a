//! `nsbox inspect ID|NAME…`: everything nsbox knows of containers, as JSON.

use super::common::fail;
use super::ps::{created, status};
use crate::container::Status;
use crate::runtime::Global;
use crate::runtime::containers::{self, Listed, note};
use crate::runtime::log::timestamp;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Containers, by id, name or the start of an id
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let mut shown = Vec::new();
    for text in &args.containers {
        let found = containers::find(&global.root, text)
            .ok()
            .and_then(|id| Listed::read(&global.root, &id));
        match found {
            Some(container) => shown.push(describe(global, &container)),
            None => return fail("inspect", format!("no container '{text}'"), 1),
        }
    }
    let text = serde_json::to_string_pretty(&shown).expect("JSON values print");
    println!("{text}");
    ExitCode::SUCCESS
}

/// Docker's main fields, and the record the library keeps.
fn describe(global: &Global, container: &Listed) -> serde_json::Value {
    let state = &container.state;
    let running = state.status == Status::Running;
    let network = state.cleanup.network.as_ref();
    let folder = containers::folder(&global.root, &container.id);
    serde_json::json!({
        "Id": container.id.as_str(),
        "Name": container.name(),
        "Created": timestamp(created(container)),
        "Image": container.note(note::IMAGE_NAME),
        "ImageId": container.note(note::IMAGE),
        "Command": container.note(note::COMMAND),
        "State": {
            "Status": format!("{:?}", state.status).to_lowercase(),
            "Description": status(container),
            "Running": running,
            "Pid": if running { state.pid } else { 0 },
            "ExitCode": container.exit_code,
            "FinishedAt": container.finished.map(timestamp),
        },
        "NetworkSettings": {
            "IPAddress": network.map(|n| n.address.to_string()),
            "Bridge": network.map(|n| n.bridge.clone()),
            "HostEnd": network.map(|n| n.host_end.clone()),
            "Ports": container.note(note::PORTS),
            "SandboxKey": state.cleanup.netns_mount.clone(),
        },
        "Cgroup": state.cleanup.cgroup.clone(),
        "StateFolder": folder,
        "LogPath": folder.join(containers::LOG),
        "Record": state,
    })
}
