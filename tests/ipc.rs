//! Lesson 02: a new IPC namespace gives the container its own System V IPC objects
//! and POSIX message queues.

mod common;

use common::*;
use rstest::rstest;

/// A System V message queue made on the host for one test, removed when the test
/// ends.
struct HostQueue {
    id: String,
    key: String,
}

impl HostQueue {
    fn create() -> HostQueue {
        // "Message queue id: 3"
        let out = host_command("ipcmk", &["-Q"]);
        let id = out.rsplit(' ').next().unwrap().trim().to_string();
        let key = queue_keys(&host_command("ipcs", &["-q"]))
            .into_iter()
            .find(|(_, queue_id)| *queue_id == id)
            .map(|(key, _)| key)
            .expect("the new queue in ipcs -q");
        HostQueue { id, key }
    }
}

impl Drop for HostQueue {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ipcrm")
            .args(["-q", &self.id])
            .status();
    }
}

/// (key, id) of each queue in `ipcs -q` output.
fn queue_keys(ipcs: &str) -> Vec<(String, String)> {
    ipcs.lines()
        .filter(|line| line.starts_with("0x"))
        .map(|line| {
            let mut words = line.split_whitespace();
            (
                words.next().unwrap().to_string(),
                words.next().unwrap().to_string(),
            )
        })
        .collect()
}

/// A queue on the host is visible without a new IPC namespace (01-uts) and invisible
/// with one (02-ipc).
#[rstest]
#[case::shared_ipc_namespace("01-uts", true)]
#[case::new_ipc_namespace("02-ipc", false)]
fn host_queue_visible_only_without_a_new_ipc_namespace(
    _host_exclusive: HostGuard,
    #[case] lesson: &str,
    #[case] visible: bool,
) {
    let queue = HostQueue::create();
    let run = run(lesson, &["ipcs", "-q"]);
    assert_eq!(run.code, 0);
    let keys: Vec<String> = queue_keys(&run.stdout)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        keys.contains(&queue.key),
        visible,
        "ipcs -q inside:\n{}",
        run.stdout
    );
}

/// A queue made inside is not visible on the host, and it dies with the namespace:
/// the next container starts with none.
#[rstest]
fn queue_made_inside_stays_inside(_host: HostGuard) {
    let mut running = Running::start(
        "02-ipc",
        &["sh", "-c", "ipcmk -Q >/dev/null; ipcs -q; cat >/dev/null"],
    );
    let line = running.wait_for(Source::Stdout, "0x");
    let inside_key = line.split_whitespace().next().unwrap().to_string();
    let on_host: Vec<String> = queue_keys(&host_command("ipcs", &["-q"]))
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert!(
        !on_host.contains(&inside_key),
        "the host sees the container's queue {inside_key}"
    );
    running.close_stdin();
    let first = running.finish();
    assert_eq!(first.code, 0);

    let second = run("02-ipc", &["ipcs", "-q"]);
    assert!(
        queue_keys(&second.stdout).is_empty(),
        "a new container sees queues:\n{}",
        second.stdout
    );
}

/// POSIX message queues (mq_open) belong to the IPC namespace too.
#[rstest]
#[case::shared_ipc_namespace("01-uts", "present")]
#[case::new_ipc_namespace("02-ipc", "absent")]
fn posix_queue_on_host_visible_only_without_a_new_ipc_namespace(
    _host_exclusive: HostGuard,
    #[case] lesson: &str,
    #[case] seen: &str,
) {
    let name = format!("/nsbox-test-{}-{lesson}", std::process::id());
    assert_eq!(
        host_command(probe(), &["mq-create", &name]).trim(),
        "created"
    );
    let run = run(lesson, &[probe(), "mq-exists", &name]);
    let removed = host_command(probe(), &["mq-unlink", &name]);
    assert_eq!((run.code, run.stdout.trim()), (0, seen));
    assert_eq!(removed.trim(), "removed");
}

#[rstest]
fn posix_queue_made_inside_is_not_on_the_host(_host: HostGuard) {
    let name = format!("/nsbox-test-{}-inside", std::process::id());
    let script =
        format!("{p} mq-create {name} && {p} mq-exists {name}", p = probe());
    let run = run("02-ipc", &["sh", "-c", &script]);
    assert_eq!((run.code, run.stdout.as_str()), (0, "created\npresent\n"));
    assert_eq!(
        host_command(probe(), &["mq-exists", &name]).trim(),
        "absent"
    );
}

/// The chapter's experiment: a queue on the host, seen by 01-uts, not by 02-ipc.
#[rstest]
fn transcript_queues(_host_exclusive: HostGuard) {
    let mut transcript = Transcript::default();
    let made = host_command("ipcmk", &["-Q"]);
    let id = made.rsplit(' ').next().unwrap().trim().to_string();
    let _cleanup = HostQueue {
        id,
        key: String::new(),
    };
    transcript.command("ipcmk -Q", &made);
    for (lesson, args) in [
        ("01-uts", ["--quiet", "ipcs", "-q"]),
        ("02-ipc", ["--quiet", "ipcs", "-q"]),
    ] {
        let (code, output) = run_merged(lesson, &args);
        assert_eq!(code, 0);
        transcript.lesson(lesson, &args, &output);
    }
    let args = ["ipcs", "-q"];
    let (code, output) = run_merged("02-ipc", &args);
    assert_eq!(code, 0);
    transcript.lesson("02-ipc", &args, &output);
    assert_transcript("02-ipc", "queues", &transcript);
}

/// A queue, a shared memory segment and a semaphore set made inside: the container
/// sees them, and the next container, in a new IPC namespace of its own, starts with
/// none. (In a new IPC namespace the first id of each kind is always 0.)
#[rstest]
fn transcript_objects_inside(_host: HostGuard) {
    let mut transcript = Transcript::default();
    let make = [
        "--quiet",
        "sh",
        "-c",
        "ipcmk -Q; ipcmk -M 4096; ipcmk -S 1; ipcs",
    ];
    let (code, output) = run_merged("02-ipc", &make);
    assert_eq!(code, 0, "{output}");
    assert_eq!(queue_keys(&output).len(), 3, "{output}");
    transcript.lesson("02-ipc", &make, &output);
    let look = ["--quiet", "ipcs"];
    let (code, output) = run_merged("02-ipc", &look);
    assert_eq!(code, 0, "{output}");
    assert!(
        !output.contains("0x"),
        "a new container sees objects:\n{output}"
    );
    transcript.lesson("02-ipc", &look, &output);
    assert_transcript("02-ipc", "objects-inside", &transcript);
}
