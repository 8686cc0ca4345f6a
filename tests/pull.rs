//! Proofs of `nsbox pull`, `nsbox images` and `nsbox rmi`, against a registry of
//! our own (Debian's `docker-registry` on 127.0.0.1) and images we build and push
//! ourselves. What nsbox did is read from the filesystem, never from its output.
//!
//! Each test has its own registry (its own port), store and state root, so they
//! can run in parallel; each checks it left no registry process and no files.

mod common;

use common::registry::{
    Built, Compression, ImageLayout, LayerTar, Registry, free_port,
};
use common::{HostGuard, Run, bin, host_exclusive, require_root, run_command};
use nsbox::runtime::images::{ImageConfig, Store};
use serde_json::json;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// One test's registry, store (`--storage`) and state root (`--root`).
struct Case {
    registry: Registry,
    storage: PathBuf,
    root: PathBuf,
}

impl Case {
    fn new(tag: &str) -> Case {
        require_root();
        let registry = Registry::start(tag);
        let storage = registry.dir.join("store");
        let root = registry.dir.join("state");
        Case {
            registry,
            storage,
            root,
        }
    }

    /// A layout in the registry's folder (removed with it).
    fn layout(&self, name: &str) -> ImageLayout {
        ImageLayout::new(&self.registry.dir.join("layouts").join(name))
    }

    /// `127.0.0.1:PORT/NAME`.
    fn name(&self, name: &str) -> String {
        format!("{}/{name}", self.registry.host())
    }

    /// Runs `nsbox --storage … --root … ARGS`.
    fn nsbox(&self, args: &[&str]) -> Run {
        nsbox_with(&self.storage, &self.root, args)
    }

    /// The folder of the layer with this diff_id.
    fn layer(&self, diff_id: &str) -> PathBuf {
        self.storage.join("layers").join(&diff_id[7..])
    }

    /// The names in `layers/` (none if it does not exist).
    fn layer_names(&self) -> Vec<String> {
        names_in(&self.storage.join("layers"))
    }

    /// Stops the registry, removes everything, and checks that nothing is left:
    /// no registry process, no folder of ours.
    fn finish(self) {
        let pid = self.registry.pid();
        let dir = self.registry.dir.clone();
        drop(self.registry);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "registry still runs"
        );
        assert!(!dir.exists(), "{} is still there", dir.display());
    }
}

fn nsbox_with(storage: &Path, root: &Path, args: &[&str]) -> Run {
    let mut command = Command::new(bin("nsbox"));
    command
        .arg("--storage")
        .arg(storage)
        .arg("--root")
        .arg(root);
    command.args(args);
    run_command(command, "")
}

fn names_in(folder: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts a run failed with an error of one line, the last on stderr (progress
/// lines may come before it), that contains `expected`.
fn assert_one_line_error(run: &Run, code: i32, command: &str, expected: &str) {
    assert_eq!(run.code, code, "{run:?}");
    let prefix = format!("nsbox {command}: ");
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected: {run:?}");
    assert!(run.stderr.trim_end().ends_with(errors[0]), "{run:?}");
    assert!(
        errors[0].contains(expected),
        "{expected:?} expected: {run:?}"
    );
}

/// The OCI name of this machine's architecture, and of another one.
fn architectures() -> (&'static str, &'static str) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", "riscv64"),
        "aarch64" => ("arm64", "amd64"),
        other => panic!("no test platform for {other}"),
    }
}

/// Pushes a one-image layout as `name:tag`.
fn push_image(case: &Case, built: &Built, layout: &mut ImageLayout, name: &str) {
    layout.tag(built, "v1");
    case.registry.push(&layout.dir, "v1", &format!("{name}:v1"));
}

