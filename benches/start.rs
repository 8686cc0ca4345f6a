//! How fast does a container start? `cargo bench --bench start` runs each lesson and
//! the nearest thing the kernel's own tools do (`unshare`, `ip`) side by side, with
//! hyperfine, and writes the table the book's appendix "How fast is a container?"
//! shows (book/src/speed/start.md).
//!
//! Then it starts 50 networked containers, 10 at a time, and measures whether the
//! last starts as fast as the first. Any argument after `--` picks what runs by
//! name (`-- 06`, `-- scale`); the namespaces' table always runs.
//!
//! It runs as root (cargo's runner, scripts/as-root, asks sudo), inside a network
//! namespace of its own: the bridge and the veth pairs of lesson 06 and 07 are made
//! there, and vanish with it. Performance is measured here, never in timed tests.

// The paths of the lesson binaries, shared with the tests.
#[path = "../tests/common/binaries.rs"]
mod binaries;

use binaries::bin;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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
/// pair made with its host end here and its peer already in that namespace, and the
/// namespace dropped, the pair left to the kernel's own clean-up. Three runs of `ip`
/// (and a `sh` to name them): the named namespace and its mount live in the
/// benchmark's own mount namespace and `/run` (see `enter_own_namespaces`).
const NET_FLOOR: &str = "sh -c 'ip netns add f$$ \
                         && ip link add f$$ type veth peer name eth0 netns f$$ \
                         && ip netns del f$$'";

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
        reference_name: "ip netns add, ip link add … netns, ip netns del",
    },
    Pair {
        lesson: "07-cgroups",
        args: &["--memory", "100M"],
        reference: NET_FLOOR,
        reference_name: "ip netns add, ip link add … netns, ip netns del",
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
    enter_own_namespaces();
    let state = StateRoot::new();
    let mut rows = Vec::new();
    let wanted =
        |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o));
    for pair in PAIRS {
        if !wanted(pair.lesson) {
            continue;
        }
        let lesson = lesson_command(pair, &state.0);
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
    let runtime_rows: Vec<String> = if wanted("runtime") {
        runtime(&state.0)
    } else {
        Vec::new()
    };
    let scale_rows: Vec<String> = wanted("scale")
        .then(|| scale(&state.0).row())
        .into_iter()
        .collect();
    drop(state);
    if only.is_empty() {
        write_table(&rows, &namespace_rows, &runtime_rows, &scale_rows);
    } else {
        eprintln!("{}", namespace_rows.join("\n"));
        eprintln!("{}", runtime_rows.join("\n"));
        eprintln!("{}", scale_rows.join("\n"));
        eprintln!("(only some lessons ran: the book's table is left as it was)");
    }
}

// ---------------------------------------------------------------------------------------------
// The runtime beside runc.

/// `nsbox run --rm` and `runc run`, each running `/bin/true` in the same busybox
/// root filesystem with no network, side by side in one hyperfine run; and the
/// peak memory of each (the largest resident size of any of its processes, from
/// `wait4(2)`, as GNU time reports it).
fn runtime(state: &Path) -> Vec<String> {
    let storage = state.join("storage");
    let nsbox = format!(
        "{} --root {} --storage {} run --rm --network none busybox /bin/true",
        bin("nsbox"),
        state.join("runtime").display(),
        storage.display()
    );
    // Once first: it builds the busybox image.
    let built = Command::new("sh").args(["-c", &nsbox]).status();
    assert!(built.is_ok_and(|s| s.success()), "{nsbox}");
    let bundle = runc_bundle(&storage.join("builtin/busybox-0"), state);
    let runc = format!("runc run --bundle {} nsbox-bench", bundle.display());
    let medians = hyperfine(&[&nsbox, &runc]);
    let memory = [peak_memory_kib(&nsbox), peak_memory_kib(&runc)];
    vec![format!(
        "| {} | {} | {:.2}× | {} KiB | {} KiB |",
        ms(medians[0]),
        ms(medians[1]),
        medians[0] / medians[1],
        memory[0],
        memory[1]
    )]
}

/// An OCI bundle for runc: `runc spec`'s config, with no terminal, `/bin/true`, and
/// the busybox image as its root.
fn runc_bundle(rootfs: &Path, state: &Path) -> PathBuf {
    let bundle = state.join("runc-bundle");
    std::fs::create_dir_all(&bundle).unwrap();
    let made = Command::new("runc")
        .args(["spec", "--bundle"])
        .arg(&bundle)
        .status();
    assert!(
        made.is_ok_and(|s| s.success()),
        "runc spec (apt-get install runc)"
    );
    let path = bundle.join("config.json");
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    config["process"]["terminal"] = false.into();
    config["process"]["args"] = serde_json::json!(["/bin/true"]);
    config["root"]["path"] = rootfs.display().to_string().into();
    std::fs::write(&path, config.to_string()).unwrap();
    bundle
}

