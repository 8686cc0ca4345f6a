//! Lesson 03: a new PID namespace. The child is PID 1 inside it, with PID 1's
//! duties; with `--init` a tiny init takes that place and the command is PID 2.

mod common;

use common::*;
use nix::sys::signal::Signal;
use rstest::rstest;
use std::time::{Duration, Instant};

/// `echo $$` prints the shell's own pid: 1 in a new PID namespace, the host's number
/// without.
#[rstest]
#[case::no_pid_namespace("02-ipc", &[], false)]
#[case::new_pid_namespace("03-pid", &[], true)]
#[case::under_init("03-pid", &["--init"], false)]
fn shell_pid_inside(
    _host: HostGuard,
    #[case] lesson: &str,
    #[case] options: &[&str],
    #[case] is_one: bool,
) {
    let mut args = options.to_vec();
    args.extend(["sh", "-c", "echo $$"]);
    let run = run(lesson, &args);
    assert_eq!(run.code, 0);
    assert_eq!(
        run.stdout.trim() == "1",
        is_one,
        "echo $$ printed {}",
        run.stdout
    );
    if options.contains(&"--init") {
        assert_eq!(run.stdout.trim(), "2", "under --init the command is pid 2");
    }
}

/// From the host, the container has an ordinary pid, and its NSpid line lists both
/// numbers.
#[rstest]
fn host_sees_both_pids_in_nspid(_host: HostGuard) {
    let mut running =
        Running::start("03-pid", &["sh", "-c", "echo $$; cat >/dev/null"]);
    let child = running.container_pid();
    assert_eq!(running.wait_for(Source::Stdout, ""), "1");
    assert_ne!(child.as_raw(), 1);
    let nspid = status_field(child.as_raw(), "NSpid").unwrap();
    assert_eq!(
        nspid.split_whitespace().collect::<Vec<_>>(),
        [child.to_string().as_str(), "1"]
    );
    running.close_stdin();
    let run = running.finish();
    assert_eq!(run.code, 0);
}

/// Signals sent to the lesson binary reach the command. Under --init the command is
/// an ordinary process (PID 2) whose default action for the signal is to die.
#[rstest]
#[case::sigint(Signal::SIGINT)]
#[case::sigterm(Signal::SIGTERM)]
#[case::sighup(Signal::SIGHUP)]
fn signal_reaches_the_command_under_init(_host: HostGuard, #[case] signal: Signal) {
    let mut running = Running::start("03-pid", &["--init", "sleep", "30"]);
    running.wait_for(Source::Stderr, "started sleep as pid 2");
    running.signal(signal);
    let run = running.finish();
    assert_eq!(run.code, 128 + signal as i32, "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("sleep was killed by {}", signal.as_str())),
        "{}",
        run.stderr
    );
}

/// The kernel drops signals to a namespace's PID 1 that it has no handler for:
/// `sleep` as PID 1 survives SIGTERM. The binary says so, and a second SIGTERM
/// becomes a SIGKILL.
#[rstest]
fn pid_1_without_a_handler_ignores_sigterm(_host: HostGuard) {
    let mut running = Running::start("03-pid", &["sleep", "30"]);
    let child = running.container_pid();
    running.wait_for(Source::Stderr, "go!");
    wait_until("sleep has exec'd", || {
        std::fs::read_to_string(format!("/proc/{child}/comm"))
            .is_ok_and(|c| c.trim() == "sleep")
    });
    running.signal(Signal::SIGTERM);
    running.wait_for(Source::Stderr, "the kernel drops it");
    // SIGTERM was sent and dropped: the process lives on, not even a zombie.
    std::thread::sleep(Duration::from_millis(200));
    let state = status_field(child.as_raw(), "State").expect("PID 1 still exists");
    assert!(state.starts_with('S'), "PID 1 is {state}");
    running.signal(Signal::SIGTERM);
    let run = running.finish();
    assert_eq!(run.code, 128 + Signal::SIGKILL as i32, "{}", run.stderr);
}

/// A PID 1 that does install a handler gets the signal.
#[rstest]
fn pid_1_with_a_handler_gets_sigterm(_host: HostGuard) {
    let script = "trap 'echo got TERM; exit 42' TERM; echo ready; sleep 30 & wait";
    let mut running = Running::start("03-pid", &["sh", "-c", script]);
    running.wait_for(Source::Stdout, "ready");
    running.signal(Signal::SIGTERM);
    let run = running.finish();
    assert_eq!(run.code, 42, "{}", run.stderr);
    assert!(run.stdout.contains("got TERM"));
}

