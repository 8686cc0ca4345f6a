//! Proofs for the process-level defences of `nsbox run` (issue 17): capabilities,
//! no_new_privs and seccomp, read back from the kernel (`/proc/PID/status`, the
//! errno a real system call gets inside the container), each attack shown to work
//! once the defence is switched off.
//!
//! The probe is a dynamically linked program: the containers get the host's
//! libraries read-only (`-v /usr/lib:/lib:ro`) to run it. The `Nsbox` fixture is
//! tests/common/engine.rs's.

mod common;

use common::*;
use rstest::rstest;
use std::collections::BTreeMap;

/// Docker's default capabilities, as /proc/PID/status shows them.
const DOCKER_DEFAULT: u64 = 0xa80425fb;

/// `nsbox run …` with `-v` options that let the probe run in the busybox image:
/// the host's libraries and the probe itself, read-only (`args` starts with
/// `run`).
fn with_probe(args: &[&str]) -> Vec<String> {
    let probe_volume = format!("{}:/probe:ro", probe());
    let volumes = [
        "-v",
        "/usr/lib:/lib:ro",
        "-v",
        "/usr/lib64:/lib64:ro",
        "-v",
        &probe_volume,
    ];
    let mut all: Vec<String> = args[..1].iter().map(|s| s.to_string()).collect();
    all.extend(volumes.iter().map(|s| s.to_string()));
    all.extend(args[1..].iter().map(|s| s.to_string()));
    all
}

/// The capability masks and the other lines `probe status` prints, by name
/// (`CapEff` → `00000000a80425fb`).
fn status_lines(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
        .collect()
}

fn mask(status: &BTreeMap<String, String>, key: &str) -> u64 {
    let text = status
        .get(key)
        .unwrap_or_else(|| panic!("no {key} in {status:?}"));
    u64::from_str_radix(text, 16).unwrap()
}

/// Our own bounding set: what `--privileged` gives (all the host has).
fn our_bounding_set() -> u64 {
    let ours = status_lines(&std::fs::read_to_string("/proc/self/status").unwrap());
    mask(&ours, "CapBnd")
}

/// The five capability sets, no_new_privs and seccomp of the command, as the
/// kernel shows them to it, for each way of asking.
#[rstest]
#[case::default(&[], DOCKER_DEFAULT, DOCKER_DEFAULT, DOCKER_DEFAULT, "0", "2")]
#[case::drop_and_add(
    &["--cap-drop", "NET_RAW", "--cap-add", "sys_time"],
    (DOCKER_DEFAULT | 1 << 25) & !(1 << 13),
    (DOCKER_DEFAULT | 1 << 25) & !(1 << 13),
    (DOCKER_DEFAULT | 1 << 25) & !(1 << 13),
    "0",
    "2"
)]
#[case::drop_all_add_one(
    &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
    1 << 10, 1 << 10, 1 << 10, "0", "2"
)]
#[case::user_1000(&["-u", "1000"], 0, 0, DOCKER_DEFAULT, "0", "2")]
#[case::drop_all_user_1000(&["--cap-drop", "ALL", "-u", "1000"], 0, 0, 0, "0", "2")]
// SetUser needs CAP_SETUID: it stays until then, and the exec takes it away.
#[case::root_without_setuid(
    &["-u", "0", "--cap-drop", "SETUID"],
    DOCKER_DEFAULT & !(1 << 7),
    DOCKER_DEFAULT & !(1 << 7),
    DOCKER_DEFAULT & !(1 << 7),
    "0",
    "2"
)]
#[case::no_new_privileges(
    &["--security-opt", "no-new-privileges"],
    DOCKER_DEFAULT, DOCKER_DEFAULT, DOCKER_DEFAULT, "1", "2"
)]
#[case::unconfined(
    &["--security-opt", "seccomp=unconfined"],
    DOCKER_DEFAULT, DOCKER_DEFAULT, DOCKER_DEFAULT, "0", "0"
)]
#[case::privileged(&["--privileged"], u64::MAX, u64::MAX, u64::MAX, "0", "0")]
fn the_command_has_the_capabilities_asked_for(
    _host_exclusive: HostGuard,
    #[case] options: &[&str],
    #[case] effective: u64,
    #[case] permitted: u64,
    #[case] bounding: u64,
    #[case] no_new_privs: &str,
    #[case] seccomp: &str,
) {
    let nsbox = Nsbox::new();
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["busybox", "cat", "/proc/self/status"]);
    let status = status_lines(&nsbox.ok(&args));
    // u64::MAX stands for "all we have ourselves".
    let expected = |mask: u64| match mask {
        u64::MAX => our_bounding_set(),
        mask => mask,
    };
    let shown = |key| format!("{key} {:?}", status.get(key));
    assert_eq!(
        mask(&status, "CapEff"),
        expected(effective),
        "{}",
        shown("CapEff")
    );
    assert_eq!(
        mask(&status, "CapPrm"),
        expected(permitted),
        "{}",
        shown("CapPrm")
    );
    assert_eq!(
        mask(&status, "CapBnd"),
        expected(bounding),
        "{}",
        shown("CapBnd")
    );
    assert_eq!(mask(&status, "CapInh"), 0);
    assert_eq!(mask(&status, "CapAmb"), 0);
    assert_eq!(status["NoNewPrivs"], no_new_privs);
    assert_eq!(status["Seccomp"], seccomp);
    nsbox.check_gone(&[]);
}

