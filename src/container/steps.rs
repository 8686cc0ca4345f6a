//! What the child does, as data: an ordered list of [`Step`]s.
//!
//! One list serves three purposes, so they cannot drift apart: the child executes
//! it in order (see [`super::child`]), the narration prints it ("go! the child will
//! now …"), and a step that fails is reported by its place in the list, which the
//! parent turns back into the [`Step`] and the words below.

use super::mount::Propagation;
use super::pid::INIT_NAME;
use super::rootfs::Mount;
use super::security::{CapSet, Filter};
use nix::errno::Errno;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;

// ANCHOR: step
/// One thing the child does in its new namespaces, before it becomes the command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `setresuid(0, 0, 0)`: become root of the new user namespace.
    BecomeRoot,
    /// `unshare(CLONE_NEWCGROUP)`: the cgroup we are in becomes our `/`.
    UnshareCgroup,
    /// `sethostname(name)` in the new UTS namespace.
    SetHostname(String),
    /// `ip link set NAME up`.
    LinkUp(String),
    /// `ip addr add ADDRESS/PREFIX dev LINK`.
    AddAddress {
        link: String,
        address: Ipv4Addr,
        prefix: u8,
    },
    /// `ip route add default via GATEWAY`.
    AddDefaultRoute(Ipv4Addr),
    /// `mount --make-rMODE /`.
    SetPropagation(Propagation),
    /// `mount -t proc proc /proc`.
    MountProc,
    /// `mount -t TYPE -o OPTIONS SOURCE TARGET` (lesson 08), the mount point made
    /// first if missing. (Boxed: a mount says a lot, and every step, in errors
    /// too, would otherwise take as much room.)
    Mount(Box<Mount>),
    /// `mount --bind FROM TO` (and read-only if asked), `TO` made first.
    Bind {
        from: PathBuf,
        to: PathBuf,
        read_only: bool,
    },
    /// `move_mount(FD, TARGET)`: a detached mount the parent made before the
    /// clone (an idmapped copy of an image's folder), attached on the folder
    /// `TARGET`.
    AttachMount { fd: i32, target: PathBuf },
    /// `ln -s POINTS_TO LINK`.
    Link { points_to: String, link: PathBuf },
    /// Hide a kernel file or folder, if it exists: `/dev/null` bound over a
    /// file, an empty read-only tmpfs on a folder (`security::masks`).
    MaskPath(PathBuf),
    /// `mount --bind PATH PATH; mount -o remount,bind,ro PATH`, if it exists.
    ReadOnlyPath(PathBuf),
    /// `nodev` on the mount at `PATH` and every mount under it: device nodes
    /// there cannot be opened (`security::devices`).
    ForbidDevices(PathBuf),
    /// `cd NEW_ROOT; pivot_root . .; umount -l .`: `NEW_ROOT` becomes `/`, and the
    /// old root leaves the namespace.
    PivotRoot(PathBuf),
    /// `cd NEW_ROOT; chroot .` (chapter 08's experiment: not enough).
    Chroot(PathBuf),
    /// Chapter 08's experiment: the classic escape from a `chroot`.
    TryEscape,
    /// Open a pty from the container's `/dev/ptmx`, make its slave end our
    /// terminal and our 0, 1, 2, and send the master end to the parent.
    OpenTerminal,
    /// `mkdir -p DIR; cd DIR`: where the command starts.
    ChangeDir(PathBuf),
    /// `getcwd()`: check the working folder is inside our root
    /// (`security::in_root::check_workdir`).
    CheckWorkdir,
    /// `setgroups([]); setgid(GID); setuid(UID)`: drop to the image's user.
    SetUser { uid: u32, gid: u32 },
    /// Keep only these capabilities: the bounding set shrunk to `keep`,
    /// permitted and effective set to it, inheritable and ambient emptied. Plus,
    /// in permitted and effective only, `until_set_user`: what a later `SetUser`
    /// needs (`CAP_SETUID`, `CAP_SETGID`), which the uid change or the `exec`
    /// then takes away.
    LimitCapabilities {
        keep: CapSet,
        until_set_user: CapSet,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: no `exec` raises privileges any more.
    NoNewPrivileges,
    /// `seccomp(SECCOMP_SET_MODE_FILTER, …)`: filter every later system call.
    InstallSeccomp(Filter),
    /// `clearenv(); setenv(…)`: the command's environment is the container's, not
    /// ours.
    SetEnv(Vec<String>),
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: die when the parent dies.
    DieWithParent,
    /// `dup2(STDIN, 0); dup2(STDOUT, 1); dup2(STDERR, 2)`: the command's standard
    /// streams are these (pipes the runtime reads, to keep a log).
    ConnectStdio([i32; 3]),
    /// `close_range(3, ~0, CLOSE_RANGE_CLOEXEC)`: every descriptor above 2 closes
    /// when the command starts.
    CloseHostFiles,
    /// Become our tiny init, which forks the next step (the command) as PID 2.
    BecomeInit,
    /// `execvp(3)`: become the command. Always the last step.
    Exec(Vec<String>),
}
// ANCHOR_END: step

