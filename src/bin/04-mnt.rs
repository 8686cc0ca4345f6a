//! Lesson 04: adds a new mount namespace. The child makes its mount tree private (or
//! the propagation you choose) and mounts a `/proc` of its own, so `ps` shows only
//! its processes.
//!
//! `cargo run --bin 04-mnt -- ps -e` lists one process: `ps` itself, as PID 1.
//!
//! Its namespaces are the catalog's `nsbox::lessons::MNT`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs, MountArgs, PidArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Lesson 04: run a command in new UTS, IPC, PID and mount namespaces"
)]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,
    #[command(flatten)]
    pid: PidArgs,
    #[command(flatten)]
    mount: MountArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli {
        lesson: args,
        pid,
        mount,
    } = Cli::parse();
    let container = Container::new(args.command())
        .hostname(&args.hostname)
        // ANCHOR: namespaces
        .namespaces([
            Namespace::Uts,
            Namespace::Ipc,
            Namespace::Pid,
            Namespace::Mount,
        ])
        // ANCHOR_END: namespaces
        .with_init(pid.init)
        .propagation(mount.propagation);
    lesson::run("04-mnt", &container, args.quiet)
}
// ANCHOR_END: main
