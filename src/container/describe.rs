//! The words that tell the student about their container: the namespaces it gets,
//! the child's pids and namespaces, what the child will do, and what the kernel
//! counted. Only words: [`super::run`] decides what happens, and calls these to say
//! it.

use super::cgroup::{self, Usage};
use super::exit::Ending;
use super::namespaces::{self, NamespacePair};
use super::steps::{Step, describe_plan, new_root};
use super::{Container, Error, Narrator, Propagation, pid};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

// ANCHOR: report_usage
/// What the kernel counted, and why the command ended when the cgroup had a say in
/// it.
pub fn report_usage(
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

/// " in a new UTS namespace" / " in new UTS, IPC and PID namespaces".
pub fn describe_new_namespaces(container: &Container) -> String {
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
/// us. Quiet, it reads nothing: the child is waiting at the door meanwhile.
pub fn narrate_child(child: Pid, narrator: &Narrator) -> Result<(), Error> {
    if narrator.is_quiet() {
        return Ok(());
    }
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
pub fn narrate_plan(steps: &[Step], narrator: &Narrator) {
    narrator.say(format!("go! the child will now {}", describe_plan(steps)));
    if let Some(root) = new_root(steps) {
        // Lesson 08: the mounts one per line, under the folder that becomes `/`.
        let layer = root.parent().unwrap_or(root).display().to_string();
        let root = root.display().to_string();
        let image = steps.iter().find_map(|step| match step {
            Step::Mount(mount) => mount.lower_dir(),
            _ => None,
        });
        let mut names = format!("LAYER={layer} ROOT=$LAYER/root");
        if let Some(image) = &image {
            names.push_str(&format!(" IMAGE={image}"));
        }
        narrator.detail(names);
        for step in steps.iter().filter(|step| step.builds_root()) {
            let mut call = step
                .call()
                .replace(&root, "$ROOT")
                .replace(&layer, "$LAYER");
            if let Some(image) = &image {
                call = call.replace(&format!("lowerdir={image}"), "lowerdir=$IMAGE");
            }
            narrator.detail(call);
        }
    }
    if steps.contains(&Step::SetPropagation(Propagation::Shared)) {
        narrator.say(
            "note: with shared propagation, what the container mounts under a \
             shared mount also appears on the host, and stays there after it \
             exits (undo it with umount)",
        );
    }
}

pub fn command_name(container: &Container) -> &str {
    let program = container.command.first().map(String::as_str).unwrap_or("");
    program.rsplit('/').next().unwrap_or(program)
}

fn join(ids: &[i32]) -> String {
    ids.iter()
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}
