//! The new mount API's calls the library needs (Linux 5.2 to 5.12), which nix
//! does not wrap yet: a mount held by a file descriptor, and changed through it.
//!
//! - [`open_tree_clone`]: a copy of a mount, *detached* (attached nowhere): the
//!   descriptor is all there is of it, and it vanishes with the last one;
//! - [`set_mount_attributes`]: `mount_setattr(2)`, to make a mount read-only,
//!   `nodev`, or idmapped, by descriptor.

use nix::errno::Errno;
use nix::libc;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// `MOUNT_ATTR_RDONLY`: nothing can be written through the mount.
pub const READ_ONLY: u64 = libc::MOUNT_ATTR_RDONLY;
/// `MOUNT_ATTR_NODEV`: no device node found through the mount can be opened.
pub const NODEV: u64 = libc::MOUNT_ATTR_NODEV;
/// `MOUNT_ATTR_IDMAP`: owners are shifted by a user namespace's map.
pub const IDMAP: u64 = libc::MOUNT_ATTR_IDMAP;

/// `open_tree(AT_FDCWD, PATH, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)`: a new bind
/// mount of `path` (a folder or a file), attached nowhere.
pub fn open_tree_clone(path: &CStr) -> Result<OwnedFd, Errno> {
    let flags = libc::OPEN_TREE_CLONE | libc::OPEN_TREE_CLOEXEC;
    // SAFETY: open_tree(2) reads a NUL-terminated path that outlives the call and
    // returns a new descriptor, or -1.
    let fd = unsafe {
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags)
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `mount_setattr(FD, "", AT_EMPTY_PATH [| AT_RECURSIVE], {attr_set: SET})`: the
/// mount the descriptor is on gets the attributes `set` (and, with [`IDMAP`],
/// `userns`'s map); with `recursive`, every mount under it too.
pub fn set_mount_attributes(
    mount: BorrowedFd,
    set: u64,
    userns: Option<BorrowedFd>,
    recursive: bool,
) -> Result<(), Errno> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.map_or(0, |fd| fd.as_raw_fd() as u64),
    };
    let mut flags = libc::AT_EMPTY_PATH;
    if recursive {
        flags |= libc::AT_RECURSIVE;
    }
    // SAFETY: mount_setattr(2) reads `attr`, whose size we pass, and an empty
    // NUL-terminated path; both outlive the call.
    let done = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    Errno::result(done).map(drop)
}
