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
/// an ordinary process (PID 2) whose default action for the signal is to die: our
/// init must pass the signal on, and then reap the command and exit as it did.
#[rstest]
#[case::sigint(Signal::SIGINT)]
#[case::sigterm(Signal::SIGTERM)]
#[case::sighup(Signal::SIGHUP)]
fn signal_reaches_the_command_under_init(_host: HostGuard, #[case] signal: Signal) {
    let mut running = Running::start("03-pid", &["--init", "sleep", "30"]);
    let init = running.container_pid();
    let pid_ns = ns_inode(&init.to_string(), "pid").unwrap();
    running.wait_for(Source::Stderr, "started sleep as pid 2");
    running.signal(signal);
    // Read from the kernel: the command is gone (reaped, not even a zombie) soon.
    let sleep_left = || {
        pids_in_namespace("pid", pid_ns)
            .into_iter()
            .filter(|pid| comm(*pid) == "sleep")
            .map(|pid| (pid, status_field(pid, "State").unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    let gone = within(Duration::from_secs(5), || sleep_left().is_empty());
    assert!(
        gone,
        "nsbox-init did not pass {} on to the command, or did not reap it: 5 s \
         later it still exists (host pid, State): {:?}",
        signal.as_str(),
        sleep_left()
    );
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

/// A subshell starts three `sleep 1` in the background and exits: they are orphans,
/// and the kernel makes PID 1 their parent. They end at the same moment, so PID 1
/// may get one SIGCHLD for all three. (A whole second, so that the subshell has
/// surely exited first, even on a slow emulated machine: a sleep that ended while
/// the subshell still ran could be collected by the subshell itself, and there would
/// be no orphan.) Our init reaps them all; `sleep 30` as PID 1 never does, so they
/// stay zombies until the namespace dies.
#[rstest]
#[case::init_reaps_it(&["--init"], false)]
#[case::sleep_as_pid_1_does_not(&[], true)]
fn orphan_is_reaped_by_init(
    _host: HostGuard,
    #[case] options: &[&str],
    #[case] zombies_stay: bool,
) {
    let mut args = options.to_vec();
    args.extend(["sh", "-c", "(sleep 1 & sleep 1 & sleep 1 &); exec sleep 30"]);
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
    // Find the orphans while they run, then wait until they have exited. (Waiting
    // for "nothing but init and sleep 30 left" is not enough: a scan of /proc taken
    // just before the subshell forked, with sh's command line read just after it
    // exec'd `sleep 30`, looks the same, and then the orphans are not even there
    // yet.)
    let cmdline = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default()
    };
    let mut orphans = Vec::new();
    wait_until("the three orphans run", || {
        orphans = pids_in_namespace("pid", pid_ns)
            .into_iter()
            .filter(|pid| cmdline(*pid) == "sleep\x001\x00")
            .collect();
        orphans.len() == 3
    });
    let running_still =
        |pid: i32| status_field(pid, "State").is_some_and(|s| !s.starts_with('Z'));
    wait_until("the orphans have exited", || {
        !orphans.iter().any(|pid| running_still(*pid))
    });
    if zombies_stay {
        // Nobody will ever wait for them: they are still zombies a while later.
        std::thread::sleep(Duration::from_millis(300));
        let found = zombies();
        assert_eq!(found.len(), 3, "expected three zombies, found {found:?}");
        for zombie in found {
            let parent = status_field(zombie, "PPid").unwrap();
            assert_eq!(parent, child.to_string(), "a zombie's parent is PID 1");
        }
        running.signal(Signal::SIGTERM);
        running.wait_for(Source::Stderr, "the kernel drops it");
        running.signal(Signal::SIGTERM);
    } else {
        let reaped = within(Duration::from_secs(5), || zombies().is_empty());
        let left: Vec<String> = zombies()
            .iter()
            .map(|pid| {
                let parent = status_field(*pid, "PPid").unwrap_or_default();
                format!("host pid {pid} (parent {parent})")
            })
            .collect();
        assert!(
            reaped,
            "nsbox-init (host pid {child}) did not reap its orphans: they ended, \
             and are still zombies: {}",
            left.join(", ")
        );
        running.signal(Signal::SIGTERM);
    }
    let run = running.finish();
    let reports = run.stderr.matches("reaped orphan pid").count();
    assert_eq!(
        reports,
        if zombies_stay { 0 } else { 3 },
        "narration: {}",
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

/// Waits up to `limit` for `condition`; false if it never held.
fn within(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    true
}

/// The program name of a process (`/proc/<pid>/comm`), or "" once it is gone.
fn comm(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_default()
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
/// narration and the command has exec'd, and returns the transcript of the first
/// terminal: the narration, where each `got SIGTERM` line marks a signal the
/// student sent from a second terminal.
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
        transcript.line(line);
    }
    transcript.command("echo $?", &format!("{}\n", run.code));
    transcript
}

/// Chapter 03, exercise 2: a shell as PID 1 that installs a handler for SIGTERM gets
/// it, and exits with the code its handler chose.
#[rstest]
fn transcript_handler(_host: HostGuard) {
    let args = [
        "sh",
        "-c",
        "trap \"echo bye; exit 0\" TERM; sleep 60 & wait",
    ];
    let mut running = Running::start("03-pid", &args);
    let child = running.container_pid();
    running.wait_for(Source::Stderr, "go!");
    // The trap is set once the shell has started `sleep 60`, its only child.
    wait_until("the shell has started sleep", || {
        pids_in_namespace("pid", ns_inode(&child.to_string(), "pid").unwrap_or(0))
            .iter()
            .any(|pid| comm(*pid) == "sleep")
    });
    running.signal(Signal::SIGTERM);
    let run = running.finish();
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "bye\n"),
        "{}",
        run.stderr
    );
    // The terminal shows `bye` after the narration saw the signal arrive.
    let mut output = String::new();
    for line in run.stderr.lines() {
        output.push_str(line);
        output.push('\n');
        if line.contains("got SIGTERM") {
            output.push_str(&run.stdout);
        }
    }
    let mut transcript = Transcript::default();
    transcript.lesson("03-pid", &args, &output);
    transcript.command("echo $?", "0\n");
    assert_transcript("03-pid", "handler", &transcript);
}

/// Chapter 03, exercise 3: an orphan whose PID 1 never waits stays a zombie, as
/// `ps` on the host shows.
#[rstest]
fn transcript_zombie(_host: HostGuard) {
    let mut running =
        Running::start("03-pid", &["sh", "-c", "(sleep 1 &); exec sleep 60"]);
    let child = running.container_pid();
    let pid_ns = ns_inode(&child.to_string(), "pid").unwrap();
    running.wait_for(Source::Stderr, "go!");
    // The orphan `sleep 1`, a zombie whose parent is PID 1. (The subshell is a
    // zombie for a moment too, until the shell reaps it.)
    let zombie = || {
        pids_in_namespace("pid", pid_ns).into_iter().find(|pid| {
            status_field(*pid, "State").is_some_and(|s| s.starts_with('Z'))
                && comm(*pid) == "sleep"
                && status_field(*pid, "PPid") == Some(child.to_string())
        })
    };
    wait_until("the orphan is a zombie", || zombie().is_some());
    let zombie = zombie().unwrap();
    let listed = host_command(
        "ps",
        &["-o", "pid,ppid,stat,comm", "--ppid", &child.to_string()],
    );
    running.signal(Signal::SIGKILL);
    running.finish();
    assert!(listed.contains(" Z"), "{listed}");
    // Host pids vary: the zombie's and its parent's become placeholders, in
    // columns as ps lays them out.
    let listed: String = listed
        .lines()
        .map(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .map(|w| {
                    let host_pid = [zombie, child.as_raw()]
                        .iter()
                        .any(|pid| w == pid.to_string());
                    if host_pid {
                        "[PID]".into()
                    } else {
                        w.to_string()
                    }
                })
                .collect();
            let [pid, ppid, stat, rest @ ..] = words.as_slice() else {
                panic!("a line of ps with fewer than 4 columns: {line}");
            };
            format!("{pid:>5} {ppid:>5} {stat:<4} {}\n", rest.join(" "))
        })
        .collect();
    let mut transcript = Transcript::default();
    transcript.command("ps -o pid,ppid,stat,comm --ppid <pid>", &listed);
    assert_transcript("03-pid", "zombie", &transcript);
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
