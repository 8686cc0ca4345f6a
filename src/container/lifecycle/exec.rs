//! `exec`: another command in a running container, as `docker exec` or `nsbox
//! exec` runs it.
//!
//! We join the container's namespaces with `setns(2)`, given a *pidfd* of its
//! process (`pidfd_open(2)`, Linux 5.8+): one call joins them all at once, and the
//! pidfd names that very process, so a pid the kernel reused cannot fool us.

use super::state;
use crate::container::exit::Ending;
use crate::container::handshake::{self, Message};
use crate::container::security::{Security, in_root};
use crate::container::state::Status;
use crate::container::{
    ContainerId, Error, Namespace, child, exec, security, terminal,
};
use nix::sched::CloneFlags;
use nix::sys::signal::SigSet;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What the command gets besides the container's namespaces and cgroup.
#[derive(Clone, Debug, Default)]
pub struct ExecSettings {
    /// Its environment (`None`: ours).
    pub env: Option<Vec<String>>,
    /// The folder it starts in (`None`: the container's `/`).
    pub workdir: Option<PathBuf>,
    /// Give it a terminal: a pty from the container's own devpts, whose master
    /// end [`Execution::terminal`] holds.
    pub terminal: bool,
}

/// A command `exec_start` started in a container.
pub struct Execution {
    /// The process that joined the container (the command is its child).
    joined: Pid,
    /// The master end of the command's terminal, with `terminal`.
    pub terminal: Option<OwnedFd>,
}

impl Execution {
    /// Waits for the command to end.
    pub fn wait(self) -> Result<Ending, Error> {
        wait_for(self.joined)
    }
}

/// Runs `command` in the running container `id`, with our environment, from its
/// `/`.
pub fn exec(
    root: &Path,
    id: &ContainerId,
    command: &[String],
) -> Result<Ending, Error> {
    exec_with(root, id, command, &ExecSettings::default())
}

// ANCHOR: exec
/// Runs `command` in the running container `id`, in its namespaces and cgroup, and
/// returns how it ended.
pub fn exec_with(
    root: &Path,
    id: &ContainerId,
    command: &[String],
    settings: &ExecSettings,
) -> Result<Ending, Error> {
    exec_start(root, id, command, settings)?.wait()
}

/// Starts `command` in the running container `id`; [`Execution::wait`] waits for
/// it.
pub fn exec_start(
    root: &Path,
    id: &ContainerId,
    command: &[String],
    settings: &ExecSettings,
) -> Result<Execution, Error> {
    let state = state(root, id)?;
    if command.is_empty() {
        return Err(Error::BadInput("no command to run".into()));
    }
    if state.status != Status::Running {
        return Err(Error::NotRunning { id: id.to_string() });
    }
    let dir = root.join(id.as_str());
    let security = (state.security)
        .load(&dir)
        .map_err(Error::state("reading the container's seccomp filter"))?;
    let pidfd = pidfd_open(state.pid).map_err(Error::sys("pidfd_open"))?;
    let flags = namespaces_to_join(state.pid);
    let (ours, theirs) = handshake::channel().map_err(Error::sys("socketpair"))?;
    // SAFETY: the child only makes system calls and execs (or exits); fork(2)
    // leaves it a working copy of our memory, with one thread.
    match unsafe { fork() }.map_err(Error::sys("fork"))? {
        ForkResult::Child => {
            drop(ours);
            let joining = Joining {
                cgroup: &state.cleanup.cgroup,
                security: &security,
            };
            let code =
                join_and_run(&pidfd, flags, &joining, command, settings, &theirs);
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            drop(theirs);
            let terminal = match settings.terminal {
                true => receive_terminal(&ours),
                false => None,
            };
            Ok(Execution {
                joined: child,
                terminal,
            })
        }
    }
}
// ANCHOR_END: exec

/// The namespaces of the container's process that are not ours (joining one we
/// are in already is an error).
fn namespaces_to_join(pid: i32) -> CloneFlags {
    let link = |who: &str, ns: Namespace| {
        std::fs::read_link(format!("/proc/{who}/ns/{}", ns.proc_name())).ok()
    };
    Namespace::ALL
        .into_iter()
        .filter(|&ns| link(&pid.to_string(), ns) != link("thread-self", ns))
        .fold(CloneFlags::empty(), |flags, ns| flags | ns.clone_flag())
}

