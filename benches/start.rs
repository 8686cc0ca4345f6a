//! How fast does a container start? `cargo bench --bench start` runs each lesson and
//! the nearest thing the kernel's own tools do (`unshare`, `ip`) side by side, with
//! hyperfine, and writes the table the book's appendix "How fast is a container?"
//! shows (book/src/speed/start.md).
//!
//! It runs as root (cargo's runner, scripts/as-root, asks sudo), inside a network
//! namespace of its own: the bridge and the veth pairs of lesson 06 and 07 are made
//! there, and vanish with it. Performance is measured here, never in timed tests.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A lesson and what it is compared with, in the same hyperfine run.
struct Pair {
    lesson: &'static str,
    args: &'static [&'static str],
    reference: &'static str,
    reference_name: &'static str,
}

/// Namespaces `unshare(1)` makes for lessons 03–05, as the lessons do.
const PID_UTS_IPC: &str = "unshare --fork --pid --uts --ipc /bin/true";
const PLUS_MOUNT: &str =
    "unshare --fork --pid --uts --ipc --mount --mount-proc /bin/true";
const PLUS_USER: &str = "unshare --fork --pid --uts --ipc --mount --mount-proc \
                         --user --map-root-user /bin/true";
/// The floor of a networked container with iproute2: a new network namespace, a veth
/// pair made in it, and the namespace dropped as `ip` exits (the kernel deletes the
/// pair with it). No named namespace (`ip netns add` would mount one on the host).
const NET_FLOOR: &str = "unshare --net ip link add host0 type veth peer name eth0";

const PAIRS: &[Pair] = &[
    Pair {
        lesson: "01-uts",
        args: &[],
        reference: "unshare --fork --uts /bin/true",
        reference_name: "unshare --uts",
    },
    Pair {
        lesson: "02-ipc",
        args: &[],
        reference: "unshare --fork --uts --ipc /bin/true",
        reference_name: "unshare --uts --ipc",
    },
    Pair {
        lesson: "03-pid",
        args: &[],
        reference: PID_UTS_IPC,
        reference_name: "unshare --pid --uts --ipc",
    },
    Pair {
        lesson: "04-mnt",
        args: &[],
        reference: PLUS_MOUNT,
        reference_name: "… --mount --mount-proc",
    },
    Pair {
        lesson: "05-user",
        args: &[],
        reference: PLUS_USER,
        reference_name: "… --user --map-root-user",
    },
    Pair {
        lesson: "06-net",
        args: &[],
        reference: NET_FLOOR,
        reference_name: "unshare --net ip link add … veth",
    },
    Pair {
        lesson: "07-cgroups",
        args: &["--memory", "100M"],
        reference: NET_FLOOR,
        reference_name: "unshare --net ip link add … veth",
    },
];

/// One namespace type at a time, against a plain fork and exec.
const NAMESPACES: &[(&str, &str)] = &[
    ("none", "unshare --fork /bin/true"),
    ("uts", "unshare --fork --uts /bin/true"),
    ("ipc", "unshare --fork --ipc /bin/true"),
    ("pid", "unshare --fork --pid /bin/true"),
    ("mount", "unshare --fork --mount /bin/true"),
    ("cgroup", "unshare --fork --cgroup /bin/true"),
    ("time", "unshare --fork --time /bin/true"),
    ("user", "unshare --fork --user /bin/true"),
    ("net", "unshare --fork --net /bin/true"),
];

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters by lesson name.
    let only: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    require_root_and_hyperfine();
    enter_own_network_namespace();
    let state = tempdir();
    let mut rows = Vec::new();
    for pair in PAIRS {
        if !only.is_empty() && !only.iter().any(|o| pair.lesson.contains(o.as_str()))
        {
            continue;
        }
        let lesson = lesson_command(pair, &state);
        let medians = hyperfine(&[&lesson, pair.reference]);
        rows.push(format!(
            "| `{}` | {} | {} | {} | {:.2}× |",
            pair.lesson,
            ms(medians[0]),
            pair.reference_name,
            ms(medians[1]),
            medians[0] / medians[1]
        ));
        eprintln!("{}", rows.last().unwrap());
    }
    let commands: Vec<&str> = NAMESPACES.iter().map(|(_, c)| *c).collect();
    let spreads = hyperfine_with_spread(&commands);
    let (none, none_spread) = spreads[0];
    let namespace_rows: Vec<String> = NAMESPACES
        .iter()
        .zip(&spreads)
        .map(|((name, _), (median, spread))| {
            // A difference smaller than the runs' own spread is no cost we can see.
            let more = median - none;
            let cost = if more.abs() <= spread.max(none_spread) {
                "within the noise".to_string()
            } else {
                ms(more)
            };
            format!("| {name} | {} | {cost} |", ms(*median))
        })
        .collect();
    let _ = std::fs::remove_dir_all(&state);
    if only.is_empty() {
        write_table(&rows, &namespace_rows);
    } else {
        eprintln!("{}", namespace_rows.join("\n"));
        eprintln!("(only some lessons ran: the book's table is left as it was)");
    }
}

