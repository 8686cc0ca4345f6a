//! nsbox: a container engine made of the course's own module, with docker's and
//! podman's command line (`nsbox run`, `ps`, `logs`, `exec`, `stop`, `rm`, `pull`,
//! …). Chapter 09 tells how each command works.

use clap::{Parser, Subcommand};
use nsbox::runtime::{Global, commands};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "A container engine made of the course's own module", version)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command in a new container
    Run(Box<commands::run::Args>),
    /// List the containers
    Ps(commands::ps::Args),
    /// Show everything nsbox knows of containers, as JSON
    Inspect(commands::inspect::Args),
    /// Show what a container's command wrote
    Logs(commands::logs::Args),
    /// Run another command in a running container
    Exec(commands::exec::Args),
    /// Stop containers: SIGTERM, then SIGKILL
    Stop(commands::stop::Args),
    /// Send containers a signal
    Kill(commands::kill::Args),
    /// Remove containers
    Rm(commands::rm::Args),
    /// Download an image from a registry
    Pull(commands::pull::Args),
    /// List the images here
    Images(commands::images::Args),
    /// Remove an image
    Rmi(commands::rmi::Args),
}

fn main() -> ExitCode {
    // Like docker: a command line nsbox cannot make sense of exits with 125, so
    // it is never taken for the container command's own exit code.
    let Cli { global, command } = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { 125 } else { 0 });
        }
    };
    match command {
        Command::Run(args) => commands::run::main(&global, *args),
        Command::Ps(args) => commands::ps::main(&global, args),
        Command::Inspect(args) => commands::inspect::main(&global, args),
        Command::Logs(args) => commands::logs::main(&global, args),
        Command::Exec(args) => commands::exec::main(&global, args),
        Command::Stop(args) => commands::stop::main(&global, args),
        Command::Kill(args) => commands::kill::main(&global, args),
        Command::Rm(args) => commands::rm::main(&global, args),
        Command::Pull(args) => commands::pull::main(&global, args),
        Command::Images(args) => commands::images::main(&global, args),
        Command::Rmi(args) => commands::rmi::main(&global, args),
    }
}
