//! Lesson 04: a new mount namespace, a private mount tree, and a /proc of the
//! container's own.

mod common;

use common::*;
use rstest::rstest;
use std::path::PathBuf;

/// With its own /proc, `ps` inside sees only the container's processes: here just
/// itself.
#[rstest]
fn ps_lists_only_the_container(_host: HostGuard) {
    let run = run("04-mnt", &["ps", "-e", "-o", "pid=,comm="]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<String> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1 ps"]);
    // Without a mount namespace (03), /proc is still the host's: ps sees every host
    // process.
    let without = common::run("03-pid", &["ps", "-e", "-o", "pid="]);
    assert!(
        without.stdout.lines().count() > 2,
        "03-pid's ps saw only {}",
        without.stdout
    );
}

/// /proc/1 inside is the command, or our init.
#[rstest]
#[case::command_is_pid_1(&[], "cat")]
#[case::init_is_pid_1(&["--init"], "nsbox-init")]
fn proc_1_is_the_container_pid_1(
    _host: HostGuard,
    #[case] options: &[&str],
    #[case] comm: &str,
) {
    let mut args = options.to_vec();
    args.extend(["cat", "/proc/1/comm"]);
    let run = run("04-mnt", &args);
    assert_eq!((run.code, run.stdout.trim()), (0, comm), "{}", run.stderr);
}

/// The new /proc is mounted as Docker mounts it: no set-user-id programs, no device
/// files, nothing run from it. Read from the kernel: the container's mount table as
/// the host sees it, in /proc/PID/mountinfo, while the container waits.
#[rstest]
fn new_proc_is_nosuid_nodev_noexec(_host: HostGuard) {
    let mut running =
        Running::start("04-mnt", &["sh", "-c", "echo ready; read line"]);
    let pid = running.container_pid();
    running.wait_for(Source::Stdout, "ready");
    let mountinfo = std::fs::read_to_string(format!("/proc/{pid}/mountinfo"));
    running.send_line("done");
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mountinfo = mountinfo.unwrap();
    let options = new_proc_options(&mountinfo).unwrap_or_else(|| {
        panic!("no new procfs on top of /proc in the container:\n{mountinfo}")
    });
    for flag in ["nosuid", "nodev", "noexec"] {
        assert!(
            options.split(',').any(|o| o == flag),
            "the container's new /proc is mounted {options}, without {flag}"
        );
    }
}

/// The mount options (field 6 of mountinfo) of the procfs mounted on top of the
/// /proc the container copied from the host: the /proc mount whose parent is
/// another /proc mount.
fn new_proc_options(mountinfo: &str) -> Option<String> {
    let procs: Vec<Vec<&str>> = mountinfo
        .lines()
        .map(|line| line.split(' ').collect::<Vec<_>>())
        .filter(|fields| fields.get(4) == Some(&"/proc"))
        .collect();
    let ids: Vec<&str> = procs.iter().map(|fields| fields[0]).collect();
    let top = procs.iter().find(|fields| {
        ids.contains(&fields[1])
            && fields.iter().skip_while(|f| **f != "-").nth(1) == Some(&"proc")
    })?;
    Some(top[5].to_string())
}

/// The host's mount table is the same before and after, and its /proc still works.
#[rstest]
fn host_mounts_and_proc_survive(_host: HostGuard) {
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let run = run(
        "04-mnt",
        &[
            "sh",
            "-c",
            "mount -t tmpfs scratch /mnt && grep -c ' /mnt ' /proc/self/mountinfo",
        ],
    );
    assert_eq!((run.code, run.stdout.trim()), (0, "1"), "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        before
    );
    // The host's /proc is the host's procfs, alive: it shows this test process.
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", std::process::id()))
            .unwrap();
    assert!(status.contains("Name:"));
    assert!(host_pids().len() > 2);
}

/// A shared tmpfs the test mounts on the host for the propagation experiment, with
/// three empty directories in it; unmounted (with everything under it) and removed
/// on drop.
struct SharedDir {
    path: PathBuf,
}

impl SharedDir {
    fn new(tag: &str) -> SharedDir {
        let path = std::env::temp_dir()
            .join(format!("nsbox-test-prop-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&path).unwrap();
        let p = path.to_str().unwrap();
        host_command("mount", &["-t", "tmpfs", "nsbox-test", p]);
        host_command("mount", &["--make-shared", p]);
        for sub in ["from-host", "from-container", "bound"] {
            std::fs::create_dir(path.join(sub)).unwrap();
        }
        SharedDir { path }
    }

    fn sub(&self, name: &str) -> String {
        self.path.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for SharedDir {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-R", "-l"])
            .arg(&self.path)
            .status();
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Is something mounted at `path` in this mount table?
fn mounted_at(mountinfo: &str, path: &str) -> bool {
    mountinfo
        .lines()
        .any(|line| line.split(' ').nth(4) == Some(path))
}

/// What crossed in one run of the experiment.
#[derive(Debug, PartialEq)]
struct Crossings {
    container_to_host: bool,
    host_to_container: bool,
    can_bind: bool,
}

/// The experiment: the container mounts a tmpfs in a shared directory, the host
/// mounts one in it too, and the container tries a bind mount. Which of these cross
/// depends on the mode.
fn propagation_experiment(mode: &str) -> Crossings {
    let dir = SharedDir::new(mode);
    let (from_host, from_container) =
        (dir.sub("from-host"), dir.sub("from-container"));
    let script = format!(
        "mount -t tmpfs inside {from_container} && echo mounted; read line; \
         grep -q ' {from_host} ' /proc/self/mountinfo && echo sees-host-mount || echo no-host-mount; \
         mount --bind {d} {bound} 2>/dev/null && echo bind-ok || echo bind-failed",
        d = dir.path.display(),
        bound = dir.sub("bound"),
    );
    let mut running =
        Running::start("04-mnt", &["--propagation", mode, "sh", "-c", &script]);
    running.wait_for(Source::Stdout, "mounted");
    let host_view = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let container_to_host = mounted_at(&host_view, &from_container);
    host_command("mount", &["-t", "tmpfs", "outside", &from_host]);
    running.send_line("go on");
    let host_to_container =
        running.wait_for(Source::Stdout, "host-mount") == "sees-host-mount";
    let can_bind = running.wait_for(Source::Stdout, "bind-") == "bind-ok";
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    drop(dir); // unmounts what the experiment left, before the guard compares mount tables
    Crossings {
        container_to_host,
        host_to_container,
        can_bind,
    }
}

#[rstest]
#[case::shared("shared", true, true, true)]
#[case::slave("slave", false, true, true)]
#[case::private("private", false, false, true)]
#[case::unbindable("unbindable", false, false, false)]
fn propagation_modes(
    _host_exclusive: HostGuard,
    #[case] mode: &str,
    #[case] container_to_host: bool,
    #[case] host_to_container: bool,
    #[case] can_bind: bool,
) {
    let seen = propagation_experiment(mode);
    let expected = Crossings {
        container_to_host,
        host_to_container,
        can_bind,
    };
    assert_eq!(seen, expected, "--propagation {mode}");
}

/// The chapter's table, made from what the experiment saw in each mode.
#[rstest]
fn transcript_propagation(_host_exclusive: HostGuard) {
    let mut transcript = Transcript::default();
    transcript
        .line("mode        mount inside seen    mount on host seen    bind mount");
    transcript.line("            on the host          inside                inside");
    for mode in ["shared", "slave", "private", "unbindable"] {
        let seen = propagation_experiment(mode);
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        transcript.line(&format!(
            "{mode:<11} {:<20} {:<21} {}",
            yes_no(seen.container_to_host),
            yes_no(seen.host_to_container),
            if seen.can_bind {
                "works"
            } else {
                "fails (EINVAL)"
            }
        ));
    }
    assert_transcript("04-mnt", "propagation", &transcript);
}

/// A mode that does not exist is refused before anything is created.
#[rstest]
fn unknown_propagation_is_refused() {
    require_root();
    let run = run("04-mnt", &["--propagation", "sideways", "true"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("unknown propagation 'sideways'"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("clone("));
}

#[rstest]
fn transcript_ps(_host: HostGuard) {
    let mut transcript = Transcript::default();
    for (lesson, args) in [
        ("03-pid", ["--quiet", "sh", "-c", "ps -e | wc -l"]),
        ("04-mnt", ["--quiet", "sh", "-c", "ps -e | wc -l"]),
    ] {
        let (code, output) = run_merged(lesson, &args);
        assert_eq!(code, 0);
        let output = if lesson == "03-pid" {
            "[N]\n".to_string()
        } else {
            output
        };
        transcript.lesson(lesson, &args, &output);
    }
    let args = ["ps", "-ef"];
    let (code, output) = run_merged("04-mnt", &args);
    assert_eq!(code, 0);
    transcript.lesson("04-mnt", &args, &output);
    assert_transcript("04-mnt", "ps", &transcript);
}

/// The propagation fields of /proc/self/mountinfo: a shared mount on the host, and
/// what its copy in the container becomes in each mode. /proc inside is private
/// whatever the mode.
#[rstest]
fn transcript_propagation_fields(_host_exclusive: HostGuard) {
    let dir = SharedDir::new("fields");
    let path = dir.path.to_str().unwrap().to_string();
    let mut transcript = Transcript::default();
    transcript.command(&format!("sudo mount -t tmpfs nsbox-test {path}"), "");
    transcript.command(&format!("sudo mount --make-shared {path}"), "");
    let on_host =
        format!("grep \" {path} \" /proc/self/mountinfo | cut -d\" \" -f5,7");
    let host_view = host_command("sh", &["-c", &on_host]);
    // The peer group number changes from run to run: the book shows [GROUP] for the
    // host mount's group. A copy in another group would keep its own number and fail
    // the snapshot.
    let group = host_view
        .split_whitespace()
        .find_map(|field| field.strip_prefix("shared:"))
        .expect("the host's mount is shared")
        .to_string();
    let groups = |text: &str| text.replace(&format!(":{group}\n"), ":[GROUP]\n");
    transcript.command(&on_host, &groups(&host_view));
    let inside = format!(
        "grep -e \" {path} \" -e \" /proc \" /proc/self/mountinfo | cut -d\" \" -f5,7"
    );
    for mode in ["shared", "slave", "private", "unbindable"] {
        let mut args = vec!["--propagation", mode, "sh", "-c", &inside];
        if mode != "shared" {
            args.insert(0, "--quiet");
        }
        let (code, output) = run_merged("04-mnt", &args);
        assert_eq!(code, 0, "{output}");
        transcript.lesson("04-mnt", &args, &groups(&output));
    }
    drop(dir);
    assert_transcript("04-mnt", "propagation-fields", &transcript);
}

/// On a systemd machine `/` is mounted shared, and a container's mounts would
/// propagate back to the host unless the child makes its tree private first. This
/// machine's `/` is private, so the test makes its own systemd-like world: a mount
/// namespace whose mounts are all shared (`unshare --mount --propagation private`,
/// then `mount --make-rshared /` inside). In it, a tmpfs the container mounts on
/// /mnt stays inside by default, and leaks out with `--propagation shared` (which
/// shows the test can see a leak). The container's /proc never leaks: it is made
/// private before procfs is mounted.
#[rstest]
#[case::private_by_default(&[], 0)]
#[case::shared_leaks(&["--propagation", "shared"], 1)]
fn a_shared_host_root_does_not_leak_mounts(
    _host: HostGuard,
    #[case] options: &[&str],
    #[case] leaked: usize,
) {
    let lesson = bin("04-mnt");
    // First private (cut off from the real host, whose `/` may be shared), then
    // shared again: the shared peer groups are new ones, the test's own.
    let script = format!(
        "mount --make-rshared / && {lesson} {} sh -c 'mount -t tmpfs leak /mnt' && \
         echo mnt $(grep -c ' /mnt ' /proc/self/mountinfo) && \
         echo proc $(grep -c ' /proc ' /proc/self/mountinfo)",
        options.join(" ")
    );
    let out = std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout, format!("mnt {leaked}\nproc 1\n"), "{stderr}");
}

/// Exercise 2: the container's mount table, seen with findmnt from the host in the
/// container's mount and PID namespaces: two procfs on /proc, the new one on top,
/// nosuid, nodev and noexec.
#[rstest]
fn transcript_two_procs(_host: HostGuard) {
    let mut running =
        Running::start("04-mnt", &["sh", "-c", "echo ready; read line"]);
    let pid = running.container_pid().to_string();
    running.wait_for(Source::Stdout, "ready");
    let args = ["--target", &pid, "--mount", "--pid", "findmnt", "/proc"];
    let seen = std::process::Command::new("nsenter").args(args).output();
    running.send_line("done");
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = seen.unwrap();
    assert!(seen.status.success(), "{seen:?}");
    let output = String::from_utf8_lossy(&seen.stdout);
    assert!(output.contains("noexec"), "{output}");
    // The procfs below is the host's copy, with the host's options (systemd mounts
    // it nosuid,nodev,noexec; others may not): the book shows [OPTIONS].
    let mut lines: Vec<String> = output.lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 3, "a header and two procfs: {output}");
    let host_options = lines[1].split_whitespace().last().unwrap().to_string();
    lines[1] = lines[1].replace(&host_options, "[OPTIONS]");
    let output = lines.join("\n") + "\n";
    let mut transcript = Transcript::default();
    transcript.command(
        &format!("sudo nsenter {}", args.join(" ")).replace(&pid, "[PID]"),
        &output,
    );
    assert_transcript("04-mnt", "two-procs", &transcript);
}
