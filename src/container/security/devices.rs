//! Which devices the container can open: only the ones we bound into its
//! `/dev` (null, zero, full, random, urandom, tty, and its own ptys).
//!
//! Root in the container keeps `CAP_MKNOD` (docker's default set does), so
//! `mknod /tmp/sda b 8 0` succeeds: a device node is only a name with two
//! numbers, and making one is harmless. *Opening* it is not: that node would
//! be the host's first disk. Two ways to stop that:
//!
//! - the devices cgroup controller (what docker uses): on cgroup v1 a list of
//!   allowed devices in `devices.allow`; on v2 there is no file, only a BPF
//!   program of type `BPF_PROG_TYPE_CGROUP_DEVICE` attached to the cgroup, which
//!   needs a BPF loader;
//! - `nodev`, a flag of a *mount*: the kernel refuses to open any device node
//!   found through a nodev mount (`EACCES`), whatever the node's numbers or
//!   mode. We choose this one: one flag, the same on cgroup v1 and v2, no BPF.
//!
//! So every filesystem the container can write to gets `nodev`: the overlay
//! root, the `/dev` tmpfs, `/dev/shm`, and each volume (with every mount under
//! it); `/proc`, `/sys` and the cgroup view have it already. (`/dev/pts` is
//! devpts, where `mknod` is not possible at all.)
//!
//! Surprise: the nodes we bind into a nodev `/dev` still open. A bind mount is
//! a mount of its own, with the flags of the mount it was copied *from* (the
//! host's `/dev`, which allows devices), and the kernel checks the flags of the
//! mount the node was found through: the bind mount on top, not the tmpfs
//! below. And the container cannot take nodev off again: a remount needs
//! `CAP_SYS_ADMIN`, which it does not keep (with `--privileged` it keeps
//! everything, and devices open as in docker).

use super::in_root;
use crate::container::mount_api;
use nix::errno::Errno;
use std::os::fd::AsFd;
use std::path::Path;

// ANCHOR: forbid_devices
/// Runs in the child: `nodev` on the mount at `target` (resolved inside `root`)
/// and on every mount under it: `mount_setattr(2)` with `AT_RECURSIVE` (Linux
/// 5.12). The old `mount -o remount,bind,nodev` changes one mount only, and a
/// volume of a host folder brings the mounts under it along (`-v /:/host`
/// brings the host's `/dev`).
pub fn forbid_devices(root: Option<&Path>, target: &Path) -> nix::Result<()> {
    let point = in_root::existing(root, target)?.ok_or(Errno::ENOENT)?;
    mount_api::set_mount_attributes(point.fd.as_fd(), mount_api::NODEV, None, true)
}
// ANCHOR_END: forbid_devices
