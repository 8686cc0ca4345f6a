//! The doctor: run it first, `cargo run --bin doctor`. It tries, on this machine,
//! everything the lessons need, and says for each lesson whether it works, or why
//! not and how to fix it.

use clap::Parser;
use nsbox::doctor::{self, report::Report};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Check that this machine can run the nsbox lessons (run it first)",
    long_about = "Check that this machine can run the nsbox lessons (run it first).\n\n\
        It tries everything the lessons need (each namespace type, user namespaces for an \
        ordinary user, cgroup controllers, a bridge and a veth pair, overlayfs) in child \
        processes, in namespaces of their own, so the machine is left as it was. Then it says, \
        for each lesson, whether it works, or why it will fail and how to fix that. Run it as \
        root (`cargo run --bin doctor` uses sudo); as an ordinary user it tries what it can.",
    after_help = "Exit status: 0 when every lesson can work here; 1 when at least one will fail \
        or could not be checked (the report says why, and how to fix it); 2 for bad usage."
)]
struct Cli {}

/// The exit code when a lesson cannot work here.
const SOME_LESSON_FAILS: u8 = 1;

// ANCHOR: main
fn main() -> ExitCode {
    Cli::parse();
    if doctor::examine(&Report::new()) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(SOME_LESSON_FAILS)
    }
}
// ANCHOR_END: main
