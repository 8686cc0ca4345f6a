//! Lesson 02: adds a new IPC namespace: System V IPC objects and POSIX message
//! queues of its own.
//!
//! `cargo run --bin 02-ipc -- ipcs -q` lists no queue, whatever queues the host has.
//!
//! Its namespaces are the catalog's `nsbox::lessons::IPC`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Lesson 02: run a command in new UTS and IPC namespaces")]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let args = Cli::parse().lesson;
    let container = Container::new(args.command())
        .hostname(&args.hostname)
        // ANCHOR: namespaces
        // ANCHOR: exercise
        .namespaces([Namespace::Uts, Namespace::Ipc]);
    // ANCHOR_END: exercise
    // ANCHOR_END: namespaces
    lesson::run("02-ipc", &container, args.quiet)
}
// ANCHOR_END: main
