//! The proofs' own safety net, proved: whatever a test starts is stopped when the
//! test ends, and the host guard finds what a program leaves behind by reading the
//! kernel, not what the program says.

mod common;

use common::*;
use std::path::Path;

/// Is the process alive? A zombie is not: it has ended, and only waits for its
/// parent (here the host's init, which adopted it) to collect its exit status.
fn exists(pid: i32) -> bool {
    process::processes()
        .iter()
        .any(|p| p.pid == pid && p.state != 'Z')
}

/// A test that fails while its container runs (the panic stands for any failed
/// assertion): the lesson and its container are gone when the test's `Running` is
/// dropped, and the lesson had the time to clean up after its container (its cgroup
/// is removed).
#[test]
fn a_failing_test_stops_the_container_it_started() {
    require_root();
    let mut container = (0, 0, Vec::new());
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut running = Running::start(
            "07-cgroups",
            &["--network", "none", "--pids", "20", "sleep", "600"],
        );
        running.wait_for(Source::Stderr, "go!");
        let lesson = running.pid().as_raw();
        let child = process::children_of(running.pid());
        assert_eq!(child.len(), 1, "the lesson has one child, the container");
        let child = child[0].as_raw();
        container = (lesson, child, cgroup_dirs_of(child));
        panic!("a proof failed");
    }));
    assert!(outcome.is_err());
    let (lesson, child, cgroups) = container;
    assert!(!cgroups.is_empty(), "the container had a cgroup of nsbox's");
    assert!(!exists(lesson), "the lesson {lesson} is still there");
    assert!(!exists(child), "the container {child} is still there");
    for dir in cgroups {
        assert!(!Path::new(&dir).exists(), "{dir} was not removed");
    }
}

/// Lesson 01 has no PID namespace: a process the container leaves in the background
/// outlives it. The guard finds it under `--quiet` (no narration at all), and kills
/// it.
#[test]
fn the_guard_finds_a_process_left_behind_without_narration() {
    let guard = host();
    let run = run(
        "01-uts",
        &["--quiet", "sh", "-c", "sleep 600 >/dev/null & echo $!"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stderr, "", "--quiet says nothing");
    let sleep: i32 = run.stdout.trim().parse().unwrap();
    let problems = guard.into_problems();
    assert!(
        problems
            .iter()
            .any(|p| p.contains(&format!("pid {sleep} (sleep 600)"))),
        "{problems:?}"
    );
    assert!(!exists(sleep), "the guard killed what it found");
}

/// A program the test never waits for (a listener nobody connected to) is stopped
/// when the test lets go of it.
#[test]
fn a_program_not_waited_for_is_stopped() {
    require_root();
    let mut listener = Running::start("nsbox-probe", &["listen", "0", "1"]);
    listener.wait_for(Source::Stdout, "listening");
    let pid = listener.pid().as_raw();
    drop(listener);
    assert!(!exists(pid), "the listener {pid} is still there");
}

/// Nobody reads the narration any more (`07-cgroups … 2>&1 | head -1` has exited):
/// the lesson loses the lines, not its clean-up. (Writing to a closed pipe fails;
/// `eprintln!` would panic, and the cgroup and state folder would stay.)
#[test]
fn a_lesson_whose_narration_nobody_reads_still_cleans_up() {
    use std::process::{Command, Stdio};
    require_root();
    let (reader, writer) = nix::unistd::pipe().unwrap();
    drop(reader);
    let mut lesson = Command::new(bin("07-cgroups"))
        .args(["--network", "none", "--memory", "64M", "true"])
        .stderr(Stdio::from(writer))
        .spawn()
        .unwrap();
    let name = format!("nsbox-{}", lesson.id());
    let status = lesson.wait().unwrap();
    assert!(status.success(), "{status}");
    let left = folders_named(Path::new("/sys/fs/cgroup"), &name, 6);
    assert!(left.is_empty(), "cgroup folders left: {left:?}");
}

/// The folders called `name` under `dir`, at most `depth` levels down.
fn folders_named(dir: &Path, name: &str, depth: usize) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if entry.file_name() == name {
            found.push(path);
        } else if depth > 0 {
            found.extend(folders_named(&path, name, depth - 1));
        }
    }
    found
}
