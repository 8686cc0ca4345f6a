//! The lifecycle as separate library calls: create, start, state, kill, delete, with
//! the kernel's view checked between them, and `delete` cleaning up from the state
//! record alone after the process that created the container was SIGKILLed.
//!
//! These tests call the library from the test process. Two things a lesson binary
//! never meets follow from that:
//! - `clone(2)` from a process with several threads: the child gets a copy of one
//!   thread only. One test at a time makes containers (the `ONE_AT_A_TIME` lock),
//!   so no other test thread is inside the library when it clones.
//! - `wait` reads SIGCHLD from a signalfd, which works only if every thread blocks
//!   SIGCHLD (else the kernel may hand it to another thread). So these tests do not
//!   call `wait`: they `kill` and reap the container themselves.

mod common;

use common::*;
use nix::sys::signal::Signal;
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid};
use nsbox::container::cgroup::{Limits, PidCount};
use nsbox::container::net::{DEFAULT_BRIDGE, DEFAULT_SUBNET, NetworkConfig};
use nsbox::container::{
    Container, ContainerId, Error, Namespace, Narrator, Status, lifecycle,
};
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn quiet() -> Narrator {
    Narrator::new("lifecycle", true)
}

fn id(text: &str) -> ContainerId {
    ContainerId::new(text).unwrap()
}

