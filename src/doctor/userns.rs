//! User namespaces for an ordinary user: what lesson 05 does without root.
//!
//! Three settings can turn them off for ordinary users (root is not affected by the
//! first and the last): `kernel.unprivileged_userns_clone` (Debian's and Ubuntu's
//! kernels), `user.max_user_namespaces` (everyone's limit) and
//! `kernel.apparmor_restrict_unprivileged_userns` (Ubuntu 23.10 and later). The
//! doctor does not just read them: a child drops to an ordinary uid and does what
//! 05-user does, and only if the kernel says no does it look for the setting.

use super::child::{Refusal, in_child};
use super::namespaces;
use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem};
use crate::container::{Error, Namespace, user};
use crate::lessons;
use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};
use nix::unistd::{Gid, Uid, getegid, geteuid, setgroups, setresgid, setresuid};

/// The uid the child runs as: the user behind sudo, or `nobody` (65534) when root
/// ran us.
const NOBODY: u32 = 65534;

/// Who the child is when it tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trier {
    /// We are not root: the child tries as we are.
    Ourselves,
    /// We are root: the child becomes this uid (and gid) first, which drops every
    /// capability.
    Uid(u32),
    /// We are root in a user namespace that maps no other uid: the child keeps uid 0
    /// but drops its capabilities, which is what the kernel looks at for these
    /// settings.
    RootWithoutCapabilities,
}

pub fn check(report: &Report, findings: &mut Findings) {
    report.section(
        "user namespaces for an ordinary user (lesson 05 runs without root)",
    );
    let trier = choose_trier();
    let who = match trier {
        Trier::Ourselves => format!("as uid {} (this run)", geteuid()),
        Trier::Uid(uid) if uid == NOBODY => format!("as uid {uid} (nobody), in a child"),
        Trier::Uid(uid) => format!("as uid {uid} (the user behind sudo), in a child"),
        Trier::RootWithoutCapabilities => {
            "as uid 0 without CAP_SYS_ADMIN, in a child (no other uid is mapped in this user \
             namespace)"
                .to_string()
        }
    };
    let outcome = match in_child(|| try_as(trier)) {
        Ok(()) => {
            report.line(
                Mark::Good,
                format!(
                    "{who}: unshare(CLONE_NEWUSER), a uid and gid map of its own, then new UTS, \
                     IPC, PID and mount namespaces inside it, as 05-user does"
                ),
            );
            Outcome::Works
        }
        Err(refusal) => {
            let problem = explain(&refusal);
            report.line(Mark::Bad, format!("{who}: {}", problem.because));
            report.detail(format!("fix: {}", problem.fix));
            Outcome::Fails(problem)
        }
    };
    findings.record(Need::UnprivilegedUserns, outcome);
}

fn choose_trier() -> Trier {
    if !geteuid().is_root() {
        return Trier::Ourselves;
    }
    let behind_sudo = std::env::var("SUDO_UID")
        .ok()
        .and_then(|uid| uid.parse::<u32>().ok())
        .filter(|&uid| uid != 0);
    let uid = behind_sudo.unwrap_or(NOBODY);
    if is_mapped(uid) {
        Trier::Uid(uid)
    } else if is_mapped(NOBODY) {
        Trier::Uid(NOBODY)
    } else {
        Trier::RootWithoutCapabilities
    }
}

/// Does our user namespace have this uid? (`/proc/self/uid_map`: `INSIDE OUTSIDE
/// COUNT`.)
fn is_mapped(uid: u32) -> bool {
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    map.lines().any(|line| {
        let numbers: Vec<u64> = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        matches!(numbers.as_slice(), [inside, _, count] if (*inside..inside + count).contains(&(uid as u64)))
    })
}

