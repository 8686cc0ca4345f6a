//! Other users: who ran the tests, and running a program as an unprivileged user
//! from a directory it may enter.

use super::{Run, bin, run_command};
use std::path::PathBuf;
use std::process::Command;

/// The user and group who ran the tests: the ones behind sudo, or our own.
pub fn invoking_user() -> (u32, u32) {
    let from_sudo = |name: &str| std::env::var(name).ok()?.parse::<u32>().ok();
    match (from_sudo("SUDO_UID"), from_sudo("SUDO_GID")) {
        (Some(uid), Some(gid)) if nix::unistd::geteuid().is_root() => (uid, gid),
        _ => (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        ),
    }
}

/// A private directory under /tmp that anyone may enter (for running a copy of a
/// binary as another user), removed on drop.
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::os::unix::fs::PermissionsExt;
        static NEXT: std::sync::atomic::AtomicU32 =
            std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("nsbox-test-{tag}-{}-{n}", std::process::id());
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .unwrap();
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// The unprivileged user the rootless proofs run as (no account needs to exist for
/// it).
pub const UNPRIVILEGED: u32 = 47000;

impl TempDir {
    /// Copies binaries of this package into the directory (readable and runnable by
    /// anyone), and returns the copies' paths, in order.
    pub fn with_copies(&self, names: &[&str]) -> Vec<String> {
        names
            .iter()
            .map(|name| {
                let copy = self.path.join(name);
                std::fs::copy(bin(name), &copy).unwrap();
                copy.to_str().unwrap().to_string()
            })
            .collect()
    }

    /// Gives the directory to a user.
    pub fn chown(&self, uid: u32) {
        let id = Some(nix::unistd::Uid::from_raw(uid));
        nix::unistd::chown(&self.path, id, Some(nix::unistd::Gid::from_raw(uid)))
            .unwrap();
    }
}

/// Runs a program as an unprivileged uid/gid (no supplementary groups), to the end.
pub fn run_as(uid: u32, program: &str, args: &[&str]) -> Run {
    run_as_with_env(uid, program, args, &[])
}

/// [`run_as`], with some variables set.
pub fn run_as_with_env(
    uid: u32,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Run {
    use std::os::unix::process::CommandExt;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .uid(uid)
        .gid(uid)
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .current_dir("/");
    run_command(command, "")
}
