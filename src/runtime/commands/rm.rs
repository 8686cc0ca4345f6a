//! `nsbox rm [-f] ID…`: remove stopped containers (`-f`: running ones too).

use super::common::{fail, fail_with};
use super::stop::stop;
use crate::container::{Narrator, Status, lifecycle};
use crate::runtime::containers::{self, Listed};
use crate::runtime::{Global, monitor};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Kill a running container first
    #[arg(short = 'f', long)]
    pub force: bool,

    /// Containers, by id, name or the start of an id
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let narrator = super::common::narrator(global.narrate);
    for text in &args.containers {
        if let Err(code) = remove(global, text, args.force, &narrator) {
            return code;
        }
        println!("{text}");
    }
    ExitCode::SUCCESS
}

// ANCHOR: remove
/// Waits for the monitor to let go (killing the container first with `-f`), then
/// deletes everything the record lists, and the name.
fn remove(
    global: &Global,
    text: &str,
    force: bool,
    narrator: &Narrator,
) -> Result<(), ExitCode> {
    let id = containers::find(&global.root, text).map_err(|e| fail("rm", e, 1))?;
    let container = Listed::read(&global.root, &id)
        .ok_or_else(|| fail("rm", format!("no container '{text}'"), 1))?;
    if container.state.status == Status::Running {
        if !force {
            return Err(fail(
                "rm",
                format!(
                    "container {text} is running: nsbox stop it first, or use rm -f"
                ),
                1,
            ));
        }
        stop(global, &id, Duration::ZERO);
    }
    // A monitor that is still freeing things (or was killed doing so): wait for
    // it, then delete finishes whatever is left, from the record.
    monitor::wait_unwatched(&containers::folder(&global.root, &id), 10);
    lifecycle::delete(&global.root, &id, narrator)
        .map_err(|e| fail_with("rm", &e))?;
    let name = container.name();
    if name != id.as_str() {
        containers::release_name(&global.root, name, &id);
    }
    Ok(())
}
// ANCHOR_END: remove
