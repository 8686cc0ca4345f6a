//! Lesson 05: a new user namespace. Run by an ordinary user, without sudo: root
//! inside is that user outside.

mod common;

use common::*;
use rstest::rstest;
use std::os::unix::fs::MetadataExt;

/// Runs 05-user as the unprivileged test user, from a copy it can reach.
fn rootless(args: &[&str]) -> Run {
    let dir = TempDir::new("user");
    let [lesson] = dir.with_copies(&["05-user"]).try_into().unwrap();
    run_as(UNPRIVILEGED, &lesson, args)
}

#[rstest]
fn root_inside_without_privileges(_host: HostGuard) {
    let run = rootless(&[
        "sh",
        "-c",
        "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let lines: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let me = UNPRIVILEGED.to_string();
    assert_eq!(
        lines,
        [
            vec!["0"],
            vec!["0"],
            vec!["0", &me, "1"],
            vec!["0", &me, "1"]
        ]
    );
    assert!(
        run.stderr.contains("setgroups: deny"),
        "an unprivileged writer must deny setgroups: {}",
        run.stderr
    );
}

/// A file root makes inside belongs to the user outside.
#[rstest]
fn files_made_inside_belong_to_the_user(_host: HostGuard) {
    let dir = TempDir::new("user-files");
    dir.chown(UNPRIVILEGED);
    let file = dir.path.join("made-inside");
    let script = format!("touch {f} && stat -c %u {f}", f = file.display());
    let run = rootless(&["sh", "-c", &script]);
    assert_eq!((run.code, run.stdout.trim()), (0, "0"), "{}", run.stderr);
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), UNPRIVILEGED);
}

/// The same under sudo: the default map makes root inside the user behind sudo.
#[rstest]
fn under_sudo_root_inside_is_the_user_behind_sudo(_host: HostGuard) {
    let dir = TempDir::new("user-sudo");
    dir.chown(UNPRIVILEGED);
    let file = dir.path.join("made-inside");
    let script = format!("id -u; touch {}", file.display());
    let me = UNPRIVILEGED.to_string();
    let mut command = std::process::Command::new(bin("05-user"));
    command
        .args(["sh", "-c", &script])
        .env("SUDO_UID", &me)
        .env("SUDO_GID", &me);
    let run = run_command(command, "");
    let stderr = &run.stderr;
    assert_eq!(
        (Some(run.code), run.stdout.trim()),
        (Some(0), "0"),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("uid_map: 0 {me} 1")), "{stderr}");
    assert_eq!(std::fs::metadata(&file).unwrap().uid(), UNPRIVILEGED);
}

/// The hostname changes inside (root inside may do it), and not on the host.
#[rstest]
fn hostname_works_inside_only(_host: HostGuard) {
    let before = host_hostname();
    let run = rootless(&["--hostname", "rootless", "hostname"]);
    assert_eq!(
        (run.code, run.stdout.trim()),
        (0, "rootless"),
        "{}",
        run.stderr
    );
    assert_eq!(host_hostname(), before);
}

/// Root inside is not root on the host: a root-owned file stays out of reach.
#[rstest]
fn host_root_files_stay_out_of_reach(_host: HostGuard) {
    let dir = TempDir::new("user-rootfile");
    let file = dir.path.join("root-owned");
    std::fs::write(&file, "before\n").unwrap();
    let script = format!("echo changed >> {}", file.display());
    let run = rootless(&["sh", "-c", &script]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("Permission denied"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "before\n");
}

/// With no map written, every id inside is the overflow id, 65534.
#[rstest]
fn unmapped_ids_show_as_65534(_host: HostGuard) {
    let run = rootless(&["--no-map", "sh", "-c", "id -u; id -g"]);
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "65534\n65534\n"),
        "{}",
        run.stderr
    );
}

