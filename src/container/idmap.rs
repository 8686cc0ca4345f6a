//! Idmapped mounts: the image's files, owned by 0… on the disk, seen as owned by
//! the container's own ids.
//!
//! In a user namespace whose root is host uid 100000, the image's files (owned by
//! host uid 0) would show as 65534, `nobody`, and root inside could not change
//! them. Copying the image with shifted owners would cost a copy per container. An
//! *idmapped mount* (Linux 5.12) shifts them on the way instead: a mount of the
//! image's folder that carries a user namespace, and through which every owner
//! is translated by that namespace's map. Owner 0 on the disk reads as host uid
//! 100000 through it, which the container's map shows as 0; a file created
//! through it by 100000 is written to the disk as 0. The disk never changes.
//!
//! Three calls of the new mount API make one (we call them with `libc::syscall`:
//! nix has no wrapper):
//! 1. `open_tree(OPEN_TREE_CLONE)`: a copy of the folder's mount, *detached*
//!    (in no mount table yet), as a file descriptor;
//! 2. `mount_setattr(MOUNT_ATTR_IDMAP, userns_fd)`: give it the map;
//! 3. `move_mount`: attach it at a path (the child does, in its own mount
//!    namespace).
//!
//! overlayfs takes idmapped folders as its lower layers since Linux 5.19. A
//! filesystem that cannot be idmapped gets a copy instead (`shifted_copy`).

use super::user::IdMaps;
use super::{Error, mount_api, user};
use nix::errno::Errno;
use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

// From <linux/mount.h>: not in the libc crate yet.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x0000_0004;

// ANCHOR: userns_with_maps
/// A user namespace with these maps, held by a file descriptor only.
///
/// Surprise: the idmapped mounts must exist *before* the container's process
/// does, because `clone(2)` copies our mount table into its new mount namespace,
/// and a mount we add later is not in that copy. But the container's user
/// namespace is born with its process. The kernel only reads the *map* of the
/// namespace a mount carries, so any namespace with the same map will do: we make
/// one with a process that does nothing, write its maps, keep a descriptor of its
/// `/proc/PID/ns/user` (which keeps the namespace alive) and kill the process.
pub fn userns_with_maps(maps: &IdMaps) -> Result<OwnedFd, Error> {
    let mut stack = vec![0u8; 64 * 1024];
    let wait_forever = Box::new(|| -> isize {
        loop {
            nix::unistd::pause();
        }
    });
    // SAFETY: as in `spawn`: without CLONE_VM the child has its own copy of our
    // memory, and it only calls pause(2) until we kill it. No exit signal (`None`):
    // its end must not look like the container's SIGCHLD.
    let pid = unsafe {
        nix::sched::clone(
            wait_forever,
            &mut stack,
            nix::sched::CloneFlags::CLONE_NEWUSER,
            None,
        )
    }
    .map_err(Error::sys("clone(CLONE_NEWUSER)"))?;
    let opened = user::write_maps(pid, maps, true).and_then(|_| {
        std::fs::File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(Error::state(format!("open /proc/{pid}/ns/user")))
    });
    let _ = kill(pid, Signal::SIGKILL);
    // __WALL: a child with no exit signal is a "clone" child, which waitpid
    // skips without it.
    let _ = waitpid(pid, Some(WaitPidFlag::__WALL));
    opened
}
// ANCHOR_END: userns_with_maps

// ANCHOR: idmapped_copy
/// `mount --bind --map-users …` without the mount point: a copy of `folder`'s
/// mount, detached (in no mount table), through which owners are shifted by
/// `userns`'s map. The descriptor is the only handle on it.
pub fn idmapped_copy(folder: &Path, userns: BorrowedFd) -> Result<OwnedFd, Errno> {
    let tree = mount_api::open_tree_clone(&c_path(folder)?)?;
    // Surprise: the kernel gives a mount its map only while the mount is
    // detached (EINVAL once it is in a mount table), and only once.
    mount_api::set_mount_attributes(
        tree.as_fd(),
        mount_api::IDMAP,
        Some(userns),
        false,
    )?;
    Ok(tree)
}
// ANCHOR_END: idmapped_copy

// ANCHOR: attach
/// Runs in the child: `move_mount(2)` onto `target` (an existing folder) of a
/// detached mount (the descriptor
/// [`idmapped_copy`] made, which the child got a copy of at `clone(2)`, like every
/// descriptor of ours), in the child's own mount namespace.
///
/// Why not attach it on the host and let the clone copy it: under a *shared*
/// mount (`/` is, with systemd), a mount made there appears in every peer mount
/// namespace, and our unmount would reach the child's copy too.
pub fn attach(tree: RawFd, target: &Path) -> Result<(), Errno> {
    let target = c_path(target)?;
    // SAFETY: two NUL-terminated strings and two descriptors, all valid for the
    // call.
    let moved = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            libc::AT_FDCWD,
            target.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    };
    if moved < 0 {
        return Err(Errno::last());
    }
    // The mount is in our tree now; the descriptor is not needed any more.
    let _ = nix::unistd::close(tree);
    Ok(())
}
// ANCHOR_END: attach

fn c_path(path: &Path) -> Result<CString, Errno> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}
