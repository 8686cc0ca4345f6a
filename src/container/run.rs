//! The whole life of a container, from the parent's side: check, clone, tell, go,
//! wait.

use super::cgroup::{self, Cgroup, Usage};
use super::exit::{self, Ending};
use super::handshake::Message;
use super::namespaces::{self, NamespacePair};
use super::net::{self, Attachment};
use super::signals::{self, Arrival, SignalInbox};
use super::spawn::{self, Child};
use super::{
    Container, Error, Namespace, Narrator, Propagation, pid, privileges, user,
};
use nix::sys::signal::SigSet;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

// ANCHOR: run
/// Runs `container` to the end and returns how its command ended.
pub fn run(container: &Container, narrator: &Narrator) -> Result<Ending, Error> {
    container.validate()?;
    privileges::check(narrator.program(), container)?;
    let old_mask = signals::block_watched().map_err(Error::sys("sigprocmask"))?;
    let inbox = SignalInbox::open().map_err(Error::sys("signalfd"))?;
    let cgroup = make_cgroup(container, narrator)?;
    let network = match lease_address(container, narrator) {
        Ok(network) => network,
        Err(error) => {
            remove_cgroup(cgroup.as_deref(), narrator);
            return Err(error);
        }
    };
    let resources = Resources { network, cgroup };
    let result = start(container, &resources, &old_mask, &inbox, narrator);
    if let (Some(config), Some(attachment)) =
        (&container.network, &resources.network)
    {
        // Whatever happened, give the address back and check the veth pair is gone.
        if let Err(error) = net::detach(config, attachment, narrator) {
            narrator.error(&error);
        }
    }
    if let (Ok(ending), Some(cgroup)) = (&result, &resources.cgroup) {
        report_usage(*ending, cgroup.usage(), container, narrator);
    }
    remove_cgroup(resources.cgroup.as_deref(), narrator);
    result
}
// ANCHOR_END: run

/// What the parent made for the container before the clone, to hand over during the
/// handshake.
struct Resources {
    network: Option<Attachment>,
    cgroup: Option<Box<dyn Cgroup>>,
}

// ANCHOR: make_cgroup
/// Makes the container's cgroup and writes its limits, before anything else exists.
fn make_cgroup(
    container: &Container,
    narrator: &Narrator,
) -> Result<Option<Box<dyn Cgroup>>, Error> {
    let Some(limits) = &container.limits else {
        return Ok(None);
    };
    let layout = cgroup::detect()?;
    let made = cgroup::create(&layout)?;
    narrator.say(format!("{layout}: mkdir {}", made.paths().join(" ")));
    match made.apply(limits) {
        Ok(written) => {
            for line in written {
                narrator.say(format!("wrote {line}"));
            }
            Ok(Some(made))
        }
        Err(error) => {
            let _ = made.remove();
            Err(Error::Cgroup(error.to_string()))
        }
    }
}
// ANCHOR_END: make_cgroup

fn remove_cgroup(cgroup: Option<&dyn Cgroup>, narrator: &Narrator) {
    let Some(cgroup) = cgroup else { return };
    match cgroup.remove() {
        Ok(()) => narrator.say(format!("removed {}", cgroup.paths().join(" "))),
        Err(error) => narrator.error(format!("cgroup: {error}")),
    }
}

// ANCHOR: report_usage
/// What the kernel counted, and why the command ended when the cgroup had a say in
/// it.
fn report_usage(
    ending: Ending,
    usage: Usage,
    container: &Container,
    narrator: &Narrator,
) {
    let peak = usage.peak_memory.map_or("?".into(), cgroup::mebibytes);
    let cpu = usage
        .cpu_time
        .map_or("?".into(), |t| format!("{:.2} s", t.as_secs_f64()));
    narrator.say(format!(
        "the container used: peak memory {peak}, CPU time {cpu}"
    ));
    let limits = container.limits.unwrap_or_default();
    if usage.oom_kills > 0 {
        let limit = limits
            .memory
            .map_or(String::new(), |m| format!(": memory limit {m} reached"));
        narrator.say(format!(
            "the kernel's OOM killer killed {} process(es) in the container{limit}",
            usage.oom_kills
        ));
        if ending == Ending::Killed(Signal::SIGKILL) {
            narrator.say(format!(
                "so {} was killed by the kernel's OOM killer{limit}",
                command_name(container)
            ));
        }
    }
    if usage.pids_refused > 0 {
        let limit = limits
            .pids
            .map_or(String::new(), |p| format!(" (pids.max = {})", p.0));
        narrator.say(format!(
            "fork() was refused {} time(s): the process limit was reached{limit}",
            usage.pids_refused
        ));
    }
}
// ANCHOR_END: report_usage