/// What the command shares with the container's own process besides its
/// namespaces: its cgroup and its defences.
struct Joining<'a> {
    cgroup: &'a [PathBuf],
    security: &'a Security,
}

/// In the forked child: into the cgroup (while we may still write there), into
/// the namespaces, then fork once more and run the command, as weak as the
/// container's own process (its capabilities, no_new_privs, seccomp filter).
fn join_and_run(
    pidfd: &OwnedFd,
    flags: CloneFlags,
    joining: &Joining,
    command: &[String],
    settings: &ExecSettings,
    channel: &handshake::Channel,
) -> i32 {
    for dir in joining.cgroup {
        let me = std::process::id().to_string();
        if std::fs::write(dir.join("cgroup.procs"), me).is_err() {
            return 125;
        }
    }
    // ANCHOR: exercise
    // One setns(2) with a pidfd joins every namespace named in `flags` at once.
    if nix::sched::setns(pidfd, flags).is_err() {
        return 125;
    }
    // ANCHOR_END: exercise
    // Surprise: joining a user namespace keeps our ids, the host's root's, which
    // its map may not map (`--userns=auto`): we would be `nobody` inside. Become
    // its root, as the container's first process did (a map without a root
    // refuses, and we stay as we were).
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        let _ = crate::container::user::become_root();
    }
    // Surprise: joining a PID namespace changes the namespace of our *children*
    // only (we keep our pid). So the command must be a child of ours.
    // SAFETY: as above; this process has one thread.
    match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            // create blocked some signals in the thread that called it; the
            // command starts with none blocked, as after a shell.
            let _ = SigSet::empty().thread_set_mask();
            // Joining the mount namespace took us to its root: `/` inside.
            if let Some(dir) = &settings.workdir {
                let _ = nix::unistd::chdir(dir.as_path());
                // `-w /proc/self/fd/N` with a descriptor leaked from outside
                // would put the command's cwd outside the container's root.
                if in_root::check_workdir().is_err() {
                    eprintln!(
                        "the working folder '{}' is outside the container's root",
                        dir.display()
                    );
                    std::process::exit(125)
                }
            }
            if let Some(env) = &settings.env {
                child::set_env(env);
            }
            // We are in the container's mount namespace: /dev/ptmx is its own.
            if settings.terminal && terminal::open_terminal(channel).is_err() {
                std::process::exit(125)
            }
            // Nothing of ours goes in with the command (chapter 10).
            if security::files::close_host_files_at_exec().is_err() {
                std::process::exit(125)
            }
            if let Err(error) = child::raise_defences(joining.security) {
                eprintln!("exec: {error}");
                std::process::exit(125)
            }
            let errno = exec::exec(command);
            std::process::exit(if errno == nix::errno::Errno::ENOENT {
                127
            } else {
                126
            })
        }
        Ok(ForkResult::Parent { child }) => match wait_for(child) {
            Ok(ending) => ending.shell_code() as i32,
            Err(_) => 125,
        },
        Err(_) => 125,
    }
}

fn wait_for(child: Pid) -> Result<Ending, Error> {
    loop {
        let status = waitpid(child, None).map_err(Error::sys("waitpid"))?;
        if let Some(ending) = Ending::from_wait_status(status) {
            return Ok(ending);
        }
    }
}

/// The master end the command's process sent, or `None` if it ended first.
fn receive_terminal(channel: &handshake::Channel) -> Option<OwnedFd> {
    match channel.recv() {
        // SAFETY: the kernel just made this descriptor for us (SCM_RIGHTS), and
        // nothing else owns it.
        Ok(Some(Message::Terminal(fd))) => Some(unsafe { OwnedFd::from_raw_fd(fd) }),
        _ => None,
    }
}

/// `pidfd_open(2)`: a file descriptor that names one process (nix has no wrapper).
fn pidfd_open(pid: i32) -> nix::Result<OwnedFd> {
    // SAFETY: a plain system call with two integer arguments.
    let fd = unsafe { nix::libc::syscall(nix::libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(nix::errno::Errno::last());
    }
    // SAFETY: the kernel just gave us this descriptor, and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}
