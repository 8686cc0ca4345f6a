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
//!     └── nsb<pid> ═══ veth pair ═══ eth0 (10.89.0.2/24), default via 10.89.0.1
//! ```
//!
//! Addresses come from a subnet; a lease file under the state directory, locked
//! while it is read and written, makes sure concurrent containers never get the same
//! one.

use super::nat::{self, Publish};
use super::netlink::Netlink;
use super::{Error, Narrator};
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

pub const DEFAULT_BRIDGE: &str = "nsbox0";
pub const DEFAULT_SUBNET: &str = "10.89.0.0/24";
pub const DEFAULT_STATE_DIR: &str = "/run/nsbox";

/// The longest name a network interface may have (`IFNAMSIZ` - 1).
pub const MAX_LINK_NAME: usize = 15;

/// An IPv4 subnet such as `10.89.0.0/24`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subnet {
    pub network: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    fn mask(self) -> u32 {
        u32::MAX << (32 - self.prefix)
    }

    /// The first address: the bridge's, the containers' gateway.
    pub fn gateway(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) + 1)
    }

    fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | !self.mask())
    }

    pub fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & self.mask() == u32::from(self.network)
    }

    /// The addresses a container may get: all but the network, gateway and broadcast
    /// ones.
    pub fn container_addresses(self) -> impl Iterator<Item = Ipv4Addr> {
        let first = u32::from(self.gateway()) + 1;
        let last = u32::from(self.broadcast());
        (first..last).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = String;

    fn from_str(text: &str) -> Result<Subnet, String> {
        // The option parser shows `text` before our message: no need to repeat it.
        let usage = || format!("not a subnet like {DEFAULT_SUBNET}");
        let (address, prefix) = text.split_once('/').ok_or_else(usage)?;
        let network: Ipv4Addr = address.parse().map_err(|_| usage())?;
        let prefix: u8 = prefix.parse().map_err(|_| usage())?;
        if !(8..=30).contains(&prefix) {
            return Err("use a prefix from /8 to /30 (room for a gateway and a \
                        container)"
                .to_string());
        }
        let subnet = Subnet { network, prefix };
        if u32::from(network) & !subnet.mask() != 0 {
            let fixed = Ipv4Addr::from(u32::from(network) & subnet.mask());
            return Err(format!("host bits set: did you mean {fixed}/{prefix}?"));
        }
        Ok(subnet)
    }
}

/// What the student asked for: which bridge, which subnet, and where the leases
/// live.
#[derive(Clone, Debug)]
pub struct NetworkConfig {
    pub bridge: String,
    pub subnet: Subnet,
    /// A fixed address for the container, or `None` for the next free one.
    pub address: Option<Ipv4Addr>,
    pub state_dir: PathBuf,
    /// Remove the bridge when the last container using it exits.
    pub remove_bridge: bool,
    /// Masquerade the container's outgoing traffic behind the host's address.
    pub nat: bool,
    /// Host ports whose connections go on to the container.
    pub publish: Vec<Publish>,
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

    fn lease_file(&self) -> PathBuf {
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
    /// The end on the host, attached to the bridge.
    pub host_end: String,
    /// The other end's name until the child renames it `eth0`.
    pub peer_end: String,
}

// ---------------------------------------------------------------------------------------------
// Leases: which container has which address.

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

// ANCHOR: open_locked
/// Opens (creating it and its folders if needed) and locks a state file with
/// `flock(2)`.
///
/// Surprise: whoever held the lock before us may have deleted the file (the last
/// lease gone) while we waited. We would then hold a lock on a file nobody else can
/// find any more, so we check that the path still names the file we locked, and
/// start again if not.
pub(crate) fn open_locked(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    loop {
        std::fs::create_dir_all(path.parent().unwrap())?;
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        #[allow(deprecated)]
        // nix's newer Flock type takes the file by value; this is plainer
        nix::fcntl::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            nix::fcntl::FlockArg::LockExclusive,
        )?;
        let locked = file.metadata()?.ino();
        if std::fs::metadata(path).is_ok_and(|now| now.ino() == locked) {
            return Ok(file);
        }
    }
}
// ANCHOR_END: open_locked

/// Removes a state file, then `<state>/net/` and `<state>/` if that left them empty,
/// so a machine with no container running keeps nothing of ours.
pub(crate) fn remove_state_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)?;
    let net_dir = path.parent().unwrap();
    let _ = std::fs::remove_dir(net_dir)
        .and_then(|_| std::fs::remove_dir(net_dir.parent().unwrap()));
    Ok(())
}

