//! The doctor: can this machine run the lessons? Run it first: `cargo run --bin
//! doctor`.
//!
//! Wherever it can, the doctor finds out by trying rather than by reading settings:
//! it asks the kernel for each namespace, mounts an overlay, makes a bridge and a
//! veth pair. Each try runs in a child process ([`child`]), in namespaces of the
//! child's own, so the machine is left as it was. One file per area:
//! - [`kernel`]: the kernel's version;
//! - [`privileges`]: root, or sudo;
//! - [`namespaces`]: the eight namespace types;
//! - [`userns`]: user namespaces for an ordinary user (lesson 05);
//! - [`cgroups`]: the cgroup version and the memory, cpu and pids controllers
//!   (lesson 07);
//! - [`overlay`]: overlayfs (lesson 08);
//! - [`network`]: a bridge and a veth pair (lessons 06 to 08);
//! - [`tools`]: the programs the lessons and their chapters run;
//! - [`lessons`]: what each lesson needs, and the verdicts;
//! - [`report`]: printing it all.

pub mod cgroups;
pub mod child;
pub mod kernel;
pub mod lessons;
pub mod namespaces;
pub mod network;
pub mod overlay;
pub mod privileges;
pub mod report;
pub mod tools;
pub mod userns;

use crate::container::Namespace;
use report::Report;

/// Something a lesson needs from this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// A kernel at least [`kernel::MINIMUM`].
    Kernel,
    /// Running as root (every lesson but 05).
    Root,
    /// A new namespace of this type, asked for by root.
    Namespace(Namespace),
    /// A user namespace (and the others inside it), asked for by an ordinary user.
    UnprivilegedUserns,
    /// A bridge and a veth pair.
    VethAndBridge,
    /// The memory, cpu and pids cgroup controllers.
    Cgroups,
    /// overlayfs, in a mount namespace of one's own.
    Overlay,
    /// A program on `PATH`.
    Tool(&'static str),
}

/// Why something does not work, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub because: String,
    /// A command to run, or a setting to change.
    pub fix: String,
}

/// What a check found out about one [`Need`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// It was tried, and it worked.
    Works,
    /// It was tried (or looked up), and it does not work.
    Fails(Problem),
    /// This run could not try it (it needs root, say).
    NotTried(Problem),
}

/// The fix for anything only root can try.
pub const RUN_AS_ROOT: &str =
    "run this doctor as root: `cargo run --bin doctor` (it uses sudo)";

impl Outcome {
    pub fn fails(because: impl Into<String>, fix: impl Into<String>) -> Outcome {
        Outcome::Fails(Problem {
            because: because.into(),
            fix: fix.into(),
        })
    }

    pub fn not_tried(because: impl Into<String>, fix: impl Into<String>) -> Outcome {
        Outcome::NotTried(Problem {
            because: because.into(),
            fix: fix.into(),
        })
    }
}

/// Every need the checks looked at, with what they found.
#[derive(Debug, Default)]
pub struct Findings {
    found: Vec<(Need, Outcome)>,
}

impl Findings {
    pub fn record(&mut self, need: Need, outcome: Outcome) {
        self.found.retain(|(n, _)| *n != need);
        self.found.push((need, outcome));
    }

    /// What was found about `need`; a need no check looked at counts as not tried.
    pub fn outcome(&self, need: Need) -> Outcome {
        self.found
            .iter()
            .find(|(n, _)| *n == need)
            .map(|(_, outcome)| outcome.clone())
            .unwrap_or_else(|| {
                Outcome::not_tried(format!("nothing checked {need:?}"), "-")
            })
    }
}

// ANCHOR: examine
/// Runs every check, printing each section as it goes, then the verdict for each
/// lesson. Returns whether every lesson can work here.
pub fn examine(report: &Report) -> bool {
    let mut findings = Findings::default();
    report.intro();
    kernel::check(report, &mut findings);
    let root = privileges::check(report, &mut findings);
    namespaces::check(report, &mut findings, root);
    userns::check(report, &mut findings);
    cgroups::check(report, &mut findings, root);
    overlay::check(report, &mut findings, root);
    network::check(report, &mut findings, root);
    tools::check(report, &mut findings);
    lessons::verdicts(report, &findings)
}
// ANCHOR_END: examine
