//! Printing the doctor's findings: a heading per area, a line per check.

use std::fmt::Display;

/// How a check went, as the report marks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mark {
    /// It works.
    Good,
    /// It does not.
    Bad,
    /// It was not tried.
    Skipped,
}

impl Mark {
    fn symbol(self) -> char {
        match self {
            Mark::Good => '✓',
            Mark::Bad => '✗',
            Mark::Skipped => '–',
        }
    }
}

/// The report goes to stdout: it is the doctor's output, not narration around a
/// command.
pub struct Report;

impl Report {
    pub fn intro(&self) {
        println!(
            "nsbox doctor: can this machine run the lessons? Each check tries the real thing in a \
             child process, in namespaces of its own, so this machine is left as it was."
        );
    }

    /// A new area: `namespaces`.
    pub fn section(&self, title: impl Display) {
        println!("\n{title}");
    }

    /// One check: `  ✓ UTS: unshare(CLONE_NEWUTS)`.
    pub fn line(&self, mark: Mark, text: impl Display) {
        println!("  {} {text}", mark.symbol());
    }

    /// More about the line above: why, or the fix.
    pub fn detail(&self, text: impl Display) {
        println!("      {text}");
    }
}
