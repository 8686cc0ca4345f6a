//! The command line every lesson binary shares, and running a lesson to its exit code.

use crate::container::{self, Container, Narrator, Propagation};
use clap::Args;
use std::process::ExitCode;

/// `01-uts [--hostname NAME] [--quiet] [--] [COMMAND [ARG]...]`
#[derive(Args, Debug)]
pub struct LessonArgs {
    /// The hostname inside the container
    #[arg(long, default_value = "container", value_name = "NAME")]
    pub hostname: String,

    /// Print only the command's own output (and errors), no narration
    #[arg(long, short)]
    pub quiet: bool,

    /// The command to run inside, and its arguments [default: /bin/sh]
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl LessonArgs {
    /// The command to run, or an interactive shell when none was given.
    pub fn command(&self) -> Vec<String> {
        if self.command.is_empty() {
            vec!["/bin/sh".to_string()]
        } else {
            self.command.clone()
        }
    }
}

/// Lesson 03's option: `--init`.
#[derive(Args, Debug)]
pub struct PidArgs {
    /// Make PID 1 a tiny init that starts the command as PID 2, passes signals on and reaps orphans
    #[arg(long)]
    pub init: bool,
}

/// Lesson 04's option: `--propagation MODE`.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// How mounts travel between the container and the host: shared, slave, private or unbindable
    #[arg(long, default_value_t = Propagation::Private, value_name = "MODE")]
    pub propagation: Propagation,
}

// ANCHOR: run
/// Runs the container and turns the outcome into the process's exit code: the command's own,
/// 128 + the signal that killed it, or the error's code after printing what went wrong.
pub fn run(program: &str, container: &Container, quiet: bool) -> ExitCode {
    let narrator = Narrator::new(program, quiet);
    match container::run(container, &narrator) {
        Ok(ending) => ExitCode::from(ending.shell_code()),
        Err(error) => {
            narrator.error(&error);
            ExitCode::from(error.exit_code())
        }
    }
}
// ANCHOR_END: run
