//! The user namespace: user and group ids of its own, mapped onto the host's.
//!
//! A new user namespace starts with no ids mapped: its processes show up as the
//! "overflow" uid and gid (65534, `nobody`). Someone outside writes
//! `/proc/<pid>/uid_map` and `gid_map`, once each, with lines of `INSIDE OUTSIDE
//! COUNT`: ids INSIDE..INSIDE+COUNT in the namespace are ids OUTSIDE..OUTSIDE+COUNT
//! on the host. The kernel's rules on who may write them:
//! - the writer needs CAP_SETUID (CAP_SETGID) in the parent namespace to map any ids
//!   it likes;
//! - without it, it may map exactly one id: its own (`0 1000 1` for user 1000), and
//!   before it writes `gid_map` it must write `deny` to `/proc/<pid>/setgroups`, so
//!   the process inside can never drop a group it was put in to be *kept out* of
//!   something.
//!
//! The first process in a new user namespace has every capability *inside* it. That
//! is why an ordinary user can ask `clone(2)` for new UTS, IPC, PID and mount
//! namespaces at once with `CLONE_NEWUSER`: the kernel creates the user namespace
//! first, and the others belong to it.

use super::Error;
use nix::unistd::Pid;
use std::fmt;
use std::str::FromStr;

/// The most lines a map may have (since Linux 4.15).
pub const MAX_MAP_LINES: usize = 340;

/// One line of a map: `INSIDE OUTSIDE COUNT`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRange {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

impl fmt::Display for IdRange {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} {} {}", self.inside, self.outside, self.count)
    }
}

impl FromStr for IdRange {
    type Err = String;

    /// Reads `0 1000 1` (or `0:1000:1`, easier to type in a shell).
    fn from_str(text: &str) -> Result<IdRange, String> {
        let numbers: Vec<&str> =
            text.split([' ', ':']).filter(|w| !w.is_empty()).collect();
        let usage =
            || format!("'{text}' is not INSIDE OUTSIDE COUNT (e.g. '0 1000 1')");
        let [inside, outside, count] = numbers.as_slice() else {
            return Err(usage());
        };
        let number = |word: &str| word.parse::<u32>().map_err(|_| usage());
        let range = IdRange {
            inside: number(inside)?,
            outside: number(outside)?,
            count: number(count)?,
        };
        if range.count == 0 {
            return Err(format!("'{text}': a range of COUNT 0 maps nothing"));
        }
        if range.inside.checked_add(range.count).is_none()
            || range.outside.checked_add(range.count).is_none()
        {
            return Err(format!("'{text}': the range runs past the largest id"));
        }
        Ok(range)
    }
}

/// The uid and the gid map of a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdMaps {
    pub uids: Vec<IdRange>,
    pub gids: Vec<IdRange>,
}

impl IdMaps {
    /// Root inside is the user who ran us, outside; with sudo, the user behind sudo.
    pub fn root_is_invoking_user() -> IdMaps {
        let (uid, gid) = invoking_user();
        IdMaps {
            uids: vec![IdRange {
                inside: 0,
                outside: uid,
                count: 1,
            }],
            gids: vec![IdRange {
                inside: 0,
                outside: gid,
                count: 1,
            }],
        }
    }

    /// Does the map give the container a root (id 0 inside)?
    pub fn maps_root(&self) -> bool {
        let has_zero = |ranges: &[IdRange]| ranges.iter().any(|r| r.inside == 0);
        has_zero(&self.uids) && has_zero(&self.gids)
    }

    /// Who root inside is on the host: the uid and gid that 0 maps to.
    pub fn root_outside(&self) -> Option<(u32, u32)> {
        let zero = |ranges: &[IdRange]| {
            ranges.iter().find(|r| r.inside == 0).map(|r| r.outside)
        };
        Some((zero(&self.uids)?, zero(&self.gids)?))
    }

    /// Refuses maps the kernel would refuse, before anything is created.
    pub fn validate(&self) -> Result<(), Error> {
        validate_ranges("uid", &self.uids)?;
        validate_ranges("gid", &self.gids)
    }
}

// ANCHOR: invoking_user
/// The user (and their group) who ran this program: `SUDO_UID`/`SUDO_GID` when sudo
/// ran us.
pub fn invoking_user() -> (u32, u32) {
    let from_sudo = |name: &str| std::env::var(name).ok()?.parse::<u32>().ok();
    if nix::unistd::geteuid().is_root()
        && let (Some(uid), Some(gid)) =
            (from_sudo("SUDO_UID"), from_sudo("SUDO_GID"))
    {
        return (uid, gid);
    }
    (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    )
}
// ANCHOR_END: invoking_user

fn validate_ranges(kind: &str, ranges: &[IdRange]) -> Result<(), Error> {
    if ranges.len() > MAX_MAP_LINES {
        return Err(Error::BadInput(format!(
            "the {kind} map has {} lines; the kernel takes at most {MAX_MAP_LINES}",
            ranges.len()
        )));
    }
    for (i, a) in ranges.iter().enumerate() {
        for b in &ranges[i + 1..] {
            let overlap = |a0: u32, b0: u32| a0 < b0 + b.count && b0 < a0 + a.count;
            let side = if overlap(a.inside, b.inside) {
                "inside"
            } else if overlap(a.outside, b.outside) {
                "outside"
            } else {
                continue;
            };
            return Err(Error::BadInput(format!(
                "{kind} map lines '{a}' and '{b}' overlap {side}: each id may be mapped only once"
            )));
        }
    }
    Ok(())
}