/// An ordinary user may map only their own id.
#[rstest]
fn mapping_someone_else_needs_root(_host: HostGuard) {
    let run = rootless(&["--map", "0 0 1", "true"]);
    assert_eq!(run.code, 125, "{}", run.stderr);
    assert!(
        run.stderr.contains("gid_map: Operation not permitted"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("you may map only your own id"),
        "{}",
        run.stderr
    );
}

/// Maps the kernel would refuse are refused before clone(2).
#[rstest]
#[case::malformed(&["--map", "0 1000"], "is not INSIDE OUTSIDE COUNT")]
#[case::empty_range(&["--map", "0 1000 0"], "maps nothing")]
#[case::overlap_inside(&["--map", "0 1000 10", "--map", "5 200000 10"], "overlap inside")]
#[case::overlap_outside(&["--map", "0 1000 10", "--map", "100 1005 10"], "overlap outside")]
#[case::map_and_no_map(&["--map", "0 1000 1", "--no-map"], "cannot be used with")]
fn bad_maps_are_refused_before_clone(
    #[case] options: &[&str],
    #[case] message: &str,
) {
    require_root();
    let mut args = options.to_vec();
    args.push("true");
    let run = run("05-user", &args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(!run.stderr.contains("clone("), "{}", run.stderr);
}

/// Where user namespaces are turned off, the error names the setting. The test turns
/// them off only inside a user namespace of its own (the limit is per namespace), so
/// the host keeps its setting.
#[rstest]
fn turned_off_user_namespaces_name_the_setting() {
    require_root();
    let dir = TempDir::new("user-off");
    let [lesson] = dir.with_copies(&["05-user"]).try_into().unwrap();
    let host_limit =
        std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap();
    let script =
        format!("echo 0 > /proc/sys/user/max_user_namespaces && exec {lesson} true");
    let run = run_as(
        UNPRIVILEGED,
        "unshare",
        &["--user", "--map-root-user", "sh", "-c", &script],
    );
    assert_eq!(run.code, 125, "{}", run.stderr);
    assert!(
        run.stderr.contains("user.max_user_namespaces = 0"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("fix: `sudo sysctl -w user.max_user_namespaces="),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string("/proc/sys/user/max_user_namespaces").unwrap(),
        host_limit
    );
}

#[rstest]
fn transcript_rootless(_host: HostGuard) {
    let args = ["sh", "-c", "id; cat /proc/self/uid_map; hostname"];
    let run = rootless(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    transcript.lesson_parts("05-user", &args, &run.stdout, &run.stderr);
    assert_transcript("05-user", "rootless", &transcript);
}

#[rstest]
fn transcript_unmapped(_host: HostGuard) {
    let args = [
        "--no-map",
        "--quiet",
        "sh",
        "-c",
        "id; stat -c \"%u %g %n\" /etc/hostname",
    ];
    let run = rootless(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.lesson("05-user", &args, &run.stdout);
    assert_transcript("05-user", "unmapped", &transcript);
}

/// Shows a command line as a student would type it (the words here need no inner
/// quotes).
fn shown(args: &[&str]) -> String {
    let words: Vec<String> = args
        .iter()
        .map(|a| {
            if a.contains(|c: char| c.is_whitespace() || "'\";&|<>$".contains(c)) {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        })
        .collect();
    words.join(" ")
}

/// An ordinary user asks for a map of someone else's id: the kernel refuses the
/// write.
#[rstest]
fn transcript_map_refused(_host: HostGuard) {
    let args = ["--quiet", "--map", "0 0 1", "true"];
    let run = rootless(&args);
    assert_eq!(run.code, 125, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    transcript.lesson("05-user", &args, &format!("{}{}", run.stdout, run.stderr));
    assert_transcript("05-user", "map-refused", &transcript);
}

/// Root inside, with every capability (none outside), over what the user namespace
/// owns: its hostname, its mounts. Not over the host's files: a root-owned file
/// shows as 65534 and stays closed.
#[rstest]
fn transcript_inside_only(_host: HostGuard) {
    let mine = TempDir::new("user-mine");
    mine.chown(UNPRIVILEGED);
    let made = mine.path.join("made-inside");
    let theirs = TempDir::new("user-root");
    let root_owned = theirs.path.join("root-owned");
    std::fs::write(&root_owned, "host root's\n").unwrap();
    let (made, root_owned) = (made.to_str().unwrap(), root_owned.to_str().unwrap());
    let hostname =
        || host_command("hostname", &[]).replace(&host_hostname(), "[HOST]");
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    let inside = |transcript: &mut Transcript, script: &str| {
        let args = ["--quiet", "sh", "-c", script];
        let run = rootless(&args);
        transcript.lesson(
            "05-user",
            &args,
            &format!("{}{}", run.stdout, run.stderr),
        );
        run.code
    };
    let outside = run_as(UNPRIVILEGED, "grep", &["CapEff", "/proc/self/status"]);
    transcript.command("grep CapEff /proc/self/status", &outside.stdout);
    let code = inside(&mut transcript, "grep CapEff /proc/self/status");
    assert_eq!(code, 0);
    let code = inside(&mut transcript, "hostname inside; hostname");
    assert_eq!(code, 0);
    transcript.command("hostname", &hostname());
    let code = inside(
        &mut transcript,
        "mount -t tmpfs scratch /mnt && findmnt -n -o TARGET,SOURCE,FSTYPE /mnt",
    );
    assert_eq!(code, 0);
    let code = inside(
        &mut transcript,
        &format!("touch {made} && stat -c \"%u %n\" {made}"),
    );
    assert_eq!(code, 0);
    let on_host = format!("stat -c \"%u %n\" {made}");
    transcript.command(&on_host, &host_command("sh", &["-c", &on_host]));
    let code = inside(
        &mut transcript,
        &format!("stat -c \"%u %n\" {root_owned}; echo changed >> {root_owned}"),
    );
    assert_ne!(code, 0);
    assert_eq!(
        std::fs::read_to_string(root_owned).unwrap(),
        "host root's\n"
    );
    assert_transcript("05-user", "inside-only", &transcript);
}

/// Run by root with SUDO_UID/SUDO_GID set, as sudo sets them: root inside is the
/// user behind sudo. With a map that leaves 0 inside unmapped, the child keeps host
/// root's uid, which shows as 65534: that is why the child calls setresuid(0, 0, 0).
#[rstest]
fn transcript_under_sudo(_host: HostGuard) {
    let me = UNPRIVILEGED.to_string();
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    for args in [
        &["sh", "-c", "id; cat /proc/self/uid_map"][..],
        &[
            "--quiet",
            "--map",
            "1000 47000 1",
            "sh",
            "-c",
            "id; cat /proc/self/uid_map",
        ],
    ] {
        let mut command = std::process::Command::new(bin("05-user"));
        command.args(args).env("SUDO_UID", &me).env("SUDO_GID", &me);
        let run = run_command(command, "");
        let (stdout, stderr) = (run.stdout, run.stderr);
        assert_eq!(run.code, 0, "{stderr}");
        // As on a terminal: the narration up to "go!" comes before the command's
        // output.
        let output = match stderr.trim_end().rsplit_once('\n') {
            Some((before, last)) => format!("{before}\n{stdout}{last}\n"),
            None => format!("{stdout}{stderr}"),
        };
        // Shown as the reader types it: `sudo` sets SUDO_UID and SUDO_GID.
        let command = format!("$ sudo target/debug/05-user {}", shown(args));
        if command.len() > 85 {
            transcript.line(&command.replace(" sh -c", " \\\n    sh -c"));
        } else {
            transcript.line(&command);
        }
        for line in output.lines() {
            transcript.line(line);
        }
    }
    assert_transcript("05-user", "under-sudo", &transcript);
}

/// The error where user namespaces are turned off, made safely: the limit is set to
/// 0 only inside a user namespace of the test's own, as an ordinary user.
#[rstest]
fn transcript_userns_off() {
    require_root();
    let dir = TempDir::new("user-off");
    let [lesson] = dir.with_copies(&["05-user"]).try_into().unwrap();
    let script =
        format!("echo 0 > /proc/sys/user/max_user_namespaces && exec {lesson} true");
    let args = ["--user", "--map-root-user", "sh", "-c", &script];
    let run = run_as(UNPRIVILEGED, "unshare", &args);
    assert_eq!(run.code, 125, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    let command = format!("unshare {}", shown(&args));
    transcript.command(
        &command.replacen(" sh -c ", " sh -c \\\n    ", 1),
        &format!("{}{}", run.stdout, run.stderr),
    );
    assert_transcript("05-user", "userns-off", &transcript);
}

/// Runs 05-user as root with SUDO_UID and SUDO_GID set to the test user's, as `sudo`
/// sets them; returns the exit code and stdout followed by stderr.
fn under_sudo(args: &[&str]) -> (Option<i32>, String) {
    let me = UNPRIVILEGED.to_string();
    let mut command = std::process::Command::new(bin("05-user"));
    command.args(args).env("SUDO_UID", &me).env("SUDO_GID", &me);
    let run = run_command(command, "");
    (Some(run.code), format!("{}{}", run.stdout, run.stderr))
}

/// Exercise 2: with root's help, a range of 65536 ids. Files made inside by uid 0
/// and uid 1 belong to 100000 and 100001 on the host.
#[rstest]
fn transcript_range_under_sudo(_host: HostGuard) {
    let dir = TempDir::new("user-range");
    dir.chown(100000);
    let (zero, one) = (dir.path.join("inside-0"), dir.path.join("inside-1"));
    let (zero, one) = (zero.to_str().unwrap(), one.to_str().unwrap());
    let script = format!("touch {zero} {one} && chown 1 {one}");
    let args = ["--quiet", "--map", "0 100000 65536", "sh", "-c", &script];
    let (code, output) = under_sudo(&args);
    assert_eq!(code, Some(0), "{output}");
    let mut transcript = Transcript::default();
    transcript.line(&format!(
        "$ sudo target/debug/05-user {} \\\n    {}",
        shown(&args[..3]),
        shown(&args[3..])
    ));
    for line in output.lines() {
        transcript.line(line);
    }
    let on_host = format!("stat -c \"%u %n\" {zero} {one}");
    let owners = host_command("sh", &["-c", &on_host]);
    assert_eq!(
        owners,
        format!("100000 {zero}\n100001 {one}\n"),
        "owners on the host"
    );
    transcript.command(&on_host, &owners);
    assert_transcript("05-user", "range", &transcript);
}

/// Exercise 3: chapter 04's experiment with 05-user as an ordinary user. The
/// container's copy of a shared mount is shared among the container's mounts and a
/// slave of the host's peer group, so what it mounts cannot reach the host (the
/// chapters test mounts and looks).
#[rstest]
fn transcript_shared_becomes_slave(_host_exclusive: HostGuard) {
    let dir = TempDir::new("user-shared");
    let path = dir.path.to_str().unwrap().to_string();
    host_command("mount", &["-t", "tmpfs", "demo", &path]);
    let run = std::panic::catch_unwind(|| {
        host_command("mount", &["--make-shared", &path]);
        let on_host =
            format!("grep \" {path} \" /proc/self/mountinfo | cut -d\" \" -f5,7");
        let host_view = host_command("sh", &["-c", &on_host]);
        let inside =
            format!("grep \" {path} \" /proc/self/mountinfo | cut -d\" \" -f5,7,8");
        let args = ["--quiet", "--propagation", "shared", "sh", "-c", &inside];
        (
            on_host,
            host_view,
            rootless(&args),
            args.map(str::to_string),
        )
    });
    let _ = std::process::Command::new("umount")
        .args(["-R", "-l", &path])
        .status();
    let (on_host, host_view, run, args) = run.unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let shared_group = |text: &str| {
        text.split_whitespace()
            .find_map(|field| field.strip_prefix("shared:"))
            .map(str::to_string)
            .expect("a shared mount")
    };
    let (group, inner) = (shared_group(&host_view), shared_group(&run.stdout));
    assert!(
        run.stdout
            .contains(&format!("shared:{inner} master:{group}\n")),
        "{}",
        run.stdout
    );
    let groups = |text: &str| {
        text.replace(&format!("shared:{inner} "), "shared:[N] ")
            .replace(&format!(":{group}\n"), ":[GROUP]\n")
    };
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut transcript = Transcript::default();
    transcript.command(&on_host, &groups(&host_view));
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    transcript.lesson("05-user", &args, &groups(&run.stdout));
    assert_transcript("05-user", "shared-slave", &transcript);
}
