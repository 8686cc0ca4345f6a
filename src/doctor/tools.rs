//! The programs the lessons run, and those their chapters (and the tests) ask you to
//! run.
//!
//! Only one is run by a lesson binary itself: `nft`, for 06's and 07's `--nat` and
//! `--publish` (nftables' netlink protocol is large; `nft` is what distributions
//! ship to speak it). The others are commands the chapters run inside the
//! containers, and that `cargo test` runs.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome};
use crate::container::programs;

/// A program, the Debian package it comes in, and who runs it.
pub struct Tool {
    pub name: &'static str,
    pub package: &'static str,
    pub used_by: &'static str,
}

pub const TOOLS: [Tool; 7] = [
    Tool {
        name: "nft",
        package: "nftables",
        used_by: "06-net and 07-cgroups run it for --nat and --publish",
    },
    Tool {
        name: "ip",
        package: "iproute2",
        used_by: "the 06 chapter runs it inside the container",
    },
    Tool {
        name: "ps",
        package: "procps",
        used_by: "the 03 and 04 chapters run it inside the container",
    },
    Tool {
        name: "mount",
        package: "util-linux",
        used_by: "the 04 chapter runs it inside the container",
    },
    Tool {
        name: "ipcmk",
        package: "util-linux",
        used_by: "the 02 chapter runs it inside the container",
    },
    Tool {
        name: "ipcs",
        package: "util-linux",
        used_by: "the 02 chapter runs it inside the container",
    },
    Tool {
        name: "unshare",
        package: "util-linux",
        used_by: "the tests run it (cargo test)",
    },
];

pub fn check(report: &Report, findings: &mut Findings) {
    report.section("programs (on PATH, or in /usr/sbin and /sbin)");
    for tool in &TOOLS {
        let outcome = match programs::find(tool.name) {
            Some(path) => {
                let text =
                    format!("{:<7} {}: {}", tool.name, path.display(), tool.used_by);
                report.line(Mark::Good, text);
                Outcome::Works
            }
            None => {
                let fix = format!("sudo apt-get install {}", tool.package);
                report.line(
                    Mark::Bad,
                    format!("{:<7} not found: {}", tool.name, tool.used_by),
                );
                report.detail(format!("fix: {fix}"));
                Outcome::fails(format!("{} is not installed", tool.name), fix)
            }
        };
        findings.record(Need::Tool(tool.name), outcome);
    }
}
