//! An IPv4 subnet, and the addresses in it a container may get.

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// The subnet containers get addresses from unless the student picks another.
pub const DEFAULT_SUBNET: &str = "10.89.0.0/24";

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