// ANCHOR: try_as
/// Runs in the child: becomes an ordinary user, then does what 05-user does.
fn try_as(trier: Trier) -> Result<(), Refusal> {
    match trier {
        Trier::Ourselves => {}
        Trier::Uid(uid) => {
            let _ = setgroups(&[]);
            let (u, g) = (Uid::from_raw(uid), Gid::from_raw(uid));
            setresgid(g, g, g).map_err(Refusal::at(format!("setresgid({uid})")))?;
            // Changing every uid from 0 to another drops all capabilities.
            setresuid(u, u, u).map_err(Refusal::at(format!("setresuid({uid})")))?;
            // Surprise: changing uids makes a process "not dumpable", and the kernel
            // then gives its /proc/self files to root, so it could not write its own
            // maps. Undo that.
            nix::sys::prctl::set_dumpable(true)
                .map_err(Refusal::at("prctl(PR_SET_DUMPABLE)"))?;
        }
        Trier::RootWithoutCapabilities => {
            drop_capabilities_but_setfcap()
                .map_err(Refusal::at("capset(CAP_SETFCAP only)"))?;
        }
    }
    let (uid, gid) = (geteuid().as_raw(), getegid().as_raw());
    unshare(CloneFlags::CLONE_NEWUSER)
        .map_err(Refusal::at("unshare(CLONE_NEWUSER)"))?;
    // Without privileges: deny setgroups first, then map our own id only.
    write_own("setgroups", "deny")?;
    write_own("gid_map", &format!("0 {gid} 1"))?;
    write_own("uid_map", &format!("0 {uid} 1"))?;
    let others = CloneFlags::CLONE_NEWUTS
        | CloneFlags::CLONE_NEWIPC
        | CloneFlags::CLONE_NEWPID
        | CloneFlags::CLONE_NEWNS;
    unshare(others).map_err(Refusal::at(
        "unshare(CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNS) in it",
    ))?;
    nix::unistd::sethostname("doctor").map_err(Refusal::at("sethostname in it"))
}
// ANCHOR_END: try_as

fn write_own(file: &str, text: &str) -> Result<(), Refusal> {
    std::fs::write(format!("/proc/self/{file}"), text).map_err(Refusal::at_io(
        format!("writing '{text}' to /proc/self/{file}"),
    ))
}

/// `capset(2)`: no capability left but `CAP_SETFCAP`.
///
/// Surprise: since Linux 5.12, a uid map that maps the parent namespace's uid 0 may
/// only be written with `CAP_SETFCAP` there (else root's file capabilities would
/// work inside). We keep uid 0 here, so we keep that one; the settings we test look
/// for `CAP_SYS_ADMIN`.
fn drop_capabilities_but_setfcap() -> nix::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const CAP_SETFCAP: u32 = 31;
    // _LINUX_CAPABILITY_VERSION_3: two Data structs, for capabilities 0-31 and
    // 32-63.
    let header = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let setfcap = Data {
        effective: 1 << CAP_SETFCAP,
        permitted: 1 << CAP_SETFCAP,
        inheritable: 0,
    };
    let none = Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    };
    let data = [setfcap, none];
    // SAFETY: capset(2) reads one Header and, for version 3, two Data structs, laid
    // out as <linux/capability.h> declares them; both live until the call returns.
    let result = unsafe {
        nix::libc::syscall(
            nix::libc::SYS_capset,
            &header as *const Header,
            data.as_ptr(),
        )
    };
    Errno::result(result).map(drop)
}

// ANCHOR: explain
/// Why an ordinary user may not: the limit that is 0, or the setting that forbids
/// it.
fn explain(refusal: &Refusal) -> Problem {
    if refusal.errno == Errno::ENOSPC {
        let zero = lessons::USER
            .namespaces
            .iter()
            .copied()
            .find(|&ns| namespaces::read_limit(ns) == Some(0));
        return namespaces::explain(zero.unwrap_or(Namespace::User), refusal);
    }
    if let Some(Error::UserNamespacesOff { setting, fix, .. }) =
        user::forbidding_setting(lessons::USER.name)
    {
        return Problem {
            because: format!("{refusal}: {setting}"),
            fix,
        };
    }
    match refusal.errno {
        Errno::EPERM | Errno::EACCES => Problem {
            because: format!(
                "{refusal}, and none of kernel.unprivileged_userns_clone, \
                 user.max_user_namespaces, kernel.apparmor_restrict_unprivileged_userns forbids \
                 it: a security module or a seccomp filter does"
            ),
            fix: "run 05-user as root (`sudo`), or on a machine of your own"
                .to_string(),
        },
        _ => namespaces::explain(Namespace::User, refusal),
    }
}
// ANCHOR_END: explain
