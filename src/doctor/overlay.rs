//! overlayfs: a read-only image with a writable layer on top, the way container
//! runtimes (and lesson 08) give a container its root filesystem.
//!
//! The try: a child makes a private mount namespace, mounts a tmpfs on a temporary
//! directory (so nothing it writes reaches the disk), makes `lower/`, `upper/`,
//! `work/` and `merged/` in it, mounts the overlay on `merged/`, and writes a file
//! through it: the file must land in `upper/` and leave `lower/` alone. When the
//! child exits its mounts go with its namespace, and the parent removes the empty
//! directory.

use super::child::{Refusal, in_child};
use super::report::{Mark, Report};
use super::{Findings, Need, Outcome, Problem, RUN_AS_ROOT};
use nix::errno::Errno;
use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use std::path::Path;

pub fn check(report: &Report, findings: &mut Findings, root: bool) {
    report.section("overlayfs (lesson 08)");
    if !root {
        report.line(Mark::Skipped, "not tried: mounting needs root");
        findings
            .record(Need::Overlay, Outcome::not_tried("needs root", RUN_AS_ROOT));
        return;
    }
    let dir = match nix::unistd::mkdtemp(
        &std::env::temp_dir().join("nsbox-doctor-XXXXXX"),
    ) {
        Ok(dir) => dir,
        Err(errno) => {
            let because = format!("mkdtemp: {}", errno.desc());
            report.line(Mark::Bad, &because);
            let fix = "free some space in /tmp".to_string();
            findings.record(Need::Overlay, Outcome::Fails(Problem { because, fix }));
            return;
        }
    };
    let result = in_child(|| try_overlay(&dir));
    let _ = std::fs::remove_dir(&dir);
    match result {
        Ok(()) => {
            report.line(
                Mark::Good,
                "mount -t overlay in a private mount namespace: a file written through it \
                 landed in the upper layer",
            );
            findings.record(Need::Overlay, Outcome::Works);
        }
        Err(refusal) => {
            report.line(Mark::Bad, &refusal);
            let fix = if refusal.errno == Errno::ENODEV {
                "sudo modprobe overlay (a kernel with CONFIG_OVERLAY_FS)"
            } else {
                "a kernel whose overlayfs works in a mount namespace (Linux 5.11 or later)"
            };
            report.detail(format!("fix: {fix}"));
            let because = refusal.to_string();
            let fix = fix.to_string();
            findings.record(Need::Overlay, Outcome::Fails(Problem { because, fix }));
        }
    }
}

// ANCHOR: try_overlay
/// Runs in the child.
fn try_overlay(dir: &Path) -> Result<(), Refusal> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(Refusal::at("unshare(CLONE_NEWNS)"))?;
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
        .map_err(Refusal::at("mount --make-rprivate /"))?;
    mount(
        Some("tmpfs"),
        dir,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .map_err(Refusal::at("mount -t tmpfs"))?;
    for layer in ["lower", "upper", "work", "merged"] {
        std::fs::create_dir(dir.join(layer))
            .map_err(Refusal::at_io(format!("mkdir {layer}")))?;
    }
    std::fs::write(dir.join("lower/from-lower"), "lower\n")
        .map_err(Refusal::at_io("writing lower/from-lower"))?;
    let options = format!(
        "lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work",
        dir.display()
    );
    mount(
        Some("overlay"),
        &dir.join("merged"),
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(Refusal::at("mount -t overlay"))?;
    std::fs::write(dir.join("merged/from-merged"), "merged\n")
        .map_err(Refusal::at_io("writing merged/from-merged"))?;
    let landed = dir.join("upper/from-merged").exists()
        && !dir.join("lower/from-merged").exists()
        && dir.join("merged/from-lower").exists();
    if !landed {
        return Err(Refusal {
            step: "the overlay did not put the new file in upper/ alone".to_string(),
            errno: Errno::EIO,
        });
    }
    Ok(())
}
// ANCHOR_END: try_overlay
