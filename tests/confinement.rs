//! Proofs for issue 17's filesystem defences in `nsbox run` (the library's
//! `security::{in_root, masks, devices}`), read from the kernel: the container's
//! mount table as the host reads it (/proc/PID/mountinfo), and the errno a real
//! system call gets inside the container (the probe prints its name).
//!
//! Where it is safe, the same attempt is shown to succeed with the defence off
//! (`--privileged`, `--security-opt systempaths=unconfined`), so each test can
//! fail. The tests take the host lock exclusively, as tests/runtime.rs does.

mod common;

use common::*;
use nsbox::container::security::masks::{MASKED, READ_ONLY};
use rstest::rstest;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// One test's nsbox: its state root and its image store (the pattern of
/// tests/runtime.rs: on drop, `rm -f` every container, then check nothing is
/// left).
struct Nsbox {
    root: TempDir,
    storage: TempDir,
}

impl Nsbox {
    fn new() -> Nsbox {
        Nsbox {
            root: TempDir::new("confinement-root"),
            storage: TempDir::new("confinement-storage"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("nsbox"));
        command
            .arg("--root")
            .arg(&self.root.path)
            .arg("--storage")
            .arg(&self.storage.path)
            .args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        run_command(self.command(args), "")
    }

    /// Runs and expects success; returns stdout, trimmed.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "nsbox {args:?}: {}{}", run.stdout, run.stderr);
        run.stdout.trim().to_string()
    }

    /// `nsbox run --rm --network none [OPTIONS] -v PROBE:/probe:ro sh -c SCRIPT`:
    /// what it printed.
    fn script(&self, options: &[&str], script: &str) -> String {
        let volumes = probe_volumes();
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend(volumes.iter().map(String::as_str));
        args.extend_from_slice(options);
        args.extend_from_slice(&["sh", "-c", script]);
        self.ok(&args)
    }

    fn pid(&self, id: &str) -> i32 {
        let path = self.root.path.join(id).join("state.json");
        let text = std::fs::read_to_string(path).unwrap();
        let record: serde_json::Value = serde_json::from_str(&text).unwrap();
        record["pid"].as_i64().unwrap() as i32
    }

    /// Fails unless the containers are gone with their state and mounts.
    fn check_gone(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        let left = || {
            std::fs::read_dir(&self.root.path)
                .map(|d| d.flatten().count())
                .unwrap_or(0)
        };
        while left() > 0 {
            assert!(
                Instant::now() < deadline,
                "the state root still holds files"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.root.path.display().to_string();
        assert!(!mounts.contains(&root), "mounts left under {root}");
    }
}

impl Drop for Nsbox {
    fn drop(&mut self) {
        let ids = run_command(self.command(&["ps", "-a", "-q"]), "").stdout;
        for id in ids.lines() {
            let _ = run_command(self.command(&["rm", "-f", id]), "");
        }
    }
}

/// `-v` options that bring the probe in as /probe, with the host's C library it
/// is linked with (the busybox image has none).
fn probe_volumes() -> Vec<String> {
    let mut volumes = vec!["-v".to_string(), format!("{}:/probe:ro", probe())];
    // The host's /lib (and /lib64, where the loader is on x86-64), as they are.
    for dir in ["/lib", "/lib64"]
        .into_iter()
        .filter(|d| Path::new(d).exists())
    {
        volumes.push("-v".to_string());
        volumes.push(format!("{dir}:{dir}:ro"));
    }
    volumes
}

/// One line of /proc/PID/mountinfo: the mount's root in its filesystem, where it
/// is mounted, its options, and the filesystem's type.
struct MountLine {
    root: String,
    point: String,
    options: String,
    fs_type: String,
}

fn mount_table(pid: i32) -> Vec<MountLine> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).unwrap();
    text.lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let after = line.split(" - ").nth(1).unwrap_or("");
            MountLine {
                root: fields[3].to_string(),
                point: fields[4].to_string(),
                options: fields[5].to_string(),
                fs_type: after.split(' ').next().unwrap_or("").to_string(),
            }
        })
        .collect()
}