/// A detached container's process, read from the host, and a command `nsbox exec`
/// starts in it: the same capabilities and the same seccomp filter.
#[rstest]
fn exec_gets_the_containers_defences(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&["run", "-d", "--network", "none", "busybox", "sleep", "60"]);
    let held = nsbox.holdings(&id);
    let text =
        std::fs::read_to_string(format!("/proc/{}/status", held.pid)).unwrap();
    let container = status_lines(&text);
    assert_eq!(mask(&container, "CapEff"), DOCKER_DEFAULT);
    assert_eq!(mask(&container, "CapBnd"), DOCKER_DEFAULT);
    assert_eq!(container["Seccomp"], "2");
    let execd = status_lines(&nsbox.ok(&["exec", &id, "cat", "/proc/self/status"]));
    for key in ["CapEff", "CapPrm", "CapBnd", "CapInh", "CapAmb"] {
        assert_eq!(mask(&execd, key), mask(&container, key), "{key}");
    }
    assert_eq!(execd["Seccomp"], "2");
    assert_eq!(execd["Seccomp_filters"], container["Seccomp_filters"]);
    // And the filter works there too.
    let mount = nsbox.run(&["exec", &id, "mount", "-t", "tmpfs", "none", "/mnt"]);
    assert_ne!(mount.code, 0, "{}", mount.stdout);
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[held]);
}

/// What each attempt gets, by the options the container runs with. `!EPERM`: any
/// answer but EPERM (the call got past the capability and seccomp checks, to
/// the kernel's own checks of its arguments, which make it change nothing).
/// `A|B`: either (a kernel built without modules answers ENOSYS before it checks
/// CAP_SYS_MODULE; one with them, EPERM, since only the filter is off).
const ATTEMPTS: [(&str, [&str; 4]); 14] = [
    // (call, [default, seccomp=unconfined, --privileged, --cap-add X])
    ("settimeofday", ["EPERM", "EINVAL", "EINVAL", "EINVAL"]),
    ("adjtimex", ["EPERM", "EPERM", "EINVAL", "EINVAL"]),
    ("init_module", ["EPERM", "EPERM|ENOSYS", "!EPERM", "!EPERM"]),
    (
        "finit_module",
        ["EPERM", "EPERM|ENOSYS", "!EPERM", "!EPERM"],
    ),
    ("mount", ["EPERM", "EPERM", "ENODEV", "ENODEV"]),
    ("unshare-user", ["EPERM", "ok", "ok", "ok"]),
    ("clone-newuser", ["EPERM", "ok", "ok", "ok"]),
    ("clone3", ["ENOSYS", "EINVAL", "EINVAL", "EINVAL"]),
    ("keyctl", ["EPERM", "!EPERM", "!EPERM", "EPERM"]),
    ("bpf", ["EPERM", "EPERM", "!EPERM", "!EPERM"]),
    ("kcmp", ["EPERM", "ok", "ok", "ok"]),
    ("pidfd_getfd", ["EPERM", "ok", "ok", "ok"]),
    ("socket-vsock", ["EPERM", "!EPERM", "!EPERM", "EPERM"]),
    ("personality-noaslr", ["EPERM", "ok", "ok", "EPERM"]),
];

