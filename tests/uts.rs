//! Lesson 01: a new UTS namespace gives the container a hostname of its own.

mod common;

use common::*;
use rstest::rstest;

/// Inside, `hostname` prints the name we asked for, and the host's hostname never
/// changes.
#[rstest]
#[case::default_name(&[], "container")]
#[case::chosen_name(&["--hostname", "box-1"], "box-1")]
#[case::longest_allowed_name(&["--hostname", &"h".repeat(64)], &"h".repeat(64))]
fn hostname_inside_is_the_requested_one(
    _host: HostGuard,
    #[case] options: &[&str],
    #[case] expected: &str,
) {
    let before = host_hostname();
    let mut args = options.to_vec();
    // The container prints its hostname, then waits on stdin: the test looks at the
    // host *during* the run, then lets it finish.
    args.extend(["sh", "-c", "hostname; cat >/dev/null"]);
    let mut running = Running::start("01-uts", &args);
    let inside = running.wait_for(Source::Stdout, "");
    assert_eq!(inside, expected);
    assert_eq!(
        host_hostname(),
        before,
        "the host's hostname changed during the run"
    );
    running.close_stdin();
    let run = running.finish();
    assert_eq!(run.code, 0);
    assert_eq!(
        host_hostname(),
        before,
        "the host's hostname changed after the run"
    );
}

/// Seen from outside, in /proc: the child's uts namespace differs from ours, and
/// every other namespace is the same one.
#[rstest]
fn only_the_uts_namespace_differs(_host: HostGuard) {
    let mut running = Running::start("01-uts", &["sh", "-c", "cat >/dev/null"]);
    let child = running.container_pid().to_string();
    running.wait_for(Source::Stderr, "go!");
    for kind in ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"] {
        let ours = ns_inode("self", kind).unwrap();
        let theirs = ns_inode(&child, kind).unwrap();
        assert_eq!(
            ours != theirs,
            kind == "uts",
            "{kind}: ours {ours}, the child's {theirs}"
        );
    }
    running.close_stdin();
    let run = running.finish();
    assert_eq!(run.code, 0);
    // The narration's table says the same as /proc.
    let new_rows: Vec<&str> =
        run.stderr.lines().filter(|l| l.contains(" NEW ")).collect();
    assert_eq!(new_rows.len(), 1, "{}", run.stderr);
    assert!(
        new_rows[0].trim_start().starts_with("uts"),
        "{}",
        run.stderr
    );
}

/// The chapter's first experiment, as the student's terminal shows it.
#[rstest]
fn transcript_hostname(_host: HostGuard) {
    let args = ["--hostname", "box", "sh", "-c", "hostname; uname -n"];
    let (code, output) = run_merged("01-uts", &args);
    assert_eq!(code, 0);
    let mut transcript = Transcript::default();
    transcript.command(
        "hostname",
        &host_command("hostname", &[]).replace(&host_hostname(), "[HOST]"),
    );
    transcript.lesson("01-uts", &args, &output);
    transcript.command(
        "hostname",
        &host_command("hostname", &[]).replace(&host_hostname(), "[HOST]"),
    );
    assert_transcript("01-uts", "hostname", &transcript);
}

/// `--quiet` leaves only the command's output.
#[rstest]
fn quiet_prints_only_the_command_output(_host: HostGuard) {
    let run = run("01-uts", &["--quiet", "--hostname", "q", "hostname"]);
    assert_eq!(
        (run.code, run.stdout.as_str(), run.stderr.as_str()),
        (0, "q\n", "")
    );
}

/// The command may rename its UTS namespace again; the host keeps its name. With
/// `--quiet` only the command's own output is left.
#[rstest]
fn transcript_rename_inside(_host: HostGuard) {
    let args = [
        "--quiet",
        "sh",
        "-c",
        "hostname; hostname renamed; hostname",
    ];
    let (code, output) = run_merged("01-uts", &args);
    assert_eq!((code, output.as_str()), (0, "container\nrenamed\n"));
    let mut transcript = Transcript::default();
    transcript.lesson("01-uts", &args, &output);
    transcript.command(
        "hostname",
        &host_command("hostname", &[]).replace(&host_hostname(), "[HOST]"),
    );
    assert_transcript("01-uts", "rename-inside", &transcript);
}

/// A command that does not exist: the child's failed `exec` travels back to the
/// parent, which says why and exits 127, as a shell would.
#[rstest]
fn transcript_missing_command(_host: HostGuard) {
    let args = ["no-such-command"];
    let (code, output) = run_merged("01-uts", &args);
    assert_eq!(code, 127, "{output}");
    let mut transcript = Transcript::default();
    transcript.lesson("01-uts", &args, &output);
    transcript.command("echo $?", &format!("{code}\n"));
    assert_transcript("01-uts", "missing-command", &transcript);
}

