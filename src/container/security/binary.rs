//! The runtime's own binary, out of the containers' reach (the CVE-2019-5736
//! class).
//!
//! A container's first process is a clone of the runtime, and `exec`'s is a fork
//! of it: until they call `execve`, the program they run is the runtime's binary,
//! and `/proc/<pid>/exe` leads to it. Worse, an image can make the runtime run
//! itself *inside* the container, at any time: a command whose first line is
//! `#!/proc/self/exe` makes the kernel start, as its interpreter, whatever the
//! process that `execve`s it is running — the runtime. A process in the container
//! that opens `/proc/<that pid>/exe` holds the host's `nsbox` file; once that
//! process has ended, it can open it again for writing, through
//! `/proc/self/fd/N`, and the next `sudo nsbox` on the host runs its code.
//!
//! The defence: before the runtime makes or joins a container, it runs itself
//! again from a **read-only mount** of its own file. `/proc/<pid>/exe` names a file
//! *and* the mount it was opened through; through a read-only mount, the kernel
//! refuses every write (`EROFS`), whoever asks. The mount is *detached* (in no
//! mount namespace, made with `open_tree(2)`): no path leads to it, so nobody can
//! remount it writable, and it vanishes when the last process running from it
//! ends. It costs one `execve` of our own binary; runc copies its whole binary to
//! a sealed memory file instead (`memfd_create(2)`), which costs a copy.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{FsFlags, fstatvfs};
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Set (to anything), `nsbox` leaves its binary exposed: chapter 10's experiment,
/// to see what the defence stops.
pub const EXPOSE: &str = "NSBOX_EXPOSE_BINARY";

/// Whether the program we are running can be written through `/proc/self/exe`:
/// `false` once it runs from a read-only mount.
pub fn is_exposed() -> Result<bool, Errno> {
    let exe = open("/proc/self/exe", OFlag::O_PATH, Mode::empty())?;
    let mount = fstatvfs(&exe)?;
    Ok(!mount.flags().contains(FsFlags::ST_RDONLY))
}

// ANCHOR: run_from_read_only_mount
/// Runs this program again, with the same arguments and environment, from a
/// read-only, detached bind mount of its own file; returns at once if it runs
/// from one already. It returns `Err` only if it could not make the mount (e.g.
/// not root: then there is no container to protect either).
pub fn run_from_read_only_mount() -> Result<(), Errno> {
    if !is_exposed()? {
        return Ok(());
    }
    let file = detached_copy_of_mount(c"/proc/self/exe")?;
    make_read_only(&file)?;
    let args: Vec<CString> = std::env::args_os().map(c_string).collect();
    let env: Vec<CString> = std::env::vars_os()
        .map(|(key, value)| {
            let mut entry = key;
            entry.push("=");
            entry.push(value);
            c_string(entry)
        })
        .collect();
    // The empty path and AT_EMPTY_PATH: run the file the descriptor itself is.
    nix::unistd::execveat(&file, c"", &args, &env, AtFlags::AT_EMPTY_PATH)?;
    unreachable!("execveat returns only on error")
}
// ANCHOR_END: run_from_read_only_mount

/// `open_tree(PATH, OPEN_TREE_CLONE)`: a new bind mount of `path`, attached
/// nowhere; the descriptor is all there is of it.
fn detached_copy_of_mount(path: &CStr) -> Result<OwnedFd, Errno> {
    let flags = nix::libc::OPEN_TREE_CLONE | nix::libc::OPEN_TREE_CLOEXEC;
    // SAFETY: open_tree(2) reads a NUL-terminated path and returns a new
    // descriptor, or -1; no memory of ours is written.
    let fd = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_open_tree,
            nix::libc::AT_FDCWD,
            path.as_ptr(),
            flags,
        )
    };
    if fd < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just gave us this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `mount_setattr(FD, "", AT_EMPTY_PATH, {attr_set: MOUNT_ATTR_RDONLY})`: the
/// mount the descriptor holds becomes read-only.
fn make_read_only(mount: &OwnedFd) -> Result<(), Errno> {
    let attr = nix::libc::mount_attr {
        attr_set: nix::libc::MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: mount_setattr(2) reads `attr` (its size given) and an empty path.
    let done = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_mount_setattr,
            mount.as_raw_fd(),
            c"".as_ptr(),
            nix::libc::AT_EMPTY_PATH,
            &attr as *const nix::libc::mount_attr,
            std::mem::size_of::<nix::libc::mount_attr>(),
        )
    };
    Errno::result(done).map(drop)
}

fn c_string(text: std::ffi::OsString) -> CString {
    use std::os::unix::ffi::OsStringExt;
    // An argument or a variable from the kernel never holds a NUL byte.
    CString::new(text.into_vec()).expect("no NUL in an argument")
}
