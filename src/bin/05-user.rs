//! Lesson 05: adds a new user namespace. Root inside is you outside: no sudo needed.
//!
//! `cargo run --bin 05-user -- id` prints `uid=0(root) gid=0(root) …`, run as an
//! ordinary user.
//!
//! Its namespaces are the catalog's `nsbox::lessons::USER`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs, MountArgs, PidArgs, UserArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Lesson 05: run a command in new user, UTS, IPC, PID and mount \
             namespaces"
)]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,
    #[command(flatten)]
    pid: PidArgs,
    #[command(flatten)]
    mount: MountArgs,
    #[command(flatten)]
    user: UserArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli {
        lesson: args,
        pid,
        mount,
        user,
    } = Cli::parse();
    let container = Container::new(args.command())
        .hostname(&args.hostname)
        // ANCHOR: namespaces
        .namespaces([
            Namespace::Uts,
            Namespace::Ipc,
            Namespace::Pid,
            Namespace::Mount,
            Namespace::User,
        ])
        // ANCHOR_END: namespaces
        .with_init(pid.init)
        .propagation(mount.propagation)
        .id_maps(user.id_maps());
    lesson::run("05-user", &container, args.quiet)
}
// ANCHOR_END: main
