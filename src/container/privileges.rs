//! Checking, before we start, that the kernel will let us do what we ask.

use super::{Container, Error, Namespace, proc_file, user};

/// Bit numbers in the capability sets (`<linux/capability.h>`).
const CAP_SETGID: u32 = 6;
const CAP_SETUID: u32 = 7;
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// Our effective capability set. The kernel shows it as a hexadecimal bit mask on
/// the `CapEff:` line of `/proc/self/status`. (We read that one line ourselves: the
/// `procfs` crate would parse every line, and first read the kernel's version, on
/// every container's start.)
fn effective_capabilities() -> procfs::ProcResult<u64> {
    let status = proc_file::read("/proc/self/status")?;
    let effective = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
        .ok_or_else(|| std::io::Error::other("no CapEff in /proc/self/status"))?;
    Ok(effective)
}

/// Is this capability in our effective set?
fn has_capability(bit: u32) -> procfs::ProcResult<bool> {
    Ok(effective_capabilities()? & (1 << bit) != 0)
}

/// Creating any namespace but a user namespace needs `CAP_SYS_ADMIN`.
pub fn has_cap_sys_admin() -> procfs::ProcResult<bool> {
    has_capability(CAP_SYS_ADMIN)
}

/// May we write any uid/gid map we like (or only our own id)?
pub fn can_map_any_ids() -> procfs::ProcResult<bool> {
    let both = (1 << CAP_SETUID) | (1 << CAP_SETGID);
    Ok(effective_capabilities()? & both == both)
}

// ANCHOR: check
/// Fails with a message that says what is missing and how to get it. With a new user
/// namespace, no privilege is needed: the other namespaces are created inside it,
/// where the child is root (unless this machine turned that off for ordinary users).
pub fn check(program: &str, container: &Container) -> Result<(), Error> {
    if container.network.is_some() && !has_capability(CAP_NET_ADMIN)? {
        let why = "creating a veth pair and a bridge on the host".to_string();
        let hint = "A user namespace does not help here: the bridge and the host's \
                    end of the veth live on the host. (Rootless tools use \
                    slirp4netns or pasta instead, beyond this course.)";
        return Err(needs_root(program, why, "CAP_NET_ADMIN", hint));
    }
    if container.namespaces.is_empty() || has_cap_sys_admin()? {
        return Ok(());
    }
    if container.namespaces.contains(&Namespace::User) {
        return user::check_unprivileged_userns_allowed(program);
    }
    let flags: Vec<_> = container
        .namespaces
        .iter()
        .map(|ns| ns.flag_name())
        .collect();
    let why = format!("clone({})", flags.join(" | "));
    let hint = "Lesson 05 shows how a user namespace lets an ordinary user do this \
                without root.";
    Err(needs_root(program, why, "CAP_SYS_ADMIN", hint))
}
// ANCHOR_END: check

fn needs_root(
    program: &str,
    why: String,
    capability: &'static str,
    hint: &'static str,
) -> Error {
    let path = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| program.to_string());
    Error::NeedsRoot {
        program: program.to_string(),
        path,
        why,
        capability,
        hint,
        uid: nix::unistd::geteuid().as_raw(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_read_from_cap_eff() {
        let status = procfs::process::Process::myself()
            .unwrap()
            .status()
            .unwrap();
        for bit in [CAP_SETGID, CAP_SETUID, CAP_NET_ADMIN, CAP_SYS_ADMIN] {
            let expected = status.capeff & (1 << bit) != 0;
            assert_eq!(has_capability(bit).unwrap(), expected, "bit {bit}");
        }
    }
}
