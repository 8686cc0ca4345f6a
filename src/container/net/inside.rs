//! The container's side, done by the child in its own network namespace.

use super::config::Attachment;
use super::netlink::Netlink;
use std::io;

// ANCHOR: configure_inside
/// Runs in the child: `lo` up, our veth end renamed `eth0`, its address, up, and the
/// default route through the bridge. Returns the failed step as `ip` would spell it.
pub fn configure_inside(attachment: &Attachment) -> Result<(), (String, io::Error)> {
    let step = |what: String| move |e: io::Error| (what, e);
    let mut netlink = Netlink::open().map_err(step("netlink socket".into()))?;
    let lo = netlink
        .link_index("lo")
        .map_err(step("ip link show lo".into()))?;
    if let Some(lo) = lo {
        netlink
            .set_up(lo)
            .map_err(step("ip link set lo up".into()))?;
    }
    let peer = &attachment.peer_end;
    let index = netlink
        .link_index(peer)
        .map_err(step(format!("ip link show {peer}")))?;
    let index = index.ok_or_else(|| {
        (
            format!("ip link show {peer}"),
            io::Error::from_raw_os_error(nix::libc::ENODEV),
        )
    })?;
    // ANCHOR: exercise
    netlink
        .rename(index, "eth0")
        .map_err(step(format!("ip link set {peer} name eth0")))?;
    let (address, prefix) = (attachment.address, attachment.subnet.prefix);
    netlink
        .add_address(index, address, prefix)
        .map_err(step(format!("ip addr add {address}/{prefix} dev eth0")))?;
    netlink
        .set_up(index)
        .map_err(step("ip link set eth0 up".into()))?;
    let gateway = attachment.subnet.gateway();
    netlink
        .add_default_route(gateway)
        .map_err(step(format!("ip route add default via {gateway}")))
    // ANCHOR_END: exercise
}
// ANCHOR_END: configure_inside

/// The child's steps, for the narration.
pub fn inside_steps(attachment: &Attachment) -> String {
    let (address, prefix) = (attachment.address, attachment.subnet.prefix);
    format!(
        "ip link set lo up; ip link set {} name eth0; \
         ip addr add {address}/{prefix} dev eth0; ip link set eth0 up; \
         ip route add default via {}",
        attachment.peer_end,
        attachment.subnet.gateway()
    )
}
