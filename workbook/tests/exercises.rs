//! The workbook's loop on a copy of the course: start, refuse to overwrite your
//! work, reset (keeping it), hints one at a time, solution (the finished files back,
//! byte for byte). Running the proofs themselves (`check`) is what `cargo workbook
//! dev-check` proves in CI.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository this package is in.
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A copy of what the workbook reads and writes: lessons/ and every file an exercise
/// names.
struct Copy {
    root: PathBuf,
}

impl Copy {
    fn new(name: &str) -> Copy {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = fs::remove_dir_all(&root);
        let repository = repository();
        for entry in fs::read_dir(repository.join("lessons")).unwrap() {
            let lesson = entry.unwrap().path();
            let exercise = lesson.join("exercise.toml");
            if !exercise.exists() {
                continue;
            }
            let text = fs::read_to_string(&exercise).unwrap();
            let name = lesson.file_name().unwrap();
            copy(
                &exercise,
                &root.join("lessons").join(name).join("exercise.toml"),
            );
            for line in text.lines() {
                if let Some(file) = line.strip_prefix("file = ") {
                    let file = file.trim_matches('"');
                    copy(&repository.join(file), &root.join(file));
                }
            }
        }
        Copy { root }
    }

    fn workbook(&self, args: &[&str]) -> (i32, String) {
        let output = Command::new(env!("CARGO_BIN_EXE_workbook"))
            .args(args)
            .env("WORKBOOK_ROOT", &self.root)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.code().unwrap_or(-1), text)
    }

    fn read(&self, file: &str) -> String {
        fs::read_to_string(self.root.join(file)).unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        fs::write(self.root.join(file), text).unwrap();
    }
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to).unwrap();
}

const UTS: &str = "src/container/uts.rs";

