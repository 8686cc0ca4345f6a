//! Starting, resetting and finishing an exercise: rewriting its regions in the
//! student's tree.
//!
//! Only the lines of a region (between its `// ANCHOR: exercise` markers) are ever
//! rewritten; the rest of the file is left as it is. The finished lines of each
//! region are kept in `.workbook/<lesson>/<file>` (outside git) the first time an
//! exercise is started, so `solution` can put them back; `reset` and `solution`
//! keep the student's own lines of the region in `.workbook/<lesson>/yours/<file>`
//! before they overwrite them.

use crate::exercise::{Exercise, Region};
use crate::region;
use std::fs;
use std::path::{Path, PathBuf};

/// Where a region stands.
#[derive(Debug, PartialEq, Clone, Copy)]
pub enum State {
    /// The finished code, as the course ships it.
    Finished,
    /// The starting version: the piece is missing.
    Starting,
    /// Neither: the student's own work.
    Yours,
}

impl State {
    pub fn describe(self) -> &'static str {
        match self {
            State::Finished => "finished code (not started)",
            State::Starting => "started: the piece is missing",
            State::Yours => "your work",
        }
    }
}

/// One exercise in one tree (the student's, or dev-check's copy).
pub struct Progress<'a> {
    pub root: &'a Path,
    pub exercise: &'a Exercise,
}

impl Progress<'_> {
    fn kept_dir(&self) -> PathBuf {
        self.root.join(".workbook").join(&self.exercise.lesson)
    }

    fn finished_copy(&self, region: &Region) -> PathBuf {
        self.kept_dir().join(&region.file)
    }

    fn your_copy(&self, region: &Region) -> PathBuf {
        self.kept_dir().join("yours").join(&region.file)
    }

    /// Where the student's lines of a region are kept, as a path from the
    /// repository (where the student types commands).
    pub fn your_copy_shown(&self, region: &Region) -> String {
        let copy = self.your_copy(region);
        copy.strip_prefix(self.root)
            .unwrap_or(&copy)
            .display()
            .to_string()
    }

    fn read_source(&self, region: &Region) -> Result<String, String> {
        let path = self.root.join(&region.file);
        fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))
    }

    /// The lines of a region as the file has them now.
    pub fn current(&self, region: &Region) -> Result<String, String> {
        let text = self.read_source(region)?;
        region::read(&text)
            .map(str::to_string)
            .map_err(|e| format!("{}: {e}", region.file))
    }

    /// The finished lines: kept ones once started, else what the file has.
    pub fn finished(&self, region: &Region) -> Result<String, String> {
        match fs::read_to_string(self.finished_copy(region)) {
            Ok(kept) => Ok(kept),
            Err(_) => self.current(region),
        }
    }

    pub fn state_of(&self, region: &Region) -> Result<State, String> {
        let current = self.current(region)?;
        Ok(if same_lines(&current, &region.start) {
            State::Starting
        } else if current == self.finished(region)? {
            State::Finished
        } else {
            State::Yours
        })
    }

    /// The exercise's state: the one its regions share, or "yours" if they differ.
    pub fn state(&self) -> Result<State, String> {
        let mut states = Vec::new();
        for region in &self.exercise.regions {
            states.push(self.state_of(region)?);
        }
        Ok(match states.as_slice() {
            [first, rest @ ..] if rest.iter().all(|s| s == first) => *first,
            _ => State::Yours,
        })
    }

    /// Puts the starting version in place. Refuses to overwrite the student's own
    /// work unless `overwrite` (that is `reset`), and then keeps a copy of it.
    pub fn start(&self, overwrite: bool) -> Result<Vec<String>, String> {
        let mut report = Vec::new();
        for region in &self.exercise.regions {
            match self.state_of(region)? {
                State::Starting => {}
                State::Finished => self.keep(&self.finished_copy(region), region)?,
                State::Yours if overwrite => {
                    self.keep(&self.your_copy(region), region)?;
                    report.push(format!(
                        "{}: your lines are overwritten with the starting ones.\n  \
                         Your lines are kept in {}",
                        region.file,
                        self.your_copy_shown(region)
                    ));
                }
                State::Yours => {
                    return Err(format!(
                        "{} has your own work in it: `cargo workbook reset {}` starts again \
                         (your lines are kept in .workbook/)",
                        region.file, self.exercise.lesson
                    ));
                }
            }
            self.write(region, &region.start)?;
        }
        Ok(report)
    }

    /// Puts the finished lines back in place of the region's lines (only those),
    /// keeping the student's first. Says, for each file, what it overwrote and
    /// where the student's lines are kept.
    pub fn solve(&self) -> Result<Vec<String>, String> {
        let mut report = Vec::new();
        for region in &self.exercise.regions {
            let finished = self.finished(region)?;
            let said = match self.state_of(region)? {
                State::Yours => {
                    self.keep(&self.your_copy(region), region)?;
                    format!(
                        "{}: your lines are overwritten with the finished code.\n  \
                         Your lines are kept in {}",
                        region.file,
                        self.your_copy_shown(region)
                    )
                }
                State::Starting => format!(
                    "{}: finished code in place of the starting lines\n  \
                     (you had not changed them: nothing of yours to keep)",
                    region.file
                ),
                State::Finished => format!(
                    "{}: already the finished code; nothing changed",
                    region.file
                ),
            };
            report.push(said);
            self.write(region, &finished)?;
        }
        Ok(report)
    }

    /// Where each region starts, as `file:line`, for the student's editor.
    pub fn locations(&self) -> Result<Vec<String>, String> {
        let mut places = Vec::new();
        for region in &self.exercise.regions {
            let span = region::find(&self.read_source(region)?)
                .map_err(|e| format!("{}: {e}", region.file))?;
            places.push(format!("{}:{}", region.file, span.first_line));
        }
        Ok(places)
    }

    fn keep(&self, copy: &Path, region: &Region) -> Result<(), String> {
        let lines = self.current(region)?;
        if let Some(dir) = copy.parent() {
            fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        fs::write(copy, lines)
            .map_err(|e| format!("cannot write {}: {e}", copy.display()))
    }

    fn write(&self, region: &Region, lines: &str) -> Result<(), String> {
        let path = self.root.join(&region.file);
        let text = region::replace(&self.read_source(region)?, lines)
            .map_err(|e| format!("{}: {e}", region.file))?;
        fs::write(&path, text)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }

    /// How many hints the student has seen.
    pub fn hints_seen(&self) -> usize {
        fs::read_to_string(self.kept_dir().join("hints-seen"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    pub fn set_hints_seen(&self, count: usize) -> Result<(), String> {
        let dir = self.kept_dir();
        fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        fs::write(dir.join("hints-seen"), format!("{count}\n"))
            .map_err(|e| format!("cannot write in {}: {e}", dir.display()))
    }
}

/// Equal but for a missing last newline (a TOML string may end either way).
fn same_lines(a: &str, b: &str) -> bool {
    a.trim_end_matches('\n') == b.trim_end_matches('\n')
}