/// The paths of `list` this kernel has (read in the host's /proc and /sys: the
/// same kernel), as the container names them.
fn present(list: &[&str]) -> Vec<String> {
    list.iter()
        .filter(|path| Path::new("/").join(path).exists())
        .map(|path| format!("/{path}"))
        .collect()
}

/// The top mount at `point`, if any (the last line for it wins).
fn mount_at<'a>(table: &'a [MountLine], point: &str) -> Option<&'a MountLine> {
    table.iter().rev().find(|mount| mount.point == point)
}

/// In a default container, each masked path this kernel has is /dev/null (a
/// file; checked as the null device on the host, through /proc/PID/root) or an
/// empty read-only tmpfs (a folder), and each read-only path is a read-only
/// mount. With --privileged, or systempaths=unconfined, none of them is.
#[rstest]
fn system_paths_are_masked_and_read_only_in_the_kernels_mount_table(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    let masked = present(&MASKED);
    let read_only = present(&READ_ONLY);
    assert!(!masked.is_empty() && !read_only.is_empty());
    let id = nsbox.ok(&["run", "-d", "--network", "none", "sleep", "30"]);
    let pid = nsbox.pid(&id);
    let table = mount_table(pid);
    for path in &masked {
        let mount =
            mount_at(&table, path).unwrap_or_else(|| panic!("{path} unmasked"));
        let seen = std::fs::metadata(format!("/proc/{pid}/root{path}")).unwrap();
        if seen.is_dir() {
            assert_eq!(mount.fs_type, "tmpfs", "{path}");
            assert!(mount.options.split(',').any(|o| o == "ro"), "{path}");
            let entries = std::fs::read_dir(format!("/proc/{pid}/root{path}"));
            assert_eq!(entries.unwrap().count(), 0, "{path} not empty");
        } else {
            assert_eq!(mount.root, "/null", "{path}");
            assert!(seen.file_type().is_char_device(), "{path}");
            let null = std::fs::metadata("/dev/null").unwrap();
            assert_eq!(seen.rdev(), null.rdev(), "{path} is not /dev/null");
        }
    }
    for path in &read_only {
        let mount = mount_at(&table, path).unwrap_or_else(|| panic!("{path} rw"));
        assert!(mount.options.split(',').any(|o| o == "ro"), "{path}");
    }
    nsbox.ok(&["rm", "-f", &id]);

    for off in [
        &["--privileged"][..],
        &["--security-opt", "systempaths=unconfined"],
    ] {
        let mut args = vec!["run", "-d", "--network", "none"];
        args.extend_from_slice(off);
        args.extend_from_slice(&["sleep", "30"]);
        let id = nsbox.ok(&args);
        let table = mount_table(nsbox.pid(&id));
        for path in masked.iter().chain(&read_only) {
            assert!(mount_at(&table, path).is_none(), "{off:?}: {path} mounted");
        }
        nsbox.ok(&["rm", "-f", &id]);
    }
    nsbox.check_gone();
}

/// Inside: a masked file reads empty, and opening a read-only one for writing
/// fails with EROFS; unconfined, the masked file has the kernel's text and the
/// read-only one opens for writing (it is opened and closed, nothing written:
/// this is the host's kernel).
#[rstest]
fn a_masked_file_reads_empty_and_a_read_only_one_refuses_writes(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    // The masked files this kernel has, and that have text for root on the host
    // (this test machine has no /proc/kcore: it is a kernel option).
    let file = ["/proc/timer_list", "/proc/sched_debug", "/proc/keys"]
        .into_iter()
        .find(|path| std::fs::read(path).is_ok_and(|text| !text.is_empty()))
        .expect("a masked file with text on this kernel");
    let writable = "/proc/sys/kernel/domainname";
    let script = format!(
        "/probe read-count {file}; /probe open {writable} write; \
         [ -e /proc/sysrq-trigger ] && /probe open /proc/sysrq-trigger write; true"
    );
    let confined = nsbox.script(&[], &script);
    let lines: Vec<&str> = confined.lines().collect();
    assert_eq!(lines[0], "0", "{file}: {confined}");
    assert!(lines[1..].iter().all(|l| *l == "EROFS"), "{confined}");

    let unconfined = ["--security-opt", "systempaths=unconfined"];
    let free = nsbox.script(&unconfined, &script);
    let lines: Vec<&str> = free.lines().collect();
    assert!(lines[0].parse::<usize>().unwrap() > 0, "{file}: {free}");
    assert!(lines[1..].iter().all(|l| *l == "opened"), "{free}");
    nsbox.check_gone();
}

