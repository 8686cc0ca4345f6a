//! Lesson 08: a root filesystem of its own. Each proof runs the real `08-rootfs`
//! with an image the test builds from the host's busybox in a folder of its own,
//! and no network, and reads what the container sees or what the host has.

mod common;

use common::*;
use nsbox::container::image::{HOST_BUSYBOX, Owner, busybox_image};
use rstest::rstest;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A busybox image in the test's own folder, owned by whom root inside will be.
struct Image {
    path: PathBuf,
    _dir: TempDir,
}

fn image() -> Image {
    require_root();
    let dir = TempDir::new("rootfs-image");
    let (uid, gid) = invoking_user();
    let path = busybox_image(&dir.path, Path::new(HOST_BUSYBOX), Owner { uid, gid })
        .unwrap();
    Image { path, _dir: dir }
}

/// `08-rootfs --network none --rootfs IMAGE --quiet ARGS…`
fn lesson(image: &Image, args: &[&str]) -> Command {
    let mut command = Command::new(bin("08-rootfs"));
    command
        .args(["--network", "none", "--quiet", "--rootfs"])
        .arg(&image.path)
        .args(args);
    command
}

fn run_in(image: &Image, script: &str) -> Run {
    let run = run_command(lesson(image, &["sh", "-c", script]), "");
    assert_eq!(run.code, 0, "{script}: {}", run.stderr);
    run
}

/// A file on the host with a name nothing else has: no path inside leads to it,
/// not even through `/proc/1/root` (the container's init's root is the container's).
#[rstest]
fn the_hosts_files_are_out_of_reach(_host: HostGuard) {
    let image = image();
    let marker_dir = TempDir::new("rootfs-marker");
    let name = format!("nsbox-marker-{}", std::process::id());
    std::fs::write(marker_dir.path.join(&name), "host").unwrap();
    let script =
        format!("find / /proc/1/root/ -xdev -name {name} 2>/dev/null; echo done");
    let run = run_in(&image, &script);
    assert_eq!(run.stdout, "done\n");
    let everything = run_in(&image, "ls /");
    assert!(
        !everything.stdout.contains("nsbox-test"),
        "{}",
        everything.stdout
    );
}

/// `/dev` has exactly the nodes and links the lesson puts there.
#[rstest]
fn dev_holds_only_what_a_container_needs(_host: HostGuard) {
    let image = image();
    let run = run_in(&image, "ls /dev");
    let mut found: Vec<&str> = run.stdout.split_whitespace().collect();
    found.sort();
    let mut expected = vec![
        "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ];
    expected.sort();
    assert_eq!(found, expected);
    let zero = run_in(&image, "head -c 4 /dev/zero | od -An -tx1");
    assert_eq!(zero.stdout.trim(), "00 00 00 00");
}

/// `/sys` is read-only, the overlay's root is not.
#[rstest]
fn sys_refuses_writes(_host: HostGuard) {
    let image = image();
    let run = run_command(lesson(&image, &["sh", "-c", "touch /sys/x"]), "");
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("Read-only file system"),
        "{}",
        run.stderr
    );
    run_in(&image, "touch /x && ls /x");
}

/// A container's writes land in its own layer: the image is byte for byte what it
/// was, and a second container on the same image does not see them.
#[rstest]
fn writes_go_to_the_containers_layer(_host: HostGuard) {
    let image = image();
    let passwd = image.path.join("etc/passwd");
    let before = everything_in(&image.path);
    let mut writer = Running::from_command(lesson(
        &image,
        &[
            "sh",
            "-c",
            "echo mine >> /etc/passwd; echo new > /made; echo written; cat",
        ],
    ));
    writer.wait_for(Source::Stdout, "written");
    let upper = Path::new(nsbox::container::state::DEFAULT_ROOT)
        .join(writer.pid().to_string())
        .join("rootfs/upper");
    assert_eq!(
        std::fs::read_to_string(upper.join("made")).unwrap(),
        "new\n"
    );
    let copied = std::fs::read_to_string(upper.join("etc/passwd")).unwrap();
    assert!(copied.ends_with("mine\n"), "{copied}");
    let other = run_in(&image, "ls /made 2>&1; grep -c mine /etc/passwd || true");
    assert!(other.stdout.contains("No such file"), "{}", other.stdout);
    assert!(other.stdout.ends_with("0\n"), "{}", other.stdout);
    writer.close_stdin();
    assert_eq!(writer.finish().code, 0);
    assert!(everything_in(&image.path) == before, "the image changed");
    assert!(!std::fs::read_to_string(&passwd).unwrap().contains("mine"));
    assert!(!upper.exists(), "the layer is removed with the container");
}