/// The largest peak of 5 runs, in KiB (`/usr/bin/time -f %M`).
fn peak_memory_kib(command: &str) -> u64 {
    (0..5)
        .map(|_| {
            let out = Command::new("/usr/bin/time")
                .args(["-f", "%M", "sh", "-c", &format!("exec {command}")])
                .output()
                .expect("/usr/bin/time (apt-get install time)");
            let text = String::from_utf8_lossy(&out.stderr);
            text.lines()
                .last()
                .unwrap_or("0")
                .trim()
                .parse()
                .unwrap_or(0)
        })
        .max()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// Many containers at once.

/// The scale measurement: this many containers of 06-net, this many starting at a
/// time, all running at once before any stops; and the whole round this many times.
const SCALE_CONTAINERS: usize = 50;
const SCALE_AT_ONCE: usize = 10;
const SCALE_ROUNDS: usize = 9;
/// The port every container listens on, at its own address.
const SCALE_PORT: u16 = 80;

/// How long each container took to start, round by round, in the order they were
/// started.
struct Scale {
    rounds: Vec<Vec<Duration>>,
}

impl Scale {
    /// The table's row: the first and the last container (for each, the median of
    /// the rounds), last / first; the same for the first batch and the last batch
    /// (the median of all their starts, steadier than one container's); and how
    /// many starts of all the rounds took more than twice the median.
    fn row(&self) -> String {
        let by_order: Vec<Duration> = (0..SCALE_CONTAINERS)
            .map(|n| median(self.rounds.iter().map(|round| round[n]).collect()))
            .collect();
        let first = by_order[0].as_secs_f64();
        let last = by_order[SCALE_CONTAINERS - 1].as_secs_f64();
        let batch = |range: std::ops::Range<usize>| {
            let starts = self
                .rounds
                .iter()
                .flat_map(|round| round[range.clone()].to_vec());
            median(starts.collect()).as_secs_f64()
        };
        let first_batch = batch(0..SCALE_AT_ONCE);
        let last_batch = batch(SCALE_CONTAINERS - SCALE_AT_ONCE..SCALE_CONTAINERS);
        let all: Vec<Duration> = self.rounds.iter().flatten().copied().collect();
        let middle = median(all.clone());
        let late = all.iter().filter(|t| **t > middle * 2).count();
        format!(
            "| {} | {} | {:.2}× | {} | {} | {:.2}× | {late} of {} |",
            ms(first),
            ms(last),
            last / first,
            ms(first_batch),
            ms(last_batch),
            last_batch / first_batch,
            all.len()
        )
    }
}

/// Runs the rounds of the scale measurement.
fn scale(state: &Path) -> Scale {
    // The first container on a machine also makes the bridge: one before the
    // measured ones, so that none of those pays for it.
    ScaleContainer::start(state, 0).stop();
    wait_until_the_bridge_has_no_ports();
    let rounds = (0..SCALE_ROUNDS).map(|_| scale_round(state)).collect();
    Scale { rounds }
}

/// One round: starts the containers, [`SCALE_AT_ONCE`] at a time (each batch once
/// the one before has started), then stops them all. Returns how long each took to
/// start.
fn scale_round(state: &Path) -> Vec<Duration> {
    let mut running = Vec::new();
    for first in (0..SCALE_CONTAINERS).step_by(SCALE_AT_ONCE) {
        std::thread::scope(|scope| {
            let batch: Vec<_> = (first..first + SCALE_AT_ONCE)
                .map(|n| scope.spawn(move || ScaleContainer::start(state, n)))
                .collect();
            running.extend(batch.into_iter().map(|thread| thread.join().unwrap()));
        });
    }
    let start_times = running.iter().map(|c| c.start_time).collect();
    for container in running {
        container.stop();
    }
    wait_until_the_bridge_has_no_ports();
    start_times
}

/// A container of 06-net whose probe listens on [`SCALE_PORT`] and answers two
/// connections: one to prove it started, one to stop it.
struct ScaleContainer {
    lesson: Child,
    hostname: String,
    address: SocketAddr,
    /// From spawning the lesson until the container answered the host.
    start_time: Duration,
}

impl ScaleContainer {
    /// Starts container `n` and waits until it answers a TCP connection from the
    /// host, over the bridge: that is when it has started.
    fn start(state: &Path, n: usize) -> ScaleContainer {
        let hostname = format!("box-{n}");
        // Its own address, given: the lease file is read and written as without.
        let address = Ipv4Addr::new(10, 89, 0, 2 + n as u8);
        let spawned = Instant::now();
        let lesson = Command::new(bin("06-net"))
            .args(["--quiet", "--state-dir"])
            .arg(state)
            .args(["--hostname", &hostname, "--ip", &address.to_string()])
            .args([bin("nsbox-probe"), "listen", &SCALE_PORT.to_string(), "2"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start 06-net");
        // The probe prints "listening" once its socket is bound; connecting before
        // that would be refused.
        let mut container = ScaleContainer {
            lesson,
            hostname,
            address: SocketAddr::from((address, SCALE_PORT)),
            start_time: Duration::ZERO,
        };
        let mut line = String::new();
        let stdout = container.lesson.stdout.as_mut().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert_eq!(
            line.trim(),
            "listening",
            "{} did not start",
            container.hostname
        );
        container.check_answer();
        container.start_time = spawned.elapsed();
        container
    }

    /// Connects to the container and checks that it is this one that answers.
    fn check_answer(&self) {
        let mut stream =
            TcpStream::connect_timeout(&self.address, Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("connect to {}: {e}", self.address));
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert_eq!(answer.trim(), format!("hello from {}", self.hostname));
    }

    /// The second connection: the probe answers it and exits, and so does the
    /// lesson, once it has cleaned up.
    fn stop(mut self) {
        self.check_answer();
        let status = self.lesson.wait().unwrap();
        assert!(status.success(), "{} ended with {status}", self.hostname);
    }
}

/// A container the benchmark gave up on (a panic) is killed, not left running: its
/// lesson dies, and the kernel kills the container with it (`PR_SET_PDEATHSIG`).
impl Drop for ScaleContainer {
    fn drop(&mut self) {
        if let Ok(None) = self.lesson.try_wait() {
            let _ = self.lesson.kill();
            let _ = self.lesson.wait();
        }
    }
}

/// The kernel may still be taking the last veth pairs apart when their lessons
/// have ended, and each holds its address till then: the next round, which gives
/// the containers the same addresses, starts once the bridge has no port left.
fn wait_until_the_bridge_has_no_ports() {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ports = Command::new("ip")
            .args(["-o", "link", "show", "master", "nsbox0"])
            .output()
            .expect("ip link show");
        if ports.stdout.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "the bridge keeps its ports");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The median of some durations.
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn lesson_command(pair: &Pair, state: &Path) -> String {
    let mut words = vec![bin(pair.lesson).to_string(), "--quiet".to_string()];
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
/// its loopback up, so the host's links are never touched. A mount namespace of its
/// own, with a `/run` of its own, keeps what `ip netns add` mounts off the host too.
fn enter_own_namespaces() {
    use nix::mount::{MsFlags, mount};
    use nix::sched::{CloneFlags, unshare};
    unshare(CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWNS)
        .expect("unshare(CLONE_NEWNET | CLONE_NEWNS)");
    let private = MsFlags::MS_REC | MsFlags::MS_PRIVATE;
    mount(None::<&str>, "/", None::<&str>, private, None::<&str>)
        .expect("make / private");
    mount(
        Some("tmpfs"),
        "/run",
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )
    .expect("mount a tmpfs on /run");
    let up = Command::new("ip")
        .args(["link", "set", "lo", "up"])
        .status();
    assert!(up.is_ok_and(|s| s.success()), "ip link set lo up");
}

/// The lessons' state root, removed when the benchmark ends, even by a panic.
struct StateRoot(PathBuf);

impl StateRoot {
    fn new() -> StateRoot {
        let dir = std::env::temp_dir()
            .join(format!("nsbox-bench-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        StateRoot(dir)
    }
}

impl Drop for StateRoot {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The tables, into the page the book's appendix includes.
fn write_table(
    rows: &[String],
    namespace_rows: &[String],
    runtime_rows: &[String],
    scale_rows: &[String],
) {
    let machine = machine();
    let text = format!(
        "Measured with `cargo bench --bench start` on {machine}: medians of at least 40 \
         runs each, every lesson side by side with its reference in one hyperfine run.\n\n\
         | lesson (`--quiet /bin/true`) | median | reference, same run | median | ratio |\n\
         | --- | --- | --- | --- | --- |\n{}\n\n\
         What each namespace type costs on its own (`unshare --fork --TYPE /bin/true`):\n\n\
         | namespace | median | more than none |\n| --- | --- | --- |\n{}\n\n\
         The runtime beside runc, both running `/bin/true` in the same busybox root \
         filesystem without a network (`nsbox run --rm --network none busybox \
         /bin/true`, `runc run`), in one hyperfine run; peak memory is the largest \
         resident size of any of their processes (GNU time's `%M`, 5 runs):\n\n\
         | nsbox run | runc run | ratio | nsbox peak memory | runc peak memory |\n\
         | --- | --- | --- | --- | --- |\n{}\n\n\
         {SCALE_CONTAINERS} containers of `06-net`, {SCALE_AT_ONCE} starting at a time, \
         all running at once before any stops. A container has started when it \
         answers a TCP connection from the host, over the bridge; each time is the \
         median of {SCALE_ROUNDS} rounds; a batch's, the median of all its \
         containers' starts in all rounds:\n\n\
         | first | {SCALE_CONTAINERS}th | {SCALE_CONTAINERS}th / first \
         | first {SCALE_AT_ONCE} | last {SCALE_AT_ONCE} | last / first \
         | starts over twice the median |\n\
         | --- | --- | --- | --- | --- | --- | --- |\n{}\n",
        rows.join("\n"),
        namespace_rows.join("\n"),
        runtime_rows.join("\n"),
        scale_rows.join("\n")
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
