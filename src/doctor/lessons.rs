//! What each lesson needs, and whether this machine has it.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem};
use crate::lessons::{self, CGROUPS, IPC, MNT, NET, PID, ROOTFS, USER, UTS};

/// A lesson of the catalog, what else it cannot do without, and the programs it
/// (or its chapter) runs.
pub struct Lesson {
    pub lesson: &'static lessons::Lesson,
    /// What the host must have beyond a kernel, the privilege and the namespaces.
    pub host: &'static [Need],
    pub tools: &'static [&'static str],
}

// ANCHOR: needs
/// Each lesson adds a namespace to the one before (the catalog, `src/lessons.rs`,
/// lists them); 06, 07 and 08 need more of the host.
pub const LESSONS: [Lesson; 8] = [
    Lesson {
        lesson: &UTS,
        host: &[],
        tools: &[],
    },
    Lesson {
        lesson: &IPC,
        host: &[],
        tools: &["ipcmk", "ipcs"],
    },
    Lesson {
        lesson: &PID,
        host: &[],
        tools: &["ps"],
    },
    Lesson {
        lesson: &MNT,
        host: &[],
        tools: &["ps", "mount"],
    },
    Lesson {
        lesson: &USER,
        host: &[],
        tools: &[],
    },
    Lesson {
        lesson: &NET,
        host: &[Need::VethAndBridge],
        tools: &["nft", "ip"],
    },
    Lesson {
        lesson: &CGROUPS,
        host: &[Need::VethAndBridge, Need::Cgroups],
        tools: &["nft"],
    },
    Lesson {
        lesson: &ROOTFS,
        host: &[Need::VethAndBridge, Need::Cgroups, Need::Overlay],
        tools: &["busybox"],
    },
];

impl Lesson {
    pub fn name(&self) -> &'static str {
        self.lesson.name
    }

    /// Everything it needs, in the order the doctor reports them: a kernel, root
    /// (05 runs as you: user namespaces for an ordinary user), each new namespace,
    /// then the rest of the host.
    pub fn needs(&self) -> Vec<Need> {
        let privilege = if self.lesson.runs_as_root {
            Need::Root
        } else {
            Need::UnprivilegedUserns
        };
        let mut needs = vec![Need::Kernel, privilege];
        needs.extend(self.lesson.namespaces.iter().map(|&ns| Need::Namespace(ns)));
        needs.extend_from_slice(self.host);
        needs
    }
}
// ANCHOR_END: needs

/// What the doctor says about one lesson.
#[derive(Debug, PartialEq)]
pub enum Verdict {
    /// Everything it needs works; `but` lists missing programs it (or its chapter)
    /// runs.
    Works { but: Vec<Problem> },
    /// Something it needs does not work here.
    WillFail(Vec<Problem>),
    /// Something it needs could not be tried by this run.
    CannotTell(Vec<Problem>),
}

// ANCHOR: verdict
pub fn verdict(lesson: &Lesson, findings: &Findings) -> Verdict {
    let (mut failed, mut untried) = (Vec::new(), Vec::new());
    for need in lesson.needs() {
        match findings.outcome(need) {
            Outcome::Works => {}
            Outcome::Fails(problem) if need == Need::Root => {
                let fix = problem.fix.replace("NN-name", lesson.name());
                add_once(&mut failed, Problem { fix, ..problem });
            }
            Outcome::Fails(problem) => add_once(&mut failed, problem),
            Outcome::NotTried(problem) => add_once(&mut untried, problem),
        }
    }
    // What could not be tried does not matter once something is known to fail.
    if !failed.is_empty() {
        return Verdict::WillFail(failed);
    }
    if !untried.is_empty() {
        return Verdict::CannotTell(untried);
    }
    let mut but = Vec::new();
    for &tool in lesson.tools {
        if let Outcome::Fails(problem) = findings.outcome(Need::Tool(tool)) {
            add_once(&mut but, problem);
        }
    }
    Verdict::Works { but }
}
// ANCHOR_END: verdict

/// Adds a problem unless one with the same fix is listed already (one fix, one
/// line).
fn add_once(problems: &mut Vec<Problem>, problem: Problem) {
    if !problems.iter().any(|p| p.fix == problem.fix) {
        problems.push(problem);
    }
}

/// Prints a verdict per lesson; returns whether every lesson can work.
pub fn verdicts(report: &Report, findings: &Findings) -> bool {
    report.section("lessons");
    let mut all_work = true;
    for lesson in &LESSONS {
        let name = format!("{:<10}", lesson.name());
        let (mark, first, problems) = match verdict(lesson, findings) {
            Verdict::Works { but } if but.is_empty() => (Mark::Good, "works", but),
            Verdict::Works { but } => (Mark::Good, "works, but", but),
            Verdict::WillFail(problems) => {
                (Mark::Bad, "will fail because", problems)
            }
            Verdict::CannotTell(problems) => {
                (Mark::Skipped, "cannot tell:", problems)
            }
        };
        all_work &= mark == Mark::Good;
        for (i, problem) in problems.iter().enumerate() {
            if i == 0 {
                report.line(mark, format!("{name} {first} {}", problem.because));
            } else {
                report.detail(format!("and because {}", problem.because));
            }
            report.detail(format!("fix: {}", problem.fix));
        }
        if problems.is_empty() {
            report.line(mark, format!("{name} {first}"));
        }
    }
    if all_work {
        report.section("Every lesson can work here.");
    } else {
        report.section(
            "Not every lesson can work here: fix what is listed above, then run the doctor again.",
        );
    }
    all_work
}
