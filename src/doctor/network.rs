//! A bridge and a veth pair, what lessons 06 to 08 make on the host: here a child
//! makes them in a network namespace of its own, so they vanish with it and the host
//! never sees them.
//!
//! The kernel loads the `bridge` and `veth` modules on demand, the first time anyone
//! asks.

use super::child::{Refusal, in_child};
use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem, RUN_AS_ROOT};
use crate::container::net::bridge::random_local_mac;
use crate::container::net::netlink::Netlink;
use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};

const BRIDGE: &str = "doctor-br";
const VETH: (&str, &str) = ("doctor-a", "doctor-b");

pub fn check(report: &Report, findings: &mut Findings, root: bool) {
    report.section("network (lessons 06 to 08)");
    if !root {
        report.line(
            Mark::Skipped,
            "bridge and veth pair: not tried, making them needs root",
        );
        findings.record(
            Need::VethAndBridge,
            Outcome::not_tried("needs root", RUN_AS_ROOT),
        );
        return;
    }
    let outcome = match in_child(try_links) {
        Ok(()) => {
            report.line(
                Mark::Good,
                format!(
                    "in a new network namespace: ip link add {BRIDGE} type bridge; ip link add {} \
                     type veth peer name {}; ip link set {} master {BRIDGE} up",
                    VETH.0, VETH.1, VETH.0
                ),
            );
            Outcome::Works
        }
        Err(refusal) if refusal.step == "unshare(CLONE_NEWNET)" => {
            report.line(Mark::Skipped, format!("not tried: {refusal}"));
            Outcome::not_tried(
                format!("no network namespace to try in ({refusal})"),
                "see the namespaces above",
            )
        }
        Err(refusal) => {
            let problem = explain(&refusal);
            report.line(Mark::Bad, &problem.because);
            report.detail(format!("fix: {}", problem.fix));
            Outcome::Fails(problem)
        }
    };
    findings.record(Need::VethAndBridge, outcome);
}

// ANCHOR: try_links
/// Runs in the child, with the netlink client the lessons use.
fn try_links() -> Result<(), Refusal> {
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(Refusal::at("unshare(CLONE_NEWNET)"))?;
    let mut netlink = Netlink::open().map_err(Refusal::at_io("netlink socket"))?;
    netlink
        .add_bridge(BRIDGE, random_local_mac())
        .map_err(Refusal::at_io(format!("ip link add {BRIDGE} type bridge")))?;
    let bridge = index_of(&mut netlink, BRIDGE)?;
    let (a, b) = VETH;
    // Both ends here: the peer goes to the network namespace of our own process.
    let here = std::process::id();
    netlink
        .add_veth(a, bridge, b, here)
        .map_err(Refusal::at_io(format!(
            "ip link add {a} master {BRIDGE} up type veth peer name {b}"
        )))?;
    netlink
        .set_up(bridge)
        .map_err(Refusal::at_io(format!("ip link set {BRIDGE} up")))?;
    Ok(())
}
// ANCHOR_END: try_links

/// The index of a link, or the refusal `ip link show NAME` stands for.
fn index_of(netlink: &mut Netlink, name: &str) -> Result<u32, Refusal> {
    let missing = std::io::Error::from_raw_os_error(nix::libc::ENODEV);
    let found = netlink.link_index(name).and_then(|i| i.ok_or(missing));
    found.map_err(Refusal::at_io(format!("ip link show {name}")))
}

fn explain(refusal: &Refusal) -> Problem {
    let module = if refusal.step.contains("veth") {
        "veth"
    } else {
        "bridge"
    };
    match refusal.errno {
        // What the kernel answers for a link type it has no driver for.
        Errno::EOPNOTSUPP | Errno::ENODEV => Problem {
            because: format!("{refusal}: this kernel has no {module} driver"),
            fix: format!(
                "sudo modprobe {module} (Debian: sudo apt-get install linux-image-amd64 for a \
                 kernel that has it)"
            ),
        },
        _ => Problem {
            because: refusal.to_string(),
            fix: "see `dmesg` for what the kernel said".to_string(),
        },
    }
}
