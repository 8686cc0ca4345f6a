//! A registry of our own for the proofs of `nsbox pull`: Debian's `docker-registry`
//! (the CNCF distribution project) on 127.0.0.1 and a free port, with its own
//! config and storage in a temporary folder; and images we build ourselves (an
//! OCI image layout, pushed with `skopeo copy`).
//!
//! Self-contained (no `super::`): benches/pull.rs includes it too.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `docker-registry`, stopped and removed with its files on drop.
pub struct Registry {
    pub port: u16,
    /// Its temporary folder: config, storage, and whatever the test puts there.
    pub dir: PathBuf,
    child: Child,
}

impl Registry {
    /// Starts a registry in a new temporary folder and waits until it answers.
    pub fn start(tag: &str) -> Registry {
        let dir = temporary_folder(&format!("registry-{tag}"));
        let port = free_port();
        let config = dir.join("config.yml");
        std::fs::write(&config, config_text(&dir.join("storage"), port)).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("registry.log")).unwrap())
            .spawn()
            .expect(
                "docker-registry: install it with `apt-get install docker-registry`",
            );
        let registry = Registry { port, dir, child };
        registry.wait_until_listening();
        registry
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's process id (to check it is gone after the test).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Pushes the image tagged `tag` in an OCI layout as `reference`
    /// (`127.0.0.1:PORT/NAME:TAG`), every platform of an index (`--all`).
    pub fn push(&self, layout: &Path, tag: &str, reference: &str) {
        let source = format!("oci:{}:{tag}", layout.display());
        let destination = format!("docker://{reference}");
        let output = Command::new("skopeo")
            .args(["--insecure-policy", "copy", "--quiet", "--all"])
            .args(["--dest-tls-verify=false", &source, &destination])
            .output()
            .expect("skopeo: install it with `apt-get install skopeo`");
        assert!(
            output.status.success(),
            "skopeo copy {source} {destination}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "docker-registry did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A small config: our port, our storage, no auth, quiet logs.
fn config_text(storage: &Path, port: u16) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: error\n  accesslog:\n    disabled: true\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    )
}

/// A port nobody listens on now (the kernel picks it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A new folder under /tmp (the caller removes it).
pub fn temporary_folder(tag: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("nsbox-test-{tag}-{}-{n}", std::process::id());
    let path = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&path).unwrap();
    path
}

/// `sha256:<hex>` of some bytes.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// How a test layer is compressed.
#[derive(Clone, Copy)]
pub enum Compression {
    Tar,
    Gzip,
    Zstd,
}

/// A layer's tar, built entry by entry (all owned by root unless said).
pub struct LayerTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerTar {
    fn default() -> Self {
        LayerTar::new()
    }
}

impl LayerTar {
    pub fn new() -> LayerTar {
        LayerTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }

    pub fn dir(mut self, path: &str) -> LayerTar {
        let header = header(tar::EntryType::Directory, 0o755, 0);
        self.builder
            .append_data(&mut header.clone(), path, &[][..])
            .unwrap();
        self
    }

    pub fn file(self, path: &str, contents: &[u8]) -> LayerTar {
        self.file_owned(path, contents, 0o644, 0)
    }