/// Escape attempts from a default container fail with EPERM, from the
/// capability checks or from the seccomp filter; switching the defences off
/// (one at a time) lets each through.
#[rstest]
#[case::default(0, &[])]
#[case::unconfined(1, &["--security-opt", "seccomp=unconfined"])]
#[case::privileged(2, &["--privileged"])]
#[case::cap_add(
    3,
    &["--cap-add", "SYS_ADMIN", "--cap-add", "SYS_TIME", "--cap-add", "SYS_MODULE",
      "--cap-add", "SYS_PTRACE"]
)]
fn escape_attempts_fail_by_default(
    _host_exclusive: HostGuard,
    #[case] column: usize,
    #[case] options: &[&str],
) {
    let nsbox = Nsbox::new();
    let calls: Vec<&str> = ATTEMPTS.iter().map(|(call, _)| *call).collect();
    let script = format!(
        "for call in {}; do echo \"$call $(/probe syscall $call)\"; done",
        calls.join(" ")
    );
    let mut args = vec!["run", "--rm", "--network", "none"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["busybox", "sh", "-c", &script]);
    let output = nsbox.ok(&with_probe(&args)
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    let answers: BTreeMap<&str, &str> =
        output.lines().filter_map(|l| l.split_once(' ')).collect();
    let mut wrong = Vec::new();
    for (call, expected) in ATTEMPTS {
        let expected = expected[column];
        let got = answers.get(call).copied().unwrap_or("(nothing)");
        let right = match expected.strip_prefix('!') {
            Some(not) => got != not && got != "(nothing)",
            None => expected.split('|').any(|one| got == one),
        };
        if !right {
            wrong.push(format!("{call}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{options:?}:\n{}", wrong.join("\n"));
    nsbox.check_gone(&[]);
}

/// A setuid-root program run by user 1000 becomes root (euid 0), unless
/// no_new_privs is set.
#[rstest]
#[case::without(&[], "uid=1000 euid=0")]
#[case::with_no_new_privileges(&["--security-opt", "no-new-privileges"], "uid=1000 euid=1000")]
fn no_new_privileges_stops_setuid(
    _host_exclusive: HostGuard,
    #[case] options: &[&str],
    #[case] expected: &str,
) {
    use std::os::unix::fs::PermissionsExt;
    let nsbox = Nsbox::new();
    let folder = TempDir::new("security-setuid");
    let program = folder.path.join("probe");
    std::fs::copy(probe(), &program).unwrap();
    // Owned by root (we are), setuid.
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o4755))
        .unwrap();
    let volume = format!("{}:/data", folder.path.display());
    let mut args = vec![
        "run",
        "--rm",
        "--network",
        "none",
        "-u",
        "1000",
        "-v",
        &volume,
    ];
    args.extend_from_slice(options);
    args.extend_from_slice(&["busybox", "/data/probe", "id"]);
    let owned = with_probe(&args);
    let all: Vec<&str> = owned.iter().map(String::as_str).collect();
    assert_eq!(nsbox.ok(&all), expected);
    nsbox.check_gone(&[]);
}

/// A profile of our own, in docker's format: `mkdir` fails with its errno
/// (ENOSPC here), everything else runs; the default profile lets mkdir be.
#[rstest]
fn a_custom_profile_denies_what_it_names(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let folder = TempDir::new("security-profile");
    let profile = folder.path.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{
          "defaultAction": "SCMP_ACT_ALLOW",
          "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}
          ]
        }"#,
    )
    .unwrap();
    let option = format!("seccomp={}", profile.display());
    let script = "mkdir /made 2>&1; echo $?; grep Seccomp: /proc/self/status";
    let run = nsbox.run(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--security-opt",
        &option,
        "busybox",
        "sh",
        "-c",
        script,
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("No space left on device"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("\n1\n"), "{}", run.stdout);
    assert!(run.stdout.contains("Seccomp:\t2"), "{}", run.stdout);
    let default = nsbox.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "busybox",
        "sh",
        "-c",
        "mkdir /made && echo made",
    ]);
    assert_eq!(default, "made");
    nsbox.check_gone(&[]);
}

