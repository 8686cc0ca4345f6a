//! Narration: the lesson binaries tell the student what they asked the kernel for
//! and what changed. It goes to stderr, so the command's own output on stdout stays
//! clean.
//!
//! Long lines wrap at the terminal's width (80 columns when stderr is not a
//! terminal), with the continuation lines indented under the text, so nothing is cut
//! off in a terminal, in a transcript or in the book.

use std::fmt::Display;

/// The width narration wraps at when stderr is not a terminal (a pipe, a file, a
/// test).
pub const DEFAULT_WIDTH: usize = 80;

pub struct Narrator {
    program: String,
    quiet: bool,
    width: usize,
    namespace_table: bool,
}

impl Narrator {
    /// `quiet` silences everything but errors.
    pub fn new(program: &str, quiet: bool) -> Narrator {
        Narrator {
            program: program.to_string(),
            quiet,
            width: stderr_width(),
            namespace_table: false,
        }
    }

    /// Show the child's namespaces as a table, one row each with its inode numbers,
    /// instead of a one-line summary.
    pub fn with_namespace_table(mut self, full: bool) -> Narrator {
        self.namespace_table = full;
        self
    }

    /// Whether to show the namespace table in full.
    pub fn namespace_table(&self) -> bool {
        self.namespace_table
    }

    /// Is everything but errors silenced (`--quiet`)? Then what only the narration
    /// needs is not worth reading from the kernel.
    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    /// The program's name, as the student typed it.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// One line of narration: `[03-pid] …`.
    pub fn say(&self, text: impl Display) {
        if !self.quiet {
            let prefix = format!("[{}] ", self.program);
            print_line(&wrap(&prefix, &text.to_string(), self.width));
        }
    }

    /// An indented line under the last one (table rows).
    pub fn detail(&self, text: impl Display) {
        if !self.quiet {
            let indent = " ".repeat(self.program.len() + 4);
            print_line(&wrap(&indent, &text.to_string(), self.width));
        }
    }

    /// An error, shown even when quiet.
    pub fn error(&self, text: impl Display) {
        let prefix = format!("{}: error: ", self.program);
        print_line(&wrap(&prefix, &text.to_string(), self.width));
    }
}

/// Set to a number of columns, narration wraps there; `0` means it never wraps (the
/// tests read whole lines, and wrap transcripts themselves with [`wrap`]).
pub const WIDTH_VARIABLE: &str = "NSBOX_NARRATION_WIDTH";

/// [`WIDTH_VARIABLE`] if set, else the terminal's width if stderr is one, else
/// [`DEFAULT_WIDTH`].
fn stderr_width() -> usize {
    if let Some(width) = std::env::var(WIDTH_VARIABLE)
        .ok()
        .and_then(|w| w.parse().ok())
    {
        return if width == 0 { usize::MAX } else { width };
    }
    match terminal_size::terminal_size_of(std::io::stderr()) {
        Some((terminal_size::Width(columns), _)) if columns >= 40 => {
            usize::from(columns)
        }
        _ => DEFAULT_WIDTH,
    }
}

/// `prefix` then `text`, broken between words so that no line is wider than `width`;
/// the lines after the first are indented as wide as the prefix. Spaces inside a
/// line (a table's columns) are kept; a word longer than a whole line gets a line of
/// its own rather than being cut. Line breaks already in `text` are kept.
///
/// ```
/// use nsbox::container::narrate::wrap;
/// let wrapped = wrap("[01-uts] ", "one two three", 16);
/// assert_eq!(wrapped, "[01-uts] one two\n         three");
/// ```
/// Writes a line to stderr. If nobody reads it any more (`07-cgroups … 2>&1 | head`
/// has exited), the line is lost, and nothing else: `eprintln!` would panic, and
/// the lesson would end without cleaning up after its container.
fn print_line(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn wrap(prefix: &str, text: &str, width: usize) -> String {
    let indent = " ".repeat(prefix.chars().count());
    let mut out = String::new();
    for (number, line) in text.lines().enumerate() {
        if number > 0 {
            out.push('\n');
        }
        let start = if number == 0 { prefix } else { &indent };
        wrap_line(start, &indent, line, width, &mut out);
    }
    if text.is_empty() {
        out.push_str(prefix);
    }
    out
}

/// One line of [`wrap`]: words are written after `start` until the next would pass
/// `width`, then a new line starts with `indent`.
fn wrap_line(start: &str, indent: &str, line: &str, width: usize, out: &mut String) {
    out.push_str(start);
    let mut column = start.chars().count();
    let mut at_line_start = true;
    let mut spaces = 0;
    for (i, word) in line.split(' ').enumerate() {
        if i > 0 {
            spaces += 1;
        }
        if word.is_empty() {
            continue;
        }
        let length = word.chars().count();
        if !at_line_start && column + spaces + length > width {
            out.push('\n');
            out.push_str(indent);
            column = indent.len();
            spaces = 0;
        }
        out.push_str(&" ".repeat(spaces));
        out.push_str(word);
        column += spaces + length;
        spaces = 0;
        at_line_start = false;
    }
}
