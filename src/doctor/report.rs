//! Printing the doctor's findings: a heading per area, a line per check.
//!
//! Long lines wrap at the terminal's width (80 columns when stdout is not a
//! terminal), as the lessons' narration does, with the continuation lines under the
//! text, so that nothing is cut off in a terminal, in a transcript or in the book.

use crate::container::narrate::{self, DEFAULT_WIDTH, WIDTH_VARIABLE};
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

/// The marks, as the report prints them.
const MARKS: [char; 3] = ['✓', '✗', '–'];

impl Mark {
    fn symbol(self) -> char {
        match self {
            Mark::Good => MARKS[0],
            Mark::Bad => MARKS[1],
            Mark::Skipped => MARKS[2],
        }
    }
}

/// The report goes to stdout: it is the doctor's output, not narration around a
/// command.
pub struct Report {
    width: usize,
}

impl Default for Report {
    fn default() -> Report {
        Report::new()
    }
}

impl Report {
    /// A report as wide as the terminal (see [`stdout_width`]).
    pub fn new() -> Report {
        Report {
            width: stdout_width(),
        }
    }

    pub fn intro(&self) {
        self.print(
            "nsbox doctor: can this machine run the lessons? Each check tries \
             the real thing in a child process, in namespaces of its own, so this \
             machine is left as it was.",
        );
    }

    /// A new area: `namespaces`.
    pub fn section(&self, title: impl Display) {
        println!();
        self.print(&title.to_string());
    }

    /// One check: `  ✓ UTS: unshare(CLONE_NEWUTS)`.
    pub fn line(&self, mark: Mark, text: impl Display) {
        self.print(&format!("  {} {text}", mark.symbol()));
    }

    /// More about the line above: why, or the fix.
    pub fn detail(&self, text: impl Display) {
        self.print(&format!("      {text}"));
    }

    fn print(&self, line: &str) {
        println!("{}", wrap_line(line, self.width));
    }
}

/// One line of the report broken between words so that no line is wider than
/// `width`. The lines after the first go on under the text: after the indent and
/// the mark (`  ✓ `), and after `fix: ` in a fix. The tests wrap the book's
/// transcript with this, after they have put the placeholders in.
///
/// ```
/// use nsbox::doctor::report::wrap_line;
/// let wrapped = wrap_line("      fix: run it as root", 20);
/// assert_eq!(wrapped, "      fix: run it as\n           root");
/// ```
pub fn wrap_line(line: &str, width: usize) -> String {
    let text = line.trim_start_matches(' ');
    let mut prefix = line.len() - text.len();
    let mut chars = text.chars();
    if chars.next().is_some_and(|c| MARKS.contains(&c)) && chars.next() == Some(' ')
    {
        prefix += text.chars().next().map_or(0, char::len_utf8) + 1;
    } else if text.starts_with("fix: ") {
        prefix += "fix: ".len();
    }
    narrate::wrap(&line[..prefix], &line[prefix..], width)
}

/// [`WIDTH_VARIABLE`] if set (`0`: never wrap), else the terminal's width if stdout
/// is one, else [`DEFAULT_WIDTH`]: the lessons' rule for their narration.
fn stdout_width() -> usize {
    if let Some(width) = std::env::var(WIDTH_VARIABLE)
        .ok()
        .and_then(|w| w.parse::<usize>().ok())
    {
        return if width == 0 { usize::MAX } else { width };
    }
    match terminal_size::terminal_size_of(std::io::stdout()) {
        Some((terminal_size::Width(columns), _)) if columns >= 40 => {
            usize::from(columns)
        }
        _ => DEFAULT_WIDTH,
    }
}
