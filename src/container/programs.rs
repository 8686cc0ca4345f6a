//! Finding the programs the lessons run (`nft`), wherever the caller's PATH points.
//!
//! Debian puts administration tools (`nft`, `sysctl`, `bridge`) in /usr/sbin, and
//! gives only root /usr/sbin on its PATH. sudo sets a PATH of its own that has it; a
//! root shell of `su` without `-` keeps the user's. So we look on PATH first, then
//! in the sbin folders.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Where system administration programs live, whether or not PATH names them.
const SBIN: [&str; 3] = ["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// The first executable file called `name` on PATH (as `execvp(3)` finds it), else
/// in the sbin folders.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|file| {
            file.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}
