//! No file of the host's goes into the container (the CVE-2024-21626 class).
//!
//! A process keeps its open files across `execve`, unless each is marked
//! close-on-exec. Everything the library opens is (Rust opens files so), but a
//! runtime inherits descriptors from whoever started it — a shell, a test, a
//! service manager — and a descriptor of a host folder handed to a container is a
//! way out of its root: `cd /proc/self/fd/7` lands on the host. (runc's leak of a
//! cgroup folder's descriptor was exactly that.)

use nix::errno::Errno;

// ANCHOR: close_host_files
/// `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`: marks every descriptor above 2
/// close-on-exec, in one call, so `execve` closes all but the command's stdin,
/// stdout and stderr. (Marked, not closed: the steps still to come may use
/// theirs, such as the channel to the parent.)
pub fn close_host_files_at_exec() -> Result<(), Errno> {
    // SAFETY: close_range(2) takes three integers and changes only descriptor
    // flags.
    let done = unsafe {
        nix::libc::close_range(3, u32::MAX, nix::libc::CLOSE_RANGE_CLOEXEC as i32)
    };
    Errno::result(done).map(drop)
}
// ANCHOR_END: close_host_files
