//! IP address management: the subnet, and which container holds which address.
//!
//! Addresses come from a subnet; a lease file under the state directory, locked
//! while it is read and written, makes sure concurrent containers never get the same
//! one. A container that has ended gives its line back at once, but its veth pair
//! lives on until the kernel frees the container's network namespace, and its
//! `eth0` keeps the address till then. So the pair holds the lease meanwhile: its
//! host end carries the address in its alias, and the kernel deletes both together.

use super::config::{Attachment, NetworkConfig};
use super::netlink::Netlink;
use super::state_files::{open_locked, remove_state_file};
use crate::container::{ContainerId, Error, state};
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The lease file, opened and locked (`flock`) until dropped.
struct LeaseFile {
    file: File,
    path: PathBuf,
}

/// One line of the lease file: `ADDRESS ID`, the id of the container holding it.
#[derive(Clone, Debug, PartialEq)]
struct Lease {
    address: Ipv4Addr,
    holder: String,
}

impl LeaseFile {
    fn open(config: &NetworkConfig) -> io::Result<LeaseFile> {
        LeaseFile::open_at(config.lease_file())
    }

    fn open_at(path: PathBuf) -> io::Result<LeaseFile> {
        let file = open_locked(&path)?;
        Ok(LeaseFile { file, path })
    }

    // ANCHOR: read_leases
    /// The leases whose holder still exists: its state folder is next to `net/`
    /// (a container deleted, or never fully made, frees its lease).
    fn read(&mut self, root: &Path) -> io::Result<Vec<Lease>> {
        let mut text = String::new();
        self.file.rewind()?;
        self.file.read_to_string(&mut text)?;
        let leases = text
            .lines()
            .filter_map(|line| {
                let (address, holder) = line.split_once(' ')?;
                Some(Lease {
                    address: address.parse().ok()?,
                    holder: holder.to_string(),
                })
            })
            .filter(|lease| state::exists(root, &lease.holder))
            .collect();
        Ok(leases)
    }
    // ANCHOR_END: read_leases

    /// Writes the leases back, or removes the file (and the empty folders) when none
    /// is left.
    fn write(mut self, leases: &[Lease]) -> io::Result<()> {
        if leases.is_empty() {
            return remove_state_file(&self.path);
        }
        let text: String = leases
            .iter()
            .map(|l| format!("{} {}\n", l.address, l.holder))
            .collect();
        self.file.set_len(0)?;
        self.file.rewind()?;
        self.file.write_all(text.as_bytes())
    }
}

// ANCHOR: lease
/// Picks the container's address (the one asked for, or the lowest free one) and
/// records it under the container's id. The veth's host end and the NAT rules are
/// named after the id too, so they are unique on the host.
pub fn lease(config: &NetworkConfig, id: &ContainerId) -> Result<Attachment, Error> {
    let io_error = |e: io::Error| {
        Error::network(format!("lease file {}", config.lease_file().display()))(e)
    };
    let mut file = LeaseFile::open(config).map_err(io_error)?;
    let mut leases = file.read(&config.state_dir).map_err(io_error)?;
    let paired = held_by_host_ends(&config.bridge)
        .map_err(Error::network("ip link show (the host ends' aliases)"))?;
    let taken = |address: Ipv4Addr| {
        leases.iter().any(|l| l.address == address)
            || paired.iter().any(|(_, held)| *held == address)
    };
    let address = match config.address {
        Some(address) if leases.iter().any(|l| l.address == address) => {
            return Err(Error::BadInput(format!(
                "{address} is already used by another container"
            )));
        }
        Some(address) if taken(address) => {
            let (link, _) =
                paired.iter().find(|(_, held)| *held == address).unwrap();
            return Err(Error::BadInput(format!(
                "{address} is still held by {link}, the veth of a container that \
                 has ended: the kernel deletes it once nothing uses that \
                 container's network namespace any more"
            )));
        }
        Some(address) => address,
        None => {
            let free = config.subnet.container_addresses().find(|a| !taken(*a));
            free.ok_or_else(|| Error::NoFreeAddress {
                subnet: config.subnet.to_string(),
                lease_file: config.lease_file(),
            })?
        }
    };
    let holder = id.to_string();
    leases.push(Lease { address, holder });
    file.write(&leases).map_err(io_error)?;
    Ok(Attachment {
        address,
        subnet: config.subnet,
        host_end: id.host_end_name(),
        tag: id.nat_tag(),
    })
}
// ANCHOR_END: lease

// ANCHOR: lease_alias
/// The alias a container's host end carries: `nsbox lease ADDRESS on BRIDGE`.
pub fn lease_alias(address: Ipv4Addr, bridge: &str) -> String {
    format!("nsbox lease {address} on {bridge}")
}

/// The addresses on `bridge` that veth pairs hold, read from their host ends'
/// aliases, with the host ends' names: those of running containers, and those of
/// containers that have ended whose pairs the kernel has not deleted yet.
fn held_by_host_ends(bridge: &str) -> io::Result<Vec<(String, Ipv4Addr)>> {
    let mut netlink = Netlink::open()?;
    let Some(bridge_index) = netlink.link_index(bridge)? else {
        return Ok(Vec::new()); // no bridge yet: no port holds anything
    };
    let held = netlink
        .port_aliases(bridge_index)?
        .into_iter()
        .filter_map(|(link, alias)| {
            let rest = alias.strip_prefix("nsbox lease ")?;
            let (address, on) = rest.split_once(" on ")?;
            if on != bridge {
                return None;
            }
            Some((link, address.parse().ok()?))
        })
        .collect();
    Ok(held)
}
// ANCHOR_END: lease_alias

/// Gives the lease file's line back (the host end keeps holding the address until
/// the kernel deletes it). Returns how many containers still hold a line on this
/// bridge.
pub fn release(config: &NetworkConfig, address: Ipv4Addr) -> io::Result<usize> {
    let mut file = LeaseFile::open(config)?;
    let mut leases = file.read(&config.state_dir)?;
    leases.retain(|l| l.address != address);
    let left = leases.len();
    file.write(&leases)?;
    Ok(left)
}

/// Gives back every address `id` holds under `root`, on any bridge. `delete` calls
/// it last: a starter killed right after it leased an address, before it wrote the
/// lease in the container's record, leaves a line only this finds.
pub fn release_all(root: &Path, id: &ContainerId) -> io::Result<()> {
    let Ok(entries) = std::fs::read_dir(root.join("net")) else {
        return Ok(()); // no network was ever leased under this root
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "leases") {
            let mut file = LeaseFile::open_at(path)?;
            let mut leases = file.read(root)?;
            leases.retain(|l| l.holder != id.as_str());
            file.write(&leases)?;
        }
    }
    // Killed between its `mkdir` and its first lease file, a starter leaves an
    // empty `net/`.
    let _ = std::fs::remove_dir(root.join("net"));
    Ok(())
}
