//! Lesson 07: a cgroup with limits on memory, CPU and processes, and a cgroup
//! namespace.
//!
//! These proofs run on the host (cgroup v1 here) and in a VM booted with cgroup v2
//! only (`scripts/vm/run-tests --test cgroups`). Every run uses `--network none`:
//! lesson 06's proofs cover the network, and these must not touch the host's.

mod common;

use common::*;
use rstest::rstest;
use std::path::Path;

/// Runs 07-cgroups without a network, and checks its cgroup directories are gone
/// afterwards.
fn limited(options: &[&str], command: &[&str]) -> Run {
    let mut args = vec!["--network", "none"];
    args.extend(options);
    args.extend(command);
    let run = run("07-cgroups", &args);
    assert_cgroups_removed(&run.stderr);
    run
}

/// The narration names the directories it made ("…: mkdir DIR DIR"); none may be
/// left.
fn assert_cgroups_removed(narration: &str) {
    let made = narration
        .lines()
        .find_map(|l| l.split(": mkdir ").nth(1))
        .unwrap_or_else(|| panic!("no cgroup was made:\n{narration}"));
    for dir in made.split_whitespace() {
        assert!(dir.contains("nsbox-"), "{dir}");
        assert!(!Path::new(dir).exists(), "cgroup {dir} was left behind");
    }
}

fn narration_has(run: &Run, text: &str) {
    assert!(run.stderr.contains(text), "no {text:?} in:\n{}", run.stderr);
}

/// A program that wants 64 MiB is killed by the kernel's OOM killer under a 32M
/// limit (exit 137), and the kernel counted the kill; without a limit it completes.
#[rstest]
#[case::limited(&["--memory", "32M"], 137)]
#[case::unlimited(&[], 0)]
fn memory_hog(_host: HostGuard, #[case] options: &[&str], #[case] code: i32) {
    let run = limited(options, &[probe(), "hog", "64"]);
    assert_eq!(run.code, code, "{}", run.stderr);
    if code == 137 {
        narration_has(
            &run,
            "the kernel's OOM killer killed 1 process(es) in the container: \
             memory limit 32 MiB reached",
        );
        assert!(run.stdout.is_empty(), "the hog finished: {}", run.stdout);
    } else {
        assert_eq!(run.stdout, "allocated 64 MiB\n");
        assert!(!run.stderr.contains("OOM"), "{}", run.stderr);
    }
}

/// A fork loop under --pids 8 gets EAGAIN once 8 processes exist (the probe itself
/// is one), and the kernel counted the refusals. The host can still fork afterwards.
#[rstest]
fn fork_loop_hits_the_pids_limit(_host: HostGuard) {
    let run = limited(&["--pids", "8"], &[probe(), "forks", "20"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "fork failed after 7: EAGAIN: Try again\n");
    narration_has(&run, "the process limit was reached (pids.max = 8)");
    assert!(
        std::process::Command::new("true")
            .status()
            .unwrap()
            .success(),
        "the host cannot fork"
    );
}

/// A busy loop under --cpus 0.25 gets about a quarter of a CPU: the kernel's own
/// accounting of its CPU time (getrusage), against the wall time it spun. A ratio,
/// with room for noise.
#[rstest]
#[case::quarter(&["--cpus", "0.25"], 0.10, 0.35)]
#[case::unlimited(&[], 0.50, 1.50)]
fn busy_loop_gets_its_share_of_cpu(
    _host_exclusive: HostGuard,
    #[case] options: &[&str],
    #[case] low: f64,
    #[case] high: f64,
) {
    let run = limited(options, &[probe(), "spin", "1.5"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let words: Vec<&str> = run.stdout.split_whitespace().collect();
    let [_, wall, _, cpu] = words.as_slice() else {
        panic!("probe said {}", run.stdout)
    };
    let ratio = cpu.parse::<f64>().unwrap() / wall.parse::<f64>().unwrap();
    assert!(
        (low..=high).contains(&ratio),
        "CPU/wall = {ratio:.2}, expected {low}..{high}"
    );
}

/// Inside, /proc/self/cgroup shows the container's cgroup as the root, in every
/// hierarchy.
#[rstest]
fn the_container_sees_its_cgroup_as_the_root(_host: HostGuard) {
    let run = limited(&["--memory", "64M"], &["cat", "/proc/self/cgroup"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stdout.is_empty());
    for line in run.stdout.lines() {
        assert!(line.ends_with(":/"), "not the root: {line}\n{}", run.stdout);
    }
    // The parent moved the child into its cgroup before telling it to go on.
    let attach = run.stderr.find("> cgroup.procs").unwrap();
    let go = run.stderr.find("go!").unwrap();
    assert!(attach < go, "{}", run.stderr);
}

/// Bad limits: a clear error, exit 2, no cgroup made.
#[rstest]
#[case::memory_zero(&["--memory", "0"], "too little memory")]
#[case::memory_words(&["--memory", "lots"], "is not a size like 64M")]
#[case::cpus_negative(&["--cpus", "-1"], "give a number from 0.01")]
#[case::cpus_words(&["--cpus", "many"], "is not a number of CPUs")]
#[case::pids_zero(&["--pids", "0"], "would not even let the command start")]
fn bad_limits_are_refused(#[case] options: &[&str], #[case] message: &str) {
    require_root();
    let mut args = vec!["--network", "none"];
    args.extend(options);
    args.push("true");
    let run = run("07-cgroups", &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(!run.stderr.contains("mkdir"), "{}", run.stderr);
}

#[rstest]
fn transcript_oom(_host: HostGuard) {
    let args = ["--network", "none", "--memory", "32M", probe(), "hog", "64"];
    let run = limited(&args[2..4], &args[4..]);
    assert_eq!(run.code, 137);
    let mut transcript = Transcript::default();
    // The probe's full path shows as `/tmp/nsbox-probe`: `assert_transcript`
    // replaces it.
    transcript.lesson_parts("07-cgroups", &args, &run.stdout, &run.stderr);
    transcript.command("echo $?", "137\n");
    let name = format!("oom-{}", cgroup_version(&run));
    assert_transcript("07-cgroups", &name, &transcript);
}

/// A CPU limit's files, and the container's own cgroup seen from inside: `/`.
#[rstest]
fn transcript_cgroup_root(_host: HostGuard) {
    let args = [
        "--network",
        "none",
        "--cpus",
        "0.25",
        "cat",
        "/proc/self/cgroup",
    ];
    let run = limited(&args[2..4], &args[4..]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.lesson_parts("07-cgroups", &args, &run.stdout, &run.stderr);
    let name = format!("cgroup-root-{}", cgroup_version(&run));
    assert_transcript("07-cgroups", &name, &transcript);
}

/// A fork loop stopped by `--pids 8`, and the kernel's count of refused forks.
#[rstest]
fn transcript_fork_limit(_host: HostGuard) {
    let args = ["--network", "none", "--pids", "8", probe(), "forks", "20"];
    let run = limited(&args[2..4], &args[4..]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.lesson_parts("07-cgroups", &args, &run.stdout, &run.stderr);
    let name = format!("fork-limit-{}", cgroup_version(&run));
    assert_transcript("07-cgroups", &name, &transcript);
}
