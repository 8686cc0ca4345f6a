//! Proofs for chapter 10's defences of the runtime itself: its binary out of the
//! containers' reach, and no host file going in with the command. Each attack is
//! made for real from inside a container, stopped before it could harm the host,
//! and shown to get further with the defence off.

mod common;

use common::*;
use rstest::rstest;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// Whether the kernel says `path` is on a read-only mount (`statvfs`).
fn on_a_read_only_mount(path: &str) -> bool {
    let mount = nix::sys::statvfs::statvfs(path).unwrap();
    mount
        .flags()
        .contains(nix::sys::statvfs::FsFlags::ST_RDONLY)
}

/// The runtime that supervises a container runs from a read-only mount of its
/// file: a write through /proc/PID/exe fails with EROFS, whoever asks. (While
/// any nsbox process runs from the file, ETXTBSY comes first; the mount is what
/// still refuses once they have all ended.) With the defence off, that path is
/// on the file's own, writable, mount.
#[rstest]
#[case::defended(false, true)]
#[case::exposed(true, false)]
fn the_runtime_runs_from_a_read_only_mount(
    _host_exclusive: HostGuard,
    #[case] exposed: bool,
    #[case] read_only: bool,
) {
    let nsbox = Nsbox::new();
    let mut command =
        nsbox.command(&["run", "-d", "--network", "none", "sleep", "60"]);
    if exposed {
        command.env("NSBOX_EXPOSE_BINARY", "1");
    }
    let run = run_command(command, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run.stdout.trim();
    let held = nsbox.holdings(id);
    let monitor = held.monitor.expect("the container has a monitor");
    let exe = format!("/proc/{monitor}/exe");
    assert_eq!(on_a_read_only_mount(&exe), read_only);
    // The same file, whichever path: the defence changed the mount, not the file.
    use std::os::unix::fs::MetadataExt;
    let on_disk = std::fs::metadata(bin("nsbox")).unwrap();
    let running = std::fs::metadata(&exe).unwrap();
    assert_eq!(
        (running.dev(), running.ino()),
        (on_disk.dev(), on_disk.ino())
    );
    nsbox.ok(&["rm", "-f", id]);
    nsbox.check_gone(&[held]);
}

/// CVE-2019-5736's first half, from inside: a program in the container watches
/// for the runtime to appear in its PID namespace (`nsbox exec` of a script whose
/// first line is `#!/proc/self/exe` makes the kernel run the runtime itself in
/// there), keeps its /proc/PID/exe, and once it has ended, opens it for writing.
#[rstest]
#[case::defended(false, "caught: on a read-only mount")]
#[case::exposed(true, "caught: on a writable mount")]
fn a_container_cannot_reopen_the_runtime_for_writing(
    _host_exclusive: HostGuard,
    #[case] exposed: bool,
    #[case] expected: &str,
) {
    let nsbox = Nsbox::new();
    let dir = TempDir::new("hardening-evil");
    let evil = dir.path.join("evil");
    std::fs::write(&evil, "#!/proc/self/exe\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&evil, std::fs::Permissions::from_mode(0o755)).unwrap();
    let evil_volume = format!("{}:/evil:ro", evil.display());
    let volumes = probe_volumes();
    let mut args = vec!["run", "-d", "--network", "none", "-v", &evil_volume];
    args.extend(volumes.iter().map(String::as_str));
    args.extend(["/probe", "catch-exe", "30"]);
    let with_switch = |args: &[&str]| {
        let mut command = nsbox.command(args);
        if exposed {
            command.env("NSBOX_EXPOSE_BINARY", "1");
        }
        run_command(command, "")
    };
    let run = with_switch(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let id = run.stdout.trim().to_string();
    let held = nsbox.holdings(&id);
    wait_for("the watcher", || {
        nsbox.ok(&["logs", &id]).contains("watching")
    });
    let mut logs = String::new();
    for _ in 0..40 {
        // Inside, the runtime starts, finds no subcommand '/evil', and ends.
        let _ = with_switch(&["exec", &id, "/evil"]);
        logs = nsbox.ok(&["logs", &id]);
        if logs.contains("caught") {
            break;
        }
    }
    assert!(logs.ends_with(expected), "{logs}");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// A descriptor `nsbox` inherited (here fd 7, the host's `/`, not close-on-exec)
/// does not reach the container's command. Lesson 08, which leaves this defence
/// off, passes it on, and through it the command lists the host's `/`.
#[rstest]
fn no_file_of_the_host_reaches_the_command(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let look =
        "if [ -e /proc/self/fd/7 ]; then ls /proc/self/fd/7/; else echo closed; fi";
    let runtime =
        nsbox.command(&["run", "--rm", "--network", "none", "sh", "-c", look]);
    assert_eq!(with_host_root_on_fd_7(runtime), "closed");
    let mut lesson = std::process::Command::new(bin("08-rootfs"));
    lesson.args(["-q", "--network", "none", "sh", "-c", look]);
    let mut host: Vec<String> = std::fs::read_dir("/")
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    host.sort();
    let listed = with_host_root_on_fd_7(lesson);
    let listed: Vec<&str> = listed.split_whitespace().collect();
    assert_eq!(listed, host);
}

/// Runs `command` with the host's `/` open on its descriptor 7 (not
/// close-on-exec): what it printed.
fn with_host_root_on_fd_7(mut command: std::process::Command) -> String {
    let host_root = std::fs::File::open(Path::new("/")).unwrap();
    let fd = host_root.as_raw_fd();
    // SAFETY: between fork and exec, dup2 is async-signal-safe; dup2's copy does
    // not inherit close-on-exec.
    unsafe {
        command.pre_exec(move || {
            if nix::libc::dup2(fd, 7) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let run = run_command(command, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout.trim().to_string()
}

/// The classic chroot escape, by root in a default container (it keeps
/// CAP_SYS_CHROOT, as docker's): after pivot_root it climbs to the container's
/// own `/` and no further. The host's `/` has no `/probe`; the container's does.
#[rstest]
fn climbing_out_of_a_chroot_ends_at_the_containers_root(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let volumes = probe_volumes();
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend(volumes.iter().map(String::as_str));
    args.extend(["/probe", "escape-chroot"]);
    let names = nsbox.ok(&args);
    let names: Vec<&str> = names.lines().collect();
    assert!(
        names.contains(&"probe") && names.contains(&".escape"),
        "{names:?}"
    );
    assert!(!Path::new("/probe").exists() && !Path::new("/.escape").exists());
}

/// Root in a default container cannot raise its own limits: its cgroup folder is
/// there read-only. The limit, read on the host, is still the one asked for.
#[rstest]
fn the_container_cannot_raise_its_own_limits(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--memory",
        "64M",
        "sleep",
        "60",
    ]);
    let held = nsbox.holdings(&id);
    // v2: memory.max; v1: the memory controller's limit_in_bytes.
    let files = ["memory.max", "memory.limit_in_bytes"];
    let limit_file = held
        .cgroups
        .iter()
        .flat_map(|dir| files.iter().map(move |f| dir.join(f)))
        .find(|path| path.exists())
        .expect("the container's memory limit on the host");
    let raise = "for f in /sys/fs/cgroup/memory.max \
                 /sys/fs/cgroup/memory/memory.limit_in_bytes; do \
                 [ -e $f ] && echo 1073741824 > $f; done; true";
    let out = nsbox.run(&["exec", &id, "sh", "-c", raise]);
    assert!(
        out.stderr.contains("Read-only file system"),
        "{}",
        out.stderr
    );
    let limit = std::fs::read_to_string(&limit_file).unwrap();
    assert_eq!(limit.trim(), "67108864");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// podman's own seccomp profile (Docker's JSON format, installed with skopeo's
/// containers-common) is read and applied, and a shell runs under it: a profile
/// we did not write.
#[rstest]
fn podmans_seccomp_profile_is_understood(_host_exclusive: HostGuard) {
    let profile = "/usr/share/containers/seccomp.json";
    assert!(
        Path::new(profile).exists(),
        "{profile} is missing: sudo apt-get install golang-github-containers-common \
         (scripts/provision.sh installs it with skopeo)"
    );
    let nsbox = Nsbox::new();
    let option = format!("seccomp={profile}");
    let status = nsbox.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &option,
        "busybox",
        "sh",
        "-c",
        "grep Seccomp: /proc/self/status; echo ran",
    ]);
    assert_eq!(status, "Seccomp:\t2\nran");
}

// ---------------------------------------------------------------------------------
// Transcripts for chapter 10: the commands as the reader types them.

/// Our own bounding set, as `/proc/self/status` shows it: all a privileged
/// container can have (every capability of the kernel, where the tests run as a
/// full root).
fn our_bounding_set() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("CapBnd:")).unwrap();
    line.split_whitespace().nth(1).unwrap().to_string()
}

/// Every capability this kernel has (`cap_last_cap` + 1 bits), as `CapEff`
/// shows them.
fn every_capability() -> String {
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    format!("{:016x}", (1u64 << (last + 1)) - 1)
}

/// Docker's 14 capabilities, as `CapEff` shows them.
const DOCKERS_CAPABILITIES: &str = "00000000a80425fb";

/// Try it: the capability sets of a default container and of a privileged one,
/// and the bits decoded.
#[rstest]
fn transcript_try_it(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    // A privileged container keeps all we have. Where the tests run as a root
    // short of a capability (CI's sandbox lacks CAP_SYS_RESOURCE), the book still
    // shows what a full root, the reader's, gets: all of them.
    session
        .shown_as
        .push((our_bounding_set(), every_capability()));
    let status = ["run", "--rm", "busybox", "grep", "Cap", "/proc/self/status"];
    let (code, caps) = session.nsbox(&status);
    assert_eq!(code, 0, "{caps}");
    for set in ["CapPrm", "CapEff", "CapBnd"] {
        let line = format!("{set}:\t{DOCKERS_CAPABILITIES}");
        assert!(caps.contains(&line), "{caps}");
    }
    for set in ["CapInh", "CapAmb"] {
        assert!(
            caps.contains(&format!("{set}:\t0000000000000000")),
            "{caps}"
        );
    }
    let (code, caps) = session.nsbox(&[
        "run",
        "--rm",
        "--privileged",
        "busybox",
        "grep",
        "CapEff",
        "/proc/self/status",
    ]);
    assert_eq!(
        (code, caps.trim()),
        (0, &*format!("CapEff:\t{}", our_bounding_set()))
    );
    let decode = format!(
        "/usr/sbin/capsh --decode={DOCKERS_CAPABILITIES} | cut -d= -f2 | tr , ' ' | fmt -w 80"
    );
    let (code, names) = session.shell(&decode, &decode);
    assert_eq!(code, 0);
    assert!(names.contains("cap_chown") && names.contains("cap_setfcap"));
    assert_transcript("10-hardening", "try-it", &session.transcript);
}

/// Try it: what root on the host could do, refused to root in the container.
/// Each asks for something harmless even if it got through: the clock set to
/// the second it already is, a tmpfs in the container's own mount namespace, the
/// page cache dropped.
#[rstest]
fn transcript_refused(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    let clock = r#"date -s "$(date +%T)" > /dev/null"#;
    // (busybox's date says so, prints the date, and exits with 0 all the same.)
    let (_, out) = session.nsbox(&["run", "--rm", "busybox", "sh", "-c", clock]);
    assert!(
        out.contains("can't set date: Operation not permitted"),
        "{out}"
    );
    let (code, out) = session.nsbox(&[
        "run", "--rm", "busybox", "mount", "-t", "tmpfs", "none", "/mnt",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("permission denied"), "{out}");
    let (code, out) = session.nsbox(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo 1 > /proc/sys/vm/drop_caches",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    assert_transcript("10-hardening", "refused", &session.transcript);
}

/// seccomp: the filter is on; `unshare -U`, which needs no capability, is
/// refused by the filter alone, and works without it.
#[rstest]
fn transcript_seccomp(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    let (code, out) = session.nsbox(&[
        "run",
        "--rm",
        "busybox",
        "grep",
        "Seccomp:",
        "/proc/self/status",
    ]);
    assert_eq!((code, out.trim()), (0, "Seccomp:\t2"));
    let (code, out) =
        session.nsbox(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("Operation not permitted"), "{out}");
    let (code, out) = session.nsbox(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        "busybox",
        "unshare",
        "-U",
        "true",
    ]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert_transcript("10-hardening", "seccomp", &session.transcript);
}

/// Devices: a node made with mknod (CAP_MKNOD is in the default set) for
/// /dev/mem does not open.
#[rstest]
fn transcript_devices(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let mut session = Session::new(&nsbox);
    let (code, out) = session.nsbox(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "mknod /tmp/mem c 1 1 && head -c 1 /tmp/mem",
    ]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("/tmp/mem"), "{out}");
    assert_transcript("10-hardening", "devices", &session.transcript);
}