/// A subshell starts `sleep 1` in the background and exits: the sleep is an orphan,
/// and the kernel makes PID 1 its parent. (A whole second, so that the subshell has
/// surely exited first, even on a slow emulated machine: a sleep that ended while
/// the subshell still ran could be collected by the subshell itself, and there would
/// be no orphan.) Our init reaps it; `sleep 30` as PID 1 never does, so it stays a
/// zombie until the namespace dies.
#[rstest]
#[case::init_reaps_it(&["--init"], false)]
#[case::sleep_as_pid_1_does_not(&[], true)]
fn orphan_is_reaped_by_init(
    _host: HostGuard,
    #[case] options: &[&str],
    #[case] zombie_stays: bool,
) {
    let mut args = options.to_vec();
    args.extend(["sh", "-c", "(sleep 1 &); exec sleep 30"]);
    let mut running = Running::start("03-pid", &args);
    let child = running.container_pid();
    let pid_ns = ns_inode(&child.to_string(), "pid").unwrap();
    running.wait_for(Source::Stderr, "go!");
    let zombies = || {
        pids_in_namespace("pid", pid_ns)
            .into_iter()
            .filter(|pid| {
                status_field(*pid, "State").is_some_and(|s| s.starts_with('Z'))
            })
            .collect::<Vec<_>>()
    };
    // Find the orphan while it runs, then wait until it has exited. (Waiting for
    // "nothing but init and sleep 30 left" is not enough: a scan of /proc taken just
    // before the subshell forked, with sh's command line read just after it exec'd
    // `sleep 30`, looks the same, and then the orphan is not even there yet.)
    let cmdline = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()
    };
    let mut orphan = None;
    wait_until("the orphan runs", || {
        orphan = pids_in_namespace("pid", pid_ns)
            .into_iter()
            .find(|pid| cmdline(*pid) == "sleep\x001\x00");
        orphan.is_some()
    });
    let orphan = orphan.unwrap();
    let running_still =
        || status_field(orphan, "State").is_some_and(|s| !s.starts_with('Z'));
    wait_until("the orphan has exited", || !running_still());
    if zombie_stays {
        // Nobody will ever wait for it: it is still a zombie a while later.
        std::thread::sleep(Duration::from_millis(300));
        let found = zombies();
        assert_eq!(found.len(), 1, "expected one zombie, found {found:?}");
        let parent = status_field(found[0], "PPid").unwrap();
        assert_eq!(parent, child.to_string(), "the zombie's parent is PID 1");
        running.signal(Signal::SIGTERM);
        running.wait_for(Source::Stderr, "the kernel drops it");
        running.signal(Signal::SIGTERM);
    } else {
        wait_until("init has reaped every zombie", || zombies().is_empty());
        running.signal(Signal::SIGTERM);
    }
    let run = running.finish();
    assert_eq!(
        run.stderr.contains("reaped orphan pid"),
        !zombie_stays,
        "{}",
        run.stderr
    );
    // When PID 1 dies the whole namespace goes, zombies included (the guard checks
    // it).
}

