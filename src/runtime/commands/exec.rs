//! `nsbox exec [-i] [-w DIR] ID COMMAND…`: run another command in a running container.

use super::common::{fail, fail_with};
use crate::container::lifecycle::{self, ExecSettings};
use crate::container::proc_file;
use crate::runtime::containers::{self, Listed, note};
use crate::runtime::log::Stream;
use crate::runtime::{Global, monitor, tty};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread::JoinHandle;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keep stdin open: the command reads what you type
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Give the command a terminal (a pty from the container's own /dev/pts)
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Set an environment variable (KEY=VALUE), besides the container's
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// The folder the command starts in [default: the container's]
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// The container, by id, name or the start of an id
    #[arg(value_name = "CONTAINER")]
    pub container: String,

    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let id = match containers::find(&global.root, &args.container) {
        Ok(id) => id,
        Err(error) => return fail("exec", error, 125),
    };
    let Some(container) = Listed::read(&global.root, &id) else {
        return fail("exec", format!("no container '{}'", args.container), 125);
    };
    if !args.interactive && !args.tty {
        // Like docker: without -i the command reads nothing.
        if let Ok(null) = std::fs::File::open("/dev/null") {
            let _ = nix::unistd::dup2_stdin(&null);
        }
    }
    let mut env = environment_of(container.state.pid);
    env.extend(args.env.iter().cloned());
    let workdir = Some(container.note(note::WORKDIR))
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    let workdir = args.workdir.clone().or(workdir);
    let settings = ExecSettings {
        env: Some(env),
        workdir,
        terminal: args.tty,
    };
    let ended = lifecycle::exec_start(&global.root, &id, &args.command, &settings)
        .and_then(|mut execution| {
            let attached = execution
                .terminal
                .take()
                .map(|t| attach(t, args.interactive));
            let ending = execution.wait();
            if let Some((copier, raw_mode)) = attached {
                let _ = copier.join();
                drop(raw_mode);
            }
            ending
        });
    match ended {
        Ok(ending) => ExitCode::from(ending.shell_code()),
        Err(error) => fail_with("exec", &error),
    }
}

/// `-t`: as `nsbox run -it` does, our terminal raw and joined to the command's.
/// Returns the thread that shows its output (it ends with the command) and the
/// guard that puts our terminal back.
fn attach(
    master: OwnedFd,
    interactive: bool,
) -> (JoinHandle<()>, Option<tty::RawMode>) {
    tty::copy_window_size(&master);
    let raw_mode = tty::attach(&master, interactive).ok();
    let mut from = std::fs::File::from(master);
    let copier = std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        // Until the command's terminal is gone (EIO) or ends.
        while let Ok(read @ 1..) = std::io::Read::read(&mut from, &mut buffer) {
            monitor::show(Stream::Stdout, &buffer[..read]);
        }
    });
    (copier, raw_mode)
}

/// The environment the container's command started with, as the kernel keeps it
/// (`/proc/PID/environ`: `KEY=VALUE` entries, each ended by a zero byte).
fn environment_of(pid: i32) -> Vec<String> {
    let Ok(text) = proc_file::read(format!("/proc/{pid}/environ")) else {
        return Vec::new();
    };
    text.split('\0')
        .filter(|entry| entry.contains('='))
        .map(String::from)
        .collect()
}
