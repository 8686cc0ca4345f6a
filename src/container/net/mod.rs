//! The network namespace, wired to the host: a veth pair, a bridge, an address and a
//! route.
//!
//! A new network namespace has only `lo`, and it is down. To let the container
//! talk, the parent (on the host) creates a veth pair — two network interfaces
//! joined like the ends of a cable — with one end on the host, attached to a bridge
//! (a virtual switch, with the gateway address), and the other end, `eth0`, made
//! directly in the child's namespace. The child then gives `eth0` an address,
//! brings it and `lo` up, and routes everything else through the gateway:
//!
//! ```text
//!   host                              container
//!   nsbox0 (bridge, 10.89.0.1/24)
//!     └── nsb<id> ═══ veth pair ═══ eth0 (10.89.0.2/24), default via 10.89.0.1
//! ```
//!
//! When the container ends, the kernel deletes the pair with its namespace.
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
pub mod netns;
pub mod state_files;
pub mod subnet;

pub use config::{
    Attachment, CONTAINER_LINK, DEFAULT_BRIDGE, DEFAULT_STATE_DIR, MAX_LINK_NAME,
    NetworkConfig, Protocol, Publish,
};
pub use ipam::{lease, lease_alias, release, release_all};
pub use netns::{NETNS_DIR, bind_netns, unbind_netns};
pub use subnet::{DEFAULT_SUBNET, Subnet};

use super::{Error, Narrator};
use bridge::ensure_bridge;
use netlink::Netlink;
use std::io;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// The host's side, done by the parent while the child waits.

// ANCHOR: attach
/// Makes sure the bridge exists, and creates the veth pair: one end on the bridge,
/// up, the other in the child's network namespace.
pub fn attach(
    config: &NetworkConfig,
    attachment: &Attachment,
    child: u32,
    narrator: &Narrator,
) -> Result<(), Error> {
    let mut netlink = Netlink::open().map_err(Error::network("netlink socket"))?;
    let bridge = ensure_bridge(&mut netlink, config, narrator)?;
    let host_end = &attachment.host_end;
    let command = format!(
        "ip link add {host_end} master {} up type veth peer name {CONTAINER_LINK} \
         netns {child}",
        config.bridge
    );
    add_veth(&mut netlink, host_end, bridge, child, narrator)
        .map_err(Error::network(command.clone()))?;
    // The pair may outlive the container (see `detach`): the host end holds the
    // address meanwhile, in a note the kernel deletes with it.
    let alias = lease_alias(attachment.address, &config.bridge);
    netlink
        .set_alias(host_end, &alias)
        .map_err(Error::network(format!(
            "ip link set {host_end} alias '{alias}'"
        )))?;
    if config.nat || !config.publish.is_empty() {
        for line in nat::add(config, attachment)? {
            narrator.say(line);
        }
    }
    narrator.say(format!("{command}; ip link set {host_end} alias '{alias}'"));
    forget_the_address_before(&mut netlink, bridge, config, attachment, narrator)
}
// ANCHOR_END: attach

/// The address may have been another container's, which has ended: the host may
/// still remember that one's hardware address for it (its ARP cache), and would
/// send this container's packets there, to nobody, for up to a minute. The kernel
/// forgets by itself when the bridge loses its last port, but not while other
/// containers are on it.
fn forget_the_address_before(
    netlink: &mut Netlink,
    bridge: u32,
    config: &NetworkConfig,
    attachment: &Attachment,
    narrator: &Narrator,
) -> Result<(), Error> {
    let address = attachment.address;
    let command = format!("ip neigh delete {address} dev {}", config.bridge);
    if netlink
        .forget_neighbour(bridge, address)
        .map_err(Error::network(command.clone()))?
    {
        narrator.say(format!(
            "{command}: the host forgets the hardware address of the container that \
             had {address} before"
        ));
    }
    Ok(())
}

/// How long a container's host end may still be there after a container of the
/// same id ended: the kernel deletes it when it frees that container's network
/// namespace, in the background (usually within tens of milliseconds).
const OLD_HOST_END_GONE_WITHIN: Duration = Duration::from_secs(2);

// ANCHOR: add_veth_retry
/// `ip link add`, with `eth0` made in the child's namespace. If the host end's name
/// is taken, it is most likely by the pair of a container with the same id that
/// has just ended, which the kernel is about to delete: we wait for that, for a
/// while, then give up with `EEXIST`. We never delete it ourselves: it may belong
/// to a live container.
fn add_veth(
    netlink: &mut Netlink,
    host_end: &str,
    bridge: u32,
    child: u32,
    narrator: &Narrator,
) -> io::Result<()> {
    let deadline = Instant::now() + OLD_HOST_END_GONE_WITHIN;
    let mut told = false;
    loop {
        match netlink.add_veth(host_end, bridge, CONTAINER_LINK, child) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                if Instant::now() >= deadline {
                    return Err(e);
                }
                if !told {
                    narrator.say(format!(
                        "{host_end} exists: waiting for the kernel to delete it \
                         with the namespace of the container that had it"
                    ));
                    told = true;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}
// ANCHOR_END: add_veth_retry

// ---------------------------------------------------------------------------------------------
// After the container exits.

// ANCHOR: detach
/// Leaves the veth pair to the kernel, gives the lease file's line back, removes
/// our NAT rules, and removes the bridge if asked to and no container uses it any
/// more.
pub fn detach(
    config: &NetworkConfig,
    attachment: &Attachment,
    veth_made: bool,
    narrator: &Narrator,
) -> Result<(), Error> {
    let host_end = &attachment.host_end;
    // The kernel deletes the pair when it frees the container's network namespace,
    // in the background, a moment after the last process has gone; deleting it
    // ourselves would wait for the same grace periods. Until then `eth0` keeps the
    // address, and the host end's alias keeps it taken (see `ipam`). Left on the
    // bridge, the container's TCP connections that are still closing can finish:
    // cut off, they would hold the namespace (and the pair) for minutes.
    if veth_made {
        narrator.say(format!(
            "left {host_end} and its peer to the kernel: they go with the \
             container's network namespace, and {} with them",
            attachment.address
        ));
    }
    let left = release(config, attachment.address).map_err(Error::network(
        format!("lease file {}", config.lease_file().display()),
    ))?;
    narrator.say(format!(
        "gave back the lease file's line for {}",
        attachment.address
    ));
    if config.remove_bridge && left == 0 {
        let mut netlink =
            Netlink::open().map_err(Error::network("netlink socket"))?;
        // Ports still on it (a dead container's host end the kernel has not
        // deleted yet) are taken off; the kernel deletes them later all the same.
        let bridge = &config.bridge;
        if delete_link_if_there(&mut netlink, bridge)? {
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

/// `ip link delete NAME` if there is such a link (the kernel may be deleting it at
/// the same moment: `ENODEV` is fine too). Says whether there was one.
fn delete_link_if_there(netlink: &mut Netlink, name: &str) -> Result<bool, Error> {
    let Some(index) = netlink
        .link_index(name)
        .map_err(Error::network(format!("ip link show {name}")))?
    else {
        return Ok(false);
    };
    match netlink.delete_link(index) {
        Err(e) if e.raw_os_error() != Some(nix::libc::ENODEV) => {
            Err(Error::network(format!("ip link delete {name}"))(e))
        }
        _ => Ok(true),
    }
}