/// Every file, folder and link under `dir`, with what it holds (a file's bytes, a
/// link's target), its mode and owner: the whole image, byte for byte.
fn everything_in(
    dir: &Path,
) -> std::collections::BTreeMap<PathBuf, (Vec<u8>, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let content = if meta.is_symlink() {
            std::fs::read_link(&path)
                .unwrap()
                .into_os_string()
                .into_encoded_bytes()
        } else if meta.is_file() {
            std::fs::read(&path).unwrap()
        } else {
            found.extend(everything_in(&path));
            Vec::new()
        };
        found.insert(path, (content, meta.mode(), meta.uid()));
    }
    found
}

/// Volumes: a writable one's writes appear on the host, a read-only one refuses.
#[rstest]
fn volumes_bring_host_folders_in(_host: HostGuard) {
    let image = image();
    let shared = TempDir::new("rootfs-volume");
    // The student's own folder: root inside is the student on the host.
    shared.chown(invoking_user().0);
    let host = shared.path.display().to_string();
    let rw = format!("{host}:/data");
    let ro = format!("{host}:/ro:ro");
    let run = run_command(
        lesson(
            &image,
            &[
                "-v",
                &rw,
                "-v",
                &ro,
                "sh",
                "-c",
                "echo hi > /data/f; echo no > /ro/g",
            ],
        ),
        "",
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("Read-only file system"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_to_string(shared.path.join("f")).unwrap(),
        "hi\n"
    );
    assert!(!shared.path.join("g").exists());
}

/// A volume that cannot work is refused before anything is made.
#[rstest]
#[case::relative("/tmp:data", "both paths must start with /")]
#[case::missing("/no/such/folder:/data", "does not exist on the host")]
#[case::mode("/tmp:/data:rw", "is not HOST:CONTAINER")]
fn bad_volumes_are_refused(
    _host: HostGuard,
    #[case] volume: &str,
    #[case] says: &str,
) {
    let image = image();
    let run = run_command(lesson(&image, &["-v", volume, "true"]), "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(says), "{}", run.stderr);
}

/// `/sys/fs/cgroup` inside is the container's own cgroup, read-only: it reads its
/// own memory limit (cgroup v2: `memory.max`; v1: the memory controller's folder)
/// and cannot change it.
#[rstest]
fn the_container_reads_its_own_cgroup(_host: HostGuard) {
    let image = image();
    let limit = "cat /sys/fs/cgroup/memory.max 2>/dev/null \
                 || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
    let run =
        run_command(lesson(&image, &["--memory", "64M", "sh", "-c", limit]), "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.trim(), (64 << 20).to_string());
    let raise = "if [ -e /sys/fs/cgroup/memory.max ]; \
                 then echo max > /sys/fs/cgroup/memory.max; \
                 else echo -1 > /sys/fs/cgroup/memory/memory.limit_in_bytes; fi";
    for script in [raise, "touch /sys/fs/cgroup/x"] {
        let run = run_command(
            lesson(&image, &["--memory", "64M", "sh", "-c", script]),
            "",
        );
        assert_ne!(run.code, 0, "{script}");
        assert!(
            run.stderr.contains("Read-only file system"),
            "{}",
            run.stderr
        );
    }
}

/// `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf` are made for the container:
/// its name, its address (here on a bridge in a network namespace of the test's
/// own), and the host's name servers that work from inside (none on the host's
/// loopback).
#[rstest]
fn etc_files_are_the_containers(_host: HostGuard) {
    let image = image();
    let state = TempDir::new("rootfs-state");
    let script = "cat /etc/hostname; grep box /etc/hosts; cat /etc/resolv.conf";
    let mut command = Command::new("unshare");
    command
        .args(["--net", bin("08-rootfs"), "--quiet", "--hostname", "box"])
        .arg("--state-dir")
        .arg(&state.path)
        .arg("--rootfs")
        .arg(&image.path)
        .args(["sh", "-c", script]);
    let run = run_command(command, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut lines = run.stdout.lines();
    assert_eq!(lines.next(), Some("box"));
    assert_eq!(lines.next(), Some("10.89.0.2\tbox"));
    let resolv: Vec<&str> = lines.collect();
    assert!(
        resolv.iter().all(|line| !line.contains("nameserver 127.")),
        "{resolv:?}"
    );
    // (A machine may have none: the test VM.)
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let reachable = |line: &&str| {
        line.starts_with("nameserver")
            && !line.contains(" 127.")
            && !line.ends_with("::1")
    };
    for line in host.lines().filter(reachable) {
        assert!(resolv.contains(&line), "{line} missing from {resolv:?}");
    }
}

/// The chapter's experiment. Root in the container may `chroot`; with a `chroot`
/// as its root, the classic escape (chroot into a folder without going in, climb
/// with `..`, chroot to where it ends) reaches the host's files. After
/// `pivot_root` and the old root unmounted, the same climb ends at the
/// container's own root.
#[rstest]
fn chroot_can_be_escaped_pivot_root_cannot(_host: HostGuard) {
    let image = image();
    let marker_dir = TempDir::new("rootfs-marker");
    let marker = marker_dir.path.join("marker");
    std::fs::write(&marker, "host\n").unwrap();
    let marker = marker.display().to_string();
    let read = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["cat", marker.as_str()]);
        run_command(lesson(&image, &all), "")
    };
    let escaped = read(&["--chroot", "--try-escape"]);
    assert_eq!(escaped.code, 0, "{}", escaped.stderr);
    assert_eq!(escaped.stdout, "host\n");
    for args in [&["--chroot"][..], &["--try-escape"], &[]] {
        let inside = read(args);
        assert_ne!(inside.code, 0, "{args:?}: {}", inside.stdout);
        assert!(inside.stderr.contains("No such file"), "{}", inside.stderr);
    }
}

/// `--keep` moves the container's layer out before its folder goes: what it wrote,
/// and, for a file of the image it deleted, a "whiteout" (a character device 0/0
/// that tells overlayfs to hide the image's file).
#[rstest]
fn keep_leaves_what_the_container_wrote(_host: HostGuard) {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let _one_at_a_time = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let image = image();
    let script = "echo hi > /new; rm /etc/group";
    let running =
        Running::from_command(lesson(&image, &["--keep", "sh", "-c", script]));
    let pid = running.pid();
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = Path::new(nsbox::container::state::DEFAULT_ROOT)
        .join("kept")
        .join(pid.to_string());
    let _remove = TempDirAt(kept.clone());
    assert_eq!(std::fs::read_to_string(kept.join("new")).unwrap(), "hi\n");
    let whiteout = std::fs::symlink_metadata(kept.join("etc/group")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(
        image.path.join("etc/group").exists(),
        "the image keeps its file"
    );
}

/// The tests that keep a layer in /run/nsbox/kept, one at a time.
static KEPT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Removes a folder the lesson made under the state root, when dropped, and the
/// folders above it that this leaves empty (`kept/`, `images/`, the root).
struct TempDirAt(PathBuf);

impl Drop for TempDirAt {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        for empty in self.0.ancestors().skip(1).take(2) {
            let _ = std::fs::remove_dir(empty);
        }
    }
}

/// `--rootfs` takes a `.tar` (or `.tar.gz`) of a root filesystem too: unpacked
/// under the state root, once, for whom root inside is.
#[rstest]
fn a_tar_of_a_root_filesystem_works(_host: HostGuard) {
    let image = image();
    let archives = TempDir::new("rootfs-tar");
    let archive = archives.path.join("tiny.tar.gz");
    let packed = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&image.path)
        .arg(".")
        .status()
        .unwrap();
    assert!(packed.success());
    let mut command = Command::new(bin("08-rootfs"));
    command
        .args(["--network", "none", "--quiet", "--rootfs"])
        .arg(&archive)
        .args(["sh", "-c", "ls /bin/busybox && id -u"]);
    let run = run_command(command, "");
    let (uid, _) = invoking_user();
    let unpacked = Path::new(nsbox::container::state::DEFAULT_ROOT)
        .join("images")
        .join(format!("tiny-{uid}"));
    let _remove = TempDirAt(unpacked.clone());
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout, "/bin/busybox\n0\n");
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(unpacked.join("bin/busybox"))
        .unwrap()
        .uid();
    assert_eq!(owner, uid, "unpacked for whom root inside is");
}

