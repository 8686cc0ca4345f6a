//! The child's side: which steps it takes for this container ([`plan`]), and
//! taking them ([`run`]).

use super::cgroup::Cgroup;
use super::handshake::{Channel, Failure, Message};
use super::net::Attachment;
use super::net::inside;
use super::rootfs::{self, Layers, RootFs, RootSwitch};
use super::security::{self, CapSet, Security, devices, in_root, masks};
use super::steps::{self, ChildError, Step};
use super::{
    Container, Namespace, exec, idmap, mount, pid, signals, terminal, user, uts,
};
use nix::errno::Errno;
use nix::sys::signal::{SigSet, Signal};
use std::os::fd::{AsRawFd, RawFd};
use std::path::{Path, PathBuf};

/// What the parent made before the clone, which the child's steps use.
pub struct Made<'a> {
    pub network: Option<&'a Attachment>,
    pub layers: Option<&'a Layers>,
    pub cgroup: Option<&'a dyn Cgroup>,
    /// Detached idmapped mounts of the image's folders (`--userns=auto`): our
    /// descriptor of each, and where the child attaches it.
    pub idmapped: &'a [(RawFd, PathBuf)],
}

// ANCHOR: plan
/// The steps the child takes, in order, for this container (and its network, once
/// leased). The one place that decides them: the child runs this list, and the
/// narration prints it. Each lesson that needs a step in the child adds it here.
pub fn plan(container: &Container, made: &Made) -> Vec<Step> {
    let network = made.network;
    let new = |namespace| container.namespaces.contains(&namespace);
    let maps_root = container.id_maps.as_ref().is_some_and(|m| m.maps_root());
    let mut steps = Vec::new();
    if new(Namespace::User) && maps_root {
        steps.push(Step::BecomeRoot);
    }
    if new(Namespace::Cgroup) {
        // The parent has put us in our cgroup by now: it becomes our "/".
        steps.push(Step::UnshareCgroup);
    }
    if let Some(name) = &container.hostname {
        steps.push(Step::SetHostname(name.clone()));
    }
    if let Some(attachment) = network {
        steps.extend(inside::steps(attachment));
    }
    if new(Namespace::Mount) {
        steps.push(Step::SetPropagation(container.propagation));
        match (&container.rootfs, made.layers) {
            (Some(rootfs), Some(layers)) => {
                steps.extend(made.idmapped.iter().map(|(fd, target)| {
                    Step::AttachMount {
                        fd: *fd,
                        target: target.clone(),
                    }
                }));
                steps.extend(rootfs_steps(rootfs, layers, made.cgroup))
            }
            _ if new(Namespace::Pid) => steps.push(Step::MountProc),
            _ => {}
        }
    }
    if container.terminal {
        steps.push(Step::OpenTerminal);
    }
    if let Some(dir) = &container.workdir {
        steps.push(Step::ChangeDir(dir.clone()));
    }
    if container.rootfs.is_some() || container.workdir.is_some() {
        // After the root switch and the cd: where the command will start.
        steps.push(Step::CheckWorkdir);
    }
    let changes_user = container.user.is_some();
    let (defences_first, defences_last) =
        defences(&container.security, changes_user);
    steps.extend(defences_first);
    if let Some((uid, gid)) = container.user {
        steps.push(Step::SetUser { uid, gid });
    }
    if let Some(env) = &container.env {
        steps.push(Step::SetEnv(env.clone()));
    }
    if container.die_with_parent {
        // Last before exec: the kernel forgets it when our user ids change.
        steps.push(Step::DieWithParent);
    }
    if let Some(stdio) = container.stdio {
        steps.push(Step::ConnectStdio(stdio));
    }
    if container.close_host_files {
        steps.push(Step::CloseHostFiles);
    }
    steps.extend(defences_last);
    if container.init {
        steps.push(Step::BecomeInit);
    }
    steps.push(Step::Exec(container.command.clone()));
    steps
}
// ANCHOR_END: plan

