//! How fast is `nsbox pull`? `cargo bench --bench pull` pulls a 3-layer image (a
//! few MB, built like the tests' images) from a registry on this machine into a
//! fresh store, side by side with `skopeo copy` of the same image into a folder,
//! with hyperfine, and prints the medians and their ratio.
//!
//! skopeo only downloads and checks the blobs; nsbox also unpacks each layer
//! (and checks its uncompressed digest): the target is nsbox ≤ 1.5 × skopeo.
//!
//! It runs as root (cargo's runner, scripts/as-root, asks sudo), as the tests do:
//! the layers keep their owners.

// The tests' registry and image builder (the bench uses a part of them).
#[path = "../tests/common/registry.rs"]
#[allow(dead_code)]
mod registry;

use registry::{Compression, ImageLayout, LayerTar, Registry};
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

/// The OCI name of this machine's architecture.
fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// `size` bytes that gzip cannot shrink much, like a real binary (xorshift: the
/// same bytes every run).
fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

/// A layer of `files` files of `size` bytes each: half noise, half text.
fn layer(name: &str, files: usize, size: usize, seed: u64) -> Vec<u8> {
    let mut tar = LayerTar::new().dir(name);
    for n in 0..files {
        let mut contents = noise(size / 2, seed + n as u64);
        contents.extend(format!("{name} file {n}\n").repeat(size / 2 / 16).bytes());
        tar = tar.file(&format!("{name}/file{n}"), &contents);
    }
    tar.finish()
}

fn main() {
    let registry = Registry::start("bench");
    let mut layout = ImageLayout::new(&registry.dir.join("layout"));
    let layers = [
        (layer("base", 200, 10_000, 1), Compression::Gzip),
        (layer("libs", 20, 100_000, 2), Compression::Gzip),
        (layer("app", 4, 500_000, 3), Compression::Gzip),
    ];
    let built = layout.image(&layers, json!({"Cmd": ["/app/run"]}), architecture());
    layout.tag(&built, "v1");
    let reference = format!("{}/bench/img:v1", registry.host());
    registry.push(&layout.dir, "v1", &reference);

    let blobs = built_sizes(&layout.dir);
    println!("image: 3 layers, {:.1} MB of blobs", blobs as f64 / 1e6);
    // Where the store goes: a tmpfs, where only our own work counts, and the
    // disk, where creating files costs more (nsbox writes each file of each
    // layer; skopeo writes one file per blob), and where other programs' writes
    // make the times vary more.
    for (label, base) in [("tmpfs", "/dev/shm"), ("disk", "/var/tmp")] {
        let (nsbox, skopeo) = compare(&reference, Path::new(base));
        println!("on {label} ({base}):");
        println!("  nsbox pull   median {:7.1} ms", nsbox * 1000.0);
        println!("  skopeo copy  median {:7.1} ms", skopeo * 1000.0);
        println!(
            "  ratio nsbox/skopeo: {:.2} (target: at most 1.5)",
            nsbox / skopeo
        );
    }
}

/// Runs hyperfine on both pulls, into a folder under `base`; returns the medians
/// in seconds (nsbox's, skopeo's).
fn compare(reference: &str, base: &Path) -> (f64, f64) {
    let work = base.join(format!("nsbox-bench-pull-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();
    let store = work.join("store");
    let copy = work.join("skopeo");
    let results = work.join("results.json");
    let nsbox = env!("CARGO_BIN_EXE_nsbox");
    let nsbox_pull =
        format!("{nsbox} --storage {} pull -q {reference}", store.display());
    let skopeo_copy = format!(
        "skopeo --insecure-policy copy -q --src-tls-verify=false docker://{reference} dir:{}",
        copy.display()
    );
    let status = Command::new("hyperfine")
        .args(["--warmup", "2", "--runs", "20", "--style", "basic"])
        .arg("--prepare")
        .arg(format!("rm -rf {} {}", store.display(), copy.display()))
        .arg("--export-json")
        .arg(&results)
        .args([
            "-n",
            "nsbox pull",
            &nsbox_pull,
            "-n",
            "skopeo copy",
            &skopeo_copy,
        ])
        .status()
        .expect("hyperfine: install it with `apt-get install hyperfine`");
    assert!(status.success(), "hyperfine failed");
    let text = std::fs::read_to_string(&results).unwrap();
    let results: Value = serde_json::from_str(&text).unwrap();
    let median = |n: usize| results["results"][n]["median"].as_f64().unwrap();
    let medians = (median(0), median(1));
    std::fs::remove_dir_all(&work).unwrap();
    medians
}

/// The bytes of the blobs in a layout (what goes over the wire).
fn built_sizes(layout: &Path) -> u64 {
    let blobs = std::fs::read_dir(layout.join("blobs/sha256")).unwrap();
    blobs
        .map(|blob| blob.unwrap().metadata().unwrap().len())
        .sum()
}
