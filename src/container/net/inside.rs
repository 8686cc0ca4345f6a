//! The container's side, done by the child in its own network namespace: `lo` up,
//! our veth end `eth0` given its address and brought up, and the default route
//! through the bridge. Each is a [`Step`] of the child's list, one `ip` command
//! each.

use super::config::{Attachment, CONTAINER_LINK};
use super::netlink::Netlink;
use crate::container::steps::Step;
use std::io;
use std::time::{Duration, Instant};

// ANCHOR: inside_steps
/// The steps that wire the child's end of the cable, in order: the route needs
/// `eth0` up with an address in the gateway's subnet. (The parent made `eth0` in
/// our namespace, already named.)
pub fn steps(attachment: &Attachment) -> Vec<Step> {
    let eth0 = CONTAINER_LINK.to_string();
    vec![
        Step::LinkUp("lo".into()),
        Step::AddAddress {
            link: eth0.clone(),
            address: attachment.address,
            prefix: attachment.subnet.prefix,
        },
        Step::LinkUp(eth0),
        Step::AddDefaultRoute(attachment.subnet.gateway()),
    ]
}
// ANCHOR_END: inside_steps

// ANCHOR: configure_inside
/// Runs in the child: one of the steps above, over a netlink socket opened here, in
/// the child's own network namespace. (Other steps are not ours: nothing to do.)
pub fn configure(step: &Step) -> io::Result<()> {
    let mut netlink = Netlink::open()?;
    match step {
        // A namespace without `lo` (none we know of) needs nothing brought up.
        Step::LinkUp(name) if name == "lo" => match netlink.link_index(name)? {
            Some(lo) => netlink.set_up(lo),
            None => Ok(()),
        },
        Step::LinkUp(name) => {
            let index = index_of(&mut netlink, name)?;
            netlink.set_up(index)?;
            wait_until_running(&mut netlink, index)
        }
        // ANCHOR: exercise
        Step::AddAddress {
            link,
            address,
            prefix,
        } => {
            let index = index_of(&mut netlink, link)?;
            netlink.add_address(index, *address, *prefix)
        }
        Step::AddDefaultRoute(gateway) => netlink.add_default_route(*gateway),
        // ANCHOR_END: exercise
        _ => Ok(()),
    }
}
// ANCHOR_END: configure_inside

/// How long we wait for a link we brought up to run.
const RUNNING_WITHIN: Duration = Duration::from_secs(1);

/// Surprise: "up" is not yet "running". Bringing `eth0` up turns on the carrier of
/// both ends of the pair at once, but the kernel acts on a carrier change later, in
/// a worker of its own ("linkwatch"): only then do the link, and the bridge's port
/// on the host, pass packets. A command that listens before then misses the host's
/// first ARP request ("who has this address?"), and the host asks again only a
/// second later. So we wait, a second at most, until the kernel says the link runs
/// (after that, the command starts anyway: slow, not broken).
fn wait_until_running(netlink: &mut Netlink, index: u32) -> io::Result<()> {
    let deadline = Instant::now() + RUNNING_WITHIN;
    while !netlink.is_running(index)? && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The index of a link in this namespace, or `ENODEV` ("No such device").
fn index_of(netlink: &mut Netlink, name: &str) -> io::Result<u32> {
    netlink
        .link_index(name)?
        .ok_or_else(|| io::Error::from_raw_os_error(nix::libc::ENODEV))
}