impl Step {
    /// The step as a student would type or call it, for errors:
    /// `sethostname("box")`, `ip link set eth0 up`, `exec 'foo'`.
    pub fn call(&self) -> String {
        match self {
            Step::BecomeRoot => "setresuid(0, 0, 0)".into(),
            Step::UnshareCgroup => "unshare(CLONE_NEWCGROUP)".into(),
            Step::SetHostname(name) => format!("sethostname({name:?})"),
            Step::LinkUp(link) => format!("ip link set {link} up"),
            Step::AddAddress {
                link,
                address,
                prefix,
            } => format!("ip addr add {address}/{prefix} dev {link}"),
            Step::AddDefaultRoute(gateway) => {
                format!("ip route add default via {gateway}")
            }
            Step::SetPropagation(mode) => format!("mount --make-r{mode} /"),
            Step::MountProc => "mount -t proc proc /proc".into(),
            Step::Mount(mount) => mount.to_string(),
            Step::Bind {
                from,
                to,
                read_only,
            } => {
                let ro = if *read_only { " (read-only)" } else { "" };
                format!("mount --bind {} {}{ro}", from.display(), to.display())
            }
            Step::AttachMount { fd, target } => {
                format!("move_mount({fd}, {})", target.display())
            }
            Step::Link { points_to, link } => {
                format!("ln -s {points_to} {}", link.display())
            }
            Step::MaskPath(path) => format!(
                "mount --bind /dev/null {0} (a file) or mount -t tmpfs -o ro tmpfs \
                 {0} (a folder), if it exists",
                path.display()
            ),
            Step::ReadOnlyPath(path) => format!(
                "mount --bind {0} {0}; mount -o remount,bind,ro {0}, if it exists",
                path.display()
            ),
            Step::ForbidDevices(path) => format!(
                "mount -o remount,bind,nodev {} (and every mount under it)",
                path.display()
            ),
            Step::PivotRoot(root) => {
                format!("cd {}; pivot_root . .; umount -l .", root.display())
            }
            Step::Chroot(root) => format!("cd {}; chroot .", root.display()),
            Step::TryEscape => {
                "mkdir /.escape; chroot /.escape; cd .. (64 times); chroot .".into()
            }
            Step::OpenTerminal => {
                "open /dev/ptmx; setsid; ioctl(TIOCSCTTY); dup2 x 3; send the master"
                    .into()
            }
            Step::ChangeDir(dir) => format!("cd {}", dir.display()),
            Step::CheckWorkdir => {
                "getcwd() (the working folder must be inside the container's root)"
                    .into()
            }
            Step::SetUser { uid, gid } => {
                format!("setgroups([]); setgid({gid}); setuid({uid})")
            }
            Step::LimitCapabilities {
                keep,
                until_set_user,
            } => format!(
                "prctl(PR_CAPBSET_DROP) x {}; prctl(PR_CAP_AMBIENT_CLEAR_ALL); \
                 capset({:#x})",
                CapSet::all().without(*keep).names().len(),
                keep.with(*until_set_user).0
            ),
            Step::NoNewPrivileges => "prctl(PR_SET_NO_NEW_PRIVS, 1)".into(),
            Step::InstallSeccomp(filter) => format!(
                "seccomp(SECCOMP_SET_MODE_FILTER) x {} ({} BPF instructions)",
                filter.programs(),
                filter.instructions()
            ),
            Step::SetEnv(env) => format!("clearenv(); setenv() x {}", env.len()),
            Step::DieWithParent => "prctl(PR_SET_PDEATHSIG)".into(),
            Step::ConnectStdio([stdin, stdout, stderr]) => {
                format!("dup2({stdin}, 0); dup2({stdout}, 1); dup2({stderr}, 2)")
            }
            Step::CloseHostFiles => "close_range(3, ~0, CLOSE_RANGE_CLOEXEC)".into(),
            Step::BecomeInit => format!("become {INIT_NAME} and fork"),
            Step::Exec(command) => format!("exec '{}'", command[0]),
        }
    }

    /// The step in the narration's plan, with why when it is not obvious; `None`
    /// for a step the narration does not mention.
    pub fn narration(&self) -> Option<String> {
        match self {
            Step::BecomeRoot => Some("setresuid(0, 0, 0) to be root inside".into()),
            Step::UnshareCgroup => {
                Some("unshare(CLONE_NEWCGROUP), its cgroup becoming its /".into())
            }
            Step::SetHostname(name) => Some(format!("sethostname(\"{name}\")")),
            Step::DieWithParent => None,
            // A check that changes nothing: not worth a word in the plan.
            Step::CheckWorkdir => None,
            Step::SetEnv(env) => Some(format!(
                "set its environment ({} variables, ours are gone)",
                env.len()
            )),
            Step::OpenTerminal => Some(
                "open a pty from its own /dev/pts, make it its terminal, and send us \
                 the master end"
                    .into(),
            ),
            Step::ConnectStdio(_) => {
                Some("put the runtime's pipes on its stdin, stdout, stderr".into())
            }
            Step::CloseHostFiles => {
                Some("mark every file above 2 close-on-exec (none of ours goes in)".into())
            }
            Step::LimitCapabilities { keep, .. } => Some(format!(
                "keep only {} capabilities ({:#x}: {}), in all five sets",
                keep.names().len(),
                keep.0,
                keep.names().join(", ")
            )),
            Step::NoNewPrivileges => Some(
                "prctl(PR_SET_NO_NEW_PRIVS, 1), so no setuid program raises its \
                 privileges"
                    .into(),
            ),
            Step::InstallSeccomp(filter) => Some(format!(
                "install the seccomp filter ({} BPF instructions): a system call it \
                 does not allow fails",
                filter.instructions()
            )),
            Step::Exec(command) => Some(format!("exec {}", show_command(command))),
            other => Some(other.call()),
        }
    }

