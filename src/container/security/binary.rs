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

use crate::container::mount_api;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, open};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{FsFlags, fstatvfs};
use std::ffi::CString;
use std::os::fd::AsFd;

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
    let file = mount_api::open_tree_clone(c"/proc/self/exe")?;
    mount_api::set_mount_attributes(
        file.as_fd(),
        mount_api::READ_ONLY,
        None,
        false,
    )?;
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

fn c_string(text: std::ffi::OsString) -> CString {
    use std::os::unix::ffi::OsStringExt;
    // An argument or a variable from the kernel never holds a NUL byte.
    CString::new(text.into_vec()).expect("no NUL in an argument")
}
