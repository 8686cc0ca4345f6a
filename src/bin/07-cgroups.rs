//! Lesson 07: adds a cgroup (and a cgroup namespace): limits on memory, CPU and
//! processes.
//!
//! `cargo run --bin 07-cgroups -- --memory 32M --pids 8 cat /proc/self/cgroup` shows
//! `/`.
//!
//! Its namespaces are the catalog's `nsbox::lessons::CGROUPS`: tests/lessons.rs proves,
//! from /proc, that this program creates exactly those.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{
    self, LessonArgs, LimitArgs, MountArgs, NetArgs, PidArgs, UserArgs,
};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Lesson 07: run a command in new namespaces (all seven) and a cgroup \
             with limits"
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
    #[command(flatten)]
    limits: LimitArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli {
        lesson: args,
        pid,
        mount,
        user,
        net,
        limits,
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
            Namespace::Cgroup,
        ])
        // ANCHOR_END: namespaces
        .with_init(pid.init)
        .propagation(mount.propagation)
        .id_maps(user.id_maps())
        .network(net.config())
        .limits(limits.limits());
    lesson::run("07-cgroups", &container, args.quiet)
}
// ANCHOR_END: main
