//! `nsbox run`: make a container from an image and run a command in it, in the
//! foreground or (`-d`) in the background.

use super::common::{fail, fail_with, narrator};
use crate::container::cgroup::{Cpus, Limits, MemorySize, PidCount};
use crate::container::net::{self, NetworkConfig, Publish};
use crate::container::rootfs::{RootFs, RootSwitch, Volume};
use crate::container::steps::show_command;
use crate::container::{Container, ContainerId, Error, Namespace};
use crate::lesson;
use crate::runtime::containers::{self, note};
use crate::runtime::monitor::{self, Settings};
use crate::runtime::security::{SecurityOptions, UsernsChoice};
use crate::runtime::{Global, choose, subids};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Run in the background: print the container's id and return
    #[arg(short = 'd', long)]
    pub detach: bool,

    /// A name for the container (other commands accept it instead of the id)
    #[arg(long)]
    pub name: Option<String>,

    /// Remove the container when its command ends
    #[arg(long)]
    pub rm: bool,

    /// Keep stdin open: the command reads what you type
    #[arg(short = 'i', long)]
    pub interactive: bool,

    /// Give the command a terminal (a pty from the container's own /dev/pts)
    #[arg(short = 't', long)]
    pub tty: bool,

    /// Set an environment variable (KEY=VALUE, or KEY to pass on yours)
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,

    /// The folder the command starts in (made if missing)
    #[arg(short = 'w', long, value_name = "DIR")]
    pub workdir: Option<PathBuf>,

    /// Run the command as this user: UID[:GID] or a name from the image's /etc/passwd
    #[arg(short = 'u', long, value_name = "USER")]
    pub user: Option<String>,

    /// A host folder or file inside the container, read-only with :ro (repeat for more)
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]", value_parser = lesson::parse_volume)]
    pub volumes: Vec<Volume>,

    /// Send a host port on to a container port (repeat for more)
    #[arg(short = 'p', long = "publish", value_name = "HOST:CONTAINER[/tcp|udp]")]
    pub publish: Vec<Publish>,

    /// The container's hostname [default: its id]
    #[arg(long)]
    pub hostname: Option<String>,

    /// 'bridge': eth0 on the nsbox0 bridge, with NAT to the outside; 'none': only
    /// lo; 'host': the host's own network
    #[arg(long, default_value = "bridge", value_parser = ["bridge", "none", "host"])]
    pub network: String,

    /// The most memory it may use, e.g. 64M or 1G
    #[arg(long, value_name = "SIZE", value_parser = lesson::parse_memory)]
    pub memory: Option<MemorySize>,

    /// How much CPU time it may use, in CPUs, e.g. 0.5
    #[arg(long, value_name = "N", value_parser = lesson::parse_cpus)]
    pub cpus: Option<Cpus>,

    /// How many processes it may have at once
    #[arg(long, value_name = "N", value_parser = lesson::parse_pids)]
    pub pids: Option<PidCount>,

    /// Run a tiny init as PID 1 (it reaps orphans and passes signals on)
    #[arg(long)]
    pub init: bool,

    /// Turn the defences off: every capability, no seccomp filter, /proc and /sys
    /// unmasked
    #[arg(long)]
    pub privileged: bool,

    /// Give the command this capability too, e.g. NET_ADMIN (ALL for every one)
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,

    /// Take this capability away, e.g. NET_RAW (ALL for every one)
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,

    /// no-new-privileges, seccomp=unconfined, seccomp=PROFILE.json or
    /// systempaths=unconfined (repeat for more)
    #[arg(long, value_name = "OPTION")]
    pub security_opt: Vec<String>,

    /// 'auto': root inside is an unprivileged range of /etc/subuid here; 'host'
    /// (the default): root inside is root here
    #[arg(long, value_name = "MODE")]
    pub userns: Option<String>,

    /// The image (the built-in 'busybox' if the first word names none here), then the
    /// command and its arguments [default: the image's]
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "IMAGE] [COMMAND"
    )]
    pub words: Vec<String>,
}

