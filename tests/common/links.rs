//! The veth pairs in this thread's network namespace, read from the kernel with
//! `ip`.
//!
//! A lesson leaves its veth pair to the kernel: the pair goes when the container's
//! network namespace is freed, a little after its last process has ended (the
//! kernel frees namespaces in the background). So a test that checks a pair is
//! gone waits for it, up to [`GONE_WITHIN`], and fails if it is still there.

use std::process::Command;
use std::time::{Duration, Instant};

/// How long the kernel may take to free a dead container's namespace, and its
/// veth pair with it: tens of milliseconds, but it frees the namespaces of the
/// whole machine one batch at a time, and a busy machine (twenty containers
/// ending at once, other tests making namespaces) can take seconds, the emulated
/// VM of `scripts/vm/run-tests` more than ten at the end of `tests/net.rs`.
pub const GONE_WITHIN: Duration = Duration::from_secs(30);

/// The names of the veth ends here (`ip -o link show type veth`), without the
/// `@if<N>` of the peer.
pub fn veths() -> Vec<String> {
    let out = Command::new("ip")
        .args(["-o", "link", "show", "type", "veth"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ip -o link show type veth failed");
    link_names(&String::from_utf8_lossy(&out.stdout))
}

/// The names in `ip -o link` output: `5: nsb123@if2: <…` gives `nsb123`.
pub fn link_names(ip_link: &str) -> Vec<String> {
    ip_link
        .lines()
        .filter_map(|line| {
            let name = line.split(": ").nth(1)?;
            Some(name.split('@').next()?.to_string())
        })
        .collect()
}

/// Waits until `present()` finds none of `names` any more, up to [`GONE_WITHIN`].
/// Returns the names still there then (empty when all are gone).
pub fn wait_until_gone(
    names: &[String],
    present: impl Fn() -> Vec<String>,
) -> Vec<String> {
    let deadline = Instant::now() + GONE_WITHIN;
    loop {
        let left: Vec<String> = present()
            .into_iter()
            .filter(|name| names.contains(name))
            .collect();
        if left.is_empty() || Instant::now() >= deadline {
            return left;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
