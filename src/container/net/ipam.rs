//! IP address management: the subnet, and which container holds which address.
//!
//! Addresses come from a subnet; a lease file under the state directory, locked
//! while it is read and written, makes sure concurrent containers never get the same
//! one.

use super::config::{Attachment, NetworkConfig};
use super::state_files::{open_locked, remove_state_file};
use crate::container::Error;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

/// The lease file, opened and locked (`flock`) until dropped.
struct LeaseFile {
    file: File,
    path: PathBuf,
}

/// One line of the lease file: `ADDRESS PID`, the pid of the lesson binary holding
/// it.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Lease {
    address: Ipv4Addr,
    holder: i32,
}

impl LeaseFile {
    fn open(config: &NetworkConfig) -> io::Result<LeaseFile> {
        let path = config.lease_file();
        let file = open_locked(&path)?;
        Ok(LeaseFile { file, path })
    }

    // ANCHOR: read_leases
    /// The leases whose holder is still running (a crashed run's lease is free
    /// again).
    fn read(&mut self) -> io::Result<Vec<Lease>> {
        let mut text = String::new();
        self.file.rewind()?;
        self.file.read_to_string(&mut text)?;
        let leases = text
            .lines()
            .filter_map(|line| {
                let (address, holder) = line.split_once(' ')?;
                Some(Lease {
                    address: address.parse().ok()?,
                    holder: holder.parse().ok()?,
                })
            })
            .filter(|lease| Path::new(&format!("/proc/{}", lease.holder)).exists())
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
/// records it under our pid. The veth ends are named after our pid too, so they are
/// unique on the host.
pub fn lease(config: &NetworkConfig) -> Result<Attachment, Error> {
    let io_error = |e: io::Error| {
        Error::network(format!("lease file {}", config.lease_file().display()))(e)
    };
    let mut file = LeaseFile::open(config).map_err(io_error)?;
    let mut leases = file.read().map_err(io_error)?;
    let taken = |address: Ipv4Addr| leases.iter().any(|l| l.address == address);
    let address = match config.address {
        Some(address) if taken(address) => {
            return Err(Error::BadInput(format!(
                "{address} is already used by another container"
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
    let holder = std::process::id() as i32;
    leases.push(Lease { address, holder });
    file.write(&leases).map_err(io_error)?;
    Ok(Attachment {
        address,
        subnet: config.subnet,
        host_end: format!("nsb{holder}"),
        peer_end: format!("nsp{holder}"),
    })
}
// ANCHOR_END: lease

/// Gives the address back. Returns how many containers still hold a lease on this
/// bridge.
pub fn release(config: &NetworkConfig, address: Ipv4Addr) -> io::Result<usize> {
    let mut file = LeaseFile::open(config)?;
    let mut leases = file.read()?;
    leases.retain(|l| l.address != address);
    let left = leases.len();
    file.write(&leases)?;
    Ok(left)
}