    /// A file with a mode and an owner (uid = gid).
    pub fn file_owned(
        mut self,
        path: &str,
        contents: &[u8],
        mode: u32,
        owner: u64,
    ) -> LayerTar {
        let mut header =
            header(tar::EntryType::Regular, mode, contents.len() as u64);
        header.set_uid(owner);
        header.set_gid(owner);
        self.builder
            .append_data(&mut header, path, contents)
            .unwrap();
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> LayerTar {
        let mut header = header(tar::EntryType::Symlink, 0o777, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn hard_link(mut self, path: &str, target: &str) -> LayerTar {
        let mut header = header(tar::EntryType::Link, 0o644, 0);
        self.builder.append_link(&mut header, path, target).unwrap();
        self
    }

    pub fn char_device(mut self, path: &str, major: u32, minor: u32) -> LayerTar {
        let mut header = header(tar::EntryType::Char, 0o666, 0);
        header.set_device_major(major).unwrap();
        header.set_device_minor(minor).unwrap();
        self.builder
            .append_data(&mut header, path, &[][..])
            .unwrap();
        self
    }

    /// The tar's bytes.
    pub fn finish(self) -> Vec<u8> {
        self.builder.into_inner().unwrap()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(1_700_000_000);
    header.set_uid(0);
    header.set_gid(0);
    header
}

/// An OCI image layout being written (`oci-layout`, `index.json`, `blobs/`).
pub struct ImageLayout {
    pub dir: PathBuf,
    tags: Vec<Value>,
}

/// A manifest's or an index's descriptor, and what it holds.
#[derive(Clone)]
pub struct Built {
    pub descriptor: Value,
    /// The layers' blob digests, bottom first (empty for an index).
    pub layers: Vec<String>,
    /// The layers' diff_ids, bottom first.
    pub diff_ids: Vec<String>,
    /// The config's digest: the image's id.
    pub config: String,
}

impl ImageLayout {
    /// Starts a layout in `dir` (made if missing).
    pub fn new(dir: &Path) -> ImageLayout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        let version = json!({"imageLayoutVersion": "1.0.0"});
        std::fs::write(dir.join("oci-layout"), version.to_string()).unwrap();
        ImageLayout {
            dir: dir.to_path_buf(),
            tags: Vec::new(),
        }
    }

    /// Writes a blob, returns its descriptor.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let digest = sha256(bytes);
        let path = self.dir.join("blobs/sha256").join(&digest[7..]);
        std::fs::write(path, bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// Writes an image for `linux/<architecture>`: its layers (tars), a config
    /// with `run` as its `config` part, and a manifest.
    pub fn image(
        &self,
        layers: &[(Vec<u8>, Compression)],
        run: Value,
        architecture: &str,
    ) -> Built {
        let mut descriptors = Vec::new();
        let mut diff_ids = Vec::new();
        for (tar, compression) in layers {
            diff_ids.push(sha256(tar));
            let (media_type, blob) = compress(tar, *compression);
            descriptors.push(self.blob(media_type, &blob));
        }
        let config = json!({
            "architecture": architecture,
            "os": "linux",
            "config": run,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let config =
            self.blob("application/vnd.oci.image.config.v1+json", &config_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": descriptors,
        });
        let manifest = serde_json::to_vec(&manifest).unwrap();
        let mut descriptor =
            self.blob("application/vnd.oci.image.manifest.v1+json", &manifest);
        descriptor["platform"] =
            json!({"os": "linux", "architecture": architecture});
        Built {
            descriptor,
            layers: descriptors
                .iter()
                .map(|d| d["digest"].as_str().unwrap().into())
                .collect(),
            diff_ids,
            config: config["digest"].as_str().unwrap().to_string(),
        }
    }

    /// Writes an index of images.
    pub fn index(&self, images: &[&Built]) -> Built {
        let manifests: Vec<&Value> =
            images.iter().map(|image| &image.descriptor).collect();
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        let bytes = serde_json::to_vec(&index).unwrap();
        Built {
            descriptor: self.blob("application/vnd.oci.image.index.v1+json", &bytes),
            layers: Vec::new(),
            diff_ids: Vec::new(),
            config: String::new(),
        }
    }

    /// Tags a manifest or an index (in `index.json`), so skopeo can name it
    /// `oci:DIR:TAG`.
    pub fn tag(&mut self, built: &Built, tag: &str) {
        let mut descriptor = built.descriptor.clone();
        descriptor["annotations"] =
            json!({"org.opencontainers.image.ref.name": tag});
        if let Some(object) = descriptor.as_object_mut() {
            object.remove("platform");
        }
        self.tags.push(descriptor);
        let index = json!({"schemaVersion": 2, "manifests": self.tags});
        std::fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }
}

/// A layer's blob and media type.
fn compress(tar: &[u8], compression: Compression) -> (&'static str, Vec<u8>) {
    match compression {
        Compression::Tar => ("application/vnd.oci.image.layer.v1.tar", tar.to_vec()),
        Compression::Gzip => {
            let level = flate2::Compression::fast();
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), level);
            encoder.write_all(tar).unwrap();
            let blob = encoder.finish().unwrap();
            ("application/vnd.oci.image.layer.v1.tar+gzip", blob)
        }
        Compression::Zstd => {
            let blob = zstd::encode_all(tar, 3).unwrap();
            ("application/vnd.oci.image.layer.v1.tar+zstd", blob)
        }
    }
}