// ANCHOR: defences
/// The defences' steps (issue 17): those to take before the user changes, and
/// those to take last before the command.
///
/// The order is forced on us by the kernel:
/// - Capabilities before `SetUser`: changing to a uid other than 0 empties the
///   permitted and effective sets (as docker shows `CapEff: 0` for `-u 1000`),
///   and dropping from the bounding set needs `CAP_SETPCAP`, which only root
///   still has. But `SetUser` itself needs `CAP_SETUID` and `CAP_SETGID` (think
///   of `--cap-drop ALL -u 1000`): those stay in the effective set until then,
///   never in the bounding set, so the uid change, or for root the `exec`
///   (which gives root its bounding set), takes them away. (runc keeps them
///   with `PR_SET_KEEPCAPS` instead.)
/// - The seccomp filter as late as possible, so it filters only the command, not
///   our own set-up. But the kernel takes a filter only from a process with
///   no_new_privs set or with `CAP_SYS_ADMIN`, which the capability step has just
///   dropped. So: with no_new_privs, the filter comes last, after it; without,
///   it comes *before* the capabilities go, while we still have `CAP_SYS_ADMIN`
///   (runc does the same). The steps after it then run under the filter: the
///   profile must allow what they call (docker's does: capset, prctl,
///   setresuid, dup2, execve…).
pub fn defences(security: &Security, changes_user: bool) -> (Vec<Step>, Vec<Step>) {
    let (mut first, mut last) = (Vec::new(), Vec::new());
    let filter = security.seccomp.clone().map(Step::InstallSeccomp);
    if !security.no_new_privileges {
        first.extend(filter.clone());
    }
    if let Some(keep) = security.capabilities {
        let until_set_user = match changes_user {
            true => security::capabilities::needed_to_set_user(),
            false => CapSet(0),
        };
        first.push(Step::LimitCapabilities {
            keep,
            until_set_user,
        });
    }
    if security.no_new_privileges {
        first.push(Step::NoNewPrivileges);
        last.extend(filter);
    }
    (first, last)
}
// ANCHOR_END: defences

/// Takes the defences' steps in a process that has no plan (`exec`'s): the
/// failed step, if one fails.
pub fn raise_defences(security: &Security) -> Result<(), ChildError> {
    let (first, last) = defences(security, false);
    for step in first.into_iter().chain(last) {
        take_defence(&step).map_err(|errno| ChildError { step, errno })?;
    }
    Ok(())
}

fn take_defence(step: &Step) -> Result<(), Errno> {
    match step {
        Step::LimitCapabilities {
            keep,
            until_set_user,
        } => security::capabilities::limit_to(*keep, *until_set_user),
        Step::NoNewPrivileges => security::set_no_new_privileges(),
        Step::InstallSeccomp(filter) => security::seccomp::install(filter),
        _ => Ok(()),
    }
}