// ANCHOR: main
pub fn main(global: &Global, args: Args) -> ExitCode {
    let (image, command) = match choose::image_and_command(global, &args.words) {
        Ok(chosen) => chosen,
        Err(message) => return fail("run", message, 125),
    };
    let id = ContainerId::generate();
    if let Some(name) = &args.name
        && let Err(message) = claim(global, name, &id)
    {
        return fail("run", message, 125);
    }
    let container = match container(global, &args, &id, &image, command) {
        Ok(container) => container,
        Err(message) => {
            give_name_back(global, &args, &id);
            return fail("run", message, 125);
        }
    };
    let settings = Settings {
        interactive: args.interactive && !args.detach,
        echo: !args.detach,
        terminal: args.tty,
        remove: args.rm,
        name: args.name.clone(),
    };
    if args.detach {
        return monitor::detach(container, global, &settings);
    }
    let narrator = narrator(global.narrate);
    let mut started = |_: Result<(), &Error>| {};
    match monitor::supervise(
        container,
        &global.root,
        &settings,
        &narrator,
        &mut started,
    ) {
        Ok(ending) => ExitCode::from(ending.shell_code()),
        // Made but never run, it stays, as docker's: `ps -a` shows it, `rm`
        // removes it.
        Err(error) => fail_with("run", &error),
    }
}
// ANCHOR_END: main

fn claim(global: &Global, name: &str, id: &ContainerId) -> Result<(), String> {
    if ContainerId::new(name).is_err() || name.len() > 64 {
        return Err(format!(
            "'{name}' is not a valid name: 1 to 64 letters, digits, '_', '-' or '.', \
             not starting with '.' or '-'"
        ));
    }
    containers::claim_name(&global.root, name, id).map_err(|error| {
        if error.kind() == std::io::ErrorKind::AlreadyExists {
            format!(
                "the name '{name}' is taken by another container (nsbox rm it, \
                 or pick another)"
            )
        } else {
            format!("taking the name '{name}': {error}")
        }
    })
}

fn give_name_back(global: &Global, args: &Args, id: &ContainerId) {
    if let Some(name) = &args.name {
        containers::release_name(&global.root, name, id);
    }
}

// ANCHOR: container
/// The container `nsbox run` asks the library for: every namespace but the user
/// one (as docker), a cgroup, the image as its root, the image's environment.
fn container(
    global: &Global,
    args: &Args,
    id: &ContainerId,
    image: &choose::Image,
    command: Vec<String>,
) -> Result<Container, String> {
    let hostname = args.hostname.clone().unwrap_or_else(|| id.to_string());
    let mut namespaces = vec![
        Namespace::Uts,
        Namespace::Ipc,
        Namespace::Pid,
        Namespace::Mount,
        Namespace::Cgroup,
    ];
    let network = match args.network.as_str() {
        "bridge" => Some(bridge_network(global, args)),
        _ => None,
    };
    if args.network != "host" {
        namespaces.push(Namespace::Net);
    } else if !args.publish.is_empty() {
        return Err(
            "-p needs a network of the container's own; with --network host, \
                    its ports are the host's already"
                .into(),
        );
    }
    if args.network == "none" && !args.publish.is_empty() {
        return Err(
            "-p needs --network bridge: with 'none' nothing reaches the container"
                .into(),
        );
    }
    let security = SecurityOptions::parse(
        args.privileged,
        &args.cap_add,
        &args.cap_drop,
        &args.security_opt,
        args.userns.as_deref(),
    )?;
    let user = match args.user.as_deref().or(image.user.as_deref()) {
        Some(user) => Some(choose::user_in(&image.layers, user)?),
        None => None,
    };
    let mut container = Container::new(command)
        .id(id.clone())
        .hostname(&hostname)
        .namespaces(namespaces.clone())
        .with_init(args.init)
        .network(network)
        .limits(Limits {
            memory: args.memory,
            cpus: args.cpus,
            pids: args.pids,
        })
        .rootfs(Some(RootFs {
            image: image.layers.clone(),
            volumes: args.volumes.clone(),
            switch: RootSwitch::PivotRoot,
            try_escape: false,
            keep: false,
            mask_system_paths: false,
            nodev: false,
        }));
    // Issue 17, the filesystem's defences (container::security::{masks,
    // devices}): on unless --privileged, or systempaths=unconfined for the masks.
    if let Some(rootfs) = container.rootfs.as_mut() {
        rootfs.mask_system_paths =
            !(security.privileged || security.unmask_system_paths);
        rootfs.nodev = !security.privileged;
    }
    container.env = Some(environment(&image.env, &args.env, &hostname));
    container.workdir = args.workdir.clone().or(image.workdir.clone());
    container.user = user;
    container.bind_netns = namespaces.contains(&Namespace::Net);
    container.close_host_files = true;
    container.security = security.defences()?;
    container.annotations = notes(args, image, &container);
    if security.userns == UsernsChoice::Auto {
        remap_root(&mut container, args)?;
    }
    Ok(container)
}
// ANCHOR_END: container

