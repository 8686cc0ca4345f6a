//! `nsbox stop [-t SECONDS] ID…`: SIGTERM, then SIGKILL if the command is still
//! there after the grace period.

use super::common::for_each_container;
use crate::container::{Status, lifecycle};
use crate::runtime::containers;
use crate::runtime::{Global, monitor};
use nix::sys::signal::Signal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Seconds to wait after SIGTERM before SIGKILL
    #[arg(
        short = 't',
        long = "time",
        default_value_t = 10,
        value_name = "SECONDS"
    )]
    pub seconds: u64,

    /// Containers, by id, name or the start of an id
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let grace = Duration::from_secs(args.seconds);
    for_each_container(global, "stop", &args.containers, |id| {
        stop(global, id, grace);
        Ok(())
    })
}

// ANCHOR: stop
/// Asks the command to end (SIGTERM), gives it `grace` to do so, then ends it
/// (SIGKILL, which the kernel delivers even to a PID 1 without a handler). Returns
/// once its monitor has freed what it held. Stopping a stopped container is fine.
pub fn stop(global: &Global, id: &crate::container::ContainerId, grace: Duration) {
    let running = |id| {
        lifecycle::state(&global.root, id)
            .is_ok_and(|state| state.status == Status::Running)
    };
    if lifecycle::kill(&global.root, id, Signal::SIGTERM).is_ok() {
        let deadline = Instant::now() + grace;
        while running(id) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if running(id) {
            let _ = lifecycle::kill(&global.root, id, Signal::SIGKILL);
        }
    }
    monitor::wait_unwatched(&containers::folder(&global.root, id), 10);
}
// ANCHOR_END: stop
