//! The doctor: what it reports matches what the machine really has, a namespace type
//! turned off is named with its setting (and the lessons it spoils really fail), an
//! ordinary user is told which lessons need root, and the machine is left as it was.
//!
//! Every test takes the host exclusively: it compares the host's network links and
//! /tmp before and after, which other tests' containers would change meanwhile.

mod common;

use common::*;
use nsbox::container::Namespace;
use nsbox::container::narrate::WIDTH_VARIABLE;
use nsbox::doctor::report::wrap_line;
use nsbox::lessons;
use rstest::rstest;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn doctor() -> &'static str {
    env!("CARGO_BIN_EXE_doctor")
}

/// Runs a command to the end. Without SUDO_UID, as a student's root shell would be:
/// the doctor then tries user namespaces as `nobody`, and the report is the same on
/// every run. With whole lines (the tests search them; the transcript wraps them
/// again), unless the command says otherwise.
fn finish(mut command: Command) -> Run {
    if !command.get_envs().any(|(name, _)| name == WIDTH_VARIABLE) {
        command.env(WIDTH_VARIABLE, "0");
    }
    let out = command
        .env_remove("SUDO_UID")
        .env_remove("SUDO_GID")
        .output()
        .expect("start the doctor");
    Run::from(out)
}

/// What the doctor could leave behind on the host, if it forgot to clean up.
#[derive(Debug, PartialEq)]
struct Leftovers {
    links: BTreeSet<String>,
    temp_dirs: BTreeSet<String>,
    test_cgroups: Vec<String>,
}

impl Leftovers {
    fn now() -> Leftovers {
        let names = |dir: &str| -> BTreeSet<String> {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        };
        Leftovers {
            links: names("/sys/class/net"),
            temp_dirs: names("/tmp")
                .into_iter()
                .filter(|n| n.starts_with("nsbox-doctor"))
                .collect(),
            test_cgroups: test_cgroups(),
        }
    }
}

/// Any `nsbox-doctor-*` directory in the cgroup trees, where the doctor makes its
/// test cgroups: under each tree's root and under our own cgroup in it (a child
/// starts in its parent's).
fn test_cgroups() -> Vec<String> {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let mut found = Vec::new();
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let fstype = line.split(" - ").nth(1).unwrap().split(' ').next().unwrap();
        if !fstype.starts_with("cgroup") {
            continue;
        }
        let mut dirs = vec![fields[4].to_string()];
        dirs.extend(own.lines().map(|l| {
            let path = l.splitn(3, ':').nth(2).unwrap();
            format!("{}{path}", fields[4])
        }));
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                if name.starts_with("nsbox-doctor") {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

/// Runs `command` and checks it left no link, temporary directory or cgroup behind.
fn without_leftovers(command: Command) -> Run {
    let before = Leftovers::now();
    let run = finish(command);
    assert_eq!(Leftovers::now(), before, "the doctor left something behind");
    run
}

/// The lines of one lesson's verdict: its line in the `lessons` section and the
/// detail lines (fixes) under it.
fn verdict(report: &str, lesson: &str) -> String {
    let section = report
        .split("\nlessons\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no lessons section in:\n{report}"));
    let mut lines = section.lines().skip_while(|l| {
        !after_mark(l).is_some_and(|r| r.starts_with(&format!("{lesson} ")))
    });
    let first = lines
        .next()
        .unwrap_or_else(|| panic!("no verdict for {lesson} in:\n{report}"));
    let details = lines.take_while(|l| l.starts_with("      "));
    std::iter::once(first)
        .chain(details)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A report line without its indent and mark: `  ✓ UTS …` → `UTS …`.
fn after_mark(line: &str) -> Option<&str> {
    let mut chars = line.strip_prefix("  ")?.chars();
    chars.next()?;
    chars.as_str().strip_prefix(' ')
}

fn assert_works(report: &str, lesson: &str) {
    assert_eq!(
        verdict(report, lesson),
        format!("  ✓ {lesson:<10} works"),
        "{report}"
    );
}

/// The line for one namespace type in the `namespaces` section.
fn namespace_line<'a>(report: &'a str, name: &str) -> &'a str {
    let section = report.split("\nnamespaces").nth(1).unwrap();
    section
        .lines()
        .find(|l| {
            after_mark(l).is_some_and(|r| r.starts_with(&format!("{name:<8} ")))
        })
        .unwrap_or_else(|| panic!("no line for {name} namespaces in:\n{report}"))
}

