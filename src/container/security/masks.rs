//! Kernel files a container has no business with: masked, or read-only.
//!
//! A container's `/proc` and `/sys` are the kernel's, and some of their files
//! are about the whole machine, not the container: `/proc/kcore` is the host's
//! memory, `/proc/sysrq-trigger` reboots it, `/proc/sys` sets the kernel's
//! knobs, `/sys/firmware` holds the firmware's tables. Namespaces do not cover
//! them. So, as runc and docker do:
//!
//! - a masked **file** gets `/dev/null` bound over it: it reads as empty, and
//!   writes go nowhere;
//! - a masked **folder** gets an empty tmpfs, read-only, mounted on it;
//! - a read-only path is bound onto itself, and that bind mount remounted
//!   read-only: writing then fails with `EROFS`, whatever the file's mode says.
//!
//! A path this kernel does not have is skipped. Root inside could undo all this
//! with `umount`, if it kept `CAP_SYS_ADMIN`: the capabilities it keeps are what
//! makes these mounts stick.

use super::in_root;
use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, fstat, major, minor};
use std::os::fd::OwnedFd;
use std::path::Path;

/// Masked, under the container's root (runc's and docker's list).
pub const MASKED: [&str; 11] = [
    "proc/acpi",
    "proc/asound",
    "proc/kcore",
    "proc/keys",
    "proc/latency_stats",
    "proc/timer_list",
    "proc/timer_stats",
    "proc/sched_debug",
    "proc/scsi",
    "sys/firmware",
    "sys/devices/virtual/powercap",
];

/// Read-only, under the container's root.
pub const READ_ONLY: [&str; 5] = [
    "proc/bus",
    "proc/fs",
    "proc/irq",
    "proc/sys",
    "proc/sysrq-trigger",
];

// ANCHOR: mask
/// Runs in the child: hides `target` (resolved inside `root`), if it exists.
pub fn mask(root: Option<&Path>, target: &Path) -> nix::Result<()> {
    let Some(point) = in_root::existing(root, target)? else {
        return Ok(());
    };
    let none = None::<&str>;
    if file_type(&point.fd)? == SFlag::S_IFDIR {
        let flags = MsFlags::MS_RDONLY
            | MsFlags::MS_NOSUID
            | MsFlags::MS_NODEV
            | MsFlags::MS_NOEXEC;
        return mount(Some("tmpfs"), point.path(), Some("tmpfs"), flags, none);
    }
    let null = dev_null()?;
    let null = in_root::fd_path(&null);
    mount(Some(&null), point.path(), none, MsFlags::MS_BIND, none)
}
// ANCHOR_END: mask

// ANCHOR: dev_null
/// `/dev/null`, opened and checked to be the null device: a character device,
/// major 1, minor 3. We bind what we *opened*, so what we checked is what gets
/// bound, even if the path changed in between. (`O_NOFOLLOW`: a symlink named
/// `/dev/null` is not the null device either.)
pub fn dev_null() -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = open("/dev/null", flags, Mode::empty())?;
    let stat = fstat(&fd)?;
    let is_null = file_type(&fd)? == SFlag::S_IFCHR
        && major(stat.st_rdev) == 1
        && minor(stat.st_rdev) == 3;
    if !is_null {
        return Err(Errno::ENODEV);
    }
    Ok(fd)
}
// ANCHOR_END: dev_null

/// A folder, a character device, …: the type bits of its mode.
fn file_type(fd: &OwnedFd) -> nix::Result<SFlag> {
    Ok(SFlag::from_bits_truncate(fstat(fd)?.st_mode) & SFlag::S_IFMT)
}

// ANCHOR: read_only
/// Runs in the child: makes `target` (resolved inside `root`) read-only, if it
/// exists: bound onto itself, then that new mount remounted read-only.
///
/// Surprise: the remount must name the *new* mount, so we open the path again
/// (it now leads onto the bind mount). The handle from before the bind still
/// names the file in `/proc`'s own mount, which a remount would refuse
/// (`EINVAL`: not the root of a mount). And a bind remount sets all of the
/// mount's flags at once: `/proc`'s nosuid, nodev and noexec are given again.
pub fn read_only(root: Option<&Path>, target: &Path) -> nix::Result<()> {
    let Some(point) = in_root::existing(root, target)? else {
        return Ok(());
    };
    let none = None::<&str>;
    let path = point.path();
    mount(
        Some(path),
        path,
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )?;
    let bound = in_root::existing(root, target)?.ok_or(Errno::ENOENT)?;
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV
        | MsFlags::MS_NOEXEC;
    mount(none, bound.path(), none, flags, none)
}
// ANCHOR_END: read_only
