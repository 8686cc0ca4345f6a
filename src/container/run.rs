//! The whole life of a container, from the parent's side: check, clone, tell, go,
//! wait.

use super::cgroup::{self, Cgroup};
use super::child;
use super::describe::{
    command_name, describe_new_namespaces, narrate_child, narrate_plan, report_usage,
};
use super::exit::{self, Ending};
use super::handshake::{Failure, Message};
use super::net::{self, Attachment};
use super::signals::{self, Arrival, SignalInbox};
use super::spawn::{self, Child};
use super::steps::{ChildError, Step};
use super::{Container, Error, Namespace, Narrator, pid, privileges, user};
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
    let steps = child::plan(container, resources.network.as_ref());
    let child = spawn::spawn(container, &steps, old_mask)?;
    let result = supervise(container, resources, &steps, &child, inbox, narrator);
    if result.is_err() {
        stop(child.pid);
    }
    result
}

/// From "the child exists" to "the child ended".
fn supervise(
    container: &Container,
    resources: &Resources,
    steps: &[Step],
    child: &Child,
    inbox: &SignalInbox,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    // The child is waiting for Go: this is when the parent looks at it (and, in
    // later lessons, writes its uid maps, moves a veth into it, puts it in a
    // cgroup).
    narrate_child(child.pid, narrator)?;
    prepare_from_outside(container, resources, child.pid, narrator)?;
    narrate_plan(steps, narrator);
    child.channel.send(&Message::Go)?;
    match child.channel.recv()? {
        // End-of-file: exec closed the child's close-on-exec end. The command runs.
        None => {}
        Some(Message::CommandStarted(inside)) => narrator.say(format!(
            "{} (pid 1) started {} as pid {inside}",
            pid::INIT_NAME,
            command_name(container)
        )),
        Some(Message::Failed(failure)) => {
            wait_quietly(child.pid);
            return Err(child_error(steps, failure));
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

/// The step the child named by its place in the list, and what the kernel said.
fn child_error(steps: &[Step], failure: Failure) -> Error {
    match steps.get(failure.step) {
        Some(step) => Error::Child(ChildError {
            step: step.clone(),
            errno: failure.errno,
        }),
        None => Error::Handshake(std::io::Error::other(format!(
            "the child reported step {} of {}",
            failure.step,
            steps.len()
        ))),
    }
}

fn unexpected(message: &Message) -> std::io::Error {
    std::io::Error::other(format!("unexpected message from the child: {message:?}"))
}
