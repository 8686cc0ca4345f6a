//! Capabilities: root's power, cut into 41 pieces (Linux 5.9+).
//!
//! A process has five sets of capabilities, each a 64-bit mask (`/proc/PID/status`
//! shows them in hex as `CapInh`, `CapPrm`, `CapEff`, `CapBnd`, `CapAmb`):
//! - *effective*: what the kernel checks right now;
//! - *permitted*: what the process may put in its effective set;
//! - *inheritable* and *ambient*: what may survive an `exec` of an ordinary
//!   program;
//! - *bounding*: the most any `exec` can ever give it, even of a setuid-root
//!   program.
//!
//! Surprise: for root, `exec` recomputes the sets, and a root process gets its
//! *whole bounding set* as permitted and effective, whatever its permitted set was
//! before. So the set that really limits a container's root is the bounding set;
//! we shrink all five, bounding first.

use nix::errno::Errno;
use std::fmt;

/// The capabilities' names, without `CAP_`, in the kernel's order: the name at
/// index N is capability number N (`include/uapi/linux/capability.h`).
pub const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// What docker and podman leave a container's root by default: enough to install
/// packages, change owners, bind low ports and ping; not enough to mount, load a
/// module, set the clock or trace another's process.
pub const DOCKER_DEFAULT: [&str; 14] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "NET_BIND_SERVICE",
    "NET_RAW",
    "SYS_CHROOT",
    "MKNOD",
    "AUDIT_WRITE",
    "SETFCAP",
];

/// A set of capabilities: bit N is capability N, as the kernel writes them.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
pub struct CapSet(pub u64);

/// A name that is no capability's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCapability(pub String);

impl CapSet {
    /// Every capability this table knows.
    pub fn all() -> CapSet {
        CapSet((1u64 << NAMES.len()) - 1)
    }

    /// Docker's default set ([`DOCKER_DEFAULT`]): `0xa80425fb`.
    pub fn docker_default() -> CapSet {
        CapSet::from_names(DOCKER_DEFAULT).expect("the table has them all")
    }

    /// The set of these names (`NET_RAW` or `CAP_NET_RAW`, any case).
    pub fn from_names<S: AsRef<str>>(
        names: impl IntoIterator<Item = S>,
    ) -> Result<CapSet, UnknownCapability> {
        let mut set = CapSet(0);
        for name in names {
            set.0 |= 1 << number(name.as_ref())?;
        }
        Ok(set)
    }

    /// Reads a mask as `/proc/PID/status` shows it (`00000000a80425fb`).
    pub fn from_hex(text: &str) -> Option<CapSet> {
        u64::from_str_radix(text.trim(), 16).ok().map(CapSet)
    }

    pub fn contains(self, number: u32) -> bool {
        number < 64 && self.0 & (1 << number) != 0
    }

    pub fn with(self, other: CapSet) -> CapSet {
        CapSet(self.0 | other.0)
    }

    pub fn without(self, other: CapSet) -> CapSet {
        CapSet(self.0 & !other.0)
    }

    /// The names of the capabilities in the set, in the kernel's order (`CAP_41`
    /// for one newer than this table).
    pub fn names(self) -> Vec<String> {
        (0..64)
            .filter(|&n| self.contains(n))
            .map(|n| match NAMES.get(n as usize) {
                Some(name) => name.to_string(),
                None => format!("CAP_{n}"),
            })
            .collect()
    }
}

/// `0x00000000a80425fb (CHOWN, DAC_OVERRIDE, …)`
impl fmt::Debug for CapSet {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{:#018x} ({})", self.0, self.names().join(", "))
    }
}

/// The capability's number: `NET_RAW`, `CAP_NET_RAW` and `net_raw` are 13.
pub fn number(name: &str) -> Result<u32, UnknownCapability> {
    let upper = name.trim().to_ascii_uppercase();
    let bare = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES
        .iter()
        .position(|known| *known == bare)
        .map(|n| n as u32)
        .ok_or_else(|| UnknownCapability(name.to_string()))
}

/// What changing to the container's user needs: `setgroups` and `setresgid`
/// need `CAP_SETGID`, `setresuid` `CAP_SETUID`.
pub fn needed_to_set_user() -> CapSet {
    CapSet::from_names(["SETUID", "SETGID"]).expect("in the table")
}

