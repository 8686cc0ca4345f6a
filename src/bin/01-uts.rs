//! Lesson 01: a child process in a new UTS namespace, with a hostname of its own.
//!
//! `cargo run --bin 01-uts -- hostname` prints `container`; the host's hostname does
//! not change.
//!
//! Its namespaces are the catalog's `nsbox::lessons::UTS`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(about = "Lesson 01: run a command in a new UTS namespace")]
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
        .namespaces([Namespace::Uts]);
    // ANCHOR_END: namespaces
    lesson::run("01-uts", &container, args.quiet)
}
// ANCHOR_END: main