// ANCHOR: lease
/// Picks the container's address (the one asked for, or the lowest free one) and
/// records it under our pid. The veth ends are named after our pid too, so they are
/// unique on the host.
pub fn lease(config: &NetworkConfig) -> Result<Attachment, Error> {
    let io_error = |e: io::Error| {
        Error::Network(format!("lease file {}: {e}", config.lease_file().display()))
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
            free.ok_or_else(|| {
                Error::BadInput(format!(
                    "no free address left in {}: every one is leased (see {}); \
                     use a larger --subnet",
                    config.subnet,
                    config.lease_file().display()
                ))
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
fn release(config: &NetworkConfig, address: Ipv4Addr) -> io::Result<usize> {
    let mut file = LeaseFile::open(config)?;
    let mut leases = file.read()?;
    leases.retain(|l| l.address != address);
    let left = leases.len();
    file.write(&leases)?;
    Ok(left)
}

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
    let failed = |what: &str| {
        let what = what.to_string();
        move |e: io::Error| Error::Network(format!("{what}: {e}"))
    };
    let mut netlink = Netlink::open().map_err(failed("netlink socket"))?;
    let bridge = ensure_bridge(&mut netlink, config, narrator)?;
    let (host_end, peer_end) = (&attachment.host_end, &attachment.peer_end);
    netlink
        .add_veth(host_end, peer_end)
        .map_err(failed(&format!(
            "ip link add {host_end} type veth peer name {peer_end}"
        )))?;
    let result = (|| {
        let host_index = index_of(&mut netlink, host_end)?;
        netlink
            .set_controller(host_index, bridge)
            .map_err(failed(&format!(
                "ip link set {host_end} master {}",
                config.bridge
            )))?;
        netlink
            .set_up(host_index)
            .map_err(failed(&format!("ip link set {host_end} up")))?;
        let peer_index = index_of(&mut netlink, peer_end)?;
        netlink
            .move_to_netns_of(peer_index, child)
            .map_err(failed(&format!("ip link set {peer_end} netns {child}")))
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

/// The bridge's index; creates it, with the gateway address, when it is missing.
fn ensure_bridge(
    netlink: &mut Netlink,
    config: &NetworkConfig,
    narrator: &Narrator,
) -> Result<u32, Error> {
    let name = &config.bridge;
    let failed =
        |what: String| move |e: io::Error| Error::Network(format!("{what}: {e}"));
    if let Some(index) = netlink
        .link_index(name)
        .map_err(failed(format!("ip link show {name}")))?
    {
        narrator.say(format!("bridge {name} is there already"));
        return Ok(index);
    }
    let gateway = config.subnet.gateway();
    let prefix = config.subnet.prefix;
    match netlink.add_bridge(name) {
        // Another container created it a moment ago: fine.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other.map_err(failed(format!("ip link add {name} type bridge")))?,
    }
    let index = index_of(netlink, name)?;
    match netlink.add_address(index, gateway, prefix) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        other => other
            .map_err(failed(format!("ip addr add {gateway}/{prefix} dev {name}")))?,
    }
    netlink
        .set_up(index)
        .map_err(failed(format!("ip link set {name} up")))?;
    narrator.say(format!(
        "created bridge {name}: ip link add {name} type bridge; \
         ip addr add {gateway}/{prefix} dev {name}; ip link set {name} up"
    ));
    Ok(index)
}

fn index_of(netlink: &mut Netlink, name: &str) -> Result<u32, Error> {
    match netlink.link_index(name) {
        Ok(Some(index)) => Ok(index),
        Ok(None) => Err(Error::Network(format!("link {name} vanished"))),
        Err(e) => Err(Error::Network(format!("ip link show {name}: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// The container's side, done by the child in its own network namespace.

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
    let failed =
        |what: String| move |e: io::Error| Error::Network(format!("{what}: {e}"));
    let mut netlink = Netlink::open().map_err(failed("netlink socket".into()))?;
    let host_end = &attachment.host_end;
    // The kernel deletes the container's end, and so the pair, when it frees the
    // namespace; but it frees namespaces in the background, a little after the last
    // process left. We do not wait: we delete the host end ourselves if it is still
    // there (and whether the kernel or we were first varies from run to run, so the
    // narration says the same for both).
    if let Some(index) = netlink
        .link_index(host_end)
        .map_err(failed(format!("ip link show {host_end}")))?
    {
        match netlink.delete_link(index) {
            Err(e) if e.raw_os_error() != Some(nix::libc::ENODEV) => {
                return Err(Error::Network(format!(
                    "ip link delete {host_end}: {e}"
                )));
            }
            _ => {}
        }
    }
    narrator.say(format!(
        "{host_end} and its peer are gone (ip link delete {host_end}, if the \
         kernel had not deleted them with the namespace yet)"
    ));
    let left = release(config, attachment.address).map_err(failed(format!(
        "lease file {}",
        config.lease_file().display()
    )))?;
    narrator.say(format!("released {}", attachment.address));
    if config.remove_bridge && left == 0 {
        let bridge = &config.bridge;
        if let Some(index) = netlink
            .link_index(bridge)
            .map_err(failed(format!("ip link show {bridge}")))?
        {
            netlink
                .delete_link(index)
                .map_err(failed(format!("ip link delete {bridge}")))?;
            narrator.say(format!(
                "ip link delete {bridge}: no container uses it any more"
            ));
        }
    }
    if config.nat || !config.publish.is_empty() {
        for line in nat::remove(config)? {
            narrator.say(line);
        }
    }
    Ok(())
}
// ANCHOR_END: detach

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets() {
        let subnet: Subnet = "10.89.0.0/24".parse().unwrap();
        assert_eq!(subnet.gateway(), Ipv4Addr::new(10, 89, 0, 1));
        let addresses: Vec<_> = subnet.container_addresses().collect();
        assert_eq!(addresses.len(), 253);
        assert_eq!(addresses[0], Ipv4Addr::new(10, 89, 0, 2));
        assert_eq!(addresses[252], Ipv4Addr::new(10, 89, 0, 254));
        let tiny: Subnet = "10.89.0.0/30".parse().unwrap();
        assert_eq!(
            tiny.container_addresses().collect::<Vec<_>>(),
            [Ipv4Addr::new(10, 89, 0, 2)]
        );
        for bad in [
            "10.89.0.0",
            "10.89.0.1/24",
            "10.89.0.0/31",
            "10.89.0.0/7",
            "300.1.1.0/24",
            "x/24",
        ] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad} was accepted");
        }
    }
}