const NAMESPACE_NAMES: [&str; 8] = [
    "UTS", "IPC", "PID", "mount", "user", "network", "cgroup", "time",
];

/// What the machine really has, read here without the doctor's code: v1 when a v1
/// tree holds the memory controller (07 needs it, with cpu and pids), else v2.
fn expected_layout() -> String {
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mut v1_memory = false;
    let mut v2_mount = None;
    for line in mountinfo.lines() {
        let fstype = line.split(" - ").nth(1).unwrap().split(' ').next().unwrap();
        let super_options = line.rsplit(' ').next().unwrap();
        if fstype == "cgroup" && super_options.split(',').any(|o| o == "memory") {
            v1_memory = true;
        }
        if fstype == "cgroup2" && v2_mount.is_none() {
            v2_mount = Some(line.split(' ').nth(4).unwrap().to_string());
        }
    }
    match (v1_memory, v2_mount) {
        (true, Some(_)) => "✓ cgroup v1 (hybrid:".to_string(),
        (true, None) => "✓ cgroup v1\n".to_string(),
        (false, Some(mount)) => format!("✓ cgroup v2 (unified, at {mount})"),
        (false, None) => panic!("this machine mounts no cgroup tree"),
    }
}

/// As root, on this machine (and in the cgroup v2 VM): every check passes, and what
/// it reports is what the machine has.
#[rstest]
fn every_lesson_works_here(_host_exclusive: HostGuard) {
    let run = without_leftovers(Command::new(doctor()));
    let report = &run.stdout;
    assert_eq!(run.code, 0, "{report}{}", run.stderr);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(
        report.contains(&format!("  ✓ Linux {} (uname -r)", release.trim())),
        "{report}"
    );
    for name in NAMESPACE_NAMES {
        assert!(namespace_line(report, name).starts_with("  ✓ "), "{report}");
    }
    assert!(report.contains(&expected_layout()), "{report}");
    for lesson in LESSONS {
        assert_works(report, lesson);
    }
    // Overlayfs is for the runtime chapter: no lesson needs it, and a kernel may
    // lack it (the VM's initramfs has no overlay module). The doctor must say what
    // the kernel has: after a mount was tried, /proc/filesystems lists overlay if,
    // and only if, it worked.
    let (before, rest) = report.split_once("\noverlayfs").unwrap();
    let overlay = overlay_section(rest);
    let after = &rest[overlay.len()..];
    assert!(!before.contains('✗') && !after.contains('✗'), "{report}");
    let filesystems = std::fs::read_to_string("/proc/filesystems").unwrap();
    let has_overlay = filesystems.lines().any(|l| l.ends_with("\toverlay"));
    assert_eq!(
        overlay.contains("  ✓ mount -t overlay"),
        has_overlay,
        "{overlay}\n{filesystems}"
    );
}

/// The lines of the overlayfs section, given the report from its heading on.
fn overlay_section(from_heading: &str) -> &str {
    from_heading.split("\n\n").next().unwrap()
}

/// Runs `program` in a user namespace of the test's own where
/// `user.max_<kind>_namespaces` is 0. The limit is per user namespace: the host
/// keeps its own.
fn with_limit_zero(kind: &str, program: &str, args: &[&str]) -> Command {
    let script = format!(
        "echo 0 > /proc/sys/user/max_{kind}_namespaces && exec \"$0\" \"$@\""
    );
    let mut command = Command::new("unshare");
    command
        .args(["--user", "--map-root-user", "sh", "-c", &script, program])
        .args(args);
    command
}

