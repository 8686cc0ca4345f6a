//! An exercise: what `lessons/NN-name/exercise.toml` says about one lesson.
//!
//! The finished code in `src/` is the answer. Each exercise names the places in it
//! (regions) that the chapter teaches, marked in the source as an mdBook anchor
//! called `exercise`:
//!
//! ```text
//! // ANCHOR: exercise
//! nix::unistd::sethostname(name)
//! // ANCHOR_END: exercise
//! ```
//!
//! and, for each, the text the student starts from. The book never shows the marker
//! lines (mdBook drops anchor lines from what it includes), and the starting version
//! is made from the finished code every time, so the two cannot drift apart.

use serde::Deserialize;
use std::fs;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exercise {
    /// The lesson's folder name, e.g. `01-uts`; not in the file, taken from where it
    /// is.
    #[serde(skip)]
    pub lesson: String,
    /// One line: what the student builds.
    pub title: String,
    /// What to do, shown by `start`.
    pub task: String,
    /// The integration test file (`tests/<proofs>.rs`) that proves the lesson.
    pub proofs: String,
    /// Where the missing pieces go.
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    /// Graded hints, from a nudge to the answer (`hint` says which one shows it).
    pub hints: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The file, from the repository's root, e.g. `src/container/uts.rs`.
    pub file: String,
    /// The lines the student starts from, in place of the finished ones.
    pub start: String,
}

/// The file that describes a lesson's exercise.
pub const FILE_NAME: &str = "exercise.toml";

/// Every exercise under `lessons/`, in lesson order.
pub fn all(root: &Path) -> Result<Vec<Exercise>, String> {
    let lessons = root.join("lessons");
    let mut folders: Vec<PathBuf> = fs::read_dir(&lessons)
        .map_err(|e| format!("cannot read {}: {e}", lessons.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join(FILE_NAME).is_file())
        .collect();
    folders.sort();
    folders.iter().map(|folder| load(folder)).collect()
}

/// The exercise of one lesson: `01-uts`, or just `01` or `uts`.
pub fn find(root: &Path, name: &str) -> Result<Exercise, String> {
    let exercises = all(root)?;
    let names: Vec<&str> = exercises.iter().map(|e| e.lesson.as_str()).collect();
    let wanted = exercises.iter().position(|e| {
        let (number, topic) = e.lesson.split_once('-').unwrap_or((&e.lesson, ""));
        e.lesson == name || number == name || topic == name
    });
    match wanted {
        Some(index) => {
            Ok(exercises.into_iter().nth(index).expect("index is in range"))
        }
        None => Err(format!(
            "no exercise called '{name}'; the exercises are: {}",
            names.join(", ")
        )),
    }
}

fn load(folder: &Path) -> Result<Exercise, String> {
    let path = folder.join(FILE_NAME);
    let text = fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut exercise: Exercise =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    exercise.lesson = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if exercise.regions.is_empty() || exercise.hints.is_empty() {
        return Err(format!(
            "{}: an exercise needs at least one [[region]] and one of its hints",
            path.display()
        ));
    }
    Ok(exercise)
}
