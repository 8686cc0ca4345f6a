//! Checking, before we start, that the kernel will let us do what we ask.

use super::{Container, Error};
use procfs::process::Process;

/// Bit number of `CAP_SYS_ADMIN` in the capability sets (`<linux/capability.h>`).
const CAP_SYS_ADMIN: u32 = 21;

/// Does this process have `CAP_SYS_ADMIN` in its effective set (`CapEff` in
/// `/proc/self/status`)? Creating any namespace but a user namespace needs it.
pub fn has_cap_sys_admin() -> procfs::ProcResult<bool> {
    let status = Process::myself()?.status()?;
    Ok(status.capeff & (1 << CAP_SYS_ADMIN) != 0)
}

/// Fails with a message that says what is missing and how to get it.
pub fn require_cap_sys_admin(program: &str, container: &Container) -> Result<(), Error> {
    if container.namespaces.is_empty() || has_cap_sys_admin()? {
        return Ok(());
    }
    let flags: Vec<_> = container
        .namespaces
        .iter()
        .map(|ns| ns.flag_name())
        .collect();
    let path = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| program.to_string());
    Err(Error::NeedsRoot {
        program: program.to_string(),
        path,
        why: format!("clone({})", flags.join(" | ")),
        uid: nix::unistd::geteuid().as_raw(),
    })
}
