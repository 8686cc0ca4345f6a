//! Are we root? If not, can we become root with sudo?
//!
//! Every lesson but 05 creates namespaces with `clone(2)`, which needs
//! `CAP_SYS_ADMIN`: root's. `cargo run` starts programs through `scripts/as-root`,
//! which uses sudo when you are not root.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome};
use crate::container::privileges::has_cap_sys_admin;
use crate::container::programs;
use nix::unistd::geteuid;

/// Records whether we are root; returns it, for the checks that need root to try
/// anything.
pub fn check(report: &Report, findings: &mut Findings) -> bool {
    report.section("privileges");
    let uid = geteuid().as_raw();
    let root = has_cap_sys_admin().unwrap_or(false);
    let outcome = if root {
        report.line(
            Mark::Good,
            format!("running as root (uid {uid}){}", by_sudo()),
        );
        Outcome::Works
    } else {
        report.line(
            Mark::Bad,
            format!("not root: uid {uid}, without CAP_SYS_ADMIN; every lesson but 05 needs root"),
        );
        not_root(report, uid)
    };
    findings.record(Need::Root, outcome);
    root
}

/// ", through sudo (for uid 1000)", when sudo started us.
fn by_sudo() -> String {
    match std::env::var("SUDO_UID") {
        Ok(uid) => format!(", through sudo for uid {uid}"),
        Err(_) => String::new(),
    }
}

/// What not being root means, depending on whether sudo is there.
fn not_root(report: &Report, uid: u32) -> Outcome {
    let doctor = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "target/debug/doctor".to_string());
    let because =
        format!("it needs root (CAP_SYS_ADMIN), and this run is uid {uid}");
    match programs::find("sudo") {
        Some(sudo) => {
            report.line(
                Mark::Good,
                format!(
                    "sudo is installed ({}): `cargo run --bin NN-name` runs the lessons through it",
                    sudo.display()
                ),
            );
            Outcome::fails(
                because,
                format!(
                    "run it with `cargo run --bin NN-name` (it uses sudo), and this doctor \
                     as root to check the rest: `sudo {doctor}`"
                ),
            )
        }
        None => {
            report.line(Mark::Bad, "sudo is not installed");
            Outcome::fails(
                because,
                "as root: `apt-get install sudo` and add yourself to the sudo group, or run the \
                 lessons as root",
            )
        }
    }
}
