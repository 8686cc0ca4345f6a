//! Each of the eight namespace types, by asking for one: a child calls `unshare(2)`.
//!
//! `unshare(2)` takes the same flags as `clone(2)` and gives the *calling* process
//! new namespaces (for PID and time namespaces: its children-to-be). The kernel
//! refuses with:
//! - `ENOSPC` when a limit is reached: `user.max_<type>_namespaces`, one per type,
//!   in each user namespace (0 turns that type off);
//! - `EINVAL` when the kernel was built without that type;
//! - `EPERM` without `CAP_SYS_ADMIN`, or when a seccomp filter (a container's)
//!   forbids it.

use super::child::{Refusal, in_child};
use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem, RUN_AS_ROOT};
use crate::container::Namespace;
use crate::lessons;
use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};

/// The value we suggest for a `user.max_*_namespaces` limit that is 0.
pub const LIMIT_FIX: u32 = 15000;

// ANCHOR: flag
/// The flag for `unshare(2)`. Not [`Namespace::clone_flag`]: that one is empty for a
/// time namespace, which `clone(2)` cannot ask for, and `unshare(2)` can.
pub fn unshare_flag(namespace: Namespace) -> CloneFlags {
    match namespace {
        Namespace::Time => CloneFlags::from_bits_retain(nix::libc::CLONE_NEWTIME),
        other => other.clone_flag(),
    }
}
// ANCHOR_END: flag

/// The eight types in the order the lessons add them (the catalog's order); time
/// namespaces last (no lesson uses one).
pub fn order() -> Vec<Namespace> {
    let mut order = lessons::namespaces_in_course_order().to_vec();
    order.push(Namespace::Time);
    order
}

/// Tries every type; as an ordinary user, inside a new user namespace (the only way
/// one can).
pub fn check(report: &Report, findings: &mut Findings, root: bool) {
    if root {
        report.section("namespaces (unshare(2) in a child, as root)");
    } else {
        report.section("namespaces (unshare(2) in a child, inside a new user namespace: not root)");
    }
    for namespace in order() {
        let outcome = try_namespace(namespace, root);
        let name = format!("{:<8}", namespace.display_name());
        match &outcome {
            Outcome::Works => report.line(
                Mark::Good,
                format!("{name} unshare({})", namespace.flag_name()),
            ),
            Outcome::Fails(problem) | Outcome::NotTried(problem) => {
                let mark = match outcome {
                    Outcome::Fails(_) => Mark::Bad,
                    _ => Mark::Skipped,
                };
                report.line(mark, format!("{name} {}", problem.because));
                report.detail(format!("fix: {}", problem.fix));
            }
        }
        findings.record(Need::Namespace(namespace), outcome);
    }
}

// ANCHOR: try_namespace
/// Asks for a new namespace of this type in a child, and explains a refusal.
pub fn try_namespace(namespace: Namespace, root: bool) -> Outcome {
    let flag = unshare_flag(namespace);
    let step = format!("unshare({})", namespace.flag_name());
    let result = in_child(|| {
        // Not root: a user namespace first. (Not twice for the user type itself: in
        // the new namespace our uid is not mapped yet, and the kernel refuses a
        // nested one then.)
        if !root && namespace != Namespace::User {
            unshare(CloneFlags::CLONE_NEWUSER)
                .map_err(Refusal::at("unshare(CLONE_NEWUSER)"))?;
        }
        unshare(flag).map_err(Refusal::at(step))
    });
    match result {
        Ok(()) => Outcome::Works,
        Err(refusal) if !root && refusal.errno == Errno::EPERM => {
            Outcome::not_tried(
                format!("not tried: needs root, or user namespaces ({refusal})"),
                RUN_AS_ROOT,
            )
        }
        Err(refusal) => Outcome::Fails(explain(namespace, &refusal)),
    }
}
// ANCHOR_END: try_namespace

// ANCHOR: explain
/// Why the kernel said no, and what to do about it.
pub fn explain(namespace: Namespace, refusal: &Refusal) -> Problem {
    match refusal.errno {
        Errno::ENOSPC => limit_problem(namespace, refusal),
        Errno::EINVAL => Problem {
            because: format!(
                "{refusal}: this kernel was built without {} namespaces",
                namespace.display_name()
            ),
            fix: format!(
                "a kernel built with {} (every distribution kernel is)",
                config_option(namespace)
            ),
        },
        Errno::EPERM => Problem {
            because: format!(
                "{refusal}, with CAP_SYS_ADMIN: a seccomp filter or a security \
                 module forbids it (are we inside a container?)"
            ),
            fix: "run the lessons on the machine itself, or in a virtual machine"
                .to_string(),
        },
        _ => Problem {
            because: refusal.to_string(),
            fix: "see `man 2 unshare`".to_string(),
        },
    }
}
// ANCHOR_END: explain

/// `ENOSPC`: the limit for this type is 0 (that type is off), or reached.
fn limit_problem(namespace: Namespace, refusal: &Refusal) -> Problem {
    let setting = limit_setting(namespace);
    match read_limit(namespace) {
        Some(0) => Problem {
            because: format!(
                "{refusal}: {setting} = 0, so no {} namespace may be made",
                namespace.display_name()
            ),
            fix: format!("sudo sysctl -w {setting}={LIMIT_FIX}"),
        },
        limit => Problem {
            because: format!(
                "{refusal}: the limit {setting} (here {}) is reached, here or in a parent user \
                 namespace",
                limit.map_or("unknown".to_string(), |l| l.to_string())
            ),
            fix: format!(
                "sudo sysctl -w {setting}={LIMIT_FIX}, or end some containers"
            ),
        },
    }
}

/// `user.max_uts_namespaces`: the sysctl that limits namespaces of this type.
pub fn limit_setting(namespace: Namespace) -> String {
    format!("user.max_{}_namespaces", namespace.proc_name())
}

/// Its value, for the user namespace we are in (each user namespace has its own).
pub fn read_limit(namespace: Namespace) -> Option<u64> {
    let path = format!("/proc/sys/user/max_{}_namespaces", namespace.proc_name());
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The kernel build option for this namespace type.
fn config_option(namespace: Namespace) -> &'static str {
    match namespace {
        Namespace::Cgroup => "CONFIG_CGROUPS",
        Namespace::Ipc => "CONFIG_IPC_NS",
        Namespace::Mount => "CONFIG_NAMESPACES",
        Namespace::Net => "CONFIG_NET_NS",
        Namespace::Pid => "CONFIG_PID_NS",
        Namespace::Time => "CONFIG_TIME_NS",
        Namespace::User => "CONFIG_USER_NS",
        Namespace::Uts => "CONFIG_UTS_NS",
    }
}
