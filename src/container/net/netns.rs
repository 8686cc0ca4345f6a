//! A network namespace with a name: a bind mount under `/run/netns`, where `ip
//! netns` looks.
//!
//! A namespace lives while something holds it: a process in it, an open
//! `/proc/PID/ns/net`, or a bind mount of that file. `ip netns add NAME` is
//! nothing more than a new namespace bind-mounted on `/run/netns/NAME`; `ip netns
//! exec NAME` opens that file and calls `setns(2)` on it.

use crate::container::Error;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use std::path::Path;

/// Where `ip netns` keeps its names.
pub const NETNS_DIR: &str = "/run/netns";

/// `mount --bind /proc/PID/ns/net PATH`, the file made first (a bind mount needs a
/// file to cover).
pub fn bind_netns(pid: nix::unistd::Pid, path: &Path) -> Result<(), Error> {
    let doing = format!("mount --bind /proc/{pid}/ns/net {}", path.display());
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(Error::network(doing.clone()))?;
    }
    std::fs::File::create(path).map_err(Error::network(doing.clone()))?;
    let source = format!("/proc/{pid}/ns/net");
    mount(
        Some(source.as_str()),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|errno| Error::network(doing)(errno.into()))
}

/// Undoes [`bind_netns`]: the namespace goes once nothing else holds it. Nothing to
/// do if the file is gone already.
pub fn unbind_netns(path: &Path) -> Result<(), Error> {
    if !path.exists() {
        return Ok(());
    }
    let doing = format!("umount {}", path.display());
    // Not mounted (killed between the two steps of bind_netns): EINVAL, fine.
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::errno::Errno::EINVAL) => {}
        Err(errno) => return Err(Error::network(doing)(errno.into())),
    }
    std::fs::remove_file(path)
        .map_err(Error::network(format!("rm {}", path.display())))?;
    // Ours was the last name: leave no empty folder (a mount point stays, busy).
    if let Some(dir) = path.parent() {
        let _ = std::fs::remove_dir(dir);
    }
    Ok(())
}