/// Root inside keeps CAP_MKNOD: `mknod` works. But a node it makes, in the
/// overlay, in /dev or in a volume, cannot be opened (nodev: EACCES), while the
/// nodes bound in from the host still open. With --privileged the same node
/// opens. (The node is /dev/zero's numbers, 1 5: harmless, and nodev does not
/// look at the numbers at all.)
#[rstest]
fn device_nodes_made_inside_cannot_be_opened(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let volume = TempDir::new("confinement-volume");
    let script = "for dir in /tmp /dev /volume; do mknod $dir/node c 1 5 && \
                  /probe open $dir/node read; done; /probe open /dev/zero read; \
                  /probe open /dev/null write";
    let volume_arg = format!("{}:/volume", volume.path.display());
    let confined = nsbox.script(&["-v", &volume_arg], script);
    assert_eq!(
        confined.lines().collect::<Vec<_>>(),
        ["EACCES", "EACCES", "EACCES", "opened", "opened"],
        "{confined}"
    );
    // The node was made, on the host too (a volume is a host folder).
    let node = std::fs::metadata(volume.path.join("node")).unwrap();
    assert!(node.file_type().is_char_device());
    std::fs::remove_file(volume.path.join("node")).unwrap();

    let privileged = nsbox.script(&["--privileged", "-v", &volume_arg], script);
    assert_eq!(
        privileged.lines().collect::<Vec<_>>(),
        ["opened", "opened", "opened", "opened", "opened"],
        "{privileged}"
    );
    std::fs::remove_file(volume.path.join("node")).unwrap();
    nsbox.check_gone();
}

/// A hostile image: `/data` a symlink to a host folder, `/etc/hosts` a symlink
/// to a host file. A volume at `/data/sub` and nsbox's own /etc/hosts land
/// inside the container's root (the symlinks resolved as in the container),
/// and the host folder stays empty. (The plain path join, which follows them
/// on the host, is shown in `security::in_root`'s unit test.)
#[rstest]
fn a_symlink_in_the_image_cannot_lead_a_mount_out_of_the_root(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    nsbox.ok(&["run", "--rm", "--network", "none", "true"]);
    // The built-in image, in this test's own store: plant the links in it, as a
    // pulled image's layer could ship them.
    let layer = nsbox.storage.path.join("builtin/busybox-0");
    assert!(layer.join("bin/busybox").exists(), "no image at {layer:?}");
    let host = TempDir::new("confinement-host-target");
    let volume = TempDir::new("confinement-volume");
    std::fs::write(volume.path.join("f"), "from the volume\n").unwrap();
    std::os::unix::fs::symlink(&host.path, layer.join("data")).unwrap();
    let _ = std::fs::remove_file(layer.join("etc/hosts"));
    std::os::unix::fs::symlink(host.path.join("hosts"), layer.join("etc/hosts"))
        .unwrap();

    let volume_arg = format!("{}:/data/sub", volume.path.display());
    let out = nsbox.script(
        &["-v", &volume_arg],
        "cat /data/sub/f; grep -c ip6-loopback /etc/hosts; \
         grep -E ' /data| /etc/hosts|confinement-host' /proc/self/mountinfo | \
         cut -d' ' -f5",
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..2], ["from the volume", "1"], "{out}");
    // Inside, the mounts are where the links lead in the container's root.
    let host_path = host.path.display().to_string();
    assert!(
        lines.contains(&format!("{host_path}/sub").as_str()),
        "{out}"
    );
    assert!(
        lines.contains(&format!("{host_path}/hosts").as_str()),
        "{out}"
    );
    // On the host, nothing was made or mounted there.
    let made: Vec<_> = std::fs::read_dir(&host.path).unwrap().flatten().collect();
    assert!(made.is_empty(), "the host folder holds {made:?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mounts.contains(&host_path),
        "a mount on the host's {host_path}"
    );
    nsbox.check_gone();
}