    /// Is this one of the steps that build the container's own root (lesson 08)?
    /// The narration lists them one per line, under the plan.
    pub fn builds_root(&self) -> bool {
        matches!(
            self,
            Step::Mount(_)
                | Step::Bind { .. }
                | Step::Link { .. }
                | Step::MaskPath(_)
                | Step::ReadOnlyPath(_)
                | Step::ForbidDevices(_)
                | Step::AttachMount { .. }
                | Step::PivotRoot(_)
                | Step::Chroot(_)
                | Step::TryEscape
        )
    }

    /// Is this one of the `ip` commands that configure the network inside?
    pub fn is_ip_command(&self) -> bool {
        matches!(
            self,
            Step::LinkUp(_) | Step::AddAddress { .. } | Step::AddDefaultRoute(_)
        )
    }
}

/// The plan as the narration tells it: the steps in order, joined by ", then ",
/// the `ip` commands in a row joined by "; " as in a shell.
pub fn describe_plan(steps: &[Step]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut previous_was_ip = false;
    let mut previous_was_root = false;
    for step in steps {
        if step.builds_root() {
            if !previous_was_root {
                parts.push("make its own root as below".to_string());
            }
            previous_was_root = true;
            previous_was_ip = false;
            continue;
        }
        previous_was_root = false;
        let Some(words) = step.narration() else {
            continue;
        };
        match parts.last_mut() {
            Some(last) if previous_was_ip && step.is_ip_command() => {
                last.push_str("; ");
                last.push_str(&words);
            }
            _ => parts.push(words),
        }
        previous_was_ip = step.is_ip_command();
    }
    parts.join(", then ")
}

/// The folder that becomes the container's root, if the steps make one.
pub fn new_root(steps: &[Step]) -> Option<&PathBuf> {
    steps.iter().find_map(|step| match step {
        Step::PivotRoot(root) | Step::Chroot(root) => Some(root),
        _ => None,
    })
}

/// The command as a student would type it, quoting words with spaces.
pub fn show_command(command: &[String]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|word| {
            if word.is_empty()
                || word
                    .contains(|c: char| c.is_whitespace() || "'\"$;&|".contains(c))
            {
                format!("'{}'", word.replace('\'', r"'\''"))
            } else {
                word.clone()
            }
        })
        .collect();
    words.join(" ")
}

/// A step the child could not do: which one, and the error number the kernel gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildError {
    pub step: Step,
    pub errno: Errno,
}

impl ChildError {
    /// As a shell would exit: 127 when the command was not found, 126 when it could
    /// not be run, 125 when the container's own set-up failed.
    pub fn exit_code(&self) -> u8 {
        match (&self.step, self.errno) {
            (Step::Exec(_), Errno::ENOENT) => 127,
            (Step::Exec(_), _) => 126,
            _ => 125,
        }
    }
}

impl fmt::Display for ChildError {
    /// "exec 'foo': No such file or directory"
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}: {}", self.step.call(), self.errno.desc())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_errors_map_to_shell_codes() {
        let exec = Step::Exec(vec!["foo".into()]);
        let error = |step: &Step, errno| ChildError {
            step: step.clone(),
            errno,
        };
        assert_eq!(error(&exec, Errno::ENOENT).exit_code(), 127);
        assert_eq!(error(&exec, Errno::EACCES).exit_code(), 126);
        let hostname = Step::SetHostname("x".into());
        assert_eq!(error(&hostname, Errno::EPERM).exit_code(), 125);
        assert_eq!(
            error(&exec, Errno::ENOENT).to_string(),
            "exec 'foo': No such file or directory"
        );
    }

    #[test]
    fn the_plan_reads_as_before() {
        let steps = [
            Step::SetHostname("box".into()),
            Step::LinkUp("lo".into()),
            Step::AddDefaultRoute(Ipv4Addr::new(10, 89, 0, 1)),
            Step::MountProc,
            Step::DieWithParent,
            Step::Exec(vec!["echo".into(), "a b".into()]),
        ];
        assert_eq!(
            describe_plan(&steps),
            "sethostname(\"box\"), then ip link set lo up; ip route add default via \
             10.89.0.1, then mount -t proc proc /proc, then exec echo 'a b'"
        );
    }
}