/// With a namespace type turned off, the doctor marks it ✗ and names the setting, in
/// the namespace's line and in the fix of every lesson that needs it; the other
/// lessons still work. Then the lessons themselves, run the same way, agree with it.
#[rstest]
#[case::uts(Namespace::Uts)]
#[case::net(Namespace::Net)]
#[case::user(Namespace::User)]
fn a_namespace_type_turned_off_is_named(
    _host_exclusive: HostGuard,
    #[case] namespace: Namespace,
) {
    let (kind, name) = (namespace.proc_name(), namespace.display_name());
    // The lessons whose containers get one, as the catalog says (tests/lessons.rs
    // proves the catalog right).
    let failing: Vec<&str> = lessons::LESSONS
        .iter()
        .filter(|lesson| lesson.isolates(namespace))
        .map(|lesson| lesson.name)
        .collect();
    let limit_file = format!("/proc/sys/user/max_{kind}_namespaces");
    let host_limit = std::fs::read_to_string(&limit_file).unwrap();
    let run = without_leftovers(with_limit_zero(kind, doctor(), &[]));
    let report = &run.stdout;
    assert_eq!(run.code, 1, "{report}{}", run.stderr);
    let setting = format!("user.max_{kind}_namespaces");
    let line = namespace_line(report, name);
    assert!(line.starts_with("  ✗ "), "{report}");
    assert!(line.contains(&format!("{setting} = 0")), "{report}");
    for lesson in LESSONS {
        if failing.contains(&lesson) {
            let verdict = verdict(report, lesson);
            assert!(
                verdict.starts_with(&format!("  ✗ {lesson:<10} will fail because")),
                "{report}"
            );
            let fix = format!("fix: sudo sysctl -w {setting}=15000");
            assert!(verdict.contains(&fix), "{verdict}");
        } else {
            assert_works(report, lesson);
        }
    }
    assert_eq!(std::fs::read_to_string(&limit_file).unwrap(), host_limit);
    // The doctor's word against the lessons': the first lesson it says fails does
    // fail, and the first it says works does work, in the same kind of user
    // namespace.
    let first_failing = failing[0];
    let lesson = finish(with_limit_zero(
        kind,
        bin(first_failing),
        &["--quiet", "true"],
    ));
    assert_eq!(lesson.code, 125, "{first_failing}: {}", lesson.stderr);
    if let Some(working) = LESSONS.iter().find(|l| !failing.contains(l)) {
        let lesson =
            finish(with_limit_zero(kind, bin(working), &["--quiet", "true"]));
        assert_eq!(lesson.code, 0, "{working}: {}", lesson.stderr);
    }
}

