//! The catalog (`nsbox::lessons`) against the lessons themselves: each lesson
//! binary creates exactly the namespaces the catalog lists for it, read from the
//! kernel, and each chapter has the catalog's title.
//!
//! A binary spells out its own list of namespaces, in the lines its chapter shows
//! (and, for 02-ipc, its exercise edits); the doctor and the tests read the catalog.
//! This proof keeps the two the same.

mod common;

use common::*;
use nsbox::container::Namespace;
use nsbox::lessons::{self, Lesson};
use rstest::rstest;

/// Options that keep a lesson's run small: no network on the host to set up.
fn quiet_options(lesson: &Lesson) -> &'static [&'static str] {
    if lesson.isolates(Namespace::Net) {
        &["--network", "none"]
    } else {
        &[]
    }
}

/// The namespace types in which a running container differs from us, read from
/// /proc: a different inode is a different namespace.
fn new_namespaces_of(child: &str) -> Vec<Namespace> {
    Namespace::ALL
        .into_iter()
        .filter(|ns| {
            let ours = ns_inode("self", ns.proc_name()).unwrap();
            let theirs = ns_inode(child, ns.proc_name()).unwrap();
            ours != theirs
        })
        .collect()
}

/// Seen from outside, in /proc, while the container runs: its new namespaces are
/// the catalog's list for its lesson, no more and no fewer.
#[rstest]
fn each_lesson_creates_the_namespaces_the_catalog_lists(
    _host: HostGuard,
    #[values(
        &lessons::UTS,
        &lessons::IPC,
        &lessons::PID,
        &lessons::MNT,
        &lessons::USER,
        &lessons::NET,
        &lessons::CGROUPS
    )]
    lesson: &Lesson,
) {
    let mut args = quiet_options(lesson).to_vec();
    // The container's command says it runs, then waits on stdin: the test looks at
    // it meanwhile. (Not at "go!": the child makes its cgroup namespace after that,
    // once the parent has put it in its cgroup.)
    args.extend(["sh", "-c", "echo running; cat >/dev/null"]);
    let mut running = Running::start(lesson.name, &args);
    let child = running.container_pid().to_string();
    running.wait_for(Source::Stdout, "running");
    let new = new_namespaces_of(&child);
    running.close_stdin();
    let run = running.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut expected = lesson.namespaces.to_vec();
    expected.sort_by_key(|ns| ns.proc_name());
    assert_eq!(new, expected, "{}: new namespaces, from /proc", lesson.name);
}

/// Every lesson of the catalog is tested above, and has a binary.
#[test]
fn the_catalog_lists_every_lesson_binary() {
    let names: Vec<&str> = lessons::LESSONS.iter().map(|l| l.name).collect();
    assert_eq!(names, LESSONS);
    for name in names {
        assert!(std::path::Path::new(bin(name)).exists(), "{name}");
    }
}

/// Each chapter's heading is `# NN · <the catalog's title>`.
#[test]
fn each_chapter_has_the_catalog_title() {
    for lesson in lessons::LESSONS {
        let path = format!(
            "{}/lessons/{}/README.md",
            env!("CARGO_MANIFEST_DIR"),
            lesson.name
        );
        let chapter = std::fs::read_to_string(&path).unwrap();
        let number = &lesson.name[..2];
        let heading = format!("# {number} · {}", lesson.title);
        assert_eq!(chapter.lines().next(), Some(heading.as_str()), "{path}");
    }
}
