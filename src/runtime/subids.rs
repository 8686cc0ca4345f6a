//! `--userns=auto`'s pool: the ranges `/etc/subuid` and `/etc/subgid` give the
//! user `nsbox`.
//!
//! Those files say which host ids each user may use beyond their own (lines of
//! `NAME:START:COUNT`). nsbox runs as root, which may map any id, so the files are
//! not a permission here but an agreement: ranges given to someone else (a user's
//! rootless podman, docker's `dockremap`, podman's `containers`) are not ours to
//! hand out. So nsbox takes only the lines of a user of its own, `nsbox` (no such
//! account needs to exist), which the administrator adds once.
//!
//! `NSBOX_SUBUID` and `NSBOX_SUBGID` name other files instead (the tests use
//! their own, and never touch the host's).

use crate::container::id_slices::{IdPool, SLICE, SubIds};
use std::path::PathBuf;

/// Whose lines in `/etc/subuid` and `/etc/subgid` are nsbox's.
pub const USER: &str = "nsbox";

/// What we suggest adding: 100 slices, from 1 000 000 on, above the ranges
/// `useradd` hands out to users (100000, then 65536 more per user) on most
/// machines with fewer than 13 of them.
pub const SUGGESTED: &str = "nsbox:1000000:6553600";

/// The pool, or a message that says what to add where.
pub fn pool() -> Result<IdPool, String> {
    let uids = ranges(&file("NSBOX_SUBUID", "/etc/subuid"))?;
    let gids = ranges(&file("NSBOX_SUBGID", "/etc/subgid"))?;
    let pool = IdPool { uids, gids };
    if pool.slices().is_empty() {
        return Err(format!(
            "--userns=auto needs host ids for the user '{USER}' (at least {SLICE} \
             in one line) in {} and {}; add them with:\n  echo {SUGGESTED} | sudo \
             tee -a /etc/subuid /etc/subgid",
            file("NSBOX_SUBUID", "/etc/subuid").display(),
            file("NSBOX_SUBGID", "/etc/subgid").display(),
        ));
    }
    Ok(pool)
}

fn file(variable: &str, default: &str) -> PathBuf {
    std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(default))
}

/// `USER`'s lines of one file; a missing file has none.
fn ranges(path: &std::path::Path) -> Result<Vec<SubIds>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("reading {}: {e}", path.display())),
    };
    Ok(ours(&text))
}

/// The ranges of `NAME:START:COUNT` lines whose name is [`USER`].
fn ours(text: &str) -> Vec<SubIds> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.trim().split(':');
            let (name, start, count) =
                (fields.next()?, fields.next()?, fields.next()?);
            if name != USER {
                return None;
            }
            let start: u32 = start.parse().ok()?;
            let count: u32 = count.parse().ok()?;
            start.checked_add(count).map(|_| SubIds { start, count })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_lines_count() {
        let text =
            "alice:100000:65536\nnsbox:1000000:131072\n# nsbox:1:2\nnsbox:x:1\n";
        assert_eq!(
            ours(text),
            [SubIds {
                start: 1000000,
                count: 131072
            }]
        );
    }
}
