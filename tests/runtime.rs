//! Proofs for `nsbox`, the runtime (chapter 09): the real binary, read back from
//! the kernel.
//!
//! Every test has its own state root and image store (temporary folders). Each
//! container it makes bind-mounts its network namespace on the host and may use the
//! `nsbox0` bridge, so the tests take the host lock exclusively: one at a time, and
//! the guard checks the host's mount table is as it was.

mod common;

use common::*;
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The namespace `kind` of a process, as the kernel names it (`uts:[4026…]`).
fn namespace(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .display()
        .to_string()
}

/// run -d, ps, exec, logs, stop, ps -a, rm: the lifecycle, each step checked in
/// the kernel.
#[rstest]
fn a_detached_container_lives_on_until_stopped_and_removed(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&[
        "run", "-d", "--name", "box", "busybox", "sh", "-c",
        "echo out; echo err >&2; trap 'echo bye; exit 7' TERM; while :; do sleep 0.1; done",
    ]);
    assert_eq!(id.len(), 12, "{id}");
    let held = nsbox.holdings(&id);
    // The CLI has exited: the container runs on, its parent the monitor.
    assert!(alive(held.pid));
    let monitor = held.monitor.expect("a parent");
    assert_ne!(monitor, std::process::id() as i32);
    // It has namespaces of its own, and its hostname is its id.
    let pid = held.pid.to_string();
    for kind in ["uts", "pid", "net", "mnt", "ipc", "cgroup"] {
        assert_ne!(namespace(&pid, kind), namespace("self", kind), "{kind}");
    }
    let hostname = host_command("nsenter", &["-t", &pid, "-u", "hostname"]);
    assert_eq!(hostname.trim(), id);
    assert!(nsbox.ok(&["ps"]).contains(&id));
    assert!(nsbox.ok(&["ps", "-q"]).lines().any(|l| l == id));
    // exec: in every one of its namespaces, a child of its PID namespace.
    let inside = nsbox.ok(&[
        "exec",
        "box",
        "sh",
        "-c",
        "for ns in uts pid net; do readlink /proc/self/ns/$ns; done; hostname; \
         cat /proc/1/cmdline; echo; cat /sys/class/net/eth0/address",
    ]);
    let lines: Vec<&str> = inside.lines().collect();
    assert_eq!(lines[0], namespace(&pid, "uts"));
    assert_eq!(lines[1], namespace(&pid, "pid_for_children"));
    assert_eq!(lines[2], namespace(&pid, "net"));
    assert_eq!(lines[3], id);
    // Its PID 1, in the /proc it sees, is the container's command.
    assert!(lines[4].starts_with("sh\0-c\0echo out"), "{:?}", lines[4]);
    // ip netns knows it, by the bind mount.
    let netns = host_command(
        "ip",
        &[
            "netns",
            "exec",
            &format!("nsbox-{id}"),
            "cat",
            "/sys/class/net/eth0/address",
        ],
    );
    assert_eq!(netns.trim(), lines[5]);
    // The log: each stream to its own.
    let logs = nsbox.run(&["logs", "box"]);
    assert_eq!(
        (logs.stdout.as_str(), logs.stderr.as_str()),
        ("out\n", "err\n")
    );
    // stop: SIGTERM reaches the trap, the exit code is kept.
    assert_eq!(nsbox.ok(&["stop", "box"]), "box");
    nsbox.check_gone_but_record(&held);
    let all = nsbox.ok(&["ps", "-a"]);
    assert!(all.contains("Exited (7)"), "{all}");
    assert!(!nsbox.ok(&["ps"]).contains(&id));
    assert_eq!(nsbox.ok(&["logs", "box"]), "out\nbye");
    nsbox.ok(&["rm", "box"]);
    nsbox.check_gone(&[held]);
}

impl Nsbox {
    /// A stopped container holds nothing on the host but its folder.
    fn check_gone_but_record(&self, held: &Holdings) {
        assert!(!alive(held.pid));
        for cgroup in &held.cgroups {
            assert!(!cgroup.exists(), "cgroup left: {}", cgroup.display());
        }
        assert!(!held.netns.exists(), "left: {}", held.netns.display());
    }
}

