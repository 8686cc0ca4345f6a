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

/// Opens `path` for writing (no truncation, nothing written) and says how it
/// went: `ok` or the errno's name.
fn open_for_writing(path: &str) -> String {
    match std::fs::OpenOptions::new().write(true).open(path) {
        Ok(_) => "ok".into(),
        Err(e) => nix::errno::Errno::from_raw(e.raw_os_error().unwrap()).to_string(),
    }
}

/// The runtime that supervises a container runs from a read-only mount of its
/// file: even root here cannot write it through /proc/PID/exe (EROFS). With the
/// defence off, that path is the file itself, refused only because it is running
/// (ETXTBSY): once every nsbox process has ended, it would open.
#[rstest]
#[case::defended(false, "EROFS")]
#[case::exposed(true, "ETXTBSY")]
fn the_runtime_runs_from_a_read_only_mount(
    _host_exclusive: HostGuard,
    #[case] exposed: bool,
    #[case] expected: &str,
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
    assert_eq!(open_for_writing(&exe), expected);
    // The same file, whichever path: the defence changed the mount, not the file.
    let on_disk = std::fs::metadata(bin("nsbox")).unwrap();
    let running = std::fs::metadata(&exe).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(running.ino(), on_disk.ino());
    nsbox.ok(&["rm", "-f", id]);
    nsbox.check_gone(&[held]);
}

/// CVE-2019-5736's first half, from inside: a program in the container watches
/// for the runtime to appear in its PID namespace (`nsbox exec` of a script whose
/// first line is `#!/proc/self/exe` makes the kernel run the runtime itself in
/// there), keeps its /proc/PID/exe, and once it has ended, opens it for writing.
#[rstest]
#[case::defended(false, "caught: EROFS")]
#[case::exposed(true, "caught: ETXTBSY")]
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
    let probe_volume = format!("{}:/probe:ro", probe());
    let evil_volume = format!("{}:/evil:ro", evil.display());
    let args = [
        "run",
        "-d",
        "--network",
        "none",
        "-v",
        &probe_volume,
        "-v",
        &evil_volume,
        "/probe",
        "catch-exe",
        "30",
    ];
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

/// A descriptor `nsbox` inherited (here fd 7, a folder of the host, not
/// close-on-exec) does not reach the container's command; lesson 08, which leaves
/// this defence off, passes it on.
#[rstest]
fn no_file_of_the_host_reaches_the_command(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let probe_volume = format!("{}:/probe:ro", probe());
    let runtime = nsbox.command(&[
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        &probe_volume,
        "/probe",
        "fds",
    ]);
    assert_eq!(with_host_folder_on_fd_7(runtime), "0 1 2");
    let mut lesson = std::process::Command::new(bin("08-rootfs"));
    lesson.args([
        "-q",
        "--network",
        "none",
        "-v",
        &probe_volume,
        "/probe",
        "fds",
    ]);
    assert_eq!(with_host_folder_on_fd_7(lesson), "0 1 2 7");
}

/// Runs `command` with `/` open on its descriptor 7 (not close-on-exec): what
/// it printed.
fn with_host_folder_on_fd_7(mut command: std::process::Command) -> String {
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
