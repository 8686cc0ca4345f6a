//! The kernel's version, from `uname(2)`, and whether it is new enough.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome};

// ANCHOR: minimum
/// The oldest kernel the lessons need: cgroup namespaces (lesson 07) came in 4.6,
/// and cgroup v2's cpu controller in 4.15. Newer features are used only where
/// present: `cgroup.kill` (5.14) to empty a v2 cgroup at once, `memory.peak` (5.19)
/// for 07's report of peak memory.
pub const MINIMUM: (u32, u32) = (4, 15);
// ANCHOR_END: minimum

/// `6.1.0-18-amd64` → (6, 1).
pub fn parse_version(release: &str) -> Option<(u32, u32)> {
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>());
    let major = numbers.next()?.ok()?;
    let minor = numbers.next()?.ok()?;
    Some((major, minor))
}

pub fn check(report: &Report, findings: &mut Findings) {
    report.section("kernel");
    let uname = match nix::sys::utsname::uname() {
        Ok(uname) => uname,
        Err(errno) => {
            report.line(Mark::Bad, format!("uname(2) failed: {}", errno.desc()));
            return;
        }
    };
    let release = uname.release().to_string_lossy().into_owned();
    let (major, minor) = MINIMUM;
    let outcome = match parse_version(&release) {
        Some(version) if version >= MINIMUM => Outcome::Works,
        Some(_) => Outcome::fails(
            format!("Linux {release} is older than {major}.{minor}"),
            "install a newer kernel (Debian: sudo apt-get install linux-image-amd64) and reboot",
        ),
        None => {
            Outcome::not_tried(format!("cannot read a version in '{release}'"), "-")
        }
    };
    let mark = if outcome == Outcome::Works {
        Mark::Good
    } else {
        Mark::Bad
    };
    report.line(
        mark,
        format!(
            "Linux {release} (uname -r); the lessons need {major}.{minor} or newer: cgroup \
             namespaces (4.6) and cgroup v2's cpu controller (4.15)"
        ),
    );
    findings.record(Need::Kernel, outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(parse_version("6.1.0-18-amd64"), Some((6, 1)));
        assert_eq!(parse_version("6.18.44-fc-v782"), Some((6, 18)));
        assert_eq!(parse_version("4.9"), Some((4, 9)));
        assert_eq!(parse_version("weird"), None);
        assert!(parse_version("4.9.0").unwrap() < MINIMUM);
    }
}
