//! `nsbox kill [-s SIGNAL] ID…`: send the container's process a signal.

use super::common::{fail_with, for_each_container};
use crate::container::lifecycle;
use crate::runtime::Global;
use nix::sys::signal::Signal;
use std::process::ExitCode;
use std::str::FromStr;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The signal: a name (KILL, SIGTERM, HUP…) or a number
    #[arg(short = 's', long, default_value = "KILL", value_parser = parse_signal)]
    pub signal: Signal,

    /// Containers, by id, name or the start of an id
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    for_each_container(global, "kill", &args.containers, |id| {
        lifecycle::kill(&global.root, id, args.signal)
            .map_err(|error| fail_with("kill", &error))
    })
}

/// `KILL`, `SIGKILL`, `kill` or `9`.
pub fn parse_signal(text: &str) -> Result<Signal, String> {
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number)
            .map_err(|_| format!("no signal number {number}"));
    }
    let upper = text.to_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    Signal::from_str(&name).map_err(|_| format!("no signal named '{text}'"))
}