/// A name no other test run on this machine uses at the same time (cgroups are
/// shared by the whole host).
fn unique(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// `sleep 600` in new UTS, IPC, PID and mount namespaces, in a cgroup of its own.
fn sleeper(name: &str) -> Container {
    Container::new(vec!["sleep".into(), "600".into()])
        .id(id(name))
        .namespaces([
            Namespace::Uts,
            Namespace::Ipc,
            Namespace::Pid,
            Namespace::Mount,
        ])
        .hostname("box")
        .limits(Limits {
            pids: Some(PidCount(20)),
            ..Limits::default()
        })
}

/// The sleeper with a network namespace, wired to the default bridge (removed when
/// its last container goes), with NAT or not, its files under `root`.
fn networked_sleeper(name: &str, root: &Path, nat: bool) -> Container {
    sleeper(name)
        .namespaces([Namespace::Net])
        .network(Some(NetworkConfig {
            bridge: DEFAULT_BRIDGE.into(),
            subnet: DEFAULT_SUBNET.parse().unwrap(),
            address: None,
            state_dir: root.to_path_buf(),
            remove_bridge: true,
            nat,
            publish: Vec::new(),
            publish_on_loopback: false,
        }))
}

fn comm(pid: Pid) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

fn cgroup_dirs(root: &Path, name: &str) -> Vec<PathBuf> {
    lifecycle::state(root, &id(name)).unwrap().cleanup.cgroup
}

/// Kills the container by its id, reaps it (it is our child), and deletes it.
fn kill_and_delete(root: &Path, name: &str, pid: Pid) {
    lifecycle::kill(root, &id(name), Signal::SIGKILL).unwrap();
    waitpid(pid, None).unwrap();
    let state = lifecycle::state(root, &id(name)).unwrap();
    assert_eq!(state.status, Status::Stopped, "killed, it is stopped");
    lifecycle::delete(root, &id(name), &quiet()).unwrap();
}

#[rstest]
fn create_start_kill_delete_are_separate_calls(_host: HostGuard) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("lifecycle");
    let root = dir.path.join("state");
    let one = &unique("one");
    let mut created = lifecycle::create(&sleeper(one), &root, &quiet()).unwrap();
    let pid = created.pid();
    let state = lifecycle::state(&root, &id(one)).unwrap();
    assert_eq!(state.status, Status::Created);
    assert_eq!(state.pid, pid.as_raw());
    assert_eq!(state.oci_version, "1.0.2");
    // Created: the child exists, in new namespaces and in its cgroup, and waits at
    // the door: it is still a copy of this test program, not sleep.
    let ours = ns_inode("self", "uts").unwrap();
    assert_ne!(ns_inode(&pid.to_string(), "uts"), Some(ours));
    assert_ne!(comm(pid), "sleep", "the command ran before start");
    let cgroups = cgroup_dirs(&root, one);
    assert!(!cgroups.is_empty());
    for dir in &cgroups {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
        assert!(
            procs.contains(&pid.to_string()),
            "{}: {procs}",
            dir.display()
        );
    }
    lifecycle::start(&mut created, &quiet()).unwrap();
    assert_eq!(
        lifecycle::state(&root, &id(one)).unwrap().status,
        Status::Running
    );
    assert_eq!(comm(pid), "sleep", "start let the command run");
    kill_and_delete(&root, one, pid);
    drop(created);
    assert!(!root.join(one).exists(), "the state folder is gone");
    for dir in &cgroups {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(matches!(
        lifecycle::state(&root, &id(one)),
        Err(Error::NoSuchContainer { .. })
    ));
}

#[rstest]
fn two_containers_with_the_same_command_at_once(_host: HostGuard) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("lifecycle-two");
    let root = dir.path.join("state");
    let (name_a, name_b) = (&unique("twin-a"), &unique("twin-b"));
    let mut a = lifecycle::create(&sleeper(name_a), &root, &quiet()).unwrap();
    let mut b = lifecycle::create(&sleeper(name_b), &root, &quiet()).unwrap();
    let again = lifecycle::create(&sleeper(name_a), &root, &quiet());
    assert!(
        matches!(again, Err(Error::ContainerExists { .. })),
        "an id in use is refused"
    );
    lifecycle::start(&mut a, &quiet()).unwrap();
    lifecycle::start(&mut b, &quiet()).unwrap();
    assert_ne!(a.pid(), b.pid());
    assert_eq!(comm(a.pid()), "sleep");
    assert_eq!(comm(b.pid()), "sleep");
    let (dirs_a, dirs_b) = (cgroup_dirs(&root, name_a), cgroup_dirs(&root, name_b));
    assert_ne!(dirs_a, dirs_b, "each has its own cgroup");
    kill_and_delete(&root, name_a, a.pid());
    assert_eq!(
        lifecycle::state(&root, &id(name_b)).unwrap().status,
        Status::Running,
        "deleting one leaves the other running"
    );
    kill_and_delete(&root, name_b, b.pid());
    drop((a, b));
    for dir in dirs_a.iter().chain(&dirs_b) {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(!root.exists(), "the state root is removed once empty");
}

/// `exec` joins a running container's namespaces (through a pidfd) and cgroup: the
/// command sees the container's hostname and is a small pid in its PID namespace.
#[rstest]
fn exec_joins_a_running_container(_host: HostGuard) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let dir = TempDir::new("lifecycle-exec");
    let root = dir.path.join("state");
    let name = &unique("exec");
    let mut created = lifecycle::create(&sleeper(name), &root, &quiet()).unwrap();
    let not_yet = lifecycle::exec(&root, &id(name), &["true".into()]);
    assert!(
        matches!(not_yet, Err(Error::NotRunning { .. })),
        "{not_yet:?}"
    );
    lifecycle::start(&mut created, &quiet()).unwrap();
    let seen = dir.path.join("seen");
    let script = format!(
        "{{ hostname; readlink /proc/self/ns/uts; echo $$; \
         cat /proc/self/cgroup; }} > {}",
        seen.display()
    );
    let command = ["sh".to_string(), "-c".into(), script];
    let ending = lifecycle::exec(&root, &id(name), &command).unwrap();
    assert_eq!(ending.shell_code(), 0);
    let seen = std::fs::read_to_string(&seen).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[0], "box", "{seen}");
    let uts = std::fs::read_link(format!("/proc/{}/ns/uts", created.pid())).unwrap();
    assert_eq!(lines[1], uts.to_str().unwrap(), "{seen}");
    let inside: i32 = lines[2].parse().unwrap();
    assert!(
        inside > 1 && inside < 10,
        "pid {inside} in the container: {seen}"
    );
    assert!(
        seen.contains(&format!("nsbox-{name}")),
        "not in its cgroup: {seen}"
    );
    let failed = lifecycle::exec(&root, &id(name), &["false".into()]).unwrap();
    assert_eq!(failed.shell_code(), 1);
    let pid = created.pid();
    kill_and_delete(&root, name, pid);
    drop(created);
    assert!(!root.exists(), "the state root is left");
}

