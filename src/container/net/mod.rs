//! The network namespace, wired to the host: a veth pair, a bridge, an address and a
//! route.
//!
//! A new network namespace has only `lo`, and it is down. To let the container
//! talk, the parent (on the host) creates a veth pair — two network interfaces
//! joined like the ends of a cable — attaches one end to a bridge (a virtual switch,
//! with the gateway address) and moves the other end into the child's namespace. The
//! child then names its end `eth0`, gives it an address, brings it and `lo` up, and
//! routes everything else through the gateway:
//!
//! ```text
//!   host                              container
//!   nsbox0 (bridge, 10.89.0.1/24)
//!     └── nsb<id> ═══ veth pair ═══ eth0 (10.89.0.2/24), default via 10.89.0.1
//! ```
//!
//! One file per concern: [`ipam`] hands out addresses, [`bridge`] makes the bridge,
//! [`inside`] configures `eth0` in the child, [`nat`] writes firewall rules,
//! [`netlink`] talks to the kernel, [`state_files`] keeps the files they share. This
//! file is the face: what a container asks for, and attaching and detaching it.

pub mod bridge;
pub mod config;
pub mod inside;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod state_files;
pub mod subnet;

pub use config::{
    Attachment, DEFAULT_BRIDGE, DEFAULT_STATE_DIR, MAX_LINK_NAME, NetworkConfig,
    Publish,
};
pub use ipam::{lease, release, release_all};
pub use subnet::{DEFAULT_SUBNET, Subnet};

use super::{Error, Narrator};
use bridge::{ensure_bridge, index_of};
use netlink::Netlink;

// ---------------------------------------------------------------------------------------------
// The host's side, done by the parent while the child waits.

// ANCHOR: attach
/// Makes sure the bridge exists, creates the veth pair, puts one end on the bridge
/// and the other in the child's network namespace.
pub fn attach(
    config: &NetworkConfig,
    attachment: &Attachment,
    child: u32,
    narrator: &Narrator,
) -> Result<(), Error> {
    let mut netlink = Netlink::open().map_err(Error::network("netlink socket"))?;
    let bridge = ensure_bridge(&mut netlink, config, narrator)?;
    let (host_end, peer_end) = (&attachment.host_end, &attachment.peer_end);
    netlink
        .add_veth(host_end, peer_end)
        .map_err(Error::network(format!(
            "ip link add {host_end} type veth peer name {peer_end}"
        )))?;
    let result = (|| {
        let host_index = index_of(&mut netlink, host_end)?;
        netlink
            .set_controller(host_index, bridge)
            .map_err(Error::network(format!(
                "ip link set {host_end} master {}",
                config.bridge
            )))?;
        netlink
            .set_up(host_index)
            .map_err(Error::network(format!("ip link set {host_end} up")))?;
        let peer_index = index_of(&mut netlink, peer_end)?;
        netlink
            .move_to_netns_of(peer_index, child)
            .map_err(Error::network(format!(
                "ip link set {peer_end} netns {child}"
            )))
    })();
    if result.is_err() {
        // Deleting one end of a veth pair deletes both.
        if let Ok(Some(index)) = netlink.link_index(host_end) {
            let _ = netlink.delete_link(index);
        }
        return result;
    }
    if config.nat || !config.publish.is_empty() {
        for line in nat::add(config, attachment)? {
            narrator.say(line);
        }
    }
    narrator.say(format!(
        "ip link add {host_end} type veth peer name {peer_end}; \
         ip link set {host_end} master {} up; ip link set {peer_end} netns {child}",
        config.bridge
    ));
    Ok(())
}
// ANCHOR_END: attach

// ---------------------------------------------------------------------------------------------
// After the container exits.

// ANCHOR: detach
/// Deletes the host's end of the veth pair if it is still there (the kernel deletes
/// the pair with the container's network namespace, but a little later, in the
/// background), gives the address back, removes our NAT rules, and removes the
/// bridge if asked to and no container uses it any more.
pub fn detach(
    config: &NetworkConfig,
    attachment: &Attachment,
    narrator: &Narrator,
) -> Result<(), Error> {
    let mut netlink = Netlink::open().map_err(Error::network("netlink socket"))?;
    let host_end = &attachment.host_end;
    // The kernel deletes the container's end, and so the pair, when it frees the
    // namespace; but it frees namespaces in the background, a little after the last
    // process left. We do not wait: we delete the host end ourselves if it is still
    // there (and whether the kernel or we were first varies from run to run, so the
    // narration says the same for both).
    if let Some(index) = netlink
        .link_index(host_end)
        .map_err(Error::network(format!("ip link show {host_end}")))?
    {
        match netlink.delete_link(index) {
            Err(e) if e.raw_os_error() != Some(nix::libc::ENODEV) => {
                return Err(Error::network(format!("ip link delete {host_end}"))(e));
            }
            _ => {}
        }
    }
    narrator.say(format!(
        "{host_end} and its peer are gone (ip link delete {host_end}, if the \
         kernel had not deleted them with the namespace yet)"
    ));
    let left = release(config, attachment.address).map_err(Error::network(
        format!("lease file {}", config.lease_file().display()),
    ))?;
    narrator.say(format!("released {}", attachment.address));
    if config.remove_bridge && left == 0 {
        let bridge = &config.bridge;
        if let Some(index) = netlink
            .link_index(bridge)
            .map_err(Error::network(format!("ip link show {bridge}")))?
        {
            netlink
                .delete_link(index)
                .map_err(Error::network(format!("ip link delete {bridge}")))?;
            narrator.say(format!(
                "ip link delete {bridge}: no container uses it any more"
            ));
        }
    }
    if config.nat || !config.publish.is_empty() {
        for line in nat::remove(config, &attachment.tag)? {
            narrator.say(line);
        }
    }
    Ok(())
}
// ANCHOR_END: detach