// ANCHOR: remap_root
/// `--userns=auto`: a user namespace too, whose root is a slice of nsbox's
/// `/etc/subuid` range (the library takes one nobody else holds at create).
fn remap_root(container: &mut Container, args: &Args) -> Result<(), String> {
    if args.network == "host" {
        // sysfs may be mounted only by the owner of the network namespace, and
        // the host's belongs to the host's user namespace.
        return Err(
            "--userns=auto needs a network namespace of the container's \
                    own: not with --network host"
                .into(),
        );
    }
    container.id_pool = Some(subids::pool()?);
    // With the others in one clone(2): the kernel makes the user namespace first,
    // and the others belong to it (root inside may then mount sysfs for its own
    // network namespace, and a proc for its own PID namespace).
    container.namespaces.push(Namespace::User);
    Ok(())
}
// ANCHOR_END: remap_root

/// eth0 on the default bridge, NAT to the outside, published ports reachable on
/// 127.0.0.1 too; the bridge goes when its last container does.
fn bridge_network(global: &Global, args: &Args) -> NetworkConfig {
    NetworkConfig {
        bridge: net::DEFAULT_BRIDGE.to_string(),
        subnet: net::DEFAULT_SUBNET
            .parse()
            .expect("the default subnet is valid"),
        address: None,
        state_dir: global.root.clone(),
        remove_bridge: true,
        nat: true,
        publish: args.publish.clone(),
        publish_on_loopback: true,
    }
}

/// What the command finds in its environment: a PATH, its HOSTNAME, the image's
/// variables, then `-e`'s (a later one replaces an earlier one of the same name).
fn environment(image: &[String], asked: &[String], hostname: &str) -> Vec<String> {
    let mut env: Vec<String> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        format!("HOSTNAME={hostname}"),
    ];
    let ours = asked.iter().filter_map(|entry| {
        if entry.contains('=') {
            Some(entry.clone())
        } else {
            // `-e KEY`: pass on our value, if we have one.
            std::env::var(entry)
                .ok()
                .map(|value| format!("{entry}={value}"))
        }
    });
    for entry in image.iter().cloned().chain(ours) {
        let key = entry.split('=').next().unwrap_or("").to_string();
        env.retain(|old| old.split('=').next() != Some(key.as_str()));
        env.push(entry);
    }
    env
}

/// The runtime's notes in the record: what `ps` and `inspect` show.
fn notes(
    args: &Args,
    image: &choose::Image,
    container: &Container,
) -> BTreeMap<String, String> {
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let ports: Vec<String> = args.publish.iter().map(Publish::to_string).collect();
    let mut notes = BTreeMap::from([
        (note::IMAGE.to_string(), image.id.clone()),
        (note::IMAGE_NAME.to_string(), image.name.clone()),
        (note::COMMAND.to_string(), show_command(&container.command)),
        (note::CREATED.to_string(), created.to_string()),
        (note::PORTS.to_string(), ports.join(",")),
    ]);
    if let Some(name) = &args.name {
        notes.insert(note::NAME.to_string(), name.clone());
    }
    if args.rm {
        notes.insert(note::REMOVE.to_string(), "true".into());
    }
    if let Some(dir) = &container.workdir {
        notes.insert(note::WORKDIR.to_string(), dir.display().to_string());
    }
    notes
}
