//! Lesson 08: adds a root filesystem of its own: an overlay of an image, the
//! kernel's filesystems in it, volumes, and `pivot_root`.
//!
//! `cargo run --bin 08-rootfs -- ls /` lists the busybox image's root, not the
//! host's.

use clap::Parser;
use nsbox::container::{Container, Namespace};
use nsbox::lesson::{
    self, LessonArgs, LimitArgs, NetArgs, PidArgs, RootfsArgs, UserArgs,
};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Lesson 08: run a command in new namespaces, a cgroup, and a root \
             filesystem of its own"
)]
struct Cli {
    #[command(flatten)]
    lesson: LessonArgs,
    #[command(flatten)]
    pid: PidArgs,
    #[command(flatten)]
    user: UserArgs,
    #[command(flatten)]
    net: NetArgs,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    rootfs: RootfsArgs,
}

// ANCHOR: main
fn main() -> ExitCode {
    let Cli {
        lesson: args,
        pid,
        user,
        net,
        limits,
        rootfs,
    } = Cli::parse();
    let container = Container::new(args.command())
        .hostname(&args.hostname)
        .namespaces([
            Namespace::Uts,
            Namespace::Ipc,
            Namespace::Pid,
            Namespace::Mount,
            Namespace::User,
            Namespace::Net,
            Namespace::Cgroup,
        ])
        .with_init(pid.init)
        .id_maps(user.id_maps())
        .network(net.config())
        .limits(limits.limits());
    lesson::run_in_rootfs("08-rootfs", container, &rootfs, args.quiet)
}
// ANCHOR_END: main