/// A lesson binary as the starter: its container is named after its pid, and its
/// record is in /run/nsbox. SIGKILLed while its container runs, it cleans up
/// nothing; `delete`, from the record, removes its cgroup and state folder.
#[rstest]
fn delete_cleans_up_after_a_killed_lesson(_host: HostGuard) {
    let args = ["--network", "none", "--pids", "20", "sleep", "600"];
    let lesson = Running::start("07-cgroups", &args);
    let root = Path::new(nsbox::container::state::DEFAULT_ROOT);
    let name = &lesson.pid().to_string();
    wait_until("the lesson's container runs", || {
        lifecycle::state(root, &id(name)).is_ok_and(|s| s.status == Status::Running)
    });
    let state = lifecycle::state(root, &id(name)).unwrap();
    assert!(!state.cleanup.cgroup.is_empty());
    assert!(state.cleanup.cgroup.iter().all(|dir| dir.exists()));
    lesson.signal(Signal::SIGKILL);
    let run = lesson.finish();
    assert_eq!(run.code, 137, "{}", run.stderr);
    wait_until("the container is gone", || {
        lifecycle::state(root, &id(name)).unwrap().status == Status::Stopped
    });
    assert!(root.join(name).exists(), "the record outlives the lesson");
    lifecycle::delete(root, &id(name), &quiet()).unwrap();
    for dir in &state.cleanup.cgroup {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(!root.join(name).exists(), "the state folder is left");
}

/// When the starter is killed.
#[derive(Clone, Copy, Debug)]
enum Stage {
    AfterCreate,
    Running,
}

/// The starter is SIGKILLed after `create` (before `start`), or while the container
/// runs; `delete`, from the record alone, leaves nothing: no veth, lease, NAT rule,
/// cgroup or state folder. The network lives in a network namespace of this test
/// thread's own, so the host's is never touched.
#[rstest]
fn delete_cleans_up_after_a_killed_starter(
    _host: HostGuard,
    #[values(Stage::AfterCreate, Stage::Running)] stage: Stage,
) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // Only this thread moves to the new network namespace, and the programs it
    // starts (`nft`) with it.
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let dir = TempDir::new("lifecycle-crash");
    let root = dir.path.join("state");
    let name = unique(&format!("crash-{}", format!("{stage:?}").to_lowercase()));
    let container = networked_sleeper(&name, &root, true);
    let starter = fork_starter(&container, &root, stage);
    let state = lifecycle::state(&root, &id(&name)).unwrap();
    let expected = match stage {
        Stage::AfterCreate => Status::Created,
        Stage::Running => Status::Running,
    };
    assert_eq!(state.status, expected);
    let network = state.cleanup.network.clone().expect("a network record");
    assert!(links().contains(&network.host_end), "{}", links());
    let leases = root.join("net").join(format!("{DEFAULT_BRIDGE}.leases"));
    let held = std::fs::read_to_string(&leases).unwrap();
    assert_eq!(held, format!("{} {name}\n", network.address));
    assert!(nft_rules().contains(&network.nat_tag), "{}", nft_rules());
    nix::sys::signal::kill(starter, Signal::SIGKILL).unwrap();
    waitpid(starter, None).unwrap();
    wait_until("the container is gone", || {
        lifecycle::state(&root, &id(&name)).unwrap().status == Status::Stopped
    });
    lifecycle::delete(&root, &id(&name), &quiet()).unwrap();
    // The container's network namespace died with it, and the kernel deletes the
    // pair when it frees the namespace, a moment later.
    let left = wait_until_gone(std::slice::from_ref(&network.host_end), veths);
    assert!(left.is_empty(), "a veth is left: {}", links());
    assert!(!links().contains("nsb"), "a veth is left: {}", links());
    assert!(!leases.exists(), "the lease is left");
    assert!(!nft_rules().contains("nsbox"), "{}", nft_rules());
    for dir in &state.cleanup.cgroup {
        assert!(!dir.exists(), "{} is left", dir.display());
    }
    assert!(!root.exists(), "the state root is left");
}