/// The command's exit code comes back; 125, 126, 127 as docker documents them.
#[rstest]
#[case::own_code(&["busybox", "sh", "-c", "exit 3"], 3)]
#[case::not_found(&["busybox", "/no/such/program"], 127)]
#[case::not_runnable(&["busybox", "/etc/passwd"], 126)]
#[case::bad_option(&["--no-such-option", "busybox", "true"], 125)]
#[case::bad_memory(&["--memory", "lots", "busybox", "true"], 125)]
#[case::bad_publish(&["-p", "80", "busybox", "true"], 125)]
#[case::bad_volume(&["-v", "/no/such/folder:/data", "busybox", "true"], 125)]
#[case::unknown_image(&["no.such/image:1", "true"], 125)]
fn exit_codes_are_dockers(
    _host_exclusive: HostGuard,
    #[case] args: &[&str],
    #[case] code: i32,
) {
    let nsbox = Nsbox::new();
    let mut all = vec!["run", "--rm", "--network", "none"];
    all.extend_from_slice(args);
    let run = nsbox.run(&all);
    assert_eq!(run.code, code, "{}{}", run.stdout, run.stderr);
    if code >= 125 {
        // One line says what is wrong (clap adds a hint to try --help).
        let first = run.stderr.lines().next().unwrap_or("");
        assert!(
            first.contains("nsbox run:") || first.starts_with("error:"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.lines().count() <= 3, "{}", run.stderr);
    }
    nsbox.check_gone(&[]);
}

/// Wrong ids and names, a name in use, a port published twice: one line, non-zero,
/// nothing changed.
#[rstest]
fn bad_requests_are_refused_and_change_nothing(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    for args in [
        vec!["logs", "nope"],
        vec!["stop", "nope"],
        vec!["rm", "nope"],
        vec!["exec", "nope", "true"],
        vec!["inspect", "nope"],
    ] {
        let run = nsbox.run(&args);
        assert_ne!(run.code, 0, "{args:?}");
        assert!(run.stderr.contains("'nope'"), "{args:?}: {}", run.stderr);
    }
    let port = free_port().to_string();
    let publish = format!("{port}:80");
    let id = nsbox.ok(&[
        "run", "-d", "--name", "one", "-p", &publish, "busybox", "sleep", "60",
    ]);
    let held = nsbox.holdings(&id);
    let taken = nsbox.run(&["run", "--rm", "--name", "one", "busybox", "true"]);
    assert_eq!(taken.code, 125);
    assert!(taken.stderr.contains("taken"), "{}", taken.stderr);
    let twice = nsbox.run(&["run", "--rm", "-p", &publish, "busybox", "true"]);
    assert_eq!(twice.code, 125, "{}", twice.stderr);
    assert!(
        twice.stderr.contains(&format!("{port}/tcp is published")),
        "{}",
        twice.stderr
    );
    let running = nsbox.run(&["rm", "one"]);
    assert_ne!(running.code, 0);
    assert!(running.stderr.contains("is running"), "{}", running.stderr);
    assert_eq!(
        nsbox.ok(&["ps", "-q", "-a"]),
        id,
        "only the first one is there"
    );
    nsbox.ok(&["rm", "-f", "one"]);
    nsbox.check_gone(&[held]);
}

/// `run -d --init` returns once the command runs: the init, which never execs, holds
/// no file of the monitor's (the "started" pipe, the log, the lock).
#[rstest]
fn a_detached_container_with_init_returns(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&[
        "run",
        "-d",
        "--init",
        "--network",
        "none",
        "busybox",
        "sleep",
        "60",
    ]);
    let held = nsbox.holdings(&id);
    let init = held.pid;
    let open: Vec<String> = std::fs::read_dir(format!("/proc/{init}/fd"))
        .unwrap()
        .flatten()
        .map(|fd| fd.file_name().to_string_lossy().into_owned())
        .filter(|fd| fd.parse::<i32>().unwrap() > 2)
        .map(|fd| {
            let target =
                std::fs::read_link(format!("/proc/{init}/fd/{fd}")).unwrap();
            format!("{fd} -> {}", target.display())
        })
        .collect();
    // The channel to its parent (a socket), its own signalfd, and what any
    // program we start inherits from us (descriptors not closed on exec): nothing
    // the monitor opened.
    let ours = inherited_by_our_children();
    let expected = |f: &String| {
        f.contains("socket:")
            || f.contains("[signalfd]")
            || ours.contains(&f.split(' ').next().unwrap().to_string())
    };
    assert!(open.iter().all(expected), "{open:?} (ours: {ours:?})");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// The descriptors above 2 that this test process does not close on exec.
fn inherited_by_our_children() -> Vec<String> {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let open: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .flatten()
        .filter_map(|fd| fd.file_name().to_str()?.parse().ok())
        .collect();
    open.into_iter()
        .filter(|&fd| fd > 2)
        .filter(|&fd| {
            // SAFETY: a number from /proc/self/fd; fcntl fails if it was closed.
            let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
            fcntl(borrowed, FcntlArg::F_GETFD).is_ok_and(|flags| {
                !FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC)
            })
        })
        .map(|fd| fd.to_string())
        .collect()
}

