//! Proofs for `nsbox run --userns=auto` (issue 17): root inside is a slice of
//! host ids from nsbox's `/etc/subuid` range, read back from the kernel.
//!
//! The tests never touch the host's `/etc/subuid`: each gives nsbox files of its
//! own (`NSBOX_SUBUID`, `NSBOX_SUBGID`). The `Nsbox` fixture is tests/runtime.rs's,
//! copied, with those files and a check that no slice is left held.

mod common;

use common::*;
use rstest::rstest;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

/// The pools the tests give nsbox: 4 slices each, uids and gids apart so that a
/// mix-up shows.
const SUBUID: &str = "alice:100000:65536\nnsbox:1000000:262144\n";
const SUBGID: &str = "nsbox:3000000:262144\n";
const UIDS: u32 = 1000000;
const GIDS: u32 = 3000000;
const SLICE: u32 = 65536;

/// One test's nsbox: its state root, its image store and its subid files.
struct Nsbox {
    root: TempDir,
    storage: TempDir,
    subids: TempDir,
}

impl Nsbox {
    fn new() -> Nsbox {
        Nsbox::with_pool(SUBUID, SUBGID)
    }

    fn with_pool(subuid: &str, subgid: &str) -> Nsbox {
        let subids = TempDir::new("userns-subids");
        std::fs::write(subids.path.join("subuid"), subuid).unwrap();
        std::fs::write(subids.path.join("subgid"), subgid).unwrap();
        Nsbox {
            root: TempDir::new("userns-root"),
            storage: TempDir::new("userns-storage"),
            subids,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(bin("nsbox"));
        command
            .env("NSBOX_SUBUID", self.subids.path.join("subuid"))
            .env("NSBOX_SUBGID", self.subids.path.join("subgid"))
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

    fn record(&self, id: &str) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.root.path.join(id).join("state.json"))
                .unwrap_or_else(|e| panic!("no record for {id}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn pid(&self, id: &str) -> i32 {
        self.record(id)["pid"].as_i64().unwrap() as i32
    }

    /// The lines of the slices file: `UID GID COUNT HOLDER`.
    fn slices(&self) -> Vec<String> {
        std::fs::read_to_string(self.root.path.join("userns/slices"))
            .map(|text| text.lines().map(String::from).collect())
            .unwrap_or_default()
    }

    /// Fails unless every container is gone with everything it held, its slice
    /// of ids too.
    fn check_gone(&self, pids: &[i32]) {
        for &pid in pids {
            wait_for("the container's process to end", || !alive(pid));
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.root.path.display().to_string();
        let ours: Vec<&str> = mounts
            .lines()
            .filter(|l| l.contains("/run/netns/nsbox-") || l.contains(&root))
            .collect();
        assert!(ours.is_empty(), "mounts left: {ours:?}");
        let left: Vec<_> = std::fs::read_dir(&self.root.path)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "the state root still holds {left:?}");
    }
}

impl Drop for Nsbox {
    /// A test that failed half-way leaves no container running.
    fn drop(&mut self) {
        let ids = run_command(self.command(&["ps", "-a", "-q"]), "").stdout;
        for id in ids.lines() {
            let _ = run_command(self.command(&["rm", "-f", id]), "");
        }
    }
}

/// The single line of `/proc/PID/FILE` (`uid_map`, `gid_map`), its words.
fn map_of(pid: i32, file: &str) -> Vec<u32> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    assert_eq!(text.lines().count(), 1, "{file}: {text}");
    text.split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect()
}

/// The kernel's maps, the host's view of the process, and the image's files as
/// root inside sees them; what root inside makes lands in the upper layer owned
/// by the slice.
#[rstest]
fn root_inside_is_the_slice_on_the_host(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let id = nsbox.ok(&["run", "-d", "--userns=auto", "busybox", "sleep", "60"]);
    let pid = nsbox.pid(&id);
    // Read from the kernel: 0 inside is UIDS outside, for 65536 ids.
    let uid_map = map_of(pid, "uid_map");
    assert_eq!(uid_map, [0, UIDS, SLICE]);
    assert_eq!(map_of(pid, "gid_map"), [0, GIDS, SLICE]);
    // On the host the container's process is that uid, real and effective.
    let uid_line = status_field(pid, "Uid").unwrap();
    let uids: Vec<u32> = uid_line
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert_eq!(uids, [UIDS; 4], "{uid_line}");
    assert_eq!(nsbox.record(&id)["cleanup"]["idSlice"], UIDS);
    assert_eq!(nsbox.slices(), [format!("{UIDS} {GIDS} {SLICE} {id}")]);
    // Inside: root, and the image's files are root's (idmapped); root may
    // create and chown in the overlay.
    let inside = nsbox.ok(&[
        "exec",
        &id,
        "sh",
        "-c",
        "id -u; id -g; stat -c %u:%g /bin/busybox; touch /made && \
         chown 7:8 /made && stat -c %u:%g /made; echo ok >> /bin/busybox.copy",
    ]);
    assert_eq!(inside, "0\n0\n0:0\n7:8");
    // The host sees what it made owned by the slice (+ the id inside).
    let upper = nsbox.root.path.join(&id).join("rootfs/upper");
    let made = std::fs::metadata(upper.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (UIDS + 7, GIDS + 8));
    let copy = std::fs::metadata(upper.join("bin/busybox.copy")).unwrap();
    assert_eq!((copy.uid(), copy.gid()), (UIDS, GIDS));
    // The image itself is untouched: still root's on the disk.
    let image = find_file(&nsbox.storage.path, "busybox");
    assert_eq!(std::fs::metadata(&image).unwrap().uid(), 0, "{image:?}");
    nsbox.ok(&["rm", "-f", &id]);
    assert!(nsbox.slices().is_empty());
    nsbox.check_gone(&[pid]);
}

/// The first file called `name` under `dir`.
fn find_file(dir: &Path, name: &str) -> std::path::PathBuf {
    let found = Command::new("find")
        .arg(dir)
        .args(["-name", name, "-type", "f"])
        .output()
        .unwrap();
    let text = String::from_utf8(found.stdout).unwrap();
    text.lines().next().expect("the image's busybox").into()
}

/// Two containers at once hold slices apart; each `rm` gives back its own.
#[rstest]
fn two_containers_hold_slices_apart(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let args = [
        "run",
        "-d",
        "--userns=auto",
        "--network",
        "none",
        "sleep",
        "60",
    ];
    let a = nsbox.ok(&args);
    let b = nsbox.ok(&args);
    let (pa, pb) = (nsbox.pid(&a), nsbox.pid(&b));
    let (ua, ub) = (map_of(pa, "uid_map"), map_of(pb, "uid_map"));
    let (ga, gb) = (map_of(pa, "gid_map"), map_of(pb, "gid_map"));
    let apart = |x: &[u32], y: &[u32]| x[1] + x[2] <= y[1] || y[1] + y[2] <= x[1];
    assert!(apart(&ua, &ub), "{ua:?} {ub:?}");
    assert!(apart(&ga, &gb), "{ga:?} {gb:?}");
    assert_eq!(nsbox.slices().len(), 2);
    nsbox.ok(&["rm", "-f", &a]);
    let left = nsbox.slices();
    assert_eq!(left.len(), 1);
    assert!(left[0].ends_with(&b), "{left:?}");
    nsbox.ok(&["rm", "-f", &b]);
    assert!(nsbox.slices().is_empty());
    nsbox.check_gone(&[pa, pb]);
}

/// A foreground `nsbox run` SIGKILLed: the container dies with it, and `rm -f`
/// frees its slice (the record says which).
#[rstest]
fn a_killed_run_then_rm_f_frees_the_slice(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let cli = Running::from_command(nsbox.command(&[
        "run",
        "--userns=auto",
        "busybox",
        "sleep",
        "60",
    ]));
    let mut id = String::new();
    wait_for("a running container", || {
        id = std::fs::read_dir(&nsbox.root.path)
            .ok()
            .and_then(|d| {
                d.flatten()
                    .find(|e| e.path().join("state.json").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
            })
            .unwrap_or_default();
        !id.is_empty() && nsbox.record(&id)["status"] == "running"
    });
    let pid = nsbox.pid(&id);
    assert_eq!(nsbox.slices().len(), 1);
    nix::sys::signal::kill(cli.pid(), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_for("the container to die with its parent", || !alive(pid));
    assert_eq!(nsbox.slices().len(), 1, "held until rm");
    nsbox.ok(&["rm", "-f", &id]);
    assert!(nsbox.slices().is_empty());
    nsbox.check_gone(&[pid]);
}

/// The escape: what root inside reaches of the host's files, through volumes, it
/// reaches as the slice. With the defence off (no --userns), the same write into
/// a root-owned host file succeeds.
#[rstest]
fn root_inside_is_nobody_to_the_hosts_files(_host_exclusive: HostGuard) {
    use std::os::unix::fs::PermissionsExt;
    let nsbox = Nsbox::new();
    let open = TempDir::new("userns-open");
    std::fs::set_permissions(&open.path, std::fs::Permissions::from_mode(0o777))
        .unwrap();
    let secret = TempDir::new("userns-secret");
    let file = secret.path.join("secret");
    std::fs::write(&file, "host's\n").unwrap(); // root's, 0644
    let write_both = |userns: &[&str]| {
        let rw = format!("{}:/open", open.path.display());
        let host_file = format!("{}:/secret", file.display());
        let mut args = vec!["run", "--rm", "--network", "none"];
        args.extend_from_slice(userns);
        args.extend_from_slice(&[
            "-v",
            &rw,
            "-v",
            &host_file,
            "sh",
            "-c",
            "touch /open/made; echo changed >> /secret && echo wrote || echo refused",
        ]);
        nsbox.run(&args)
    };
    // The defence off: root inside is root here, and writes root's file.
    let off = write_both(&[]);
    assert_eq!(off.stdout, "wrote\n", "{}", off.stderr);
    assert_eq!(std::fs::metadata(open.path.join("made")).unwrap().uid(), 0);
    std::fs::write(&file, "host's\n").unwrap();
    std::fs::remove_file(open.path.join("made")).unwrap();
    // On: the write is refused (EACCES), and what it made is the slice's.
    let on = write_both(&["--userns=auto"]);
    assert_eq!(on.stdout, "refused\n", "{}", on.stderr);
    assert!(on.stderr.contains("Permission denied"), "{}", on.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "host's\n");
    let made = std::fs::metadata(open.path.join("made")).unwrap();
    assert_eq!((made.uid(), made.gid()), (UIDS, GIDS));
    nsbox.check_gone(&[]);
}

/// A pool of one slice: a second container is refused while the first holds
/// it, and leaves nothing.
#[rstest]
fn a_full_pool_refuses_the_next_container(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::with_pool("nsbox:1000000:65536\n", "nsbox:3000000:65536\n");
    let args = [
        "run",
        "-d",
        "--userns=auto",
        "--network",
        "none",
        "sleep",
        "60",
    ];
    let first = nsbox.ok(&args);
    let second = nsbox.run(&args);
    assert_eq!(second.code, 125, "{}", second.stderr);
    assert!(
        second.stderr.contains("every one of the 1 slices"),
        "{}",
        second.stderr
    );
    assert_eq!(nsbox.ok(&["ps", "-a", "-q"]), first);
    assert_eq!(nsbox.slices().len(), 1);
    let pid = nsbox.pid(&first);
    nsbox.ok(&["rm", "-f", &first]);
    nsbox.check_gone(&[pid]);
}

/// No `nsbox` line in the subid files: refused before anything is made, with the
/// line to add.
#[rstest]
fn without_a_pool_run_says_what_to_add(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::with_pool("alice:100000:65536\n", "");
    let run = nsbox.run(&["run", "--rm", "--userns=auto", "true"]);
    assert_eq!(run.code, 125, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "echo nsbox:1000000:6553600 | sudo tee -a /etc/subuid /etc/subgid"
        ),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("'nsbox'"), "{}", run.stderr);
    assert!(nsbox.ok(&["ps", "-a", "-q"]).is_empty());
    nsbox.check_gone(&[]);
    // And --network host is refused, with the reason.
    let host =
        Nsbox::new().run(&["run", "--userns=auto", "--network", "host", "true"]);
    assert_eq!(host.code, 125);
    assert!(host.stderr.contains("--network host"), "{}", host.stderr);
}

/// The default workload with --userns=auto: a shell that writes, its own /sys
/// (sysfs of its network namespace), /dev, a terminal's devpts, a published
/// port.
#[rstest]
fn the_default_workload_runs_remapped(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let run = nsbox.run(&[
        "run",
        "--rm",
        "--userns=auto",
        "sh",
        "-c",
        "echo hi > /tmp/f && cat /tmp/f; ls /sys/class/net | tr '\\n' ' '; echo; \
         head -c 3 /dev/zero | wc -c; echo x > /dev/null && echo null; \
         ls -d /dev/pts/ptmx; hostname > /dev/null && echo named",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout, "hi\neth0 lo \n3\nnull\n/dev/pts/ptmx\nnamed\n",
        "{}",
        run.stderr
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let id = nsbox.ok(&[
        "run",
        "-d",
        "--userns=auto",
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
    let pid = nsbox.pid(&id);
    let answer = fetch(port, "/hostname");
    assert!(answer.ends_with(&format!("\r\n\r\n{id}\n")), "{answer}");
    nsbox.ok(&["rm", "-f", &id]);
    nsbox.check_gone(&[pid]);
}

/// Images on a filesystem that cannot be idmapped (overlayfs: `mount_setattr`
/// gives EINVAL): the fallback, a copy with shifted owners in the container's
/// folder. The overlay is mounted in a mount namespace of the test's own
/// (`unshare -m`), so the host's mount table never sees it.
#[rstest]
fn an_image_that_cannot_be_idmapped_is_copied_shifted(_host_exclusive: HostGuard) {
    let nsbox = Nsbox::new();
    let overlay = TempDir::new("userns-overlay");
    for dir in ["l", "u", "w", "m"] {
        std::fs::create_dir(overlay.path.join(dir)).unwrap();
    }
    let o = overlay.path.display();
    let root = nsbox.root.path.display();
    let nsbox_at = format!("{} --root {root} --storage {o}/m", bin("nsbox"));
    let script = format!(
        "set -e
         mount -t overlay -o lowerdir={o}/l,upperdir={o}/u,workdir={o}/w overlay {o}/m
         id=$({nsbox_at} run -d --userns=auto --network none sleep 60)
         stat -c %u:%g {root}/$id/rootfs/lower/0/bin/busybox
         {nsbox_at} exec $id sh -c 'stat -c %u:%g /bin/busybox; touch /bin/x; \
             chown 3:4 /bin/x; stat -c %u:%g /bin/x'
         {nsbox_at} rm -f $id >/dev/null"
    );
    let mut command = Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("NSBOX_SUBUID", nsbox.subids.path.join("subuid"))
        .env("NSBOX_SUBGID", nsbox.subids.path.join("subgid"));
    let run = run_command(command, "");
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    // On the host, the copy is the slice's; inside, root's; root may chown.
    assert_eq!(run.stdout, format!("{UIDS}:{GIDS}\n0:0\n3:4\n"));
    nsbox.check_gone(&[]);
}