/// 07-cgroups with a cgroup, a network and NAT, SIGKILLed right after each line of
/// its narration in turn: while it makes the cgroup, leases the address, clones,
/// writes maps, makes the veth and the rules, runs the command, and while it cleans
/// up. Each time, `delete` from whatever record is left must leave nothing: no
/// cgroup, veth, lease, NAT rule, `ip_forward` change or state folder. Runs in a
/// network namespace of this test thread's own (the lessons it starts join it).
/// 08-rootfs the same, with its own root: its layer is in the state folder, and
/// its mounts in its own mount namespace (the host guard compares the host's).
#[rstest]
#[case::cgroups("07-cgroups")]
#[case::rootfs("08-rootfs")]
fn delete_cleans_up_after_the_starter_is_killed_at_any_step(
    _host: HostGuard,
    #[case] lesson: &str,
) {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let dir = TempDir::new("lifecycle-every-step");
    let root = dir.path.join("state");
    let root_text = root.display().to_string();
    let (uid, gid) = invoking_user();
    let owner = nsbox::container::image::Owner { uid, gid };
    let busybox = Path::new(nsbox::container::image::HOST_BUSYBOX);
    let image = nsbox::container::image::busybox_image(&dir.path, busybox, owner)
        .unwrap()
        .display()
        .to_string();
    let mut args = vec!["--state-dir", &root_text, "--nat", "--memory", "50M"];
    if lesson == "08-rootfs" {
        args.extend(["--rootfs", &image]);
    }
    args.extend(["--", "true"]);
    let whole = Running::start(lesson, &args).finish();
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let steps = whole.stderr.lines().count();
    assert!(steps > 15, "a short narration: {}", whole.stderr);
    assert_nothing_left(&root, &whole_name(&whole));
    for step in 1..=steps {
        let mut lesson = Running::start(lesson, &args);
        let name = lesson.pid().to_string();
        let last = lesson.wait_for_lines(Source::Stderr, step);
        lesson.signal(Signal::SIGKILL);
        let run = lesson.finish();
        match lifecycle::delete(&root, &id(&name), &quiet()) {
            Ok(()) | Err(Error::NoSuchContainer { .. }) => {}
            Err(error) => panic!("killed after {last:?}: delete failed: {error}"),
        }
        let left = things_left(&root, &name);
        assert!(
            left.is_empty(),
            "killed after line {step} ({last:?}), delete left {left:?}\n{}",
            run.stderr
        );
    }
}

/// The container id of a finished lesson: its pid, read from its cgroup's name.
fn whole_name(run: &Run) -> String {
    let after = run.stderr.split("nsbox-").nth(1).expect("a cgroup named");
    after.chars().take_while(char::is_ascii_digit).collect()
}

fn assert_nothing_left(root: &Path, name: &str) {
    let left = things_left(root, name);
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// What container `name` still holds, read from the kernel: its cgroup folders, its
/// veth (the kernel removes a pair a little after its namespace died, so this waits
/// a bounded time for it), its lease, NAT rules, `ip_forward`, state folder.
fn things_left(root: &Path, name: &str) -> Vec<String> {
    let mut left = Vec::new();
    let veth = format!("nsb{name}");
    let start = Instant::now();
    while links().contains(&veth) && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    if links().contains(&veth) {
        left.push(format!("veth {veth}"));
    }
    let cgroup = format!("nsbox-{name}");
    for found in folders_named(Path::new("/sys/fs/cgroup"), &cgroup) {
        left.push(format!("cgroup {}", found.display()));
    }
    if nft_rules().contains(&format!("nsbox-{name}")) {
        left.push("a NAT rule".into());
    }
    let forward = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
    if forward.trim() != "0" {
        left.push("ip_forward is 1".into());
    }
    if root.exists() {
        let files = host_command("find", &[&root.display().to_string()]);
        left.push(format!("state files:\n{files}"));
    }
    left
}

/// Folders called `name` under `top`, at any depth. Other tests make and remove
/// cgroups meanwhile, so a folder that vanishes while we look is skipped.
fn folders_named(top: &Path, name: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(top) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let is_folder = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_folder {
            continue;
        }
        if entry.file_name() == name {
            found.push(entry.path());
        }
        found.extend(folders_named(&entry.path(), name));
    }
    found
}