// ANCHOR: rootfs_steps
/// A root of its own (lesson 08): the overlay, the kernel's filesystems and a few
/// devices in it, the volumes, and last the swap of roots. `nsbox run` adds issue
/// 17's defences: `nodev`, and the kernel's files masked or read-only.
fn rootfs_steps(
    rootfs: &RootFs,
    layers: &Layers,
    cgroup: Option<&dyn Cgroup>,
) -> Vec<Step> {
    let root = &layers.root;
    let mut overlay = rootfs::overlay(&rootfs.image, layers);
    if rootfs.nodev {
        overlay = overlay.nodev();
    }
    let mut steps = vec![Step::Mount(Box::new(overlay))];
    for mount in rootfs::kernel_filesystems(root) {
        // /dev too: its nodes are bind mounts, which keep the host /dev's flags.
        let mount = if rootfs.nodev && mount.fs_type != "devpts" {
            mount.nodev()
        } else {
            mount
        };
        steps.push(Step::Mount(Box::new(mount)));
    }
    for device in rootfs::DEVICES {
        steps.push(Step::Bind {
            from: Path::new("/dev").join(device),
            to: root.join("dev").join(device),
            read_only: false,
        });
    }
    for (link, points_to) in rootfs::DEV_LINKS {
        steps.push(Step::Link {
            points_to: points_to.into(),
            link: root.join("dev").join(link),
        });
    }
    if let Some(cgroup) = cgroup {
        steps.extend(cgroup.view_inside(&root.join("sys/fs/cgroup")));
    }
    for name in rootfs::ETC_FILES {
        steps.push(Step::Bind {
            from: layers.etc.join(name),
            to: root.join("etc").join(name),
            read_only: false,
        });
    }
    for volume in &rootfs.volumes {
        let inside = volume
            .container
            .strip_prefix("/")
            .unwrap_or(&volume.container);
        steps.push(Step::Bind {
            from: volume.host.clone(),
            to: root.join(inside),
            read_only: volume.read_only,
        });
        if rootfs.nodev {
            steps.push(Step::ForbidDevices(root.join(inside)));
        }
    }
    if rootfs.mask_system_paths {
        for path in masks::MASKED {
            steps.push(Step::MaskPath(root.join(path)));
        }
        for path in masks::READ_ONLY {
            steps.push(Step::ReadOnlyPath(root.join(path)));
        }
    }
    steps.push(match rootfs.switch {
        RootSwitch::PivotRoot => Step::PivotRoot(root.clone()),
        RootSwitch::Chroot => Step::Chroot(root.clone()),
    });
    if rootfs.try_escape {
        steps.push(Step::TryEscape);
    }
    steps
}
// ANCHOR_END: rootfs_steps

// ANCHOR: run
/// Takes the steps in order. Returns only if one failed (or our init ended): the
/// exit code. A failed step is reported to the parent by its place in the list.
pub fn run(steps: &[Step], channel: &Channel, old_mask: &SigSet) -> isize {
    // Mount targets under the folder that becomes our root are resolved in it.
    let root = steps::new_root(steps).map(|root| root.as_path());
    for (index, step) in steps.iter().enumerate() {
        let result = match step {
            Step::BecomeInit => {
                close_all_files_but(channel.as_raw_fd());
                let command = command_of(steps);
                return pid::run_init(command, index, channel, old_mask) as isize;
            }
            Step::Exec(command) => {
                let _ = signals::restore_mask(old_mask);
                Err(exec::exec(command))
            }
            step => take(step, channel, root),
        };
        if let Err(errno) = result {
            let _ = channel.send(&Message::Failed(Failure { step: index, errno }));
            let error = ChildError {
                step: step.clone(),
                errno,
            };
            return error.exit_code() as isize;
        }
    }
    125 // Not reached: the list ends with Exec.
}
// ANCHOR_END: run

/// One step that is not the end of the list. `root`: the folder that becomes our
/// root, if we get one.
fn take(step: &Step, channel: &Channel, root: Option<&Path>) -> Result<(), Errno> {
    match step {
        Step::BecomeRoot => user::become_root(),
        Step::UnshareCgroup => {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
        }
        Step::SetHostname(name) => uts::set_hostname(name),
        Step::SetPropagation(mode) => mount::set_propagation(*mode),
        Step::MountProc => mount::mount_proc(),
        Step::Mount(mount) => mount.apply(root),
        Step::Bind {
            from,
            to,
            read_only,
        } => rootfs::bind(from, to, *read_only, root),
        Step::Link { points_to, link } => rootfs::link(points_to, link, root),
        Step::MaskPath(path) => masks::mask(root, path),
        Step::ReadOnlyPath(path) => masks::read_only(root, path),
        Step::ForbidDevices(path) => devices::forbid_devices(root, path),
        Step::AttachMount { fd, target } => idmap::attach(*fd, target),
        Step::PivotRoot(root) => rootfs::enter_root(root),
        Step::Chroot(root) => rootfs::change_root(root),
        Step::TryEscape => rootfs::try_escape(),
        Step::OpenTerminal => terminal::open_terminal(channel),
        Step::ChangeDir(dir) => change_dir(dir),
        Step::CheckWorkdir => in_root::check_workdir(),
        Step::SetUser { uid, gid } => user::set_user(*uid, *gid),
        Step::SetEnv(env) => {
            set_env(env);
            Ok(())
        }
        Step::ConnectStdio(fds) => connect_stdio(*fds),
        Step::DieWithParent => die_with_parent(channel),
        Step::CloseHostFiles => security::files::close_host_files_at_exec(),
        Step::LimitCapabilities { .. }
        | Step::NoNewPrivileges
        | Step::InstallSeccomp(_) => take_defence(step),
        network => inside::configure(network).map_err(|error| {
            Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO))
        }),
    }
}

