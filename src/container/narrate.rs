//! Narration: the lesson binaries tell the student what they asked the kernel for and what
//! changed. It goes to stderr, so the command's own output on stdout stays clean.

use std::fmt::Display;

pub struct Narrator {
    program: String,
    quiet: bool,
}

impl Narrator {
    /// `quiet` silences everything but errors.
    pub fn new(program: &str, quiet: bool) -> Narrator {
        Narrator {
            program: program.to_string(),
            quiet,
        }
    }

    /// The program's name, as the student typed it.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// One line of narration: `[03-pid] …`.
    pub fn say(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("[{}] {text}", self.program);
        }
    }

    /// An indented line under the last one (table rows).
    pub fn detail(&self, text: impl Display) {
        if !self.quiet {
            eprintln!("{:width$}  {text}", "", width = self.program.len() + 2);
        }
    }

    /// An error, shown even when quiet.
    pub fn error(&self, text: impl Display) {
        eprintln!("{}: error: {text}", self.program);
    }
}
