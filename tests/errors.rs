//! Bad input and missing privileges: a clear message, a non-zero exit, nothing left
//! behind. And the handshake's promises: the child's errors travel back, no
//! descriptor of ours leaks.

mod common;

use common::*;
use rstest::rstest;
use std::path::Path;
use std::process::Command;

/// A command that does not exist: exit 127 like a shell, with the reason the child's
/// exec got.
#[rstest]
#[case::uts("01-uts", &[])]
#[case::ipc("02-ipc", &[])]
#[case::pid("03-pid", &[])]
#[case::pid_with_init("03-pid", &["--init"])]
fn missing_command_exits_127(
    _host: HostGuard,
    #[case] lesson: &str,
    #[case] options: &[&str],
) {
    let mut args = options.to_vec();
    args.push("no-such-command-nsbox");
    let run = run(lesson, &args);
    assert_eq!(run.code, 127, "{}", run.stderr);
    let last = run.stderr.lines().last().unwrap();
    assert_eq!(
        last,
        format!(
            "{lesson}: error: exec 'no-such-command-nsbox': No such file or directory"
        )
    );
}

/// A file that exists but cannot be executed (a directory): 126.
#[rstest]
fn command_that_cannot_run_exits_126(_host: HostGuard) {
    let run = run("03-pid", &["/etc"]);
    assert_eq!(run.code, 126, "{}", run.stderr);
    assert!(
        run.stderr
            .trim_end()
            .ends_with("03-pid: error: exec '/etc': Permission denied"),
        "{}",
        run.stderr
    );
}

/// A hostname the kernel would refuse is refused before clone(2): no child, no
/// narration.
#[rstest]
fn too_long_hostname_is_refused_before_clone() {
    require_root();
    let name = "h".repeat(65);
    let out = Command::new(bin("01-uts"))
        .args(["--hostname", &name, "true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        !stderr.contains("clone("),
        "it got as far as clone: {stderr}"
    );
    assert!(stderr.starts_with("01-uts: error:"), "{stderr}");
}

/// The too-long hostname's message, as the book quotes it.
#[rstest]
fn transcript_hostname_too_long() {
    require_root();
    let name = "a-very-long-hostname-that-goes-on-and-on-past-the-kernels-limit-x";
    let args = ["--hostname", name, "hostname"];
    let (code, output) = run_merged("01-uts", &args);
    assert_eq!(code, 2);
    let mut transcript = Transcript::default();
    transcript.lesson("01-uts", &args, &output);
    transcript.command("echo $?", &format!("{code}\n"));
    assert_transcript("01-uts", "hostname-too-long", &transcript);
}

/// Without CAP_SYS_ADMIN (here: as the unprivileged user 65534), each lesson says
/// what is missing and how to fix it, and exits 125 without creating anything.
#[rstest]
#[case::uts("01-uts")]
#[case::ipc("02-ipc")]
#[case::pid("03-pid")]
fn without_privileges_says_needs_root(#[case] lesson: &str) {
    require_root();
    // The build directory may not be open to other users: run a copy from a public
    // place.
    let dir = TempDir::new(lesson);
    let [copy] = dir.with_copies(&[lesson]).try_into().unwrap();
    let run = run_as(65534, &copy, &["true"]);
    let stderr = run.stderr;
    assert_eq!(run.code, 125, "{stderr}");
    assert!(
        stderr.starts_with(&format!("{lesson}: error: {lesson} needs root")),
        "{stderr}"
    );
    assert!(stderr.contains("CAP_SYS_ADMIN"), "{stderr}");
    assert!(
        !stderr.contains("the child is"),
        "a child was created: {stderr}"
    );
    if lesson == "03-pid" {
        let mut transcript = Transcript::default();
        transcript.command("whoami", "nobody\n");
        transcript.lesson(lesson, &["true"], &stderr);
        assert_transcript("03-pid", "needs-root", &transcript);
    }
    let path = dir.path.clone();
    drop(dir);
    assert!(!path.exists(), "the test's copy was not removed");
}

/// Everything we open is close-on-exec: the command has exactly the descriptors it
/// would have had without us (here the probe compares itself run directly and run
/// inside).
#[rstest]
#[case::no_init(&[])]
#[case::init(&["--init"])]
fn no_descriptor_of_ours_reaches_the_command(
    _host: HostGuard,
    #[case] options: &[&str],
) {
    let direct = run_probe_directly();
    let mut args = options.to_vec();
    args.extend([probe(), "fds"]);
    let run = run("03-pid", &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, direct);
}

fn run_probe_directly() -> String {
    let out = Command::new(probe())
        .arg("fds")
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

/// With no command, the container runs an interactive /bin/sh; here it reads its
/// commands from stdin.
#[rstest]
fn default_command_is_a_shell(_host: HostGuard) {
    let run = run_with_input("03-pid", &[], "echo shell pid $$\nexit 4\n");
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (4, "shell pid 1\n"),
        "{}",
        run.stderr
    );
}

/// Options the program does not know are usage errors (exit 2), as clap reports
/// them.
#[rstest]
fn unknown_option_is_a_usage_error() {
    let out = Command::new(bin("01-uts"))
        .arg("--no-such-option")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("unexpected argument '--no-such-option'")
    );
}

/// Someone with no sudo rights (not root, not in the sudo group, sudo asks a
/// password) gets nsbox's own message from the runner, and exit 126, before sudo
/// could ask for a password that would get them nowhere. The runner is run as cargo
/// runs it, by a user who is in no group at all.
#[test]
fn without_sudo_rights_the_runner_says_what_to_do() {
    require_root();
    let dir = TempDir::new("runner");
    let runner = dir.path.join("as-root");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/as-root"),
        &runner,
    )
    .unwrap();
    let [lesson] = dir.with_copies(&["01-uts"]).try_into().unwrap();
    let run = run_as_with_env(
        UNPRIVILEGED,
        runner.to_str().unwrap(),
        &[&lesson, "hostname"],
        &[("CARGO_PKG_NAME", "nsbox")],
    );
    assert_eq!(run.code, 126, "{run:?}");
    assert_eq!(run.stdout, "", "the lesson did not run");
    let said = &run.stderr;
    // The reason: no sudo rights, or (in the cgroup v2 VM, which has no sudo) no
    // sudo at all.
    let reason = if Path::new("/usr/bin/sudo").exists() {
        "you (47000) are not root and not in the sudo group"
    } else {
        "sudo is not installed"
    };
    let expected =
        format!("nsbox: 01-uts needs root (it creates namespaces), and {reason}");
    assert!(said.starts_with(&expected), "{said}");
    for fix in [
        "run it as root",
        "usermod -aG sudo 47000",
        "cargo run --bin 05-user",
    ] {
        assert!(said.contains(fix), "no {fix:?} in: {said}");
    }
    assert!(!said.contains("sudo:"), "sudo itself spoke: {said}");
}