#[test]
fn a_three_layer_image_is_unpacked_and_its_config_kept() {
    let case = Case::new("three");
    let (this, _) = architectures();
    let base = LayerTar::new()
        .dir("etc")
        .file("etc/hostname", b"base\n")
        .file_owned("bin/busybox", b"#!fake\n", 0o755, 0)
        .symlink("bin/sh", "busybox")
        .hard_link("bin/ls", "bin/busybox")
        .char_device("dev/null", 1, 3)
        .file_owned("home/user/secret", b"s", 0o600, 1000)
        .finish();
    let app = LayerTar::new().file("app/hello.txt", b"hello\n").finish();
    let settings = LayerTar::new().file("app/settings", b"x=1\n").finish();
    let run = json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo $GREETING"],
        "Env": ["PATH=/bin", "GREETING=hello"],
        "WorkingDir": "/app",
        "User": "1000:1000",
    });
    let mut layout = case.layout("three");
    let layers = [
        (base, Compression::Gzip),
        (app, Compression::Tar),
        (settings, Compression::Zstd),
    ];
    let built = layout.image(&layers, run, this);
    let name = case.name("test/three");
    push_image(&case, &built, &mut layout, &name);

    // What a pull killed half-way leaves: a folder in tmp/, which the next one
    // removes.
    let leftover = case.storage.join("tmp/12345-0/etc");
    std::fs::create_dir_all(&leftover).unwrap();

    let pulled = case.nsbox(&["pull", &format!("{name}:v1")]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    assert!(!case.storage.join("tmp").exists(), "tmp/ is left");

    // The layers, by their diff_ids, hold the files as the tars said.
    let [base, app, settings] = [0, 1, 2].map(|i| case.layer(&built.diff_ids[i]));
    assert_eq!(std::fs::read(base.join("etc/hostname")).unwrap(), b"base\n");
    let sh = std::fs::read_link(base.join("bin/sh")).unwrap();
    assert_eq!(sh, Path::new("busybox"));
    let busybox = std::fs::metadata(base.join("bin/busybox")).unwrap();
    let ls = std::fs::metadata(base.join("bin/ls")).unwrap();
    assert_eq!(busybox.ino(), ls.ino(), "a hard link");
    assert_eq!(busybox.mode() & 0o7777, 0o755);
    let null = std::fs::metadata(base.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    let secret = std::fs::metadata(base.join("home/user/secret")).unwrap();
    assert_eq!((secret.uid(), secret.mode() & 0o7777), (1000, 0o600));
    assert_eq!(
        std::fs::read(app.join("app/hello.txt")).unwrap(),
        b"hello\n"
    );
    assert_eq!(
        std::fs::read(settings.join("app/settings")).unwrap(),
        b"x=1\n"
    );
    assert_eq!(case.layer_names().len(), 3);

    // What the runtime will get: the layers bottom first, the config.
    let image = Store::open(&case.storage)
        .resolve(&format!("{name}:v1"))
        .unwrap()
        .expect("the image is in the store");
    assert_eq!(image.layers, [base, app, settings]);
    assert_eq!(image.id, built.config);
    let expected = ImageConfig {
        entrypoint: vec!["/bin/sh".into(), "-c".into()],
        cmd: vec!["echo $GREETING".into()],
        env: vec!["PATH=/bin".into(), "GREETING=hello".into()],
        working_dir: Some("/app".into()),
        user: Some("1000:1000".into()),
    };
    assert_eq!(image.config, expected);

    let listed = case.nsbox(&["images"]);
    assert_eq!(listed.code, 0, "{listed:?}");
    let row = listed.stdout.lines().find(|line| line.starts_with(&name));
    let row = row.unwrap_or_else(|| panic!("no row for {name}: {listed:?}"));
    let columns: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(columns[1], "v1");
    assert_eq!(columns[2], &built.config[7..19]);
    assert!(
        !case.storage.join("tmp").exists(),
        "a temporary folder is left"
    );
    case.finish();
}

#[test]
fn an_index_gives_this_machines_platform_only() {
    let case = Case::new("index");
    let (this, other) = architectures();
    let mut layout = case.layout("index");
    let mine = LayerTar::new().file("platform", this.as_bytes()).finish();
    let theirs = LayerTar::new().file("platform", other.as_bytes()).finish();
    let mine = layout.image(&[(mine, Compression::Gzip)], json!({}), this);
    let theirs = layout.image(&[(theirs, Compression::Gzip)], json!({}), other);
    let both = layout.index(&[&theirs, &mine]);
    layout.tag(&both, "both");
    let only_theirs = layout.index(&[&theirs]);
    layout.tag(&only_theirs, "theirs");
    let name = case.name("test/multi");
    case.registry
        .push(&layout.dir, "both", &format!("{name}:both"));
    case.registry
        .push(&layout.dir, "theirs", &format!("{name}:theirs"));

    let pulled = case.nsbox(&["pull", &format!("{name}:both")]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    let layer = case.layer(&mine.diff_ids[0]);
    assert_eq!(
        std::fs::read(layer.join("platform")).unwrap(),
        this.as_bytes()
    );
    assert!(
        !case.layer(&theirs.diff_ids[0]).exists(),
        "the other platform's layer"
    );
    assert_eq!(case.layer_names().len(), 1);
    assert!(
        pulled
            .stdout
            .contains(both.descriptor["digest"].as_str().unwrap())
    );

    let refused = case.nsbox(&["pull", &format!("{name}:theirs")]);
    let available = format!("only for: linux/{other}");
    assert_one_line_error(&refused, 1, "pull", &available);
    assert_eq!(case.layer_names().len(), 1);
    case.finish();
}

#[test]
fn whiteouts_become_overlayfs_whiteouts_that_hide_lower_files() {
    let case = Case::new("whiteout");
    let (this, _) = architectures();
    let lower = LayerTar::new()
        .file("a/deleted", b"gone")
        .file("a/kept", b"kept")
        .file("opaque/old", b"old")
        .finish();
    let upper = LayerTar::new()
        .file("a/.wh.deleted", b"")
        .file("opaque/.wh..wh..opq", b"")
        .file("opaque/new", b"new")
        .finish();
    let mut layout = case.layout("whiteout");
    let layers = [(lower, Compression::Gzip), (upper, Compression::Gzip)];
    let built = layout.image(&layers, json!({}), this);
    let name = case.name("test/whiteout");
    push_image(&case, &built, &mut layout, &name);

    let pulled = case.nsbox(&["pull", &format!("{name}:v1")]);
    assert_eq!(pulled.code, 0, "{pulled:?}");
    let (lower, upper) = (
        case.layer(&built.diff_ids[0]),
        case.layer(&built.diff_ids[1]),
    );
    let whiteout = std::fs::symlink_metadata(upper.join("a/deleted")).unwrap();
    assert!(whiteout.file_type().is_char_device(), "{whiteout:?}");
    assert_eq!(whiteout.rdev(), 0, "a whiteout is the device 0/0");
    assert!(!upper.join("a/.wh.deleted").exists());
    let opaque = xattr::get(upper.join("opaque"), "trusted.overlay.opaque").unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!upper.join("opaque/.wh..wh..opq").exists());

    // Overlayfs, given the layers (top first), hides what the whiteouts say.
    let merged = case.registry.dir.join("merged");
    std::fs::create_dir(&merged).unwrap();
    let script = format!(
        "mount -t overlay overlay -o lowerdir={}:{} {m} && ls {m}/a {m}/opaque",
        upper.display(),
        lower.display(),
        m = merged.display()
    );
    let mut command = Command::new("unshare");
    command.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
    let listed = run_command(command, "");
    assert_eq!(listed.code, 0, "{listed:?}");
    let seen: Vec<&str> = listed.stdout.split_whitespace().collect();
    assert!(
        seen.contains(&"kept") && seen.contains(&"new"),
        "{listed:?}"
    );
    assert!(
        !seen.contains(&"deleted"),
        "the whiteout hides it: {listed:?}"
    );
    assert!(
        !seen.contains(&"old"),
        "the opaque folder hides it: {listed:?}"
    );
    case.finish();
}

#[test]
fn a_blob_that_does_not_match_its_digest_is_refused_and_nothing_kept() {
    let case = Case::new("corrupt");
    let (this, _) = architectures();
    let first = LayerTar::new().file("first", &[1; 100_000]).finish();
    let second = LayerTar::new().file("second", &[2; 100_000]).finish();
    let mut layout = case.layout("corrupt");
    let layers = [(first, Compression::Gzip), (second, Compression::Gzip)];
    let built = layout.image(&layers, json!({}), this);
    let name = case.name("test/corrupt");
    push_image(&case, &built, &mut layout, &name);

    // The second layer's bytes change (not their length) in the registry's
    // storage: the first layer is unpacked before the damage is found.
    let data = case.registry.blob_data(&built.layers[1]);
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let refused = case.nsbox(&["pull", &format!("{name}:v1")]);
    assert_one_line_error(&refused, 1, "pull", "does not match its digest");
    // No layer, no temporary folder, no record: only the lock file.
    assert_eq!(names_in(&case.storage), ["lock"], "{refused:?}");
    case.finish();
}

#[test]
fn a_registry_that_does_not_answer_or_an_unknown_tag_is_a_clear_error() {
    let case = Case::new("unreachable");
    let closed = format!("127.0.0.1:{}/test/img:v1", free_port());
    let refused = case.nsbox(&["pull", &closed]);
    assert_one_line_error(&refused, 1, "pull", "cannot reach the registry");
    assert!(!case.storage.exists(), "the store was touched");

    let (this, _) = architectures();
    let mut layout = case.layout("known");
    let layer = LayerTar::new().file("f", b"f").finish();
    let built = layout.image(&[(layer, Compression::Gzip)], json!({}), this);
    let name = case.name("test/known");
    push_image(&case, &built, &mut layout, &name);
    let unknown = case.nsbox(&["pull", &format!("{name}:nope")]);
    assert_one_line_error(&unknown, 1, "pull", "no such image on its registry");
    let no_repository = case.nsbox(&["pull", &case.name("test/unknown")]);
    assert_one_line_error(
        &no_repository,
        1,
        "pull",
        "no such image on its registry",
    );
    assert!(!case.storage.exists(), "the store was touched");

    let malformed = case.nsbox(&["pull", "Not/A:Reference:"]);
    assert_one_line_error(&malformed, 2, "pull", "is not an image reference");
    case.finish();
}

#[test]
fn a_shared_layer_is_stored_once_and_removed_with_its_last_image() {
    let case = Case::new("shared");
    let (this, _) = architectures();
    let base = LayerTar::new()
        .file("etc/os-release", b"ID=test\n")
        .finish();
    let mut layout = case.layout("shared");
    let a_top = LayerTar::new().file("a", b"a").finish();
    let b_top = LayerTar::new().file("b", b"b").finish();
    let a = layout.image(
        &[
            (base.clone(), Compression::Gzip),
            (a_top, Compression::Gzip),
        ],
        json!({"Cmd": ["a"]}),
        this,
    );
    let b = layout.image(
        &[(base, Compression::Gzip), (b_top, Compression::Gzip)],
        json!({"Cmd": ["b"]}),
        this,
    );
    layout.tag(&a, "a");
    layout.tag(&b, "b");
    let (name_a, name_b) = (case.name("test/a:v1"), case.name("test/b:v1"));
    case.registry.push(&layout.dir, "a", &name_a);
    case.registry.push(&layout.dir, "b", &name_b);
    for name in [&name_a, &name_b] {
        let pulled = case.nsbox(&["pull", name]);
        assert_eq!(pulled.code, 0, "{pulled:?}");
    }
    let shared = case.layer(&a.diff_ids[0]);
    assert_eq!(a.diff_ids[0], b.diff_ids[0]);
    assert_eq!(
        case.layer_names().len(),
        3,
        "the shared layer is stored once"
    );

    // A container's record (as the runtime writes it) names image b.
    let container = case.root.join("c1");
    std::fs::create_dir_all(&container).unwrap();
    let record = json!({
        "ociVersion": "1.0.2", "id": "c1", "status": "stopped", "pid": 0,
        "bundle": "", "annotations": {"nsbox.image": b.config},
        "cleanup": {"startTime": 0, "cgroup": [], "network": null},
    });
    std::fs::write(container.join("state.json"), record.to_string()).unwrap();

    let removed = case.nsbox(&["rmi", &name_a]);
    assert_eq!(removed.code, 0, "{removed:?}");
    assert!(
        shared.join("etc/os-release").exists(),
        "b still needs the shared layer"
    );
    assert!(
        !case.layer(&a.diff_ids[1]).exists(),
        "a's own layer is gone"
    );
    assert!(case.layer(&b.diff_ids[1]).exists());

    let refused = case.nsbox(&["rmi", &name_b]);
    assert_one_line_error(&refused, 1, "rmi", "used by container(s) c1");
    assert_eq!(case.layer_names().len(), 2, "nothing removed");
    let record_after =
        std::fs::read_to_string(container.join("state.json")).unwrap();
    assert_eq!(record_after, record.to_string(), "the record is only read");

    std::fs::remove_dir_all(&container).unwrap();
    let removed = case.nsbox(&["rmi", &name_b]);
    assert_eq!(removed.code, 0, "{removed:?}");
    assert!(case.layer_names().is_empty(), "{:?}", case.layer_names());
    assert!(names_in(&case.storage.join("images")).is_empty());
    let gone = case.nsbox(&["rmi", &name_b]);
    assert_one_line_error(&gone, 1, "rmi", "no such image here");
    case.finish();
}

#[test]
fn a_layer_that_escapes_through_a_symlink_is_refused() {
    let case = Case::new("escape");
    let (this, _) = architectures();
    let outside = case.registry.dir.join("outside");
    std::fs::create_dir(&outside).unwrap();
    let evil = LayerTar::new()
        .symlink("evil", outside.to_str().unwrap())
        .file("evil/pwned", b"!")
        .finish();
    let mut layout = case.layout("escape");
    let built = layout.image(&[(evil, Compression::Gzip)], json!({}), this);
    let name = case.name("test/escape");
    push_image(&case, &built, &mut layout, &name);
    let refused = case.nsbox(&["pull", &format!("{name}:v1")]);
    assert_one_line_error(&refused, 1, "pull", "layer");
    assert!(
        !outside.join("pwned").exists(),
        "a file was written outside"
    );
    assert_eq!(names_in(&case.storage), ["lock"], "{refused:?}");
    case.finish();
}

/// `nsbox run` of a pulled image: its layers stacked (a file of the upper layer
/// hides the lower one's), its Entrypoint, Cmd, Env, WorkingDir and User honoured;
/// `rmi` refused while a container made from it exists.
#[rstest::rstest]
fn a_pulled_image_runs_with_its_config(_host_exclusive: HostGuard) {
    let case = Case::new("run");
    let (this, _) = architectures();
    let busybox = std::fs::read("/bin/busybox").expect("busybox-static");
    let mut base = LayerTar::new().file_owned("bin/busybox", &busybox, 0o755, 0);
    for tool in ["sh", "echo", "pwd", "id", "cat", "sleep"] {
        base = base.symlink(&format!("bin/{tool}"), "busybox");
    }
    let base = base
        .file("etc/passwd", b"root:x:0:0::/:/bin/sh\n")
        .file("app/which", b"lower\n")
        .finish();
    let top = LayerTar::new().file("app/which", b"upper\n").finish();
    let config = json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo $GREETING from $(pwd) as $(id -u):$(id -g), $(cat which)"],
        "Env": ["PATH=/bin", "GREETING=hello"],
        "WorkingDir": "/app",
        "User": "1000:1001",
    });
    let mut layout = case.layout("run");
    let built = layout.image(
        &[(base, Compression::Gzip), (top, Compression::Gzip)],
        config,
        this,
    );
    let name = case.name("test/run");
    push_image(&case, &built, &mut layout, &name);
    let image = format!("{name}:v1");
    assert_eq!(case.nsbox(&["pull", "-q", &image]).code, 0);

    let ran = case.nsbox(&["run", "--rm", "--network", "none", &image]);
    assert_eq!(ran.code, 0, "{ran:?}");
    assert_eq!(ran.stdout, "hello from /app as 1000:1001, upper\n");

    let started =
        case.nsbox(&["run", "-d", "--network", "none", &image, "sleep 60"]);
    assert_eq!(started.code, 0, "{started:?}");
    let refused = case.nsbox(&["rmi", &image]);
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("used by"), "{refused:?}");
    let id = started.stdout.trim();
    assert_eq!(case.nsbox(&["rm", "-f", id]).code, 0);
    assert_eq!(case.nsbox(&["rmi", &image]).code, 0);
    assert!(case.layer_names().is_empty(), "{:?}", case.layer_names());
    let _ = std::fs::remove_dir(&case.root);
    assert!(!case.root.exists(), "the state root is left");
    case.finish();
}