/// A host folder's descriptor that leaked into the container (here: fd 9,
/// inherited from the test) would let `cd /proc/self/fd/9` leave the root: the
/// kernel's getcwd names it `(unreachable)/…`, and `..` walks the host. So
/// `nsbox run -w` and `nsbox exec -w` refuse a working folder outside the root
/// (exit 125), and the command itself no longer has the descriptor.
#[rstest]
fn the_working_folder_must_be_inside_the_root(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let outside = TempDir::new("confinement-outside");
    std::fs::create_dir(outside.path.join("host-only")).unwrap();
    let folder = std::fs::File::open(&outside.path).unwrap();
    let with_fd_9 = |args: &[&str]| {
        let mut command = nsbox.command(args);
        let fd = std::os::fd::AsRawFd::as_raw_fd(&folder);
        // SAFETY: dup2 is async-signal-safe; the copy on 9 is not close-on-exec.
        unsafe {
            command.pre_exec(move || {
                if nix::libc::dup2(fd, 9) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        run_command(command, "")
    };
    let base = ["run", "--rm", "--network", "none"];
    let refused =
        with_fd_9(&[&base[..], &["-w", "/proc/self/fd/9", "pwd"]].concat());
    assert_eq!(refused.code, 125, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("getcwd()"), "{}", refused.stderr);

    // The command's own cd finds no descriptor 9: nsbox marked every inherited
    // descriptor close-on-exec (tests/hardening.rs shows the walk out with
    // lesson 08, which leaves them open).
    let walk = ["sh", "-c", "cd /proc/self/fd/9 && ls"];
    let walked = with_fd_9(&[&base[..], &walk].concat());
    assert_ne!(walked.code, 0, "{}", walked.stdout);
    assert!(walked.stderr.contains("can't cd"), "{}", walked.stderr);
    assert!(!walked.stdout.contains("host-only"), "{}", walked.stdout);

    // nsbox exec -w gets the same check.
    let id = nsbox.ok(&["run", "-d", "--network", "none", "sleep", "30"]);
    let exec = with_fd_9(&["exec", "-w", "/proc/self/fd/9", &id, "pwd"]);
    assert_eq!(exec.code, 125, "{}{}", exec.stdout, exec.stderr);
    assert!(
        exec.stderr.contains("outside the container's root"),
        "{}",
        exec.stderr
    );
    assert_eq!(nsbox.ok(&["exec", "-w", "/tmp", &id, "pwd"]), "/tmp");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone();
}

/// With every defence on, an ordinary workload runs as before: a shell, writes
/// in its own layer, a volume read-write and one read-only, the usual devices.
#[rstest]
fn the_default_container_still_runs_an_ordinary_workload(
    _host_exclusive: HostGuard,
) {
    let nsbox = Nsbox::new();
    let rw = TempDir::new("confinement-rw");
    let ro = TempDir::new("confinement-ro");
    std::fs::write(ro.path.join("in"), "read me\n").unwrap();
    let rw_arg = format!("{}:/rw", rw.path.display());
    let ro_arg = format!("{}:/ro:ro", ro.path.display());
    let out = nsbox.script(
        &["-v", &rw_arg, "-v", &ro_arg],
        "echo mine > /etc/mine && cat /etc/mine; echo out > /rw/out; cat /ro/in; \
         /probe open /ro/in write; head -c 4 /dev/urandom | wc -c; \
         echo gone > /dev/null && echo null ok; ls /proc/self/ >/dev/null && \
         cat /proc/sys/kernel/hostname >/dev/null && echo proc ok",
    );
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["mine", "read me", "EROFS", "4", "null ok", "proc ok"],
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path.join("out")).unwrap(),
        "out\n"
    );
    nsbox.check_gone();
}