/// Narration wraps itself at 80 columns when stderr is not a terminal (a pipe here),
/// so no line is cut off in a transcript or in the book; what it says is all still
/// there.
#[rstest]
fn narration_wraps_at_80_columns_in_a_pipe(_host: HostGuard) {
    let mut command = std::process::Command::new(bin("01-uts"));
    command
        .args(["--hostname", &"h".repeat(40), "true"])
        // What a student's pipe gets (the tests otherwise ask for whole lines).
        .env_remove(nsbox::container::narrate::WIDTH_VARIABLE);
    let run = run_command(command, "");
    let stderr = run.stderr;
    assert_eq!(run.code, 0, "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{stderr}");
    assert!(
        lines.iter().any(|l| l.starts_with("         ")),
        "nothing wrapped: {stderr}"
    );
    let whole = stderr.replace("\n         ", " ");
    assert!(
        whole.contains(&format!("sethostname(\"{}\")", "h".repeat(40))),
        "{stderr}"
    );
}

/// Unmounts a file when dropped, so that a failed test leaves no mount behind (and
/// its temporary directory can be removed).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("--lazy")
            .arg(&self.0)
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// The line of /proc/self/mountinfo whose mount point is `path`, if any.
fn mountinfo_line(path: &str) -> Option<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .find(|l| l.split(' ').nth(4) == Some(path))
        .map(str::to_string)
}

/// A namespace lives as long as something refers to it. Here nothing but a bind
/// mount does: `unshare --uts=FILE` makes a UTS namespace, bind-mounts its
/// /proc/PID/ns/uts onto FILE and runs `hostname held` in it; when `hostname` has
/// exited, no process is in the namespace, yet `nsenter` still finds it, with its
/// name. The kernel says the same: an nsfs mount on the file, and no process in
/// that namespace. Unmounting it lets the kernel free it. The book shows the file
/// as /run/nsbox-uts; the test uses a file of its own.
#[rstest]
fn transcript_held_by_a_bind_mount(_host_exclusive: HostGuard) {
    let dir = TempDir::new("uts-held");
    let file = dir.path.join("uts");
    let path = file.to_str().unwrap().to_string();
    let shown = |text: &str| text.replace(&path, "/run/nsbox-uts");
    let transcript = std::cell::RefCell::new(Transcript::default());
    let step = |line: &str, program: &str, args: &[&str]| {
        let output = host_command(program, args);
        transcript
            .borrow_mut()
            .command(&shown(line), &shown(&output));
        output
    };
    step(&format!("sudo touch {path}"), "touch", &[&path]);
    let _unmount = Unmount(file.clone());
    let uts = format!("--uts={path}");
    step(
        &format!("sudo unshare {uts} hostname held"),
        "unshare",
        &[&uts, "hostname", "held"],
    );
    let host = host_command("hostname", &[]);
    assert_eq!(host.trim(), host_hostname());
    transcript
        .borrow_mut()
        .command("hostname", &host.replace(&host_hostname(), "[HOST]"));
    let inside = step(
        &format!("sudo nsenter {uts} hostname"),
        "nsenter",
        &[&uts, "hostname"],
    );
    assert_eq!(inside, "held\n", "the namespace kept its hostname");
    let mounts = host_command("mount", &[]);
    let listed: String = mounts
        .lines()
        .filter(|l| l.contains(&path))
        .map(|l| format!("{l}\n"))
        .collect();
    transcript
        .borrow_mut()
        .command("mount | grep nsbox-uts", &shown(&listed));
    // From the kernel: an nsfs mount of a UTS namespace on the file...
    let line = mountinfo_line(&path).expect("a mount on the file");
    let (before, after) = line.split_once(" - ").unwrap();
    assert!(after.starts_with("nsfs "), "{line}");
    let root = before.split(' ').nth(3).unwrap();
    let inode: u64 = root
        .strip_prefix("uts:[")
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a UTS namespace: {line}"));
    assert_eq!(listed.trim(), format!("nsfs on {path} type nsfs (rw)"));
    // ...of a namespace no process is in, and not ours.
    assert_ne!(Some(inode), ns_inode("self", "uts"));
    assert_eq!(pids_in_namespace("uts", inode), Vec::<i32>::new());
    step(&format!("sudo umount {path}"), "umount", &[&path]);
    step(&format!("sudo rm {path}"), "rm", &[&path]);
    assert_eq!(mountinfo_line(&path), None, "the mount is gone");
    assert!(!file.exists());
    assert_transcript("01-uts", "held-by-a-bind-mount", &transcript.borrow());
}