/// When PID 1 exits, the kernel kills every other process in its namespace.
#[rstest]
fn namespace_dies_with_pid_1(_host: HostGuard) {
    let started = Instant::now();
    let run = run("03-pid", &["sh", "-c", "sleep 30 & echo started $!"]);
    assert_eq!((run.code, run.stdout.trim()), (0, "started 2"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the background sleep kept it alive"
    );
}

/// The command's exit code is the binary's.
#[rstest]
#[case::no_init(&[])]
#[case::init(&["--init"])]
fn exit_code_passes_through(_host: HostGuard, #[case] options: &[&str]) {
    let mut args = options.to_vec();
    args.extend(["sh", "-c", "exit 7"]);
    let run = run("03-pid", &args);
    assert_eq!(run.code, 7, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("sh exited with code 7, so 03-pid exits with 7"),
        "{}",
        run.stderr
    );
}

/// The chapter's transcripts.
#[rstest]
fn transcript_pid_1(_host: HostGuard) {
    let mut transcript = Transcript::default();
    let args = ["sh", "-c", "echo my pid is $$; hostname"];
    let (code, output) = run_merged("03-pid", &args);
    assert_eq!(code, 0);
    transcript.lesson("03-pid", &args, &output);
    assert_transcript("03-pid", "pid-1", &transcript);
}

#[rstest]
fn transcript_init(_host: HostGuard) {
    let mut transcript = Transcript::default();
    let args = [
        "--init",
        "sh",
        "-c",
        "echo my pid is $$; (sleep 0.1 &); sleep 0.3; exit 3",
    ];
    let run = run("03-pid", &args);
    assert_eq!(run.code, 3);
    transcript.lesson_parts("03-pid", &args, &run.stdout, &run.stderr);
    transcript.command("echo $?", "3\n");
    assert_transcript("03-pid", "init", &transcript);
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + RUN_LIMIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Inside, the parent of PID 1 has no number at all (0): it lives outside the
/// namespace. Under `--init` the command's parent is our init, PID 1.
#[rstest]
fn transcript_parent(_host: HostGuard) {
    let mut transcript = Transcript::default();
    let script = "echo \"pid $$, parent $PPID\"";
    for (options, expected) in [
        (&["--quiet"][..], "pid 1, parent 0\n"),
        (&["--quiet", "--init"][..], "pid 2, parent 1\n"),
    ] {
        let mut args = options.to_vec();
        args.extend(["sh", "-c", script]);
        let (code, output) = run_merged("03-pid", &args);
        assert_eq!((code, output.as_str()), (0, expected));
        transcript.lesson("03-pid", &args, &output);
    }
    assert_transcript("03-pid", "parent", &transcript);
}

/// Sends SIGTERM to the lesson binary `times` times, once `ready` is in the
/// narration and the command has exec'd, and returns the transcript: the narration,
/// with a comment line where each signal was sent (the student sends it from a
/// second terminal).
fn sigterm_transcript(args: &[&str], ready: &str, times: usize) -> Transcript {
    let mut running = Running::start("03-pid", args);
    let child = running.container_pid();
    running.wait_for(Source::Stderr, ready);
    wait_until("sleep has exec'd", || {
        pids_in_namespace("pid", ns_inode(&child.to_string(), "pid").unwrap_or(0))
            .iter()
            .any(|pid| {
                std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .is_ok_and(|c| c.trim() == "sleep")
            })
    });
    for sent in 1..=times {
        running.signal(Signal::SIGTERM);
        if sent < times {
            running.wait_for(Source::Stderr, "the kernel drops it");
        }
    }
    let run = running.finish();
    let mut transcript = Transcript::default();
    transcript.lesson("03-pid", args, "");
    for line in run.stderr.lines() {
        if line.contains("got SIGTERM") {
            transcript
                .line("# in a second terminal: sudo kill -TERM $(pidof 03-pid)");
        }
        transcript.line(line);
    }
    transcript.command("echo $?", &format!("{}\n", run.code));
    transcript
}

/// `sleep` as PID 1 has no handler for SIGTERM: the kernel drops the first one, and
/// the lesson binary turns the second into a SIGKILL.
#[rstest]
fn transcript_sigterm_pid_1(_host: HostGuard) {
    let transcript = sigterm_transcript(&["sleep", "30"], "go!", 2);
    assert!(
        transcript.text().ends_with("$ echo $?\n137\n"),
        "{}",
        transcript.text()
    );
    assert_transcript("03-pid", "sigterm-pid-1", &transcript);
}

/// Under `--init`, `sleep` is PID 2, an ordinary process: one SIGTERM, passed on by
/// our init, ends it.
#[rstest]
fn transcript_sigterm_init(_host: HostGuard) {
    let args = ["--init", "sleep", "30"];
    let transcript = sigterm_transcript(&args, "started sleep as pid 2", 1);
    assert!(
        transcript.text().ends_with("$ echo $?\n143\n"),
        "{}",
        transcript.text()
    );
    assert_transcript("03-pid", "sigterm-init", &transcript);
}

/// Even SIGKILL is dropped when it comes from inside the namespace: a shell as PID 1
/// survives `kill -9 $$`. Only SIGKILL from an ancestor namespace always gets
/// through.
#[rstest]
fn transcript_sigkill_from_inside(_host: HostGuard) {
    let args = ["--quiet", "sh", "-c", "kill -9 $$; echo still alive"];
    let (code, output) = run_merged("03-pid", &args);
    assert_eq!((code, output.as_str()), (0, "still alive\n"));
    let mut transcript = Transcript::default();
    transcript.lesson("03-pid", &args, &output);
    assert_transcript("03-pid", "sigkill-from-inside", &transcript);
}

/// If the lesson binary is killed outright (SIGKILL: no chance to clean up), the
/// kernel kills its container too: the child asked for that with PR_SET_PDEATHSIG
/// before it exec'd.
#[rstest]
#[case::no_init(&[])]
#[case::init(&["--init"])]
fn the_container_dies_with_the_lesson_binary(
    _host: HostGuard,
    #[case] options: &[&str],
) {
    let mut args = options.to_vec();
    args.extend(["sh", "-c", "echo up; exec sleep 600"]);
    let mut running = Running::start("03-pid", &args);
    let child = running.container_pid();
    running.wait_for(Source::Stdout, "up");
    running.signal(Signal::SIGKILL);
    let run = running.finish();
    assert_eq!(run.code, 128 + Signal::SIGKILL as i32);
    wait_until("the container is gone", || {
        status_field(child.as_raw(), "State").is_none_or(|s| s.starts_with('Z'))
    });
}