/// Run by an ordinary user: every lesson but 05 is reported as needing root, with
/// the fix; nothing crashes, and the exit status says not every lesson can work.
#[rstest]
fn an_ordinary_user_is_told_what_needs_root(_host_exclusive: HostGuard) {
    let dir = TempDir::new("doctor");
    let copy = dir.path.join("doctor");
    std::fs::copy(doctor(), &copy).unwrap();
    let copy = copy.to_str().unwrap().to_string();
    let before = Leftovers::now();
    // An ordinary user's PATH on Debian: no /usr/sbin, where nft lives.
    let path = [("PATH", "/usr/local/bin:/usr/bin:/bin")];
    let run = run_as_with_env(UNPRIVILEGED, &copy, &[], &path);
    assert_eq!(Leftovers::now(), before, "the doctor left something behind");
    let report = &run.stdout;
    assert_eq!(run.code, 1, "{report}{}", run.stderr);
    // Found all the same, where it is.
    let nft = ["/usr/local/sbin/nft", "/usr/sbin/nft", "/sbin/nft"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("nft is installed (scripts/provision.sh installs it)");
    assert!(report.contains(&format!("✓ nft     {nft}:")), "{report}");
    assert!(
        report.contains(&format!("✗ not root: uid {UNPRIVILEGED}")),
        "{report}"
    );
    let sudo = std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .any(|dir| dir.join("sudo").exists());
    let as_root = lessons::LESSONS.iter().filter(|lesson| lesson.runs_as_root);
    for lesson in as_root.map(|lesson| lesson.name) {
        let verdict = verdict(report, lesson);
        let needs_root = format!(
            "  ✗ {lesson:<10} will fail because it needs root (CAP_SYS_ADMIN), and this run is \
             uid {UNPRIVILEGED}"
        );
        assert!(verdict.starts_with(&needs_root), "{report}");
        let fix = if sudo {
            format!("fix: run it with `cargo run --bin {lesson}` (it uses sudo)")
        } else {
            "fix: as root: `apt-get install sudo`".to_string()
        };
        assert!(verdict.contains(&fix), "{verdict}");
    }
    // 05 is for ordinary users, and they may make user namespaces here
    // (tests/user.rs).
    assert_works(report, "05-user");
    let said = if sudo {
        "✓ sudo is installed"
    } else {
        "✗ sudo is not installed"
    };
    assert!(report.contains(said), "{report}");
    // What only root can try is marked "not tried", never ✓ or ✗.
    for skipped in ["cgroups", "overlayfs", "network"] {
        let section = report.split(&format!("\n{skipped}")).nth(1).unwrap();
        let section = section.split("\n\n").next().unwrap();
        assert!(section.contains("\n  – "), "{skipped}: {report}");
        assert!(!section.contains('✗'), "{skipped}: {report}");
    }
}

/// `--help` documents the exit codes.
#[test]
fn help_documents_the_exit_codes() {
    let mut command = Command::new(doctor());
    command.arg("--help");
    let run = finish(command);
    assert_eq!(run.code, 0);
    assert!(
        run.stdout.contains(
            "Exit status: 0 when every lesson can work here; 1 when at least one"
        ),
        "{}",
        run.stdout
    );
}

/// The report wraps itself at 80 columns when stdout is not a terminal (a pipe
/// here), the way the lessons' narration does: what a pipe gets is the whole lines,
/// each wrapped by `wrap_line`, and no line is wider than 80 columns.
#[rstest]
fn the_report_wraps_at_80_columns_in_a_pipe(_host_exclusive: HostGuard) {
    let whole = without_leftovers(Command::new(doctor()));
    let mut in_a_pipe = Command::new(doctor());
    in_a_pipe.env_remove(WIDTH_VARIABLE);
    let wrapped = without_leftovers(in_a_pipe);
    assert_eq!(wrapped.code, whole.code, "{}", wrapped.stderr);
    let too_wide: Vec<&str> = wrapped
        .stdout
        .lines()
        .filter(|l| l.chars().count() > 80)
        .collect();
    assert!(too_wide.is_empty(), "{}", wrapped.stdout);
    let expected: Vec<String> =
        whole.stdout.lines().map(|l| wrap_line(l, 80)).collect();
    assert_eq!(wrapped.stdout, expected.join("\n") + "\n");
    assert_ne!(wrapped.stdout, whole.stdout, "nothing was wrapped");
}

/// The book's transcript of a full run, as root. The kernel's release shows as
/// [RELEASE]; the report is wrapped at 80 columns after that, as the doctor
/// wraps it in a pipe.
#[rstest]
fn transcript_doctor(_host_exclusive: HostGuard) {
    let run = without_leftovers(Command::new(doctor()));
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let report = run.stdout.replace(release.trim(), "[RELEASE]");
    let wrapped: Vec<String> = report.lines().map(|l| wrap_line(l, 80)).collect();
    let report = wrapped.join("\n") + "\n";
    let mut transcript = Transcript::default();
    transcript.command("cargo run -q --bin doctor", &report);
    transcript.command("echo $?", "0\n");
    let version = if report.contains("✓ cgroup v2") {
        "v2"
    } else {
        "v1"
    };
    assert_transcript("00-doctor", &format!("doctor-{version}"), &transcript);
}
