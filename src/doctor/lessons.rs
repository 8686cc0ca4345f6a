//! What each lesson needs, and whether this machine has it.

use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem};
use crate::container::Namespace::{Cgroup, Ipc, Mount, Net, Pid, User, Uts};

/// A lesson, what it cannot do without, and the programs it (or its chapter) runs.
pub struct Lesson {
    pub name: &'static str,
    pub needs: &'static [Need],
    pub tools: &'static [&'static str],
}

// ANCHOR: needs
/// Each lesson adds a namespace to the one before; 05 runs as you, not as root.
pub const LESSONS: [Lesson; 7] = [
    Lesson {
        name: "01-uts",
        needs: &[Need::Kernel, Need::Root, Need::Namespace(Uts)],
        tools: &[],
    },
    Lesson {
        name: "02-ipc",
        needs: &[
            Need::Kernel,
            Need::Root,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
        ],
        tools: &["ipcmk", "ipcs"],
    },
    Lesson {
        name: "03-pid",
        needs: &[
            Need::Kernel,
            Need::Root,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
            Need::Namespace(Pid),
        ],
        tools: &["ps"],
    },
    Lesson {
        name: "04-mnt",
        needs: &[
            Need::Kernel,
            Need::Root,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
            Need::Namespace(Pid),
            Need::Namespace(Mount),
        ],
        tools: &["ps", "mount"],
    },
    Lesson {
        name: "05-user",
        needs: &[
            Need::Kernel,
            Need::UnprivilegedUserns,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
            Need::Namespace(Pid),
            Need::Namespace(Mount),
            Need::Namespace(User),
        ],
        tools: &[],
    },
    Lesson {
        name: "06-net",
        needs: &[
            Need::Kernel,
            Need::Root,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
            Need::Namespace(Pid),
            Need::Namespace(Mount),
            Need::Namespace(User),
            Need::Namespace(Net),
            Need::VethAndBridge,
        ],
        tools: &["nft", "ip"],
    },
    Lesson {
        name: "07-cgroups",
        needs: &[
            Need::Kernel,
            Need::Root,
            Need::Namespace(Uts),
            Need::Namespace(Ipc),
            Need::Namespace(Pid),
            Need::Namespace(Mount),
            Need::Namespace(User),
            Need::Namespace(Net),
            Need::Namespace(Cgroup),
            Need::VethAndBridge,
            Need::Cgroups,
        ],
        tools: &["nft"],
    },
];
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
    for &need in lesson.needs {
        match findings.outcome(need) {
            Outcome::Works => {}
            Outcome::Fails(problem) if need == Need::Root => {
                let fix = problem.fix.replace("NN-name", lesson.name);
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
        let name = format!("{:<10}", lesson.name);
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
