//! Lesson 06: a network namespace wired to a bridge by a veth pair.
//!
//! Each test plays "the host" in a network namespace of its own, made for it
//! (`unshare --net`), so that its bridge, veths and traffic never touch the
//! machine's real network, and tests can run side by side. The test checks that
//! namespace before it ends: no veth is left, and no lease in the test's state
//! directory.

mod common;

use common::*;
use rstest::{fixture, rstest};
use std::fs::File;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A network namespace of the test's own, held open by a `sleep` started in it.
struct Netns {
    holder: Child,
    netns: File,
}

impl Netns {
    fn new() -> Netns {
        let holder = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .spawn()
            .unwrap();
        let pid = holder.id().to_string();
        let ours = ns_inode("self", "net");
        let deadline = Instant::now() + RUN_LIMIT;
        while ns_inode(&pid, "net") == ours {
            assert!(Instant::now() < deadline, "unshare --net did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let netns = File::open(format!("/proc/{pid}/ns/net")).unwrap();
        Netns { holder, netns }
    }

    fn pid(&self) -> u32 {
        self.holder.id()
    }

    /// A command that will run in this namespace.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        let fd = self.netns.as_raw_fd();
        // SAFETY: runs in the forked child before exec; setns(2) is
        // async-signal-safe and the closure touches nothing but the fd number.
        unsafe {
            command.pre_exec(move || {
                let netns = BorrowedFd::borrow_raw(fd);
                nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(std::io::Error::from)
            });
        }
        command
    }

    /// Runs a shell command here and returns its stdout.
    fn sh(&self, script: &str) -> String {
        let out = self.command("sh").args(["-c", script]).output().unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A probe listening here, ready.
    fn listen(&self, port: &str, count: &str) -> Running {
        let mut command = self.command(probe());
        command.args(["listen", port, count]);
        let mut listener = Running::from_command(command);
        listener.wait_for(Source::Stdout, "listening");
        listener
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

/// The namespace playing the host, and the test's own state directory for 06-net.
struct TestHost {
    netns: Netns,
    state: TempDir,
    ip_forward: String,
}

#[fixture]
fn net_host() -> TestHost {
    require_root();
    let netns = Netns::new();
    netns.sh("ip link set lo up");
    let ip_forward = netns.sh("cat /proc/sys/net/ipv4/ip_forward");
    TestHost {
        netns,
        state: TempDir::new("net-state"),
        ip_forward,
    }
}

impl TestHost {
    fn command(&self, program: &str) -> Command {
        self.netns.command(program)
    }

    fn sh(&self, script: &str) -> String {
        self.netns.sh(script)
    }

    /// Another machine, "outside": a namespace joined to this one by a veth pair,
    /// with 198.18.0.1 on our side and 198.18.0.2 on its side, and no route to the
    /// containers.
    fn outside(&self) -> Netns {
        let outside = Netns::new();
        self.sh(&format!(
            "ip link add out0 type veth peer name peer0 && ip link set peer0 netns {} && \
             ip addr add 198.18.0.1/24 dev out0 && ip link set out0 up",
            outside.pid()
        ));
        outside
            .sh("ip link set lo up && ip addr add 198.18.0.2/24 dev peer0 && ip link set peer0 up");
        outside
    }

    /// 06-net, with this test's state directory, in this namespace.
    fn lesson(&self, args: &[&str]) -> Command {
        self.networked("06-net", args)
    }

    /// A networked lesson (06-net or 07-cgroups), with this test's state
    /// directory, in this namespace.
    fn networked(&self, lesson: &str, args: &[&str]) -> Command {
        let mut command = self.command(bin(lesson));
        command.arg("--state-dir").arg(&self.state.path).args(args);
        command
    }

    fn run(&self, args: &[&str]) -> Run {
        Running::from_command(self.lesson(args)).finish()
    }

    fn start(&self, args: &[&str]) -> Running {
        Running::from_command(self.lesson(args))
    }

    /// The names of the links here.
    fn links(&self) -> Vec<String> {
        link_names(&self.sh("ip -o link"))
    }

    /// The veth ends of lessons (`nsb<pid>`) still here once the kernel has had
    /// the time to free the dead containers' namespaces (it deletes their pairs
    /// with them, a moment after they end).
    fn veths_left(&self) -> Vec<String> {
        let is_veth = |name: &String| {
            name.strip_prefix("nsb").is_some_and(|digits| {
                !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
            })
        };
        let veths: Vec<String> = self.links().into_iter().filter(is_veth).collect();
        wait_until_gone(&veths, || self.links())
    }

    /// No veth, lease, nftables table left, and ip_forward as it was.
    fn check_clean(&self) {
        let veths = self.veths_left();
        assert!(veths.is_empty(), "veths left behind: {veths:?}");
        let tables = self.sh("nft list tables");
        assert!(!tables.contains("nsbox"), "nftables still has: {tables}");
        let ip_forward = self.sh("cat /proc/sys/net/ipv4/ip_forward");
        assert_eq!(ip_forward, self.ip_forward, "ip_forward was not put back");
        if let Ok(entries) = std::fs::read_dir(&self.state.path) {
            let leases: Vec<_> = entries.collect();
            assert!(
                leases.is_empty(),
                "the state directory still holds {leases:?}"
            );
        }
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.check_clean();
        }
    }
}

/// `link: <FLAGS>` of each line of `ip -o link`.
fn link_flags(ip_link: &str, name: &str) -> String {
    let line = ip_link.lines().find(|l| {
        l.split(": ")
            .nth(1)
            .is_some_and(|n| n.split('@').next() == Some(name))
    });
    let line = line.unwrap_or_else(|| panic!("no link {name} in:\n{ip_link}"));
    line.split('<')
        .nth(1)
        .unwrap()
        .split('>')
        .next()
        .unwrap()
        .to_string()
}

#[rstest]
fn without_a_network_there_is_only_lo_and_it_is_down(
    _host: HostGuard,
    net_host: TestHost,
) {
    let run = net_host.run(&["--network", "none", "ip", "-o", "link"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    assert!(
        !link_flags(&run.stdout, "lo").split(',').any(|f| f == "UP"),
        "{}",
        run.stdout
    );
}

#[rstest]
fn with_a_bridge_eth0_has_an_address_lo_is_up_and_a_default_route(
    _host: HostGuard,
    net_host: TestHost,
) {
    let script = "ip -o link; echo; ip -o -4 addr show eth0; ip route show default";
    let run = net_host.run(&["sh", "-c", script]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let (links, rest) = run.stdout.split_once("\n\n").unwrap();
    assert!(
        link_flags(links, "lo").split(',').any(|f| f == "UP"),
        "{links}"
    );
    assert!(
        link_flags(links, "eth0").split(',').any(|f| f == "UP"),
        "{links}"
    );
    assert_eq!(links.lines().count(), 2, "{links}");
    assert!(rest.contains("inet 10.89.0.2/24"), "{rest}");
    assert!(rest.contains("default via 10.89.0.1 dev eth0"), "{rest}");
    // The bridge stays on the host for the next container, with the gateway address.
    assert!(net_host.links().contains(&"nsbox0".to_string()));
    assert!(
        net_host
            .sh("ip -o -4 addr show nsbox0")
            .contains("10.89.0.1/24")
    );
}

#[rstest]
fn host_reaches_a_listener_in_the_container(_host: HostGuard, net_host: TestHost) {
    let mut container =
        net_host.start(&["--hostname", "box", probe(), "listen", "8080"]);
    container.wait_for(Source::Stdout, "listening");
    let answer = net_host
        .command(probe())
        .args(["connect", "10.89.0.2", "8080"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&answer.stdout).trim(),
        "hello from box"
    );
    let run = container.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// An address comes back to a new container with a new hardware address. The host
/// still remembers the old one's (its ARP cache) while another container keeps the
/// bridge up; the lesson makes it forget, so the new container answers at once, not
/// after the stale entry has been probed and given up.
#[rstest]
fn a_reused_address_is_reachable_at_once(_host: HostGuard, net_host: TestHost) {
    let mut other = net_host.start(&[
        "--quiet",
        "--ip",
        "10.89.0.20",
        "sh",
        "-c",
        "echo up; cat",
    ]);
    other.wait_for(Source::Stdout, "up");
    let answer = |hostname: &str| {
        let mut container = net_host.start(&[
            "--quiet",
            "--hostname",
            hostname,
            "--ip",
            "10.89.0.2",
            probe(),
            "listen",
            "8080",
        ]);
        container.wait_for(Source::Stdout, "listening");
        let host_end = format!("nsb{}", container.pid());
        let out = net_host
            .command(probe())
            .args(["connect", "10.89.0.2", "8080", "3"])
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(answer, format!("hello from {hostname}"), "{said}");
        let run = container.finish();
        assert_eq!(run.code, 0, "{}", run.stderr);
        host_end
    };
    let host_end = answer("first");
    let neighbours = net_host.sh("ip neigh show 10.89.0.2");
    assert!(
        neighbours.contains("lladdr"),
        "the host learnt it: {neighbours}"
    );
    let left = wait_until_gone(std::slice::from_ref(&host_end), || net_host.links());
    assert!(
        left.is_empty(),
        "still on the host after {GONE_WITHIN:?}: {left:?}"
    );
    answer("second");
    other.close_stdin();
    assert_eq!(other.finish().code, 0);
}

#[rstest]
fn containers_reach_each_other_and_the_host(_host: HostGuard, net_host: TestHost) {
    let on_host = net_host.netns.listen("9000", "1");
    let mut a = net_host.start(&[
        "--hostname",
        "a",
        "--ip",
        "10.89.0.10",
        probe(),
        "listen",
        "8080",
    ]);
    a.wait_for(Source::Stdout, "listening");
    let script = format!(
        "{p} connect 10.89.0.10 8080 && {p} connect 10.89.0.1 9000",
        p = probe()
    );
    let b = net_host.run(&["--hostname", "b", "sh", "-c", &script]);
    let host_name = host_hostname();
    assert_eq!(
        (b.code, b.stdout.as_str()),
        (
            0,
            format!("hello from a\nhello from {host_name}\n").as_str()
        ),
        "{}",
        b.stderr
    );
    let a = a.finish();
    assert_eq!(a.code, 0);
    assert_eq!(on_host.finish().code, 0);
}

/// Twenty containers started at once get twenty different addresses, and all reach
/// the host.
#[rstest]
fn twenty_containers_at_once(net_host: TestHost) {
    const COUNT: usize = 20;
    let on_host = net_host.netns.listen("9000", &COUNT.to_string());
    // Each container stays up (reading stdin) until all have their address, so that
    // none can give its address back before the last one asks for one.
    let script = format!(
        "ip -o -4 addr show eth0 | awk '{{print $4}}'; {} connect 10.89.0.1 9000; cat >/dev/null",
        probe()
    );
    let mut containers: Vec<Running> = (0..COUNT)
        .map(|_| net_host.start(&["--quiet", "sh", "-c", &script]))
        .collect();
    let mut addresses = std::collections::BTreeSet::new();
    for container in &mut containers {
        addresses.insert(container.wait_for(Source::Stdout, "10.89.0."));
        container.wait_for(Source::Stdout, "hello from");
    }
    assert_eq!(addresses.len(), COUNT, "addresses: {addresses:?}");
    for mut container in containers {
        container.close_stdin();
        let run = container.finish();
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
    assert_eq!(on_host.finish().code, 0);
}

/// How many containers the scale test runs, and how many of them start at once.
const MANY: usize = 50;
const AT_ONCE: usize = 10;

/// One of the scale test's containers: 07-cgroups with a memory limit (so it has
/// cgroups) and a published port (so it has NAT rules), whose command says what
/// address the kernel gave its eth0 and then answers one TCP connection with its
/// hostname.
struct OneOfMany {
    running: Running,
    hostname: String,
    /// Its address, as `ip` inside it reads it from the kernel.
    address: String,
    /// The container's pid on the host, and its cgroup directories.
    pid: i32,
    cgroups: Vec<String>,
}

impl OneOfMany {
    fn start(net_host: &TestHost, n: usize) -> OneOfMany {
        let hostname = format!("box-{n}");
        let publish = format!("{}:8080", 20000 + n);
        let script =
            format!("ip -o -4 addr show eth0; exec {} listen 8080 1", probe());
        let args = [
            "--quiet",
            "--hostname",
            &hostname,
            "--memory",
            "32M",
            "--publish",
            &publish,
            "--remove-bridge",
            "sh",
            "-c",
            &script,
        ];
        OneOfMany {
            running: Running::from_command(net_host.networked("07-cgroups", &args)),
            hostname,
            address: String::new(),
            pid: 0,
            cgroups: Vec::new(),
        }
    }

    /// Waits until it listens, and reads its address, pid and cgroups.
    fn wait_until_listening(&mut self) {
        let line = self.running.wait_for(Source::Stdout, " inet ");
        self.address = line
            .split_whitespace()
            .skip_while(|word| *word != "inet")
            .nth(1)
            .and_then(|cidr| cidr.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        self.running.wait_for(Source::Stdout, "listening");
        let children = process::children_of(self.running.pid());
        assert_eq!(children.len(), 1, "the lesson's one child, its container");
        self.pid = children[0].as_raw();
        self.cgroups = cgroup_dirs_of(self.pid);
        assert!(!self.cgroups.is_empty(), "{} has no cgroup", self.hostname);
    }

    /// What it answers a connection from the host, over the bridge.
    fn answer(&self, net_host: &TestHost) -> String {
        let out = net_host
            .command(probe())
            .args(["connect", &self.address, "8080"])
            .output()
            .unwrap();
        let answer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if answer.is_empty() {
            let said = String::from_utf8_lossy(&out.stderr);
            let links = net_host.sh("ip -br addr; ip neigh; ss -tan");
            panic!(
                "{} at {} did not answer: {said}\nits output: {:?}\n{links}",
                self.hostname, self.address, self.running.stdout
            );
        }
        answer
    }
}

/// Fifty containers started ten at a time, all running at once: the host reaches
/// each one over the bridge at its own address, and gets that container's answer.
/// Once all have stopped, nothing of theirs is left: no link (the last one removes
/// the bridge), no lease or state folder, no nftables rule, no cgroup, no process
/// (and the host guard checks the mounts). The kernel removes some of it in the
/// background a little after a container ends: each check waits, with a bound.
#[rstest]
fn fifty_containers_ten_at_a_time_leave_nothing(
    _host_exclusive: HostGuard,
    net_host: TestHost,
) {
    let mut containers: Vec<OneOfMany> = Vec::new();
    for first in (0..MANY).step_by(AT_ONCE) {
        let mut starting: Vec<OneOfMany> = (first..first + AT_ONCE)
            .map(|n| OneOfMany::start(&net_host, n))
            .collect();
        for container in &mut starting {
            container.wait_until_listening();
        }
        containers.extend(starting);
    }
    // All fifty at once: a port each on the bridge, two NAT rules each.
    let ports = net_host.sh("ip -o link show master nsbox0");
    assert_eq!(ports.lines().count(), MANY, "{ports}");
    let table = net_host.sh("nft list table ip nsbox");
    assert_eq!(table.matches(" dnat to ").count(), 2 * MANY, "{table}");
    let addresses: std::collections::BTreeSet<&str> =
        containers.iter().map(|c| c.address.as_str()).collect();
    assert_eq!(addresses.len(), MANY, "{addresses:?}");
    for container in &containers {
        let expected = format!("hello from {}", container.hostname);
        assert_eq!(
            container.answer(&net_host),
            expected,
            "{}",
            container.address
        );
    }
    let mut left = Vec::new();
    for container in containers {
        let run = container.running.finish();
        assert_eq!(run.code, 0, "{}: {}", container.hostname, run.stderr);
        left.push((container.pid, container.cgroups));
    }
    settle("no link but lo is left", || net_host.links() == ["lo"]);
    settle("no nftables table of ours is left", || {
        !net_host.sh("nft list tables").contains("nsbox")
    });
    let state = &net_host.state.path;
    // The last one out removes the directory itself.
    settle("the state directory is empty or gone", || {
        let entries = std::fs::read_dir(state).ok();
        entries.is_none_or(|mut entries| entries.next().is_none())
    });
    for (pid, cgroups) in &left {
        let proc = format!("/proc/{pid}");
        settle(&format!("{proc} is gone"), || !Path::new(&proc).exists());
        for dir in cgroups {
            settle(&format!("{dir} is gone"), || !Path::new(dir).exists());
        }
    }
}

/// The veth pair is the container's: its host end is the bridge's one port while
/// the container runs, its peer is `eth0` in the container's namespace, and the
/// kernel deletes both when it frees that namespace after the container ended.
#[rstest]
fn the_veth_pair_goes_with_the_container(_host: HostGuard, net_host: TestHost) {
    let script = "ip -o link show eth0; cat >/dev/null";
    let mut container = net_host.start(&["--quiet", "sh", "-c", script]);
    let eth0 = container.wait_for(Source::Stdout, "eth0@if");
    let ports = link_names(&net_host.sh("ip -o link show master nsbox0"));
    assert_eq!(ports, [format!("nsb{}", container.pid())]);
    // Each end's `@if` names the other end's index.
    let host_end = net_host.sh(&format!("ip -o link show dev {}", ports[0]));
    let host_end_index = host_end.split(':').next().unwrap();
    assert!(
        eth0.contains(&format!("eth0@if{host_end_index}:")),
        "{eth0}"
    );
    container.close_stdin();
    let run = container.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let left = wait_until_gone(&ports, || net_host.links());
    assert!(
        left.is_empty(),
        "still on the host after {GONE_WITHIN:?}: {left:?}"
    );
    assert_eq!(net_host.links(), ["lo", "nsbox0"]);
}

/// A container that has ended gives its lease file's line back at once, but its
/// address stays taken while its veth pair lives: its `eth0` still has it. Here the
/// test holds the container's network namespace open (as an `nsenter` still in it
/// would), so the kernel cannot delete the pair yet. The address is refused to a
/// new container, and the next one gets another; once the namespace is let go, the
/// kernel deletes the pair, and the address is free again.
#[rstest]
fn an_ended_containers_address_is_taken_until_its_pair_is_gone(
    _host: HostGuard,
    net_host: TestHost,
) {
    let mut first =
        net_host.start(&["--quiet", "sh", "-c", "ip -o link show eth0; cat"]);
    first.wait_for(Source::Stdout, "eth0@if");
    let host_end = format!("nsb{}", first.pid());
    let alias = net_host.sh(&format!("ip -o link show dev {host_end}"));
    assert!(
        alias.contains("alias nsbox lease 10.89.0.2 on nsbox0"),
        "{alias}"
    );
    let children = process::children_of(first.pid());
    let namespace = File::open(format!("/proc/{}/ns/net", children[0])).unwrap();
    first.close_stdin();
    let run = first.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        net_host.links().contains(&host_end),
        "{:?}",
        net_host.links()
    );
    let lease_file = net_host.state.path.join("net/nsbox0.leases");
    assert!(!lease_file.exists(), "the line is given back at once");

    let refused = net_host.run(&["--ip", "10.89.0.2", "true"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let held = format!("10.89.0.2 is still held by {host_end}");
    assert!(refused.stderr.contains(&held), "{}", refused.stderr);
    let next = net_host.run(&["--quiet", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert_eq!(next.code, 0, "{}", next.stderr);
    assert!(next.stdout.contains("inet 10.89.0.3/24"), "{}", next.stdout);

    drop(namespace);
    let left = wait_until_gone(std::slice::from_ref(&host_end), || net_host.links());
    assert!(
        left.is_empty(),
        "still on the host after {GONE_WITHIN:?}: {left:?}"
    );
    let again = net_host.run(&["--quiet", "--ip", "10.89.0.2", "true"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
}

#[rstest]
#[case::bridge_kept(&[], true)]
#[case::bridge_removed(&["--remove-bridge"], false)]
fn the_bridge_stays_unless_asked(
    _host: HostGuard,
    net_host: TestHost,
    #[case] options: &[&str],
    #[case] kept: bool,
) {
    let mut args = options.to_vec();
    args.push("true");
    let run = net_host.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(net_host.veths_left(), Vec::<String>::new());
    let mut expected = vec!["lo".to_string()];
    if kept {
        expected.push("nsbox0".to_string());
    }
    assert_eq!(net_host.links(), expected);
}

/// Bad input: a clear error, exit 2, and nothing created.
#[rstest]
#[case::subnet_prefix(&["--subnet", "10.89.0.0/33"], "prefix")]
#[case::subnet_words(&["--subnet", "lots"], "not a subnet")]
#[case::subnet_host_bits(&["--subnet", "10.89.0.7/24"], "host bits")]
#[case::address_outside(&["--ip", "10.90.0.5"], "is not a container address in 10.89.0.0/24")]
#[case::address_is_gateway(&["--ip", "10.89.0.1"], "the gateway is 10.89.0.1")]
#[case::address_malformed(&["--ip", "10.89.0.300"], "invalid value")]
#[case::bridge_too_long(&["--bridge", "a-bridge-name-too-long"], "1 to 15 bytes")]
fn bad_network_input_is_refused(
    net_host: TestHost,
    #[case] options: &[&str],
    #[case] message: &str,
) {
    let mut args = options.to_vec();
    args.push("true");
    let run = net_host.run(&args);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains(message), "{}", run.stderr);
    assert!(!run.stderr.contains("clone("), "{}", run.stderr);
    assert_eq!(net_host.links(), ["lo"]);
}

#[rstest]
fn an_exhausted_subnet_is_refused(_host: HostGuard, net_host: TestHost) {
    // A /30 has one address for a container.
    let mut first = net_host.start(&[
        "--subnet",
        "10.89.0.0/30",
        "sh",
        "-c",
        "echo in; cat >/dev/null",
    ]);
    first.wait_for(Source::Stdout, "in");
    let links_before = net_host.links();
    let second = net_host.run(&["--subnet", "10.89.0.0/30", "true"]);
    assert_eq!(second.code, 2, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("no free address left in 10.89.0.0/30"),
        "{}",
        second.stderr
    );
    assert_eq!(net_host.links(), links_before);
    first.close_stdin();
    let first = first.finish();
    assert_eq!(first.code, 0);
}

#[rstest]
fn an_ordinary_user_is_told_it_needs_root(net_host: TestHost) {
    let dir = TempDir::new("net-user");
    let [lesson] = dir.with_copies(&["06-net"]).try_into().unwrap();
    let state = net_host.state.path.to_str().unwrap().to_string();
    let run = run_as(UNPRIVILEGED, &lesson, &["--state-dir", &state, "true"]);
    assert_eq!(run.code, 125, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "needs root: creating a veth pair and a bridge on the host needs CAP_NET_ADMIN"
        ),
        "{}",
        run.stderr
    );
}

#[rstest]
fn transcript_network(_host: HostGuard, net_host: TestHost) {
    let mut transcript = Transcript::default();
    let args = ["--quiet", "--network", "none", "ip", "-br", "link"];
    let run = net_host.run(&args);
    assert_eq!(run.code, 0);
    transcript.lesson("06-net", &args, &run.stdout);
    let args = ["sh", "-c", "ip -br addr; ip route"];
    let run = net_host.run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    transcript.lesson_parts("06-net", &args, &run.stdout, &run.stderr);
    assert_transcript("06-net", "bridge", &transcript);
}

/// With --nat, a container reaches a machine that has no route back to it: the host
/// puts its own address on the container's packets. Without, the connection goes
/// nowhere.
#[rstest]
#[case::with_nat(true)]
#[case::without_nat(false)]
fn nat_takes_the_container_out(
    _host: HostGuard,
    net_host: TestHost,
    #[case] nat: bool,
) {
    let outside = net_host.outside();
    let mut listener = outside.listen("9000", "1");
    let mut args = vec!["--hostname", "box"];
    if nat {
        args.push("--nat");
    }
    args.extend([probe(), "connect", "198.18.0.2", "9000", "2"]);
    let run = net_host.run(&args);
    if nat {
        let greeting = format!("hello from {}", host_hostname());
        assert_eq!(
            (run.code, run.stdout.trim()),
            (0, greeting.as_str()),
            "{}",
            run.stderr
        );
        listener.wait_for(Source::Stdout, "connection from 198.18.0.1");
        assert_eq!(listener.finish().code, 0);
    } else {
        assert_ne!(run.code, 0, "it got out without NAT: {}", run.stdout);
        assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    }
}

/// --publish 8080:80 sends connections to the host's port 8080 on to the container's
/// port 80, from another machine and from the host itself.
#[rstest]
fn published_port_reaches_the_container(_host: HostGuard, net_host: TestHost) {
    let outside = net_host.outside();
    let args = [
        "--hostname",
        "box",
        "--publish",
        "8080:80",
        probe(),
        "listen",
        "80",
        "2",
    ];
    let mut container = net_host.start(&args);
    container.wait_for(Source::Stdout, "listening");
    let connect = [probe(), "connect", "198.18.0.1", "8080", "5"];
    let from_outside = outside
        .command(connect[0])
        .args(&connect[1..])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&from_outside.stdout).trim(),
        "hello from box"
    );
    container.wait_for(Source::Stdout, "connection from 198.18.0.2");
    let from_host = net_host
        .command(connect[0])
        .args(&connect[1..])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&from_host.stdout).trim(),
        "hello from box"
    );
    let run = container.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("dnat to 10.89.0.2:80"),
        "{}",
        run.stderr
    );
}

#[rstest]
#[case::one_number("80")]
#[case::port_zero("0:80")]
#[case::words("web:http")]
fn bad_publish_is_refused(net_host: TestHost, #[case] publish: &str) {
    let run = net_host.run(&["--publish", publish, "true"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not HOST_PORT:CONTAINER_PORT"),
        "{}",
        run.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// More transcripts for the chapter.

/// 06-net running the probe. The transcripts show the probe as `/tmp/nsbox-probe`,
/// where chapter 07's "Try it yourself" tells the reader to copy it
/// (`assert_transcript` replaces its real path).
fn lesson_with_probe(net_host: &TestHost, args: &[&str]) -> Command {
    net_host.lesson(args)
}

/// What the shared normalisations leave as it is: the lesson's pid in the
/// `nsbox-<pid>` tag of its nftables rules and in its lease line, and the peer's
/// index after `@if`.
fn placeholders(text: &str, lesson_pid: nix::unistd::Pid) -> String {
    let pid = lesson_pid.as_raw();
    let text = text
        .replace(&format!("nsbox-{pid}\""), "nsbox-[PID]\"")
        .replace(&format!("nsbox-{pid}\n"), "nsbox-[PID]\n")
        .replace(&format!(" {pid}\n"), " [PID]\n");
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("@if") {
        out.push_str(&rest[..at + 3]);
        out.push_str("[N]");
        rest = rest[at + 3..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    // The hardware address `ip -br link` shows (the kernel picks one at random).
    let mac = regex::Regex::new(r"\b[0-9a-f]{2}(:[0-9a-f]{2}){5}\b").unwrap();
    let text = mac.replace_all(&(out + rest), "[MAC]").into_owned();
    // `ip -br` pads its first column to 16 characters: pad the name with its
    // placeholders the same way, or the spaces would change with the pid's length.
    let text = text.replace(&format!("nsb{pid}@"), "nsb[PID]@");
    let brief_name = regex::Regex::new(r"(?m)^(nsb\[PID\]@if\[N\]) +").unwrap();
    brief_name
        .replace_all(&text, |found: &regex::Captures| {
            format!("{:<16} ", &found[1])
        })
        .into_owned()
}

/// Waits until `check` holds, or fails the test.
fn settle(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + RUN_LIMIT;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sets `ip_forward` in the test's host namespace (it starts as the machine's), so
/// that the narration shows the lesson turning it on and back off on every machine.
fn set_ip_forward(net_host: &TestHost, value: &str) {
    net_host.sh(&format!("echo {value} > /proc/sys/net/ipv4/ip_forward"));
}

/// The host's side while a container runs: the bridge with the gateway address, the
/// veth's host end as a port of the bridge, the lease; and after it exits, no port.
#[rstest]
fn transcript_host_side(_host: HostGuard, net_host: TestHost) {
    let state = net_host.state.path.to_str().unwrap().to_string();
    let mut container = net_host.start(&["--quiet", "cat"]);
    let lesson_pid = container.pid();
    // The kernel updates a link's state a moment after it changes: wait until the
    // child has brought eth0 up (so the host end has a carrier) and the bridge
    // forwards.
    settle("the bridge forwards", || {
        net_host.sh("bridge link").contains("LOWER_UP")
            && net_host.sh("ip -br -4 addr show nsbox0").contains(" UP ")
    });
    // Three transcripts: the first terminal, the second while cat waits, and the
    // second again once the container has ended.
    let mut first = Transcript::default();
    let shown = ["--state-dir", state.as_str(), "--quiet", "cat"];
    first.lesson("06-net", &shown, "");
    let mut look = Transcript::default();
    let ports = "ip -br link show master nsbox0";
    let leases = format!("cat {state}/net/nsbox0.leases");
    for command in ["ip -br -4 addr", ports, leases.as_str()] {
        let output = placeholders(&net_host.sh(command), lesson_pid);
        look.command(command, &output);
    }
    assert!(look.text().contains("@if[N]"), "{}", look.text());
    container.close_stdin();
    let run = container.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    // The kernel deletes the pair when it frees the container's network
    // namespace, a moment after the container ended.
    let host_end = format!("nsb{lesson_pid}");
    let still = wait_until_gone(&[host_end], || net_host.links());
    assert_eq!(still, Vec::<String>::new());
    let mut after = Transcript::default();
    let left = net_host.sh(ports);
    assert_eq!(left, "");
    after.command(ports, &left);
    assert_transcript("06-net", "host-side", &first);
    assert_transcript("06-net", "host-side-look", &look);
    assert_transcript("06-net", "host-side-after", &after);
}

/// Two containers on one bridge: b reaches a's listener by a's address.
#[rstest]
fn transcript_two_containers(_host: HostGuard, net_host: TestHost) {
    let a_args = ["--quiet", "--hostname", "a", probe(), "listen", "8080"];
    let mut a = Running::from_command(lesson_with_probe(&net_host, &a_args));
    a.wait_for(Source::Stdout, "listening");
    let b_args = [
        "--quiet",
        "--hostname",
        "b",
        probe(),
        "connect",
        "10.89.0.2",
        "8080",
    ];
    let b = Running::from_command(lesson_with_probe(&net_host, &b_args)).finish();
    assert_eq!(
        (b.code, b.stdout.as_str()),
        (0, "hello from a\n"),
        "{}",
        b.stderr
    );
    let a = a.finish();
    assert_eq!(a.code, 0, "{}", a.stderr);
    assert_eq!(a.stdout.matches("connection from 10.89.0.3").count(), 1);
    // Quiet lessons print nothing else: an error here is a clean-up that failed
    // (and the check of the state directory, when the test ends, would fail too).
    assert_eq!((a.stderr.as_str(), b.stderr.as_str()), ("", ""));
    // One transcript per terminal: a's, with all it printed, then b's.
    let mut first = Transcript::default();
    first.lesson("06-net", &a_args, &a.stdout);
    let mut second = Transcript::default();
    second.lesson("06-net", &b_args, &b.stdout);
    assert_transcript("06-net", "two-containers-a", &first);
    assert_transcript("06-net", "two-containers-b", &second);
}

/// A machine outside has no route to 10.89.0.0/24: without --nat the container
/// cannot reach it; with --nat the host masquerades, and the outside sees the host's
/// address.
#[rstest]
fn transcript_nat(_host: HostGuard, net_host: TestHost) {
    let outside = net_host.outside();
    let script = format!("hostname outside && exec {} listen 9000 1", probe());
    let mut command = outside.command("unshare");
    command.args(["--uts", "sh", "-c", &script]);
    let mut listener = Running::from_command(command);
    listener.wait_for(Source::Stdout, "listening");
    set_ip_forward(&net_host, "0");
    // Two transcripts: the host's terminal, and the listener's outside.
    let mut transcript = Transcript::default();
    transcript.command(
        "sudo sysctl net.ipv4.ip_forward",
        &net_host.sh("sysctl net.ipv4.ip_forward"),
    );

    let args = ["--quiet", probe(), "connect", "198.18.0.2", "9000", "2"];
    let run = Running::from_command(lesson_with_probe(&net_host, &args)).finish();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("timed out"), "{}", run.stderr);
    transcript.lesson("06-net", &args, &run.stderr);

    let args = ["--nat", probe(), "connect", "198.18.0.2", "9000"];
    let running = Running::from_command(lesson_with_probe(&net_host, &args));
    let lesson_pid = running.pid();
    let run = running.finish();
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (0, "hello from outside\n"),
        "{}",
        run.stderr
    );
    let output = Transcript::default()
        .lesson_parts("06-net", &args, &run.stdout, &run.stderr)
        .text()
        .to_string();
    let output = placeholders(&output, lesson_pid);
    for line in output.lines() {
        transcript.line(line);
    }
    let listener = listener.finish();
    assert_eq!(listener.code, 0, "{}", listener.stderr);
    let mut outside = Transcript::default();
    outside.command("/tmp/nsbox-probe listen 9000", &listener.stdout);
    assert!(outside.text().contains("connection from 198.18.0.1\n"));
    set_ip_forward(&net_host, net_host.ip_forward.trim());
    assert_transcript("06-net", "nat", &transcript);
    assert_transcript("06-net", "nat-outside", &outside);
}

/// --publish 8080:80: the rules in nftables, and who can connect.
#[rstest]
fn transcript_publish(_host: HostGuard, net_host: TestHost) {
    let outside = net_host.outside();
    let args = [
        "--quiet",
        "--hostname",
        "box",
        "--publish",
        "8080:80",
        probe(),
        "listen",
        "80",
        "2",
    ];
    let mut container = Running::from_command(lesson_with_probe(&net_host, &args));
    let lesson_pid = container.pid();
    container.wait_for(Source::Stdout, "listening");
    // Three transcripts: the container's terminal, a second one on the host, and
    // one on the machine outside.
    let mut transcript = Transcript::default();
    // nft indents with tabs, which a browser shows 8 columns wide: the book shows
    // each as two spaces, so that the rules fit its width.
    let table = net_host.sh("nft list table ip nsbox").replace('\t', "  ");
    transcript.command(
        "sudo nft list table ip nsbox",
        &placeholders(&table, lesson_pid),
    );
    for (address, seconds) in [("198.18.0.1", "5"), ("127.0.0.1", "2")] {
        let out = net_host
            .command(probe())
            .args(["connect", address, "8080", seconds])
            .output()
            .unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = if seconds == "5" {
            format!("/tmp/nsbox-probe connect {address} 8080")
        } else {
            format!("/tmp/nsbox-probe connect {address} 8080 {seconds}")
        };
        transcript.command(&shown, &said);
    }
    let out = outside
        .command(probe())
        .args(["connect", "198.18.0.1", "8080", "5"])
        .output()
        .unwrap();
    let mut from_outside = Transcript::default();
    from_outside.command(
        "/tmp/nsbox-probe connect 198.18.0.1 8080",
        &String::from_utf8_lossy(&out.stdout),
    );
    let run = container.finish();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut first = Transcript::default();
    first.lesson("06-net", &args, &run.stdout);
    let text = format!("{}{}", transcript.text(), from_outside.text());
    assert_eq!(text.matches("hello from box").count(), 2, "{text}");
    assert!(
        text.contains("127.0.0.1:8080: connection timed out"),
        "{text}"
    );
    assert_transcript("06-net", "publish", &first);
    assert_transcript("06-net", "publish-host", &transcript);
    assert_transcript("06-net", "publish-outside", &from_outside);
}

/// Input the lesson refuses, and a subnet with no address left.
#[rstest]
fn transcript_refused(_host: HostGuard, net_host: TestHost) {
    let mut transcript = Transcript::default();
    for args in [["--ip", "10.89.0.1", "true"], ["--subnet", "lots", "true"]] {
        let run = net_host.run(&args);
        assert_eq!(run.code, 2, "{}", run.stderr);
        transcript.lesson("06-net", &args, &run.stderr);
    }
    // start() and run() add --state-dir; the transcript shows it, as the error names
    // it.
    let state = net_host.state.path.to_str().unwrap().to_string();
    let first_args = ["--quiet", "--subnet", "10.89.0.0/30", "cat"];
    let mut first = net_host.start(&first_args);
    let leases = net_host.state.path.join("net/nsbox0.leases");
    settle("the first container has its lease", || {
        std::fs::read_to_string(&leases).is_ok_and(|text| !text.is_empty())
    });
    let shown = |args: &[&'static str]| {
        [&["--state-dir", state.as_str()][..], args].concat()
    };
    // A /30 full: the first container's terminal, then a second terminal.
    let mut full = Transcript::default();
    full.lesson("06-net", &shown(&first_args), "");
    let args = ["--subnet", "10.89.0.0/30", "true"];
    let second = net_host.run(&args);
    assert_eq!(second.code, 2, "{}", second.stderr);
    let mut refused = Transcript::default();
    refused.lesson("06-net", &shown(&args), &second.stderr);
    refused.command("echo $?", "2\n");
    first.close_stdin();
    let first = first.finish();
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert_transcript("06-net", "refused", &transcript);
    assert_transcript("06-net", "subnet-full", &full);
    assert_transcript("06-net", "subnet-full-refused", &refused);
}

/// An ordinary user: a network namespace with only lo needs no root; the veth and
/// bridge on the host do.
#[rstest]
fn transcript_rootless(net_host: TestHost) {
    let dir = TempDir::new("net-rootless");
    let [lesson] = dir.with_copies(&["06-net"]).try_into().unwrap();
    let state = net_host.state.path.to_str().unwrap().to_string();
    let mut transcript = Transcript::default();
    transcript.command("id -u", &format!("{UNPRIVILEGED}\n"));
    let args = ["--quiet", "--network", "none", "ip", "-br", "link"];
    let run = run_as(UNPRIVILEGED, &lesson, &args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    transcript.lesson("06-net", &args, &format!("{}{}", run.stdout, run.stderr));
    let run = run_as(UNPRIVILEGED, &lesson, &["--state-dir", &state, "true"]);
    assert_eq!(run.code, 125, "{}", run.stderr);
    transcript.lesson("06-net", &["true"], &run.stderr);
    assert_transcript("06-net", "rootless", &transcript);
}