/// A host end's name that is still taken (here by a pair whose other end is in a
/// namespace a live process holds): `create` waits for the kernel to free it, then
/// fails with `EEXIST`. It deletes nothing of the other pair's, and leaves nothing
/// of its own. Once the holder is gone, the kernel deletes that pair.
#[rstest]
fn create_waits_for_a_host_end_name_then_gives_up(_host: HostGuard) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
    let mut holder = std::process::Command::new("unshare")
        .args(["--net", "sleep", "600"])
        .spawn()
        .unwrap();
    let holder_pid = holder.id().to_string();
    wait_until("the holder has its own network namespace", || {
        ns_inode(&holder_pid, "net") != ns_inode("thread-self", "net")
    });
    let name = unique("taken");
    let host_end = id(&name).host_end_name();
    let made = std::process::Command::new("ip")
        .args([
            "link", "add", &host_end, "type", "veth", "peer", "name", "x",
        ])
        .args(["netns", &holder_pid])
        .status()
        .unwrap();
    assert!(made.success());
    let dir = TempDir::new("lifecycle-taken");
    let root = dir.path.join("state");
    let container = networked_sleeper(&name, &root, false);
    let error = lifecycle::create(&container, &root, &quiet()).err();
    let refused = matches!(
        &error,
        Some(Error::Network { error, .. })
            if error.raw_os_error() == Some(nix::libc::EEXIST)
    );
    assert!(refused, "{error:?}");
    assert!(veths().contains(&host_end), "the other pair was deleted");
    assert!(
        !links().contains("nsbox0"),
        "the bridge is left: {}",
        links()
    );
    assert!(!root.exists(), "the state root is left");
    holder.kill().unwrap();
    holder.wait().unwrap();
    let left = wait_until_gone(std::slice::from_ref(&host_end), veths);
    assert!(left.is_empty(), "the kernel did not delete {left:?}");
}

/// Forks a starter that creates the container (and starts it, at `Stage::Running`),
/// says so on a pipe, and waits to be killed.
fn fork_starter(container: &Container, root: &Path, stage: Stage) -> Pid {
    let (read_end, write_end) = nix::unistd::pipe().unwrap();
    // SAFETY: the child only calls the library and exits; glibc's fork(2) leaves
    // malloc usable in the child, and no other test is inside the library
    // (`ONE_AT_A_TIME`).
    match unsafe { nix::unistd::fork() }.unwrap() {
        ForkResult::Child => {
            drop(read_end);
            let said = match lifecycle::create(container, root, &quiet()) {
                Ok(mut created) => match stage {
                    Stage::AfterCreate => Ok(created),
                    Stage::Running => {
                        lifecycle::start(&mut created, &quiet()).map(|()| created)
                    }
                },
                Err(error) => Err(error),
            };
            let word: &[u8] = if said.is_ok() { b"y" } else { b"n" };
            let _ = nix::unistd::write(&write_end, word);
            if let Err(error) = said {
                eprintln!("starter: {error}");
                std::process::exit(1);
            }
            loop {
                std::thread::sleep(Duration::from_secs(60));
            }
        }
        ForkResult::Parent { child } => {
            drop(write_end);
            let mut word = [0u8; 1];
            let read = nix::unistd::read(&read_end, &mut word).unwrap();
            assert_eq!((read, word[0]), (1, b'y'), "the starter failed");
            child
        }
    }
}

/// `ip -o link` in this thread's network namespace.
fn links() -> String {
    let out = std::process::Command::new("ip")
        .args(["-o", "link"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// nsbox's NAT rules here, if any.
fn nft_rules() -> String {
    let out = std::process::Command::new("nft")
        .args(["list", "ruleset"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
