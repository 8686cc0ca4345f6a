//! A container's id: its name, and the root of every name it has on the host.
//!
//! Everything the library makes on the host is named after the id, never after the
//! pid of the process that started the container: its cgroup (`nsbox-<id>`), its
//! veth's host end (`nsb…`), its address lease and the tag of its NAT rules. So a
//! container can outlive the command that started it, and another command can find
//! what it left from the id alone.

use super::Error;
use std::fmt;

/// The longest id we accept (runc and docker use 64 hex digits).
pub const MAX_ID: usize = 64;

/// A network interface name is at most 15 bytes (`IFNAMSIZ` - 1); the veth's
/// host end is `nsb` and at most this many bytes from the id.
const MAX_LINK_SUFFIX: usize = 12;

/// Folders of the state root that are not containers: the network's files, and
/// the images.
const RESERVED: [&str; 3] = ["net", "images", "kept"];

/// An id checked to be safe as a directory name, a cgroup name and a tag.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    /// Checks `id`: 1 to [`MAX_ID`] letters, digits, `_`, `-` or `.`, not starting
    /// with `.` or `-`, and not a folder the state root keeps for all containers.
    pub fn new(id: &str) -> Result<ContainerId, Error> {
        let bad =
            |why: &str| Err(Error::BadId(format!("container id '{id}' {why}")));
        if id.is_empty() || id.len() > MAX_ID {
            return bad(&format!(
                "is {} bytes long; ids are 1 to {MAX_ID}",
                id.len()
            ));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
        if !id.chars().all(allowed) {
            return bad("may hold only letters, digits, '_', '-' and '.'");
        }
        if id.starts_with(['.', '-']) {
            return bad("may not start with '.' or '-'");
        }
        if RESERVED.contains(&id) {
            return bad("is reserved: the state root keeps shared files there");
        }
        Ok(ContainerId(id.to_string()))
    }

    /// A fresh id: 12 random hex digits, from the kernel's random uuid.
    pub fn generate() -> ContainerId {
        let uuid = super::proc_file::read("/proc/sys/kernel/random/uuid")
            .unwrap_or_default();
        let hex: String = uuid.chars().filter(char::is_ascii_hexdigit).collect();
        let hex = if hex.len() >= 12 {
            hex[..12].to_string()
        } else {
            format!("{:012x}", std::process::id())
        };
        ContainerId(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The container's cgroup directory's name.
    pub fn cgroup_name(&self) -> String {
        format!("nsbox-{}", self.0)
    }

    /// The name of its network namespace under `/run/netns`, for `ip netns`.
    pub fn netns_name(&self) -> String {
        format!("nsbox-{}", self.0)
    }

    /// The comment on the container's NAT rules.
    pub fn nat_tag(&self) -> String {
        format!("nsbox-{}", self.0)
    }

    /// The name of the veth's end on the host (the other end is born in the
    /// container, as `eth0`). An id too long for `IFNAMSIZ` is shortened to a hash
    /// of it (two ids may then meet; `ip link add` then fails, and says so).
    pub fn host_end_name(&self) -> String {
        let short = if self.0.len() <= MAX_LINK_SUFFIX {
            self.0.clone()
        } else {
            format!("{:012x}", fnv1a(&self.0) & 0xffff_ffff_ffff)
        };
        format!("nsb{short}")
    }
}

/// A small, stable hash (FNV-1a, 64 bits): the same id always gives the same name.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for good in ["web", "1234", "a.b-c_d", &"x".repeat(MAX_ID)] {
            assert!(ContainerId::new(good).is_ok(), "{good} was refused");
        }
        let long = "x".repeat(MAX_ID + 1);
        for bad in [
            "", "a/b", "..", ".x", "-x", "a b", "net", "images", "é", &long,
        ] {
            assert!(ContainerId::new(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn names_fit_the_kernel() {
        let id = ContainerId::new("12345").unwrap();
        assert_eq!(id.host_end_name(), "nsb12345");
        assert_eq!(id.cgroup_name(), "nsbox-12345");
        let long = ContainerId::new(&"y".repeat(MAX_ID)).unwrap();
        let host = long.host_end_name();
        assert_eq!(host.len(), 15);
        assert_eq!(long.host_end_name(), host, "stable");
        let generated = ContainerId::generate();
        assert!(ContainerId::new(generated.as_str()).is_ok());
        assert_ne!(generated, ContainerId::generate());
    }
}
