//! Lesson 06: adds a new network namespace, wired to a bridge on the host by a veth
//! pair.
//!
//! `cargo run --bin 06-net -- ip addr` shows `lo` and `eth0` with an address from
//! 10.89.0.0/24.
//!
//! Its namespaces are the catalog's `nsbox::lessons::NET`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{self, LessonArgs, MountArgs, NetArgs, PidArgs, UserArgs};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Lesson 06: run a command in new user, UTS, IPC, PID, mount and \
             network namespaces"
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
    #[command(flatten)]
    net: NetArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli {
        lesson: args,
        pid,
        mount,
        user,
        net,
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
            Namespace::Net,
        ])
        // ANCHOR_END: namespaces
        .with_init(pid.init)
        .propagation(mount.propagation)
        .id_maps(user.id_maps())
        .network(net.config());
    lesson::run("06-net", &container, args.quiet)
}
// ANCHOR_END: main