fn lesson_command(pair: &Pair, state: &Path) -> String {
    let binary = match pair.lesson {
        "01-uts" => env!("CARGO_BIN_EXE_01-uts"),
        "02-ipc" => env!("CARGO_BIN_EXE_02-ipc"),
        "03-pid" => env!("CARGO_BIN_EXE_03-pid"),
        "04-mnt" => env!("CARGO_BIN_EXE_04-mnt"),
        "05-user" => env!("CARGO_BIN_EXE_05-user"),
        "06-net" => env!("CARGO_BIN_EXE_06-net"),
        _ => env!("CARGO_BIN_EXE_07-cgroups"),
    };
    let mut words = vec![binary.to_string(), "--quiet".to_string()];
    if pair.lesson >= "06" {
        words.extend(["--state-dir".to_string(), state.display().to_string()]);
    }
    words.extend(pair.args.iter().map(|a| a.to_string()));
    words.push("/bin/true".to_string());
    words.join(" ")
}

/// Runs hyperfine on `commands` in one run and returns their medians in seconds.
fn hyperfine(commands: &[&str]) -> Vec<f64> {
    hyperfine_with_spread(commands)
        .into_iter()
        .map(|(median, _)| median)
        .collect()
}

/// Each command's median and standard deviation, in seconds, from one hyperfine run.
fn hyperfine_with_spread(commands: &[&str]) -> Vec<(f64, f64)> {
    let json = std::env::temp_dir()
        .join(format!("nsbox-bench-{}.json", std::process::id()));
    let status = Command::new("hyperfine")
        .args(["--warmup", "5", "--min-runs", "40", "--style", "basic"])
        .arg("--export-json")
        .arg(&json)
        .args(commands)
        .status()
        .expect("hyperfine");
    assert!(status.success(), "hyperfine failed on {commands:?}");
    let text = std::fs::read_to_string(&json).unwrap();
    let _ = std::fs::remove_file(&json);
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            let number = |field: &str| result[field].as_f64().unwrap();
            (number("median"), number("stddev"))
        })
        .collect()
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

fn require_root_and_hyperfine() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!(
            "the benchmark makes namespaces as root: run it with `cargo bench --bench start`"
        );
        std::process::exit(2);
    }
    if Command::new("hyperfine").arg("--version").output().is_err() {
        eprintln!("the benchmark needs hyperfine: sudo apt-get install hyperfine");
        std::process::exit(2);
    }
}

/// Everything networked happens in a network namespace of the benchmark's own, with
/// its loopback up, so the host's links are never touched.
fn enter_own_network_namespace() {
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
        .expect("unshare(CLONE_NEWNET)");
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join(format!("nsbox-bench-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The tables, into the page the book's appendix includes.
fn write_table(rows: &[String], namespace_rows: &[String]) {
    let machine = machine();
    let text = format!(
        "Measured with `cargo bench --bench start` on {machine}: medians of at least 40 \
         runs each, every lesson side by side with its reference in one hyperfine run.\n\n\
         | lesson (`--quiet /bin/true`) | median | reference, same run | median | ratio |\n\
         | --- | --- | --- | --- | --- |\n{}\n\n\
         What each namespace type costs on its own (`unshare --fork --TYPE /bin/true`):\n\n\
         | namespace | median | more than none |\n| --- | --- | --- |\n{}\n",
        rows.join("\n"),
        namespace_rows.join("\n")
    );
    let page = Path::new(env!("CARGO_MANIFEST_DIR")).join("book/src/speed/start.md");
    std::fs::create_dir_all(page.parent().unwrap()).unwrap();
    std::fs::write(&page, text).unwrap();
    eprintln!("written: {}", page.display());
}

/// "Linux 6.18, 2 CPUs" and the like.
fn machine() -> String {
    let release =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let release = release.trim();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("Linux {release}, {cpus} CPUs")
}