/// `--rootfs` that is neither a folder nor an archive is refused at once.
#[rstest]
fn a_rootfs_that_is_not_one_is_refused(_host: HostGuard) {
    let run = run(
        "08-rootfs",
        &["--network", "none", "--rootfs", "/etc/hostname", "true"],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not a folder, or a .tar"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Transcripts for the chapter. They use the image the lesson builds itself (kept under
// /run/nsbox/images, as it is for you), and no network.

/// The lesson's own image, in /run/nsbox/images, used by one test at a time and
/// removed after it (with the folders that leaves empty): the tests leave no image
/// on your machine. (The transcript of `--keep` lists /run/nsbox/kept, so it takes
/// [`KEPT`] as well.)
struct DefaultImage {
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static DEFAULT_IMAGE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl DefaultImage {
    fn used() -> DefaultImage {
        require_root();
        let guard = DEFAULT_IMAGE.lock().unwrap_or_else(|e| e.into_inner());
        DefaultImage {
            _one_at_a_time: guard,
        }
    }
}

impl Drop for DefaultImage {
    fn drop(&mut self) {
        let (uid, _) = invoking_user();
        let images = Path::new(nsbox::container::state::DEFAULT_ROOT).join("images");
        drop(TempDirAt(images.join(format!("busybox-{uid}"))));
    }
}

/// The first run: the narration, with every mount, and the image's `/`.
#[rstest]
fn transcript_try_it(_host: HostGuard) {
    let _image = DefaultImage::used();
    let args = ["--network", "none", "ls", "/"];
    let run = run("08-rootfs", &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut transcript = Transcript::default();
    transcript.lesson_parts("08-rootfs", &args, &run.stdout, &run.stderr);
    let name = format!("try-it-{}", cgroup_version(&run));
    assert_transcript("08-rootfs", &name, &transcript);
}

/// What is mounted inside, read from the kernel: mount point and type of each.
#[rstest]
fn transcript_mounts(_host: HostGuard) {
    let _image = DefaultImage::used();
    let args = [
        "-q",
        "--network",
        "none",
        "cut",
        "-d",
        " ",
        "-f",
        "2,3",
        "/proc/mounts",
    ];
    let run = run("08-rootfs", &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("/ overlay\n"), "{}", run.stdout);
    let version = if run.stdout.contains(" cgroup2") {
        "v2"
    } else {
        "v1"
    };
    let mut transcript = Transcript::default();
    transcript.lesson("08-rootfs", &args, &run.stdout);
    assert_transcript("08-rootfs", &format!("mounts-{version}"), &transcript);
}

/// One container writes a file; the next, on the same image, does not find it, and
/// the image has no such file either.
#[rstest]
fn transcript_own_writes(_host: HostGuard) {
    let _image = DefaultImage::used();
    let mut transcript = Transcript::default();
    let write = [
        "-q",
        "--network",
        "none",
        "sh",
        "-c",
        "echo mine > /etc/motd; cat /etc/motd",
    ];
    let out = run("08-rootfs", &write);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "mine\n");
    transcript.lesson("08-rootfs", &write, &out.stdout);
    let read = ["-q", "--network", "none", "cat", "/etc/motd"];
    let out = run("08-rootfs", &read);
    assert_eq!(out.code, 1, "{}", out.stderr);
    transcript.lesson("08-rootfs", &read, &out.stderr);
    let find = "sudo find /run/nsbox/images -name motd";
    let found = host_command("find", &["/run/nsbox/images", "-name", "motd"]);
    assert_eq!(found, "");
    transcript.command(find, &found);
    assert_transcript("08-rootfs", "own-writes", &transcript);
}

/// The escape: after `chroot`, the host's `/usr/share` (the image has none);
/// after `pivot_root`, not.
#[rstest]
fn transcript_escape(_host: HostGuard) {
    let _image = DefaultImage::used();
    let mut transcript = Transcript::default();
    let escaped = [
        "-q",
        "--network",
        "none",
        "--chroot",
        "--try-escape",
        "ls",
        "-d",
        "/usr/share",
    ];
    let out = run("08-rootfs", &escaped);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "/usr/share\n");
    transcript.lesson("08-rootfs", &escaped, &out.stdout);
    let held = [
        "-q",
        "--network",
        "none",
        "--try-escape",
        "ls",
        "-d",
        "/usr/share",
    ];
    let out = run("08-rootfs", &held);
    assert_eq!(out.code, 1, "{}", out.stderr);
    transcript.lesson("08-rootfs", &held, &out.stderr);
    assert_transcript("08-rootfs", "escape", &transcript);
}

/// `--keep`: the upper layer, with a written file and a whiteout.
#[rstest]
fn transcript_keep(_host: HostGuard) {
    let _image = DefaultImage::used();
    // The transcript lists all of /run/nsbox/kept: no other test may keep meanwhile.
    let _one_at_a_time = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    let args = [
        "--network",
        "none",
        "--keep",
        "sh",
        "-c",
        "echo hi > /new; rm /etc/group",
    ];
    let running = Running::start("08-rootfs", &args);
    let pid = running.pid();
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let kept = format!("/run/nsbox/kept/{pid}");
    let _remove = TempDirAt(PathBuf::from(&kept));
    let mut transcript = Transcript::default();
    transcript.lesson_parts("08-rootfs", &args, &run.stdout, &run.stderr);
    let find = "sudo find /run/nsbox/kept | sort";
    let listed = host_command("sh", &["-c", "find /run/nsbox/kept | sort"]);
    transcript.command(find, &listed);
    let stat = "sudo stat -c '%F %t,%T' /run/nsbox/kept/*/etc/group";
    let whiteout =
        host_command("stat", &["-c", "%F %t,%T", &format!("{kept}/etc/group")]);
    transcript.command(stat, &whiteout);
    transcript.command("sudo rm -r /run/nsbox/kept", "");
    let name = format!("keep-{}", cgroup_version(&run));
    assert_transcript("08-rootfs", &name, &transcript);
}
