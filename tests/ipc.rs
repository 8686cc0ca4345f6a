//! Lesson 02: a new IPC namespace gives the container its own System V IPC objects
//! and POSIX message queues.

mod common;

use common::*;
use rstest::rstest;

// ---------------------------------------------------------------------------------
// The exercise of chapter 02: the proof of the isolation, written by the student.
// Each function answers one question by reading the kernel's own table of System V
// message queues, `/proc/sysvipc/msg`, which lists the queues of the IPC namespace
// of whoever reads it. The tests below check the answers against two lessons: 01-uts
// shares the host's IPC namespace, so a proof that works must see through it;
// 02-ipc has one of its own, so it must not.

// ANCHOR: exercise
/// Does a command inside a container of `lesson` see a queue the host made? Makes a
/// queue on the host, then reads the table of queues from inside the container.
fn container_sees_host_queue(lesson: &str) -> bool {
    let queue = HostQueue::create();
    let inside = run(lesson, &["cat", "/proc/sysvipc/msg"]);
    assert_eq!(inside.code, 0, "{}", inside.stderr);
    msg_keys(&inside.stdout).contains(&queue.key)
}

/// Does the host see a queue made inside a container of `lesson`? Looks while the
/// container still runs: its queue exists as long as its IPC namespace does.
fn host_sees_container_queue(lesson: &str) -> bool {
    let queue = InsideQueue::create(lesson);
    let on_host = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
    msg_keys(&on_host).contains(&queue.key)
}
// ANCHOR_END: exercise

/// The proof from inside: the host's queue is in the container's table only when
/// the container shares the host's IPC namespace.
#[rstest]
#[case::shared_ipc_namespace("01-uts", true)]
#[case::new_ipc_namespace("02-ipc", false)]
fn a_container_sees_host_queues_only_without_a_new_ipc_namespace(
    _host_exclusive: HostGuard,
    #[case] lesson: &str,
    #[case] shared: bool,
) {
    let seen = container_sees_host_queue(lesson);
    if shared {
        assert!(
            seen,
            "container_sees_host_queue(\"{lesson}\") said false, yet {lesson} shares \
             the host's IPC namespace.\nThe proof must see the host's queue there: \
             does it read the table from inside the container?"
        );
    } else {
        assert!(
            !seen,
            "container_sees_host_queue(\"{lesson}\") said true: a command in {lesson} \
             saw the host's queue.\nDoes {lesson} ask clone(2) for a new IPC \
             namespace? And does your proof read the table inside the container?"
        );
    }
}

/// The proof from outside: a queue made inside is in the host's table only when the
/// container shares the host's IPC namespace.
#[rstest]
#[case::shared_ipc_namespace("01-uts", true)]
#[case::new_ipc_namespace("02-ipc", false)]
fn the_host_sees_a_container_queue_only_without_a_new_ipc_namespace(
    _host_exclusive: HostGuard,
    #[case] lesson: &str,
    #[case] shared: bool,
) {
    let seen = host_sees_container_queue(lesson);
    if shared {
        assert!(
            seen,
            "host_sees_container_queue(\"{lesson}\") said false, yet {lesson} shares \
             the host's IPC namespace.\nThe proof must see the container's queue there: \
             does it read the host's table while the container runs?"
        );
    } else {
        assert!(
            !seen,
            "host_sees_container_queue(\"{lesson}\") said true: the host saw a queue \
             made in {lesson}.\nDoes {lesson} ask clone(2) for a new IPC namespace? \
             And does your proof read the host's table, not the container's?"
        );
    }
}

/// A System V message queue made on the host for one test, removed when the test
/// ends.
struct HostQueue {
    id: String,
    /// Its key as `/proc/sysvipc/msg` prints it (in decimal).
    key: String,
}

impl HostQueue {
    fn create() -> HostQueue {
        // "Message queue id: 3"
        let out = host_command("ipcmk", &["-Q"]);
        let id = out.rsplit(' ').next().unwrap().trim().to_string();
        let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap();
        let key = key_of(&table, &id).expect("the new queue in /proc/sysvipc/msg");
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

/// A System V message queue made by a command inside a container, which removes
/// it and exits when this is dropped.
struct InsideQueue {
    container: Option<Running>,
    /// Its key as `/proc/sysvipc/msg` prints it (in decimal).
    key: String,
}

impl InsideQueue {
    fn create(lesson: &str) -> InsideQueue {
        // The container makes the queue, prints its id and its own table of queues,
        // then waits for a line on its stdin before it removes the queue. (Without a
        // new IPC namespace the queue is the host's: only the container knows which
        // id is its own.)
        let script = "id=$(ipcmk -Q | tr -cd 0-9); echo \"id $id\"; \
                      cat /proc/sysvipc/msg; echo made; read _; ipcrm -q \"$id\"";
        let mut container = Running::start(lesson, &["sh", "-c", script]);
        container.wait_for(Source::Stdout, "made");
        let id = container.stdout[0].trim_start_matches("id ").to_string();
        let table = container.stdout[1..].join("\n");
        let key = key_of(&table, &id).expect("the queue in the container's table");
        InsideQueue {
            container: Some(container),
            key,
        }
    }
}

impl Drop for InsideQueue {
    fn drop(&mut self) {
        let Some(mut container) = self.container.take() else {
            return;
        };
        container.send_line("done");
        container.close_stdin();
        let end = container.finish();
        if !std::thread::panicking() {
            assert_eq!(end.code, 0, "{}", end.stderr);
        }
    }
}

/// The keys of the queues in a `/proc/sysvipc/msg` table (the first column; the
/// first line is the header).
fn msg_keys(table: &str) -> Vec<String> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The key of the queue with this id in a `/proc/sysvipc/msg` table.
fn key_of(table: &str, id: &str) -> Option<String> {
    table.lines().skip(1).find_map(|line| {
        let mut columns = line.split_whitespace();
        let key = columns.next()?;
        (columns.next()? == id).then(|| key.to_string())
    })
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

/// A queue made inside dies with the namespace: the next container starts with
/// none.
#[rstest]
fn queue_made_inside_dies_with_the_namespace(_host: HostGuard) {
    let first = run("02-ipc", &["sh", "-c", "ipcmk -Q && ipcs -q"]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_eq!(queue_keys(&first.stdout).len(), 1, "{}", first.stdout);
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
