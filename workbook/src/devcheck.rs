//! `cargo workbook dev-check`: the course checks itself, in a copy of the repository
//! so the real tree is never touched.
//!
//! For every exercise: its regions are found, the starting version differs from the
//! finished code, the starting version **builds** and **fails** at least one proof,
//! the host is the same afterwards (hostname, mounts, IPC objects, network links),
//! and `solution` gives back the finished files byte for byte. That the finished
//! code passes every proof is what `cargo test` shows; `--finished` runs the proofs
//! once more in the copy.

use crate::exercise::{self, Exercise};
use crate::progress::Progress;
use crate::proofs::{self, Outcome};
use std::fs;
use std::path::{Path, PathBuf};

/// Runs the whole self-check; true when every exercise is as it should be.
/// With `only`, just that exercise (`02-ipc`, `02` or `ipc`).
pub fn run(root: &Path, only: Option<&str>, finished: bool) -> Result<bool, String> {
    let work = dev_check_dir(root);
    let copy = work.join("nsbox");
    // A target directory of its own: the copy's binaries have the same names as the
    // real tree's (target/debug/01-uts), and must not replace them.
    let target = work.join("target");
    println!("Copying the repository to {} …", copy.display());
    if copy.exists() {
        fs::remove_dir_all(&copy)
            .map_err(|e| format!("cannot remove {}: {e}", copy.display()))?;
    }
    copy_tree(root, &copy)?;

    let exercises = match only {
        Some(name) => vec![exercise::find(&copy, name)?],
        None => exercise::all(&copy)?,
    };
    let mut problems = Vec::new();
    if finished {
        for exercise in &exercises {
            check_finished(&copy, &target, exercise, &mut problems);
        }
    }
    for exercise in &exercises {
        check_starting_version(&copy, &target, exercise, &mut problems)?;
    }

    println!("\n=== workbook dev-check: {} exercises", exercises.len());
    if problems.is_empty() {
        println!(
            "every starting version builds, fails its proofs and leaves the host as it was"
        );
        if !finished {
            println!(
                "(the finished code passing every proof is what `cargo test` shows)"
            );
        }
        Ok(true)
    } else {
        for problem in &problems {
            println!("PROBLEM: {problem}");
        }
        Ok(false)
    }
}

fn dev_check_dir(root: &Path) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("workbook-dev-check")
}

fn check_finished(
    copy: &Path,
    target: &Path,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) {
    println!("\n=== {}: the finished code", exercise.lesson);
    if !proofs::build(copy, &exercise.proofs, Some(target)) {
        problems.push(format!(
            "{}: the finished code does not build",
            exercise.lesson
        ));
        return;
    }
    match proofs::run(copy, &exercise.proofs, Some(target)) {
        Outcome::Ran(results) if results.iter().all(|p| p.passed) => {
            println!("✓ all {} proofs hold", results.len());
        }
        outcome => {
            crate::print_checklist(exercise, outcome);
            problems.push(format!(
                "{}: the finished code fails its proofs",
                exercise.lesson
            ));
        }
    }
}

fn check_starting_version(
    copy: &Path,
    target: &Path,
    exercise: &Exercise,
    problems: &mut Vec<String>,
) -> Result<(), String> {
    let lesson = &exercise.lesson;
    println!("\n=== {lesson}: the starting version");
    let progress = Progress {
        root: copy,
        exercise,
    };
    let originals = read_files(copy, exercise)?;
    for region in &exercise.regions {
        let finished = progress.current(region)?;
        if finished.trim_end() == region.start.trim_end() {
            problems.push(format!("{lesson}: {} starts finished", region.file));
        }
    }
    progress.start(false)?;
    let host_before = host_state();
    if !proofs::build(copy, &exercise.proofs, Some(target)) {
        problems.push(format!("{lesson}: the starting version does not build"));
    } else {
        match proofs::run(copy, &exercise.proofs, Some(target)) {
            Outcome::Ran(results) => {
                let failed: Vec<&str> = results
                    .iter()
                    .filter(|p| !p.passed)
                    .map(|p| p.name.as_str())
                    .collect();
                println!(
                    "{} of {} proofs fail, as they should while the piece is missing:",
                    failed.len(),
                    results.len()
                );
                for name in &failed {
                    println!("  ✗ {name}");
                }
                if failed.is_empty() {
                    problems.push(format!(
                        "{lesson}: the starting version passes every proof"
                    ));
                }
            }
            outcome => {
                crate::print_checklist(exercise, outcome);
                problems
                    .push(format!("{lesson}: the proofs gave no readable result"));
            }
        }
    }
    for difference in differences(&host_before, &host_state()) {
        problems.push(format!(
            "{lesson}: the starting version left the host changed: {difference}"
        ));
    }
    progress.solve()?;
    if read_files(copy, exercise)? != originals {
        problems.push(format!(
            "{lesson}: `solution` did not give the finished files back"
        ));
    }
    Ok(())
}

fn read_files(root: &Path, exercise: &Exercise) -> Result<Vec<String>, String> {
    exercise
        .regions
        .iter()
        .map(|region| {
            let path = root.join(&region.file);
            fs::read_to_string(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        })
        .collect()
}

/// What a lesson could leave behind on the host, one line per thing.
fn host_state() -> Vec<String> {
    let mut state = Vec::new();
    if let Ok(name) = fs::read_to_string("/proc/sys/kernel/hostname") {
        state.push(format!("hostname {}", name.trim()));
    }
    if let Ok(mountinfo) = fs::read_to_string("/proc/self/mountinfo") {
        for line in mountinfo.lines() {
            // Field 5 is the mount point.
            if let Some(point) = line.split_whitespace().nth(4) {
                state.push(format!("mount {point}"));
            }
        }
    }
    for kind in ["msg", "sem", "shm"] {
        if let Ok(table) = fs::read_to_string(format!("/proc/sysvipc/{kind}")) {
            for line in table.lines().skip(1) {
                if let Some(key) = line.split_whitespace().next() {
                    state.push(format!("System V {kind} key {key}"));
                }
            }
        }
    }
    for folder in ["/sys/class/net", "/dev/mqueue"] {
        if let Ok(entries) = fs::read_dir(folder) {
            for entry in entries.flatten() {
                state.push(format!(
                    "{folder}/{}",
                    entry.file_name().to_string_lossy()
                ));
            }
        }
    }
    state.sort();
    state
}

fn differences(before: &[String], after: &[String]) -> Vec<String> {
    let gone = before
        .iter()
        .filter(|l| !after.contains(l))
        .map(|l| format!("gone: {l}"));
    let new = after
        .iter()
        .filter(|l| !before.contains(l))
        .map(|l| format!("new: {l}"));
    gone.chain(new).collect()
}

/// Copies the repository, less what is built or kept locally.
fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    const SKIPPED: [&str; 4] = ["target", ".git", ".workbook", "build"];
    fs::create_dir_all(to)
        .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let entries = fs::read_dir(from)
        .map_err(|e| format!("cannot read {}: {e}", from.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let (source, destination) = (entry.path(), to.join(&name));
        if SKIPPED.iter().any(|skipped| name == *skipped) {
            continue;
        }
        let kind = entry
            .file_type()
            .map_err(|e| format!("cannot read {}: {e}", source.display()))?;
        if kind.is_dir() {
            copy_tree(&source, &destination)?;
        } else if kind.is_file() {
            // fs::copy keeps the permissions: scripts/as-root stays executable.
            fs::copy(&source, &destination)
                .map_err(|e| format!("cannot copy {}: {e}", source.display()))?;
        }
    }
    Ok(())
}
