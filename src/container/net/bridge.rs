//! The bridge on the host: a virtual switch that every container's veth end is
//! attached to, holding the gateway address.

use super::config::NetworkConfig;
use super::netlink::Netlink;
use crate::container::{Error, Narrator, proc_file};
use std::io;

/// The bridge's index; creates it, with the gateway address, when it is missing.
pub fn ensure_bridge(
    netlink: &mut Netlink,
    config: &NetworkConfig,
    narrator: &Narrator,
) -> Result<u32, Error> {
    let name = &config.bridge;
    if let Some(index) = netlink
        .link_index(name)
        .map_err(Error::network(format!("ip link show {name}")))?
    {
        narrator.say(format!("bridge {name} is there already"));
        return Ok(index);
    }
    let gateway = config.subnet.gateway();
    let prefix = config.subnet.prefix;
    // A bridge with no hardware address of its own takes the lowest of its ports'
    // and changes it whenever a port comes or goes. A container's ARP cache would
    // then point the gateway at an address the bridge no longer answers to, and
    // its replies would be lost until the entry expires. One we set stays.
    let mac = random_local_mac();
    match netlink.add_bridge(name, mac) {
        // Another container created it a moment ago: fine.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other
            .map_err(Error::network(format!("ip link add {name} type bridge")))?,
    }
    let index = index_of(netlink, name)?;
    match netlink.add_address(index, gateway, prefix) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other.map_err(Error::network(format!(
            "ip addr add {gateway}/{prefix} dev {name}"
        )))?,
    }
    netlink
        .set_up(index)
        .map_err(Error::network(format!("ip link set {name} up")))?;
    narrator.say(format!(
        "created bridge {name}: ip link add {name} address {} type bridge; \
         ip addr add {gateway}/{prefix} dev {name}; ip link set {name} up",
        mac_text(mac)
    ));
    Ok(index)
}

/// A random hardware address, marked as one we made up: the second-lowest bit of
/// the first byte says "locally administered", and the lowest bit clear says
/// "one machine, not a group". The randomness is the kernel's, from a fresh uuid.
pub fn random_local_mac() -> [u8; 6] {
    let uuid = proc_file::read("/proc/sys/kernel/random/uuid").unwrap_or_default();
    let digits: Vec<u8> = uuid
        .chars()
        .filter_map(|c| c.to_digit(16))
        .map(|digit| digit as u8)
        .collect();
    let mut mac = [0x02, 0, 0, 0, 0, 1];
    for (byte, pair) in mac.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    mac[0] = (mac[0] & 0xfe) | 0x02;
    mac
}

/// `aa:bb:cc:dd:ee:ff`
fn mac_text(mac: [u8; 6]) -> String {
    let bytes: Vec<String> = mac.iter().map(|b| format!("{b:02x}")).collect();
    bytes.join(":")
}

pub fn index_of(netlink: &mut Netlink, name: &str) -> Result<u32, Error> {
    match netlink.link_index(name) {
        Ok(Some(index)) => Ok(index),
        Ok(None) => Err(Error::network(format!("ip link show {name}"))(
            io::Error::other("the link vanished"),
        )),
        Err(e) => Err(Error::network(format!("ip link show {name}"))(e)),
    }
}
