//! A tiny netlink client: the few messages `ip link`, `ip addr` and `ip route` send
//! to the kernel, sent from our own process.
//!
//! Netlink is a socket family (`AF_NETLINK`); `NETLINK_ROUTE` is its part for links,
//! addresses and routes. A request is one message with flags; with `NLM_F_ACK` the
//! kernel answers with an "error" message whose code is 0 on success or `-errno`. A
//! socket belongs to the network namespace it was opened in: the parent's talks
//! about the host's links, the child's about its own. The message types come from
//! the `netlink-packet-route` crate.

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST, NetlinkHeader,
    NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkExtentMask, LinkFlags,
    LinkInfo, LinkMessage,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol,
    RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
use std::io;
use std::net::Ipv4Addr;

/// An open `NETLINK_ROUTE` socket, in the network namespace we were in when we
/// opened it.
pub struct Netlink {
    socket: Socket,
    sequence: u32,
}

impl Netlink {
    /// `socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_ROUTE)`, talking to
    /// the kernel.
    pub fn open() -> io::Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE)?;
        socket.bind_auto()?;
        socket.connect(&SocketAddr::new(0, 0))?;
        Ok(Netlink {
            socket,
            sequence: 0,
        })
    }

    /// The index of the link with this name, if there is one (`ip link show NAME`).
    pub fn link_index(&mut self, name: &str) -> io::Result<Option<u32>> {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.into()));
        match self.request(RouteNetlinkMessage::GetLink(message), 0) {
            Ok(replies) => Ok(replies.into_iter().find_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => Some(link.header.index),
                _ => None,
            })),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENODEV) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Is the link running (`ip link show` says `LOWER_UP` and the state `UP`)? The
    /// kernel sets this flag once it has acted on the link's carrier.
    pub fn is_running(&mut self, index: u32) -> io::Result<bool> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        let replies = self.request(RouteNetlinkMessage::GetLink(message), 0)?;
        Ok(replies.into_iter().any(|reply| match reply {
            RouteNetlinkMessage::NewLink(link) => {
                link.header.flags.contains(LinkFlags::Running)
            }
            _ => false,
        }))
    }

    // ANCHOR: add_bridge
    /// `ip link add NAME address MAC type bridge`
    pub fn add_bridge(&mut self, name: &str, mac: [u8; 6]) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.into()));
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
        message
            .attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(
                InfoKind::Bridge,
            )]));
        self.create(RouteNetlinkMessage::NewLink(message))
    }
    // ANCHOR_END: add_bridge

    // ANCHOR: add_veth
    /// `ip link add NAME master BRIDGE up type veth peer name PEER netns PID`: two
    /// linked ends; what goes in one comes out of the other. `NAME` is made here,
    /// on the bridge and up; `PEER` in the network namespace of process `PID`, so
    /// it is never here: its name must be free only there. One request, so the
    /// kernel makes all of it or nothing.
    pub fn add_veth(
        &mut self,
        name: &str,
        bridge: u32,
        peer: &str,
        pid: u32,
    ) -> io::Result<()> {
        let mut peer_message = LinkMessage::default();
        peer_message
            .attributes
            .push(LinkAttribute::IfName(peer.into()));
        peer_message.attributes.push(LinkAttribute::NetNsPid(pid));
        let mut message = LinkMessage::default();
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        message.attributes.push(LinkAttribute::IfName(name.into()));
        message.attributes.push(LinkAttribute::Controller(bridge));
        message.attributes.push(LinkAttribute::LinkInfo(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ]));
        self.create(RouteNetlinkMessage::NewLink(message))
    }
    // ANCHOR_END: add_veth

    /// `ip link set dev INDEX up`
    pub fn set_up(&mut self, index: u32) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.flags = LinkFlags::Up;
        message.header.change_mask = LinkFlags::Up;
        self.change(RouteNetlinkMessage::SetLink(message))
    }

    /// `ip link set dev NAME alias TEXT`: a note on the link, kept by the kernel
    /// for as long as the link exists.
    pub fn set_alias(&mut self, name: &str, alias: &str) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::IfName(name.into()));
        message
            .attributes
            .push(LinkAttribute::IfAlias(alias.into()));
        self.change(RouteNetlinkMessage::SetLink(message))
    }

    /// The bridge's ports that have an alias, and their aliases (`ip -o link show
    /// master BRIDGE`: all of them at once, a "dump"; the kernel leaves out the
    /// other links, and the counters nobody reads here).
    pub fn port_aliases(
        &mut self,
        bridge: u32,
    ) -> io::Result<Vec<(String, String)>> {
        let mut message = LinkMessage::default();
        message.attributes.push(LinkAttribute::Controller(bridge));
        message
            .attributes
            .push(LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats]));
        let replies =
            self.request(RouteNetlinkMessage::GetLink(message), NLM_F_DUMP)?;
        Ok(replies
            .into_iter()
            .filter_map(|reply| match reply {
                RouteNetlinkMessage::NewLink(link) => {
                    let mut name = None;
                    let mut alias = None;
                    for attribute in link.attributes {
                        match attribute {
                            LinkAttribute::IfName(n) => name = Some(n),
                            LinkAttribute::IfAlias(a) => alias = Some(a),
                            _ => {}
                        }
                    }
                    Some((name?, alias?))
                }
                _ => None,
            })
            .collect())
    }

    /// `ip neigh delete ADDRESS dev INDEX`: forget which hardware address had
    /// `address` on that link. Says whether there was an entry to forget.
    pub fn forget_neighbour(
        &mut self,
        index: u32,
        address: Ipv4Addr,
    ) -> io::Result<bool> {
        let mut message = NeighbourMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.ifindex = index;
        message.attributes.push(NeighbourAttribute::Destination(
            NeighbourAddress::Inet(address),
        ));
        match self.change(RouteNetlinkMessage::DelNeighbour(message)) {
            Ok(()) => Ok(true),
            Err(e) if e.raw_os_error() == Some(nix::libc::ENOENT) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// `ip link delete dev INDEX`
    pub fn delete_link(&mut self, index: u32) -> io::Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        self.change(RouteNetlinkMessage::DelLink(message))
    }

    /// `ip addr add ADDRESS/PREFIX dev INDEX`
    pub fn add_address(
        &mut self,
        index: u32,
        address: Ipv4Addr,
        prefix: u8,
    ) -> io::Result<()> {
        let mut message = AddressMessage::default();
        message.header.family = AddressFamily::Inet;
        message.header.prefix_len = prefix;
        message.header.index = index;
        message
            .attributes
            .push(AddressAttribute::Local(address.into()));
        message
            .attributes
            .push(AddressAttribute::Address(address.into()));
        self.create(RouteNetlinkMessage::NewAddress(message))
    }

    /// `ip route add default via GATEWAY`
    pub fn add_default_route(&mut self, gateway: Ipv4Addr) -> io::Result<()> {
        let mut message = RouteMessage::default();
        message.header.address_family = AddressFamily::Inet;
        message.header.table = RouteHeader::RT_TABLE_MAIN;
        message.header.protocol = RouteProtocol::Boot;
        message.header.scope = RouteScope::Universe;
        message.header.kind = RouteType::Unicast;
        message
            .attributes
            .push(RouteAttribute::Gateway(RouteAddress::Inet(gateway)));
        self.create(RouteNetlinkMessage::NewRoute(message))
    }

    /// A request that creates something, and fails if it exists already.
    fn create(&mut self, message: RouteNetlinkMessage) -> io::Result<()> {
        self.request(message, NLM_F_CREATE | NLM_F_EXCL).map(drop)
    }

    /// A request that changes or deletes something.
    fn change(&mut self, message: RouteNetlinkMessage) -> io::Result<()> {
        self.request(message, 0).map(drop)
    }

    // ANCHOR: request
    /// Sends one request and reads the answers up to the kernel's acknowledgement.
    fn request(
        &mut self,
        message: RouteNetlinkMessage,
        flags: u16,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        self.sequence += 1;
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.sequence;
        let mut request = NetlinkMessage::new(header, NetlinkPayload::from(message));
        request.finalize();
        let mut bytes = vec![0; request.buffer_len()];
        request.serialize(&mut bytes);
        self.socket.send(&bytes, 0)?;

        let mut replies = Vec::new();
        loop {
            let (bytes, _) = self.socket.recv_from_full()?;
            let mut offset = 0;
            // One datagram can hold several messages, one after the other.
            while offset < bytes.len() {
                let reply = NetlinkMessage::<RouteNetlinkMessage>::deserialize(
                    &bytes[offset..],
                )
                .map_err(|e| {
                    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                })?;
                offset += reply.header.length as usize;
                match reply.payload {
                    // The acknowledgement: code 0 means done, anything else is
                    // -errno.
                    NetlinkPayload::Error(error) => match error.code {
                        None => return Ok(replies),
                        Some(code) => {
                            return Err(io::Error::from_raw_os_error(-code.get()));
                        }
                    },
                    NetlinkPayload::Done(_) => return Ok(replies),
                    NetlinkPayload::InnerMessage(inner) => replies.push(inner),
                    _ => {}
                }
                if reply.header.length == 0 {
                    break;
                }
            }
        }
    }
    // ANCHOR_END: request
}
