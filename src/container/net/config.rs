//! What a container's network is: what the student asked for ([`NetworkConfig`])
//! and what one container got ([`Attachment`]).

use super::subnet::Subnet;
use crate::container::Error;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::str::FromStr;

pub const DEFAULT_BRIDGE: &str = "nsbox0";
pub const DEFAULT_STATE_DIR: &str = "/run/nsbox";

/// The longest name a network interface may have (`IFNAMSIZ` - 1).
pub const MAX_LINK_NAME: usize = 15;

/// The container's end of the veth pair, in the container's network namespace
/// (every container has its own `eth0`: a name is unique only in its namespace).
pub const CONTAINER_LINK: &str = "eth0";

/// What the student asked for: which bridge, which subnet, and where the leases
/// live.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    pub bridge: String,
    pub subnet: Subnet,
    /// A fixed address for the container, or `None` for the next free one.
    pub address: Option<Ipv4Addr>,
    /// The state root: the network's files are in `<state_dir>/net/`, beside the
    /// containers' folders (`lifecycle::create` sets it to the root it is given).
    pub state_dir: PathBuf,
    /// Remove the bridge when the last container using it exits.
    pub remove_bridge: bool,
    /// Masquerade the container's outgoing traffic behind the host's address.
    pub nat: bool,
    /// Host ports whose connections go on to the container.
    pub publish: Vec<Publish>,
    /// Let the host reach published ports on `127.0.0.1` too (the runtime does,
    /// as docker; lesson 06 shows why it does not work without this).
    pub publish_on_loopback: bool,
}

impl NetworkConfig {
    /// Refuses what the kernel or the subnet would refuse, before anything is
    /// created.
    pub fn validate(&self) -> Result<(), Error> {
        let name = &self.bridge;
        if name.is_empty() || name.len() > MAX_LINK_NAME {
            return Err(Error::BadInput(format!(
                "bridge name '{name}' is {} bytes long; interface names are 1 to \
                 {MAX_LINK_NAME} bytes (IFNAMSIZ)",
                name.len()
            )));
        }
        if name.contains(|c: char| c == '/' || c == ':' || c.is_whitespace())
            || name == "."
            || name == ".."
        {
            return Err(Error::BadInput(format!(
                "'{name}' cannot name a network interface"
            )));
        }
        if let Some(address) = self.address {
            let usable = self.subnet.container_addresses().any(|a| a == address);
            if !usable {
                return Err(Error::BadInput(format!(
                    "{address} is not a container address in {} (the gateway is {})",
                    self.subnet,
                    self.subnet.gateway()
                )));
            }
        }
        Ok(())
    }

    pub fn lease_file(&self) -> PathBuf {
        self.state_dir
            .join("net")
            .join(format!("{}.leases", self.bridge))
    }
}

/// What one container got: its address and the names of its veth ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub address: Ipv4Addr,
    pub subnet: Subnet,
    /// The end on the host, attached to the bridge (the other end is
    /// [`CONTAINER_LINK`], in the container).
    pub host_end: String,
    /// The comment on its NAT rules, so they can be found and removed.
    pub tag: String,
}

/// A published port: connections to `host_port` on the host go on to
/// `container_port` in the container, over TCP or UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Publish {
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// The transport a published port forwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl Protocol {
    /// As nftables writes it: `tcp`, `udp`.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl FromStr for Publish {
    type Err = String;

    /// `8080:80`, `8080:80/tcp` or `5353:53/udp`.
    fn from_str(text: &str) -> Result<Publish, String> {
        let usage = || {
            format!(
                "'{text}' is not HOST_PORT:CONTAINER_PORT[/tcp|/udp] (e.g. 8080:80)"
            )
        };
        let (ports, protocol) = match text.split_once('/') {
            None => (text, Protocol::Tcp),
            Some((ports, "tcp")) => (ports, Protocol::Tcp),
            Some((ports, "udp")) => (ports, Protocol::Udp),
            Some(_) => return Err(usage()),
        };
        let (host, container) = ports.split_once(':').ok_or_else(usage)?;
        let port =
            |p: &str| p.parse::<u16>().ok().filter(|&p| p != 0).ok_or_else(usage);
        Ok(Publish {
            host_port: port(host)?,
            container_port: port(container)?,
            protocol,
        })
    }
}

impl fmt::Display for Publish {
    /// `8080:80` for TCP (the default), `5353:53/udp`.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}:{}", self.host_port, self.container_port)?;
        if self.protocol == Protocol::Udp {
            write!(f, "/udp")?;
        }
        Ok(())
    }
}