/// Clones the child and sees it through to the end.
fn start(
    container: &Container,
    resources: &Resources,
    old_mask: &SigSet,
    inbox: &SignalInbox,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    narrator.say(format!(
        "clone({}): asking the kernel for a child process{}",
        spawn::flag_names(&container.namespaces),
        describe_new_namespaces(container)
    ));
    let child = spawn::spawn(container, resources.network.as_ref(), old_mask)?;
    let result = supervise(container, resources, &child, inbox, narrator);
    if result.is_err() {
        stop(child.pid);
    }
    result
}

/// From "the child exists" to "the child ended".
fn supervise(
    container: &Container,
    resources: &Resources,
    child: &Child,
    inbox: &SignalInbox,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    // The child is waiting for Go: this is when the parent looks at it (and, in
    // later lessons, writes its uid maps, moves a veth into it, puts it in a
    // cgroup).
    narrate_child(child.pid, narrator)?;
    prepare_from_outside(container, resources, child.pid, narrator)?;
    narrate_plan(container, resources.network.as_ref(), narrator);
    child.channel.send(&Message::Go)?;
    match child.channel.recv()? {
        // End-of-file: exec closed the child's close-on-exec end. The command runs.
        None => {}
        Some(Message::CommandStarted(inside)) => narrator.say(format!(
            "{} (pid 1) started {} as pid {inside}",
            pid::INIT_NAME,
            command_name(container)
        )),
        Some(Message::Failed(error)) => {
            wait_quietly(child.pid);
            return Err(Error::Child(error));
        }
        Some(other) => return Err(Error::Handshake(unexpected(&other))),
    }
    let ending = wait_passing_signals(child.pid, inbox, narrator)?;
    let ending = read_init_report(child, narrator).unwrap_or(ending);
    narrator.say(format!(
        "{} {ending}, so {} exits with {}",
        command_name(container),
        narrator.program(),
        exit::explain_code(ending)
    ));
    Ok(ending)
}

// ANCHOR: prepare_from_outside
/// What the parent sets up for the child while it waits. Each lesson that needs a
/// step done from outside adds it here.
fn prepare_from_outside(
    container: &Container,
    resources: &Resources,
    child: Pid,
    narrator: &Narrator,
) -> Result<(), Error> {
    if container.namespaces.contains(&Namespace::User) {
        write_id_maps(container, child, narrator)?;
    }
    if let (Some(config), Some(attachment)) =
        (&container.network, &resources.network)
    {
        net::attach(config, attachment, child.as_raw() as u32, narrator)?;
    }
    if let Some(cgroup) = &resources.cgroup {
        // Before Go: the command's first instruction already runs under the limits.
        cgroup
            .attach(child)
            .map_err(|e| Error::Cgroup(e.to_string()))?;
        narrator.say(format!(
            "echo {child} > cgroup.procs: the child is in its cgroup before it \
             runs anything"
        ));
    }
    Ok(())
}
// ANCHOR_END: prepare_from_outside

/// Picks the container's address before anything else is created.
fn lease_address(
    container: &Container,
    narrator: &Narrator,
) -> Result<Option<Attachment>, Error> {
    let Some(config) = &container.network else {
        return Ok(None);
    };
    let attachment = net::lease(config)?;
    narrator.say(format!(
        "leased {} in {} (gateway {}) for this container",
        attachment.address,
        config.subnet,
        config.subnet.gateway()
    ));
    Ok(Some(attachment))
}