/// -p: the host reaches a server in the container on 127.0.0.1.
#[rstest]
fn a_published_port_answers_on_loopback(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let port = free_port();
    let id = nsbox.ok(&[
        "run",
        "-d",
        "-p",
        &format!("{port}:80"),
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/etc",
    ]);
    let held = nsbox.holdings(&id);
    let answer = fetch(port, "/hostname");
    assert!(answer.ends_with(&format!("\r\n\r\n{id}\n")), "{answer}");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// -v brings a host folder in (read-only with :ro); --rm leaves nothing; -e, -w and
/// the image's environment reach the command.
#[rstest]
fn volumes_environment_and_rm(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let folder = TempDir::new("runtime-volume");
    let rw = format!("{}:/data", folder.path.display());
    let ro = format!("{}:/ro:ro", folder.path.display());
    let run = nsbox.run(&[
        "run", "--rm", "--network", "none", "-v", &rw, "-v", &ro, "-e", "GREETING=hi", "-w", "/work",
        "busybox", "sh", "-c",
        "echo $GREETING > /data/written; pwd; touch /ro/no 2>/dev/null || echo refused",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "/work\nrefused\n");
    let written = std::fs::read_to_string(folder.path.join("written")).unwrap();
    assert_eq!(written, "hi\n");
    assert!(!folder.path.join("no").exists());
    nsbox.check_gone(&[]);
}

/// SIGKILL to the monitor, or to a foreground `nsbox run`: the container dies with
/// it, and `rm -f` removes all it held.
#[rstest]
#[case::monitor(true)]
#[case::foreground_cli(false)]
fn killed_at_any_point_rm_f_cleans_up(
    _host_exclusive: HostGuard,
    #[case] detached: bool,
) {
    let nsbox = Nsbox::new();
    let (id, held) = if detached {
        let id = nsbox.ok(&["run", "-d", "busybox", "sleep", "60"]);
        let held = nsbox.holdings(&id);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(held.monitor.unwrap()),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        (id, held)
    } else {
        let cli =
            Running::from_command(nsbox.command(&["run", "busybox", "sleep", "60"]));
        let id = wait_for_a_container(&nsbox.root.path);
        wait_for("the container to run", || {
            nsbox.record(&id)["status"] == "running"
        });
        let held = nsbox.holdings(&id);
        nix::sys::signal::kill(cli.pid(), nix::sys::signal::Signal::SIGKILL)
            .unwrap();
        (id, held)
    };
    wait_for("the container to die with its parent", || !alive(held.pid));
    let all = nsbox.ok(&["ps", "-a"]);
    assert!(all.contains(&id) && all.contains("Exited"), "{all}");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// The first container folder that has a record.
fn wait_for_a_container(root: &Path) -> String {
    let mut found = None;
    wait_for("a container", || {
        found = std::fs::read_dir(root).ok().and_then(|d| {
            d.flatten()
                .find(|e| e.path().join("state.json").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
        });
        found.is_some()
    });
    found.unwrap()
}

/// Fifty detached containers: started, listed, stopped and removed, nothing left.
#[rstest]
fn fifty_detached_containers_leave_nothing(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let ids: Vec<String> = (0..50)
        .map(|_| nsbox.ok(&["run", "-d", "busybox", "sleep", "60"]))
        .collect();
    let holdings: Vec<Holdings> = ids.iter().map(|id| nsbox.holdings(id)).collect();
    let listed = nsbox.ok(&["ps", "-q"]);
    assert_eq!(listed.lines().count(), 50, "{listed}");
    let mut stop = vec!["stop", "-t", "0"];
    stop.extend(ids.iter().map(String::as_str));
    nsbox.ok(&stop);
    assert_eq!(nsbox.ok(&["ps", "-q"]), "");
    let mut rm = vec!["rm"];
    rm.extend(ids.iter().map(String::as_str));
    nsbox.ok(&rm);
    nsbox.check_gone(&holdings);
}

// ---------------------------------------------------------------------------------------------
// Transcripts for chapter 09: the commands as the reader types them (`cargo run -q
// --bin nsbox -- …`, with the default folders), run with this test's own.

/// Chapter 09's first session: run in the foreground and with -d, logs and the log
/// file (ps, checked here, is wider than the book); stop (a PID 1 that ignores SIGTERM is killed after the grace period),
/// rm. What the transcript shows is also checked here.
#[rstest]
fn transcript_run_ps_logs_stop_rm(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    let (code, out) =
        session.nsbox(&["run", "--name", "hello", "busybox", "echo", "hello"]);
    assert_eq!((code, out.as_str()), (0, "hello\n"));
    let (code, id) = session.nsbox(&[
        "run",
        "-d",
        "--name",
        "talk",
        "busybox",
        "sh",
        "-c",
        "echo hi; sleep 1; echo oops >&2; sleep 1000",
    ]);
    assert_eq!(code, 0);
    let id = id.trim().to_string();
    let held = nsbox.holdings(&id);
    // ps is wider than the book: the chapter has the reader type it.
    let table = nsbox.ok(&["ps", "-a"]);
    assert!(
        table.contains("Exited (0)") && table.contains("Up "),
        "{table}"
    );
    // Two pipes, two copiers: a second apart, the lines come in order.
    let log = format!("{}/{id}/container.log", nsbox.root.path.display());
    wait_for("the second line in the log", || {
        std::fs::read_to_string(&log).is_ok_and(|text| text.contains("oops"))
    });
    let (code, logs) = session.nsbox(&["logs", "talk"]);
    assert_eq!((code, logs.as_str()), (0, "hi\noops\n"));
    let (code, text) = session.shell(
        &format!("sudo cat /run/nsbox/{id}/container.log"),
        &format!("cat {log}"),
    );
    assert_eq!(code, 0);
    assert!(text.contains(" stdout F hi\n") && text.contains(" stderr F oops\n"));
    assert_transcript("09-runtime", "run", &session.transcript);

    // stop: sleep, PID 1 with no handler, ignores SIGTERM; SIGKILL after 2 s.
    let mut session = Session::new(&nsbox);
    let started = Instant::now();
    let (code, _) = session.nsbox(&["stop", "-t", "2", "talk"]);
    assert_eq!(code, 0);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "killed at once"
    );
    nsbox.check_gone_but_record(&held);
    let table = nsbox.ok(&["ps", "-a"]);
    assert!(table.contains("Exited (137)"), "{table}");
    let (code, text) = session.shell(
        &format!("sudo cat /run/nsbox/{id}/exit-code"),
        &format!("cat {}/{id}/exit-code", nsbox.root.path.display()),
    );
    assert_eq!((code, text.as_str()), (0, "137\n"));
    let (code, removed) = session.nsbox(&["rm", "talk", "hello"]);
    assert_eq!((code, removed.as_str()), (0, "talk\nhello\n"));
    assert!(!nsbox.root.path.join(&id).exists(), "rm left its folder");
    assert_transcript("09-runtime", "stop", &session.transcript);
    nsbox.check_gone(&[held]);
}

/// Chapter 09's exec: `nsbox exec` and `nsenter` see the same container (its PID
/// 1, its hostname), and `ip netns exec` its network, through the bind mount.
#[rstest]
fn transcript_exec_nsenter_netns(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    let (code, id) =
        session.nsbox(&["run", "-d", "--name", "box", "busybox", "sleep", "1000"]);
    assert_eq!(code, 0);
    let id = id.trim().to_string();
    let held = nsbox.holdings(&id);
    let pid = held.pid;
    let (code, ps) = session.nsbox(&["exec", "box", "ps"]);
    assert_eq!(code, 0);
    assert!(ps.contains("    1 root     sleep 1000"), "{ps}");
    let (_, hostname) = session.nsbox(&["exec", "box", "hostname"]);
    assert_eq!(hostname.trim(), id);
    let (code, line) = session.shell(
        r#"cargo run -q --bin nsbox -- inspect box | grep '"Pid"'"#,
        &format!(
            r#"{} --root {} inspect box | grep '"Pid"'"#,
            bin("nsbox"),
            nsbox.root.path.display()
        ),
    );
    assert_eq!(code, 0);
    assert_eq!(line.trim(), format!(r#""Pid": {pid},"#));
    let (code, ps) = session.shell(
        &format!("sudo nsenter --target {pid} --all ps"),
        &format!("nsenter --target {pid} --all ps"),
    );
    assert_eq!(code, 0);
    assert!(ps.contains("    1 root     sleep 1000"), "{ps}");
    let (_, hostname) = session.shell(
        &format!("sudo nsenter --target {pid} --all hostname"),
        &format!("nsenter --target {pid} --all hostname"),
    );
    assert_eq!(hostname.trim(), id);
    let netns = format!("nsbox-{id}");
    let (code, names) = session.shell("ls /run/netns", "ls /run/netns");
    assert_eq!((code, names.trim()), (0, netns.as_str()));
    let (code, addresses) = session.shell(
        &format!("sudo ip netns exec {netns} ip -br -4 addr"),
        &format!("ip netns exec {netns} ip -br -4 addr"),
    );
    assert_eq!(code, 0);
    assert!(addresses.contains("10.89.0."), "{addresses}");
    // The same namespace as the container's process.
    let inode = host_command(
        "ip",
        &["netns", "exec", &netns, "readlink", "/proc/self/ns/net"],
    );
    assert_eq!(inode.trim(), namespace(&pid.to_string(), "net"));
    assert_transcript("09-runtime", "exec", &session.transcript);
    nsbox.ok(&["rm", "-f", "box"]);
    nsbox.check_gone(&[held]);
}

/// Chapter 09's images: an image of two layers (the second replaces a file of the
/// first and deletes another with a whiteout), pushed to a registry of the test's
/// own on 127.0.0.1, then pulled, listed, run and removed.
#[rstest]
fn transcript_pull_images_run_rmi(_host_exclusive: HostGuard) {
    use common::registry::{Compression, ImageLayout, LayerTar, Registry};
    let nsbox = Nsbox::new();
    let registry = Registry::start("chapter-09");
    let architecture = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no test platform for {other}"),
    };
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static");
    let mut base = LayerTar::new().file_owned("bin/busybox", &busybox, 0o755, 0);
    for tool in ["sh", "cat", "ls"] {
        base = base.symlink(&format!("bin/{tool}"), "busybox");
    }
    let base = base
        .file("etc/motd", b"from the first layer\n")
        .file("etc/old", b"deleted by the second layer\n")
        .finish();
    let top = LayerTar::new()
        .file("etc/motd", b"from the second layer\n")
        .file("etc/.wh.old", b"")
        .finish();
    let config = serde_json::json!({
        "Cmd": ["sh", "-c", "cat /etc/motd; ls /etc"],
        "Env": ["PATH=/bin"],
    });
    let mut layout = ImageLayout::new(&registry.dir.join("layout"));
    let layers = [(base, Compression::Gzip), (top, Compression::Gzip)];
    let built = layout.image(&layers, config, architecture);
    layout.tag(&built, "1");
    let image = format!("{}/course/hello:1", registry.host());
    registry.push(&layout.dir, "1", &image);

    let mut session = Session::new(&nsbox);
    session.port = Some(registry.port.to_string());
    let (code, _) = session.nsbox(&["pull", &image]);
    assert_eq!(code, 0);
    for diff_id in &built.diff_ids {
        let layer = nsbox.storage.path.join("layers").join(&diff_id[7..]);
        assert!(layer.is_dir(), "no layer {}", layer.display());
    }
    let (code, listed) = session.nsbox(&["images"]);
    assert_eq!(code, 0);
    assert!(listed.contains("course/hello"), "{listed}");
    let (code, ran) = session.nsbox(&["run", "--rm", "--network", "none", &image]);
    assert_eq!(
        (code, ran.as_str()),
        (
            0,
            "from the second layer\nhostname\nhosts\nmotd\nresolv.conf\n"
        )
    );
    let (code, _) = session.nsbox(&["rmi", &image]);
    assert_eq!(code, 0);
    let layers = nsbox.storage.path.join("layers");
    let left = std::fs::read_dir(&layers).map_or(0, |d| d.count());
    assert_eq!(left, 0, "rmi left layers");
    assert_transcript("09-runtime", "pull", &session.transcript);
    drop(registry);
    nsbox.check_gone(&[]);
}

/// `logs -f` prints what comes while the container runs and returns when it ends;
/// `kill -s` delivers the signal named (its handler's exit code proves it came).
#[rstest]
fn logs_follow_and_kill_deliver(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got USR1; exit 5' USR1; echo first; while :; do sleep 0.1; done",
    ]);
    let held = nsbox.holdings(&id);
    let mut follow = Running::from_command(nsbox.command(&["logs", "-f", &id]));
    follow.wait_for(Source::Stdout, "first");
    assert_eq!(nsbox.ok(&["kill", "-s", "USR1", &id]), id);
    let followed = follow.finish();
    assert_eq!(followed.code, 0, "{}", followed.stderr);
    assert_eq!(followed.stdout, "first\ngot USR1\n");
    wait_for("the monitor to write the exit code", || {
        nsbox.ok(&["ps", "-a"]).contains("Exited (5)")
    });
    let unknown = nsbox.run(&["kill", "-s", "NOPE", &id]);
    assert_eq!(unknown.code, 125, "{}", unknown.stderr);
    nsbox.ok(&["rm", &id]);
    nsbox.check_gone(&[held]);
}

/// SIGKILL to a foreground `nsbox run` at any moment of its start (it is the
/// monitor too), then `rm -f` of whatever `ps -a` shows: nothing is left. The
/// delays cover every step from before its first record to the running command.
#[rstest]
fn killed_at_any_moment_of_its_start_rm_f_leaves_nothing(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    for delay in (0..60).step_by(3) {
        let cli =
            Running::from_command(nsbox.command(&["run", "busybox", "sleep", "60"]));
        std::thread::sleep(Duration::from_millis(delay));
        nix::sys::signal::kill(cli.pid(), nix::sys::signal::Signal::SIGKILL)
            .unwrap();
        drop(cli);
        for id in nsbox.ok(&["ps", "-a", "-q"]).lines() {
            nsbox.ok(&["rm", "-f", id]);
        }
        nsbox.check_gone(&[]);
        let netns: Vec<_> = std::fs::read_dir("/run/netns")
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(netns.is_empty(), "killed after {delay} ms: {netns:?}");
        let cgroups = container_cgroups(Path::new("/sys/fs/cgroup"), 3);
        assert!(cgroups.is_empty(), "killed after {delay} ms: {cgroups:?}");
    }
}

/// Containers' cgroup folders (`nsbox-` and 12 hex digits) down to `depth` levels.
fn container_cgroups(dir: &Path, depth: usize) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten().filter(|e| e.path().is_dir()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let id = name.strip_prefix("nsbox-").unwrap_or("");
        if id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit()) {
            found.push(entry.path());
        } else if depth > 1 {
            found.extend(container_cgroups(&entry.path(), depth - 1));
        }
    }
    found
}
