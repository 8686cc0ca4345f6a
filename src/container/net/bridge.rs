//! The bridge on the host: a virtual switch that every container's veth end is
//! attached to, holding the gateway address.

use super::config::NetworkConfig;
use super::netlink::Netlink;
use crate::container::{Error, Narrator};
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
    match netlink.add_bridge(name) {
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
        "created bridge {name}: ip link add {name} type bridge; \
         ip addr add {gateway}/{prefix} dev {name}; ip link set {name} up"
    ));
    Ok(index)
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