// ANCHOR: write_maps
/// Runs in the parent while the child waits: writes the child's maps, and `deny` to
/// its `setgroups` file when we are not privileged enough to map groups freely.
/// Returns what it wrote, file by file, for the narration.
pub fn write_maps(
    child: Pid,
    maps: &IdMaps,
    privileged: bool,
) -> Result<Vec<String>, Error> {
    // ANCHOR: exercise
    let mut written = Vec::new();
    if !privileged {
        write_proc_file(child, "setgroups", "deny")?;
        written.push(format!("/proc/{child}/setgroups: deny"));
    }
    for (file, ranges) in [("gid_map", &maps.gids), ("uid_map", &maps.uids)] {
        let lines: Vec<String> = ranges.iter().map(|r| r.to_string()).collect();
        // The kernel takes a map in one write(2) only: build it whole first.
        write_proc_file(child, file, &(lines.join("\n") + "\n"))?;
        written.push(format!("/proc/{child}/{file}: {}", lines.join(", ")));
    }
    Ok(written)
    // ANCHOR_END: exercise
}
// ANCHOR_END: write_maps

// ANCHOR: become_root
/// Runs in the child once its maps are written: switches to uid and gid 0 *inside*.
/// When sudo started us, our real id is the host's root, which the default map does
/// not map (it maps 0 inside to the user behind sudo): until we switch, the kernel
/// shows us as 65534.
pub fn become_root() -> nix::Result<()> {
    use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
    // Drop supplementary groups where allowed. When setgroups is "deny" (we were
    // started without privileges), the kernel refuses, and the groups we have are
    // unmapped anyway.
    let _ = setgroups(&[]);
    setresgid(Gid::from_raw(0), Gid::from_raw(0), Gid::from_raw(0))?;
    setresuid(Uid::from_raw(0), Uid::from_raw(0), Uid::from_raw(0))
}
// ANCHOR_END: become_root

/// Becomes `uid`:`gid` with no supplementary groups, as an image's `User` asks.
/// The group first: once we are no longer root, we may not change it.
pub fn set_user(uid: u32, gid: u32) -> nix::Result<()> {
    use nix::unistd::{Gid, Uid, setgroups, setresgid, setresuid};
    setgroups(&[])?;
    let gid = Gid::from_raw(gid);
    setresgid(gid, gid, gid)?;
    let uid = Uid::from_raw(uid);
    setresuid(uid, uid, uid)
}

fn write_proc_file(child: Pid, file: &str, text: &str) -> Result<(), Error> {
    let path = format!("/proc/{child}/{file}");
    std::fs::write(&path, text).map_err(|error| Error::MapRefused {
        path,
        text: text.trim().replace('\n', ", "),
        error,
    })
}

/// The settings that turn unprivileged user namespaces off, and how to turn them on.
const USERNS_SWITCHES: [(&str, &str, &str); 3] = [
    (
        "/proc/sys/kernel/unprivileged_userns_clone",
        "0",
        "sudo sysctl -w kernel.unprivileged_userns_clone=1",
    ),
    (
        "/proc/sys/user/max_user_namespaces",
        "0",
        "sudo sysctl -w user.max_user_namespaces=15000",
    ),
    (
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns",
        "1",
        "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
    ),
];

// ANCHOR: userns_allowed
/// For a run without privileges: fails, naming the setting, if this machine forbids
/// ordinary users to create user namespaces.
pub fn check_unprivileged_userns_allowed(program: &str) -> Result<(), Error> {
    match forbidding_setting(program) {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

/// The first of the settings that forbids user namespaces here, as an error.
pub fn forbidding_setting(program: &str) -> Option<Error> {
    USERNS_SWITCHES.iter().find_map(|(path, forbidding, fix)| {
        // A kernel without that setting simply does not have the file.
        let value = std::fs::read_to_string(path).ok()?;
        if value.trim() != *forbidding {
            return None;
        }
        let setting = path.trim_start_matches("/proc/sys/").replace('/', ".");
        Some(Error::UserNamespacesOff {
            program: program.to_string(),
            setting: format!("{setting} = {forbidding}"),
            fix: fix.to_string(),
        })
    })
}
// ANCHOR_END: userns_allowed

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> IdRange {
        text.parse().unwrap()
    }

    #[test]
    fn reads_both_spellings() {
        let want = IdRange {
            inside: 0,
            outside: 1000,
            count: 1,
        };
        assert_eq!(range("0 1000 1"), want);
        assert_eq!(range("0:1000:1"), want);
    }

    #[test]
    fn refuses_malformed_ranges() {
        for bad in [
            "",
            "0 1000",
            "0 1000 1 1",
            "a 1000 1",
            "0 -1 1",
            "0 1000 0",
            "1 4294967295 2",
        ] {
            assert!(bad.parse::<IdRange>().is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn refuses_overlaps() {
        let maps = |uids: &[&str]| IdMaps {
            uids: uids.iter().map(|t| range(t)).collect(),
            gids: vec![range("0 0 1")],
        };
        assert!(maps(&["0 1000 1", "1 100000 10"]).validate().is_ok());
        assert!(
            maps(&["0 1000 10", "5 200000 10"]).validate().is_err(),
            "inside"
        );
        assert!(
            maps(&["0 1000 10", "100 1005 10"]).validate().is_err(),
            "outside"
        );
    }
}
