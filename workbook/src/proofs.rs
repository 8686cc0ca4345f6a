//! Running a lesson's proofs (its integration tests) against a build of the tree,
//! and reading libtest's output into a checklist.

use std::path::Path;
use std::process::{Command, Stdio};

/// One proof and how it went.
#[derive(Debug, PartialEq)]
pub struct Proof {
    /// The test's name as a sentence:
    /// `hostname_inside_is_the_requested_one::case_1_short` becomes "hostname inside
    /// is the requested one (short)".
    pub name: String,
    pub passed: bool,
    /// For a failed proof, the first lines of what the test said.
    pub why: Vec<String>,
}

/// What happened when we ran the proofs.
pub enum Outcome {
    /// The tree does not build: cargo has already printed why.
    DoesNotBuild,
    /// The tests ran.
    Ran(Vec<Proof>),
    /// The tests ran but we could not read a single result (the raw output is kept).
    Unreadable(String),
}

/// Builds the lesson's proofs, letting cargo print its progress and any compiler
/// errors.
pub fn build(root: &Path, proofs: &str, target_dir: Option<&Path>) -> bool {
    let mut cargo = cargo_test(root, proofs, target_dir);
    cargo.arg("--no-run");
    cargo.status().is_ok_and(|status| status.success())
}

/// Runs the proofs (built already by [`build`]) and reads the results.
pub fn run(root: &Path, proofs: &str, target_dir: Option<&Path>) -> Outcome {
    let mut cargo = cargo_test(root, proofs, target_dir);
    // One proof failing must not hide the others.
    cargo.arg("--no-fail-fast");
    cargo.stdout(Stdio::piped()).stderr(Stdio::piped());
    let output = match cargo.output() {
        Ok(output) => output,
        Err(error) => {
            return Outcome::Unreadable(format!("cannot run cargo: {error}"));
        }
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let proofs = read_results(&stdout);
    if proofs.is_empty() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Outcome::Unreadable(format!("{stdout}{stderr}"));
    }
    Outcome::Ran(proofs)
}

fn cargo_test(root: &Path, proofs: &str, target_dir: Option<&Path>) -> Command {
    // `cargo workbook` is itself started by cargo, which tells us which cargo that
    // was.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(root)
        .args(["test", "--package", "nsbox", "--test", proofs]);
    // The checklist shows what a test said, not where in the standard library it
    // panicked.
    command.env("RUST_BACKTRACE", "0");
    if let Some(dir) = target_dir {
        command.env("CARGO_TARGET_DIR", dir);
    }
    command
}

/// Reads `test NAME ... ok` / `... FAILED` lines, and the failures' messages.
pub fn read_results(stdout: &str) -> Vec<Proof> {
    let mut proofs = Vec::new();
    for line in stdout.lines() {
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.rsplit_once(" ... ") else {
            continue;
        };
        let passed = match result.trim() {
            "ok" => true,
            "FAILED" => false,
            _ => continue, // "ignored", or not a result line
        };
        let why = if passed {
            Vec::new()
        } else {
            failure_message(stdout, name)
        };
        proofs.push(Proof {
            name: sentence(name),
            passed,
            why,
        });
    }
    proofs
}

/// The panic message of a failed test, from the block libtest prints after the
/// results:
///
/// ```text
/// ---- name stdout ----
/// thread 'name' panicked at tests/uts.rs:30:5:
/// assertion `left == right` failed
///   left: "debian"
///  right: "container"
/// note: run with `RUST_BACKTRACE=1` …
/// ```
fn failure_message(stdout: &str, name: &str) -> Vec<String> {
    let header = format!("---- {name} stdout ----");
    let Some(block) = stdout.split(&header).nth(1) else {
        return Vec::new();
    };
    // The test's own block ends where the next one starts.
    let block = block.split("\n---- ").next().unwrap_or(block);
    // A test may catch a panic and panic again with a clearer message (the
    // transcripts do: insta's "snapshot assertion failed", then the line that
    // differs): the last one counts.
    let Some(last) = block.rfind("panicked at") else {
        return Vec::new();
    };
    block[last..]
        .lines()
        .skip(1)
        .take_while(|line| {
            !line.starts_with("note: ")
                && !line.starts_with("---- ")
                && !line.starts_with("stack backtrace:")
        })
        .filter(|line| !line.trim().is_empty())
        .take(4)
        .map(|line| truncate(line, 110))
        .collect()
}

fn truncate(line: &str, width: usize) -> String {
    match line.char_indices().nth(width) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_string(),
    }
}

/// A test's name as the checklist shows it.
pub fn sentence(name: &str) -> String {
    let (test, case) = match name.split_once("::") {
        Some((test, case)) => (test, Some(case)),
        None => (name, None),
    };
    let mut text = test.replace('_', " ");
    if let Some(case) = case {
        // rstest names its cases `case_1_short`: keep only the description.
        let words: Vec<&str> = case.split('_').collect();
        let described = match words.as_slice() {
            ["case", number, rest @ ..]
                if number.parse::<u32>().is_ok() && !rest.is_empty() =>
            {
                rest.join(" ")
            }
            _ => case.replace('_', " "),
        };
        text.push_str(&format!(" ({described})"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_panic_of_a_test_is_its_message() {
        let output = "\
test transcript_hostname ... FAILED

failures:

---- transcript_hostname stdout ----
-old snapshot
+new results

thread 'transcript_hostname' panicked at insta-1.49.0/src/runtime.rs:734:13:
snapshot assertion for 'hostname' failed in line 601

thread 'transcript_hostname' panicked at tests/common/mod.rs:607:33:
the transcript differs from lessons/01-uts/transcripts/hostname.snap at line 3:
  book: \"$ hostname\"
  now:  \"$ uname -n\"
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- other stdout ----

thread 'other' panicked at tests/uts.rs:1:1:
not this one
";
        let proofs = read_results(output);
        assert_eq!(
            proofs[0].why,
            vec![
                "the transcript differs from lessons/01-uts/transcripts/hostname.snap at line 3:",
                "  book: \"$ hostname\"",
                "  now:  \"$ uname -n\"",
            ]
        );
    }

    const OUTPUT: &str = "\
running 3 tests
test only_the_uts_namespace_differs ... ok
test hostname_inside_is_the_requested_one::case_1_short ... FAILED
test slow_one ... ignored

failures:

---- hostname_inside_is_the_requested_one::case_1_short stdout ----
some output of the test

thread 'hostname_inside_is_the_requested_one::case_1_short' panicked at tests/uts.rs:30:5:
assertion `left == right` failed
  left: \"debian\"
 right: \"container\"
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace


failures:
    hostname_inside_is_the_requested_one::case_1_short

test result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out
";

    #[test]
    fn reads_passes_failures_and_why() {
        let proofs = read_results(OUTPUT);
        assert_eq!(
            proofs,
            vec![
                Proof {
                    name: "only the uts namespace differs".into(),
                    passed: true,
                    why: vec![],
                },
                Proof {
                    name: "hostname inside is the requested one (short)".into(),
                    passed: false,
                    why: vec![
                        "assertion `left == right` failed".into(),
                        "  left: \"debian\"".into(),
                        " right: \"container\"".into(),
                    ],
                },
            ]
        );
    }

    #[test]
    fn names_become_sentences() {
        assert_eq!(
            sentence("queue_made_inside_stays_inside"),
            "queue made inside stays inside"
        );
        assert_eq!(sentence("exit_code::case_2_init"), "exit code (init)");
        assert_eq!(sentence("signal::case_1"), "signal (case 1)");
    }
}