/// The command the list ends with.
fn command_of(steps: &[Step]) -> &[String] {
    match steps.last() {
        Some(Step::Exec(command)) => command,
        _ => &[],
    }
}

// ANCHOR: die_with_parent
/// Asks the kernel to SIGKILL us if the parent dies, so a killed lesson binary does
/// not leave its container running (with an address and a veth nobody will clean
/// up).
///
/// Surprise: the kernel forgets this request whenever our user ids change, which
/// `become_root` just did; so it is the last step before `exec`. And the parent may
/// have died already, before we asked: then its end of the channel is closed, and we
/// stop here.
fn die_with_parent(channel: &Channel) -> Result<(), Errno> {
    nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
    if channel.peer_gone() {
        std::process::exit(125);
    }
    Ok(())
}
// ANCHOR_END: die_with_parent

/// `mkdir -p DIR; cd DIR`, as docker does for a working folder the image lacks.
fn change_dir(dir: &Path) -> Result<(), Errno> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(nix::libc::EIO)))?;
    nix::unistd::chdir(dir)
}

/// Replaces our environment with the container's. `execvp` then looks the command
/// up in the container's `$PATH`, and the command inherits exactly these.
pub fn set_env(env: &[String]) {
    for (key, _) in std::env::vars_os() {
        // SAFETY: the child has one thread (clone(2) copied only the one that
        // called it), so nothing else reads the environment while we change it.
        unsafe { std::env::remove_var(key) };
    }
    for entry in env {
        if let Some((key, value)) = entry.split_once('=')
            && !key.is_empty()
        {
            // SAFETY: as above, one thread.
            unsafe { std::env::set_var(key, value) };
        }
    }
}

/// Puts the runtime's pipes on 0, 1 and 2. `dup2` clears close-on-exec on the
/// copy, so the command keeps them; the originals close at `exec`.
fn connect_stdio(fds: [i32; 3]) -> Result<(), Errno> {
    for (fd, target) in fds.into_iter().zip(0..) {
        if fd != target {
            // SAFETY: a plain system call on two descriptor numbers.
            if unsafe { nix::libc::dup2(fd, target) } < 0 {
                return Err(Errno::last());
            }
        }
    }
    Ok(())
}

/// Closes what `exec` would close: every descriptor marked close-on-exec, but
/// `keep`.
///
/// Surprise: the files a parent opens close-on-exec (the runtime's log, its lock,
/// the pipe that tells `nsbox run -d` the container started) close in the child
/// only when it calls `exec`. Our init never does: it would hold them open for the
/// container's whole life, and whoever waits for their other end to close would
/// wait as long. (Descriptors not marked so stay, for the command, as they would
/// across `exec`.)
fn close_all_files_but(keep: i32) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.flatten()
                .filter_map(|fd| fd.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    for fd in open.into_iter().filter(|&fd| fd > 2 && fd != keep) {
        // SAFETY: the number came from /proc/self/fd; if it is no longer open,
        // fcntl fails and we skip it. Nothing else in the child uses these.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let flags = fcntl(borrowed, FcntlArg::F_GETFD).unwrap_or(0);
        if FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC) {
            let _ = nix::unistd::close(fd);
        }
    }
}
