//! Lesson 03: adds a new PID namespace. The child is PID 1 inside it, and inherits
//! PID 1's duties; `--init` puts a tiny init in that place instead.
//!
//! `cargo run --bin 03-pid -- sh -c 'echo $$'` prints `1`.
//!
//! Its namespaces are the catalog's `nsbox::lessons::PID`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs, PidArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Lesson 03: run a command in new UTS, IPC and PID namespaces")]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,
    #[command(flatten)]
    pid: PidArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli { lesson: args, pid } = Cli::parse();
    let container = Container::new(args.command())
        .hostname(&args.hostname)
        // ANCHOR: namespaces
        // ANCHOR: exercise
        .namespaces([Namespace::Uts, Namespace::Ipc, Namespace::Pid])
        // ANCHOR_END: exercise
        // ANCHOR_END: namespaces
        .with_init(pid.init);
    lesson::run("03-pid", &container, args.quiet)
}
// ANCHOR_END: main