// ANCHOR: limit_to
/// Leaves this process `keep` and nothing more: the bounding set shrunk to it,
/// permitted and effective set to it (and `for_now`, until the user changes),
/// inheritable and ambient emptied.
///
/// The order matters: dropping from the bounding set needs `CAP_SETPCAP` in our
/// effective set, so the bounding set goes first, and `capset` last (it may take
/// `CAP_SETPCAP` away).
pub fn limit_to(keep: CapSet, for_now: CapSet) -> Result<(), Errno> {
    drop_from_bounding_set(keep)?;
    clear_ambient()?;
    // Inheritable stays empty, as docker's since 2022 (CVE-2022-24769): a program
    // with inheritable file capabilities would otherwise get them back after an
    // exec, even as an ordinary user.
    let now = keep.with(for_now);
    set_capabilities(now, now, CapSet(0))
}
// ANCHOR_END: limit_to

/// `prctl(PR_CAPBSET_DROP, N)` for every capability the kernel knows that is not
/// in `keep`. The kernel says how many it knows: asking about a number past its
/// last (`/proc/sys/kernel/cap_last_cap`) fails with `EINVAL`.
fn drop_from_bounding_set(keep: CapSet) -> Result<(), Errno> {
    use nix::libc::{PR_CAPBSET_DROP, PR_CAPBSET_READ, prctl};
    for number in 0..64 {
        // SAFETY: prctl with plain integer arguments.
        let present =
            unsafe { prctl(PR_CAPBSET_READ, number as nix::libc::c_ulong) };
        if present < 0 {
            break; // EINVAL: past the last capability this kernel has.
        }
        if present == 1 && !keep.contains(number) {
            // SAFETY: as above.
            let dropped =
                unsafe { prctl(PR_CAPBSET_DROP, number as nix::libc::c_ulong) };
            Errno::result(dropped)?;
        }
    }
    Ok(())
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)`.
fn clear_ambient() -> Result<(), Errno> {
    use nix::libc::{PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, c_ulong, prctl};
    let clear = PR_CAP_AMBIENT_CLEAR_ALL as c_ulong;
    // SAFETY: prctl with plain integer arguments.
    Errno::result(unsafe { prctl(PR_CAP_AMBIENT, clear, 0, 0, 0) }).map(drop)
}

/// capset(2)'s header: which layout the data has, and whose sets (0: ours).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

/// capset(2)'s data: one of these per 32 capabilities.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Version 3 of the layout (Linux 2.6.26+): 64-bit sets, as two `CapData`.
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// capset(2): sets our effective, permitted and inheritable sets at once. (nix
/// has no wrapper; glibc has none either, libcap wraps it.) One may only lower
/// the permitted set, and effective must be within permitted.
fn set_capabilities(
    effective: CapSet,
    permitted: CapSet,
    inheritable: CapSet,
) -> Result<(), Errno> {
    let header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let half = |set: CapSet, high: bool| {
        if high {
            (set.0 >> 32) as u32
        } else {
            set.0 as u32
        }
    };
    let data: [CapData; 2] = [false, true].map(|high| CapData {
        effective: half(effective, high),
        permitted: half(permitted, high),
        inheritable: half(inheritable, high),
    });
    // SAFETY: the header and both data entries live until the call returns, and
    // have the layout the kernel expects for version 3.
    let result =
        unsafe { nix::libc::syscall(nix::libc::SYS_capset, &header, data.as_ptr()) };
    Errno::result(result).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockers_default_is_the_mask_docker_shows() {
        assert_eq!(CapSet::docker_default().0, 0xa80425fb);
        assert_eq!(NAMES.len(), 41);
        assert_eq!(number("CHECKPOINT_RESTORE"), Ok(40));
        assert_eq!(number("cap_net_raw"), Ok(13));
        assert!(number("NET_RAWR").is_err());
    }

    #[test]
    fn a_status_mask_decodes_to_names() {
        let set = CapSet::from_hex("00000000a80425fb").unwrap();
        assert_eq!(set.names(), DOCKER_DEFAULT);
        assert_eq!(CapSet::from_hex("000001ffffffffff"), Some(CapSet::all()));
        assert_eq!(CapSet(1 << 41).names(), ["CAP_41"]);
    }
}