#[test]
fn start_takes_the_piece_out_and_solution_puts_it_back() {
    let copy = Copy::new("start-solution");
    let finished = copy.read(UTS);
    assert!(finished.contains("nix::unistd::sethostname(name)"));

    let (code, said) = copy.workbook(&["start", "01-uts"]);
    assert_eq!(code, 0, "{said}");
    let started = copy.read(UTS);
    assert!(
        !started.contains("nix::unistd::sethostname(name)"),
        "{started}"
    );
    assert!(started.contains("// Exercise 01-uts:"), "{started}");
    assert!(said.contains("src/container/uts.rs:28"), "{said}");
    insta::assert_snapshot!("start", said);

    let (_, said) = copy.workbook(&["start", "uts"]);
    assert!(said.contains("already at its starting version"), "{said}");
    let (_, listed) = copy.workbook(&["list"]);
    assert!(listed.contains("started: the piece is missing"), "{listed}");

    let (code, said) = copy.workbook(&["solution", "01"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(copy.read(UTS), finished);
}

#[test]
fn your_work_is_never_lost() {
    let copy = Copy::new("your-work");
    let finished = copy.read(UTS);
    copy.workbook(&["start", "01-uts"]);
    let mine = copy
        .read(UTS)
        .replace("let _ = name;", "let _ = name; // my attempt");
    copy.write(UTS, &mine);

    let (code, said) = copy.workbook(&["start", "01-uts"]);
    assert_eq!(code, 2, "start must refuse to overwrite: {said}");
    assert!(said.contains("cargo workbook reset 01-uts"), "{said}");
    assert_eq!(copy.read(UTS), mine);
    let (_, listed) = copy.workbook(&["list"]);
    assert!(listed.contains("your work"), "{listed}");

    let (code, said) = copy.workbook(&["reset", "01-uts"]);
    assert_eq!(code, 0, "{said}");
    assert!(!copy.read(UTS).contains("my attempt"));
    let kept = copy.root.join(".workbook/01-uts/yours").join(UTS);
    assert!(fs::read_to_string(&kept).unwrap().contains("my attempt"));

    copy.write(UTS, &mine);
    let (code, said) = copy.workbook(&["solution", "01-uts"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(copy.read(UTS), finished);
    assert!(fs::read_to_string(&kept).unwrap().contains("my attempt"));
    // It says what it overwrote, and where the copy is.
    assert!(
        said.contains(
            "Your lines are kept in .workbook/01-uts/yours/src/container/uts.rs"
        ),
        "{said}"
    );
    assert!(said.lines().all(|l| l.chars().count() <= 80), "{said}");
    insta::assert_snapshot!("solution", said);
}

#[test]
fn every_exercise_starts_and_solves_byte_for_byte() {
    let copy = Copy::new("every-exercise");
    let (_, listed) = copy.workbook(&["list"]);
    let lessons: Vec<String> = listed
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            w.len() > 3 && w.as_bytes()[2] == b'-' && w[..2].parse::<u8>().is_ok()
        })
        .map(str::to_string)
        .collect();
    assert!(lessons.len() >= 7, "{listed}");
    for lesson in &lessons {
        let toml = copy.read(&format!("lessons/{lesson}/exercise.toml"));
        let files: Vec<String> = toml
            .lines()
            .filter_map(|l| l.strip_prefix("file = "))
            .map(|f| f.trim_matches('"').to_string())
            .collect();
        let before: Vec<String> = files.iter().map(|f| copy.read(f)).collect();
        let (code, said) = copy.workbook(&["start", lesson]);
        assert_eq!(code, 0, "{said}");
        for (file, finished) in files.iter().zip(&before) {
            assert_ne!(
                &copy.read(file),
                finished,
                "{lesson}: start left {file} as it was"
            );
        }
        let (code, said) = copy.workbook(&["solution", lesson]);
        assert_eq!(code, 0, "{said}");
        let after: Vec<String> = files.iter().map(|f| copy.read(f)).collect();
        assert_eq!(
            after, before,
            "{lesson}: solution did not give the files back"
        );
    }
}

#[test]
fn hints_come_one_at_a_time() {
    let copy = Copy::new("hints");
    let (_, first) = copy.workbook(&["hint", "01-uts"]);
    assert!(first.starts_with("Hint 1 of 3"), "{first}");
    insta::assert_snapshot!("hint-1", first);
    let (_, second) = copy.workbook(&["hint", "01-uts"]);
    assert!(second.starts_with("Hint 2 of 3"), "{second}");
    let (_, again) = copy.workbook(&["hint", "01-uts", "1"]);
    assert!(again.starts_with("Hint 1 of 3"), "{again}");
    let (_, third) = copy.workbook(&["hint", "01-uts"]);
    assert!(third.starts_with("Hint 3 of 3"), "{third}");
    // Only the third holds the finished line, and only it says it shows the answer
    // (the second warns that the next one does).
    assert!(third.starts_with("Hint 3 of 3 for 01-uts (it shows the answer):"));
    assert!(!first.contains("shows the answer"), "{first}");
    assert!(second.ends_with("gives the next one (it shows the answer).\n"));
    let (_, past) = copy.workbook(&["hint", "01-uts"]);
    assert!(past.contains("That was the last hint"), "{past}");
    assert!(past.contains("keeps a copy of yours"), "{past}");
    let (_, listed) = copy.workbook(&["list"]);
    assert!(listed.contains("hints seen 3/3"), "{listed}");
}

/// What `list` says in a fresh clone: every exercise, where it is, and that none is
/// started (the book shows it).
#[test]
fn list_shows_every_exercise() {
    let copy = Copy::new("list");
    let (code, listed) = copy.workbook(&["list"]);
    assert_eq!(code, 0, "{listed}");
    assert!(listed.contains("in src/container/uts.rs\n"), "{listed}");
    assert!(listed.lines().all(|l| l.chars().count() <= 80), "{listed}");
    insta::assert_snapshot!("list", listed);
}

#[test]
fn unknown_exercise_is_refused() {
    let copy = Copy::new("unknown");
    let (code, said) = copy.workbook(&["start", "99-nope"]);
    assert_eq!(code, 2);
    assert!(
        said.contains("no exercise called '99-nope'; the exercises are: 01-uts"),
        "{said}"
    );
}
