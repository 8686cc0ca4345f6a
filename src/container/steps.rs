//! What the child does, as data: an ordered list of [`Step`]s.
//!
//! One list serves three purposes, so they cannot drift apart: the child executes
//! it in order (see [`super::child`]), the narration prints it ("go! the child will
//! now …"), and a step that fails is reported by its place in the list, which the
//! parent turns back into the [`Step`] and the words below.

use super::mount::Propagation;
use super::pid::INIT_NAME;
use nix::errno::Errno;
use std::fmt;
use std::net::Ipv4Addr;

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
    /// `prctl(PR_SET_PDEATHSIG, SIGKILL)`: die when the parent dies.
    DieWithParent,
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
            Step::DieWithParent => "prctl(PR_SET_PDEATHSIG)".into(),
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
            Step::Exec(command) => Some(format!("exec {}", show_command(command))),
            other => Some(other.call()),
        }
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
    for step in steps {
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