/// A profile that is no profile, an unknown action, a missing file, an unknown
/// capability: one clear line, exit 125, nothing left on the host.
#[rstest]
#[case::malformed("{\"defaultAction\": ", "docker's format")]
#[case::wrong_type("{\"defaultAction\": 3}", "docker's format")]
#[case::unknown_action(
    r#"{"defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_MAYBE"}]}"#,
    "SCMP_ACT_MAYBE"
)]
#[case::unknown_comparison(
    r#"{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"],
        "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ISH"}]}]}"#,
    "SCMP_CMP_ISH"
)]
fn bad_profiles_are_refused(
    _host_exclusive: HostGuard,
    #[case] text: &str,
    #[case] named: &str,
) {
    let nsbox = Nsbox::new();
    let folder = TempDir::new("security-bad");
    let profile = folder.path.join("bad.json");
    std::fs::write(&profile, text).unwrap();
    let option = format!("seccomp={}", profile.display());
    let run =
        nsbox.run(&["run", "--rm", "--security-opt", &option, "busybox", "true"]);
    assert_eq!(run.code, 125, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.starts_with("nsbox run: --security-opt seccomp"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(named), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    nsbox.check_gone(&[]);
}

#[rstest]
#[case::missing_profile(&["--security-opt", "seccomp=/no/such/profile.json"], "cannot read")]
#[case::unknown_capability(&["--cap-add", "WIZARDRY"], "no such capability")]
#[case::unknown_drop(&["--cap-drop", "NET_RAWR"], "--cap-drop NET_RAWR")]
fn bad_security_options_are_refused(
    _host_exclusive: HostGuard,
    #[case] options: &[&str],
    #[case] named: &str,
) {
    let nsbox = Nsbox::new();
    let mut args = vec!["run", "--rm"];
    args.extend_from_slice(options);
    args.extend_from_slice(&["busybox", "true"]);
    let run = nsbox.run(&args);
    assert_eq!(run.code, 125, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains(named), "{}", run.stderr);
    nsbox.check_gone(&[]);
}

/// The default container still does ordinary work: a shell, files, what a
/// package manager does to them, ping (it needs NET_RAW, which docker keeps:
/// dropping it breaks ping), a server on a published port.
#[rstest]
fn an_ordinary_workload_still_runs(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let work = "echo hello > /tmp/file && cat /tmp/file && chown 1000 /tmp/file && \
                ping -c1 -W2 127.0.0.1 >/dev/null && echo pinged";
    assert_eq!(
        nsbox.ok(&["run", "--rm", "busybox", "sh", "-c", work]),
        "hello\npinged"
    );
    // What a package manager does: folders, a file written aside and renamed
    // over, a hard link, owners and a setuid bit set (dpkg and apk need CHOWN,
    // FOWNER, FSETID; all are in the default set).
    let install = "mkdir -p /usr/lib/pkg && echo v1 > /usr/lib/pkg/tool.new && \
                   mv /usr/lib/pkg/tool.new /usr/lib/pkg/tool && \
                   ln /usr/lib/pkg/tool /usr/lib/pkg/link && \
                   chown 100:101 /usr/lib/pkg/tool && chmod 4755 /usr/lib/pkg/tool && \
                   stat -c '%a %u %g %h' /usr/lib/pkg/link";
    assert_eq!(
        nsbox.ok(&["run", "--rm", "busybox", "sh", "-c", install]),
        "4755 100 101 2"
    );
    let no_raw = nsbox.run(&[
        "run",
        "--rm",
        "--cap-drop",
        "NET_RAW",
        "busybox",
        "ping",
        "-c1",
        "-W2",
        "127.0.0.1",
    ]);
    assert_ne!(
        no_raw.code, 0,
        "ping worked without NET_RAW: {}",
        no_raw.stdout
    );
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
