//! The last step of every child: becoming the command, with `execvp(3)`.
//!
//! Both the child that `clone(2)` made and our tiny init's child (see [`super::pid`])
//! end here.

use nix::errno::Errno;
use nix::unistd::execvp;
use std::ffi::CString;

// ANCHOR: exec
/// Replaces this process with the command, looked up in `$PATH` like a shell does.
/// Returns only if that failed, with the error number the kernel gave.
pub fn exec(command: &[String]) -> Errno {
    let args: Result<Vec<CString>, _> =
        command.iter().map(|a| CString::new(a.as_str())).collect();
    let Ok(args) = args else {
        return Errno::EINVAL;
    };
    match execvp(&args[0], &args) {
        Err(errno) => errno,
    }
}
// ANCHOR_END: exec