fn write_id_maps(
    container: &Container,
    child: Pid,
    narrator: &Narrator,
) -> Result<(), Error> {
    let Some(maps) = &container.id_maps else {
        narrator.say(
            "no uid/gid map written: inside, every id is unmapped and \
                      shows as 65534",
        );
        return Ok(());
    };
    let privileged = privileges::can_map_any_ids()?;
    for line in user::write_maps(child, maps, privileged)? {
        narrator.say(format!("wrote {line}"));
    }
    Ok(())
}

/// " in a new UTS namespace" / " in new UTS, IPC and PID namespaces".
fn describe_new_namespaces(container: &Container) -> String {
    let names: Vec<String> = container
        .namespaces
        .iter()
        .filter(|ns| ns.made_by_clone())
        .map(|ns| ns.display_name().to_string())
        .collect();
    match names.as_slice() {
        [] => String::new(),
        [one] => format!(" in a new {one} namespace"),
        [rest @ .., last] => {
            format!(" in new {} and {last} namespaces", rest.join(", "))
        }
    }
}

// ANCHOR: narrate_child
/// Tells the child's pid on both sides and which namespaces it does not share with
/// us.
fn narrate_child(child: Pid, narrator: &Narrator) -> Result<(), Error> {
    let ids = pid::nspids(child)?;
    let inside = ids.last().copied().unwrap_or(child.as_raw());
    if ids.len() > 1 {
        narrator.say(format!(
            "the child is host pid {child}; inside its new PID namespace it is pid \
             {inside} (NSpid in /proc/{child}/status: {})",
            join(&ids)
        ));
    } else {
        narrator.say(format!(
            "the child is host pid {child}, and the same pid inside (no new PID \
             namespace)"
        ));
    }
    let pairs = namespaces::compare_with_child(child)?;
    if narrator.namespace_table() {
        narrator.say(format!(
            "its namespaces (/proc/{child}/ns/*) against ours (/proc/self/ns/*):"
        ));
        for pair in &pairs {
            narrator.detail(describe_pair(pair));
        }
    } else {
        narrator.say(summarise_pairs(child, &pairs));
    }
    Ok(())
}
// ANCHOR_END: narrate_child

/// "uts     4026532301  NEW (ours: 4026531838)" / "net     4026531840  shared".
fn describe_pair(pair: &NamespacePair) -> String {
    let name = pair.kind.proc_name();
    if pair.is_new() {
        format!("{name:<7} {:>10}  NEW (ours: {})", pair.child, pair.ours)
    } else {
        format!("{name:<7} {:>10}  shared", pair.child)
    }
}

/// "its namespaces (/proc/4242/ns/*) against ours: new ipc, uts; shared cgroup, mnt,
/// …".
fn summarise_pairs(child: Pid, pairs: &[NamespacePair]) -> String {
    let names = |new: bool| {
        let names: Vec<&str> = pairs
            .iter()
            .filter(|pair| pair.is_new() == new)
            .map(|pair| pair.kind.proc_name())
            .collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    format!(
        "its namespaces (/proc/{child}/ns/*) against ours: new {}; shared {}",
        names(true),
        names(false)
    )
}

/// What the child does after Go.
fn narrate_plan(
    container: &Container,
    network: Option<&Attachment>,
    narrator: &Narrator,
) {
    let mut steps = Vec::new();
    if container.namespaces.contains(&Namespace::User)
        && container
            .id_maps
            .as_ref()
            .is_some_and(|maps| maps.maps_root())
    {
        steps.push("setresuid(0, 0, 0) to be root inside".to_string());
    }
    if container.namespaces.contains(&Namespace::Cgroup) {
        steps
            .push("unshare(CLONE_NEWCGROUP), its cgroup becoming its /".to_string());
    }
    if let Some(name) = &container.hostname {
        steps.push(format!("sethostname(\"{name}\")"));
    }
    if let Some(attachment) = network {
        steps.push(net::inside_steps(attachment));
    }
    if container.namespaces.contains(&Namespace::Mount) {
        steps.push(format!("mount --make-r{} /", container.propagation));
        if container.namespaces.contains(&Namespace::Pid) {
            steps.push("mount -t proc proc /proc".to_string());
        }
    }
    if container.init {
        steps.push(format!("become {} and fork", pid::INIT_NAME));
    }
    steps.push(format!("exec {}", show_command(&container.command)));
    narrator.say(format!("go! the child will now {}", steps.join(", then ")));
    if container.namespaces.contains(&Namespace::Mount)
        && container.propagation == Propagation::Shared
    {
        narrator.say(
            "note: with shared propagation, what the container mounts under a \
             shared mount also appears on the host, and stays there after it \
             exits (undo it with umount)",
        );
    }
}

// ANCHOR: wait
/// Waits for the child to end, passing on the signals we get meanwhile.
fn wait_passing_signals(
    child: Pid,
    inbox: &SignalInbox,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    let mut warned = false;
    loop {
        match waitpid(child, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(status) => {
                if let Some(ending) = Ending::from_wait_status(status) {
                    return Ok(ending);
                }
            }
            Err(errno) => {
                return Err(Error::Sys {
                    call: "waitpid",
                    errno,
                });
            }
        }
        let arrival = inbox.next().map_err(Error::sys("read(signalfd)"))?;
        if arrival.signal != Signal::SIGCHLD {
            pass_on(child, arrival, &mut warned, narrator);
        }
    }
}
// ANCHOR_END: wait

// ANCHOR: pass_on
/// Sends the child a signal we got, unless the terminal already sent it to the whole
/// foreground group. If the child is a PID 1 that will drop it, say so; if it
/// happens twice, use SIGKILL, which the kernel always delivers from outside the
/// namespace.
fn pass_on(child: Pid, arrival: Arrival, warned: &mut bool, narrator: &Narrator) {
    let name = arrival.signal.as_str();
    if !arrival.from_terminal {
        let _ = kill(child, arrival.signal);
        narrator.say(format!("got {name}, passed it on to host pid {child}"));
    }
    if !pid::drops_signal(child, arrival.signal) {
        return;
    }
    if *warned {
        narrator.say(format!("{name} again: sending SIGKILL to host pid {child}"));
        let _ = kill(child, Signal::SIGKILL);
        return;
    }
    *warned = true;
    narrator.say(format!(
        "note: the container's PID 1 has no handler for {name}, so the kernel \
         drops it (PID 1 is special, see chapter 03). Send it again to kill it \
         with SIGKILL, or use --init."
    ));
}
// ANCHOR_END: pass_on

/// With `--init`, our init reports what happened inside: orphans it reaped and how
/// the command itself ended (its own exit code carries the same number).
fn read_init_report(child: &Child, narrator: &Narrator) -> Option<Ending> {
    let mut ending = None;
    while let Ok(Some(message)) = child.channel.try_recv() {
        match message {
            Message::ReapedOrphan(pid) => narrator.say(format!(
                "{} reaped orphan pid {pid} (it had exited, and its parent was \
                 gone)",
                pid::INIT_NAME
            )),
            Message::CommandEnded(code) => {
                ending = Some(Ending::from_shell_code(code))
            }
            _ => {}
        }
    }
    ending
}

/// Kills and reaps a child we gave up on, so nothing is left behind.
fn stop(child: Pid) {
    let _ = kill(child, Signal::SIGKILL);
    wait_quietly(child);
}

fn wait_quietly(child: Pid) {
    let _ = waitpid(child, None);
}

fn unexpected(message: &Message) -> std::io::Error {
    std::io::Error::other(format!("unexpected message from the child: {message:?}"))
}

fn command_name(container: &Container) -> &str {
    let program = container.command.first().map(String::as_str).unwrap_or("");
    program.rsplit('/').next().unwrap_or(program)
}

/// The command as a student would type it, quoting words with spaces.
fn show_command(command: &[String]) -> String {
    let words: Vec<String> = command
        .iter()
        .map(|word| {
            if word.is_empty()
                || word
                    .contains(|c: char| c.is_whitespace() || "'\"$;&|".contains(c))
            {
                format!("'{}'", word.replace('\'', r"'\''"))
            } else {
                word.clone()
            }
        })
        .collect();
    words.join(" ")
}

fn join(ids: &[i32]) -> String {
    ids.iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
