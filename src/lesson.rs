//! The command line every lesson binary shares, and running a lesson to its exit
//! code.

use crate::container::cgroup::{Cpus, Limits, MIN_MEMORY, MemorySize, PidCount};
use crate::container::net::{self, NetworkConfig, Publish, Subnet};
use crate::container::rootfs::{RootFs, RootSwitch, Volume};
use crate::container::{
    self, Container, ContainerId, Error, IdMaps, IdRange, Narrator, Propagation,
    image, state,
};
use clap::Args;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitCode;

/// `01-uts [--hostname NAME] [--quiet] [--] [COMMAND [ARG]...]`
#[derive(Args, Debug)]
pub struct LessonArgs {
    /// The hostname inside the container
    #[arg(long, default_value = "container", value_name = "NAME")]
    pub hostname: String,

    /// Print only the command's own output (and errors), no narration
    #[arg(long, short)]
    pub quiet: bool,

    /// The command to run inside, and its arguments [default: /bin/sh]
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

impl LessonArgs {
    /// The command to run, or an interactive shell when none was given.
    pub fn command(&self) -> Vec<String> {
        if self.command.is_empty() {
            vec!["/bin/sh".to_string()]
        } else {
            self.command.clone()
        }
    }
}

/// Lesson 03's option: `--init`.
#[derive(Args, Debug)]
pub struct PidArgs {
    /// Make PID 1 a tiny init that starts the command as PID 2, passes signals on
    /// and reaps orphans
    #[arg(long)]
    pub init: bool,
}

/// Lesson 04's option: `--propagation MODE`.
#[derive(Args, Debug)]
pub struct MountArgs {
    /// How mounts travel between the container and the host: shared, slave, private
    /// or unbindable
    #[arg(long, default_value_t = Propagation::Private, value_name = "MODE")]
    pub propagation: Propagation,
}

/// Lesson 05's options: `--map`, `--gid-map`, `--no-map`.
#[derive(Args, Debug)]
pub struct UserArgs {
    /// A line of the uid map, 'INSIDE OUTSIDE COUNT' (repeat for more lines); the
    /// gid map gets the same lines unless --gid-map is given [default: '0 <your uid>
    /// 1', root inside is you]
    #[arg(long = "map", value_name = "'IN OUT COUNT'")]
    pub map: Vec<IdRange>,

    /// A line of the gid map, if it should differ from the uid map (repeat for more
    /// lines)
    #[arg(long = "gid-map", value_name = "'IN OUT COUNT'", requires = "map")]
    pub gid_map: Vec<IdRange>,

    /// Write no map at all: inside, every uid and gid shows as 65534 (nobody)
    #[arg(long, conflicts_with_all = ["map", "gid_map"])]
    pub no_map: bool,
}

impl UserArgs {
    /// The maps to write, or `None` with `--no-map`.
    pub fn id_maps(&self) -> Option<IdMaps> {
        if self.no_map {
            return None;
        }
        if self.map.is_empty() {
            return Some(IdMaps::root_is_invoking_user());
        }
        let gids = if self.gid_map.is_empty() {
            &self.map
        } else {
            &self.gid_map
        };
        Some(IdMaps {
            uids: self.map.clone(),
            gids: gids.clone(),
        })
    }
}

/// Lesson 06's options: the network.
#[derive(Args, Debug)]
pub struct NetArgs {
    /// 'bridge': a veth pair to a bridge on the host; 'none': only lo, down
    #[arg(long, default_value = "bridge", value_parser = ["bridge", "none"])]
    pub network: String,

    /// The bridge on the host (created when missing)
    #[arg(long, default_value = net::DEFAULT_BRIDGE, value_name = "NAME")]
    pub bridge: String,

    /// The subnet containers get addresses from; the bridge gets the first address
    #[arg(long, default_value = net::DEFAULT_SUBNET, value_name = "CIDR")]
    pub subnet: Subnet,

    /// A fixed address for this container [default: the next free one]
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<Ipv4Addr>,

    /// Remove the bridge when the last container using it exits
    #[arg(long)]
    pub remove_bridge: bool,

    /// Let the container reach other networks through the host (masquerade,
    /// nftables)
    #[arg(long)]
    pub nat: bool,

    /// Send connections to a host port on to a container port, TCP (repeat for more)
    #[arg(long, value_name = "HOST_PORT:CONTAINER_PORT")]
    pub publish: Vec<Publish>,

    /// Where the address leases are kept
    #[arg(long, default_value = net::DEFAULT_STATE_DIR, value_name = "DIR")]
    pub state_dir: PathBuf,
}

impl NetArgs {
    /// The network to set up, or `None` with `--network none`.
    pub fn config(&self) -> Option<NetworkConfig> {
        (self.network == "bridge").then(|| NetworkConfig {
            bridge: self.bridge.clone(),
            subnet: self.subnet,
            address: self.ip,
            state_dir: self.state_dir.clone(),
            remove_bridge: self.remove_bridge,
            nat: self.nat,
            publish: self.publish.clone(),
            publish_on_loopback: false,
        })
    }
}

/// Lesson 07's options: the limits.
#[derive(Args, Debug)]
pub struct LimitArgs {
    /// The most memory the container may use, e.g. 64M or 1G
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true, value_parser = parse_memory)]
    pub memory: Option<MemorySize>,

    /// How much CPU time it may use, in CPUs, e.g. 0.5 for half of one
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_cpus)]
    pub cpus: Option<Cpus>,

    /// How many processes it may have at once
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_pids)]
    pub pids: Option<PidCount>,
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            memory: self.memory,
            cpus: self.cpus,
            pids: self.pids,
        }
    }
}

/// `--memory 64M`: a number of bytes, with an optional K, M or G (powers of 1024).
pub fn parse_memory(text: &str) -> Result<MemorySize, String> {
    let usage = || format!("'{text}' is not a size like 64M, 512K or 1G");
    let trimmed = text.trim_end_matches(['B', 'b']).trim_end_matches('i');
    let (digits, unit) =
        match trimmed.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
            Some((i, _)) => trimmed.split_at(i),
            None => (trimmed, ""),
        };
    let number: u64 = digits.parse().map_err(|_| usage())?;
    let scale: u64 = match unit.to_ascii_uppercase().as_str() {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(usage()),
    };
    let bytes = number.checked_mul(scale).ok_or_else(usage)?;
    if bytes < MIN_MEMORY {
        return Err(format!(
            "'{text}' is too little memory: give the container at least 4M"
        ));
    }
    Ok(MemorySize(bytes))
}

/// `--cpus 0.5`: a share of CPU time, as a number of CPUs.
pub fn parse_cpus(text: &str) -> Result<Cpus, String> {
    let cpus: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of CPUs like 0.5 or 2"))?;
    let available =
        std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    // The kernel takes quotas of 1 ms and more: 0.01 of a 100 ms period.
    if !(0.01..=available).contains(&cpus) {
        return Err(format!(
            "--cpus {text}: give a number from 0.01 to {available} \
             (the CPUs this machine has)"
        ));
    }
    Ok(Cpus(cpus))
}

/// `--pids 8`: at least one process, the command itself.
pub fn parse_pids(text: &str) -> Result<PidCount, String> {
    match text.parse::<u64>() {
        Ok(0) => Err(
            "--pids 0 would not even let the command start: give 1 or more".into(),
        ),
        Ok(n) => Ok(PidCount(n)),
        Err(_) => Err(format!("'{text}' is not a number of processes")),
    }
}

/// Lesson 08's options: the root filesystem and the volumes.
#[derive(Args, Debug)]
pub struct RootfsArgs {
    /// The root filesystem: a folder, or a .tar/.tar.gz of one [default: a busybox
    /// image, built from the host's /bin/busybox]
    #[arg(long, value_name = "DIR", value_parser = parse_rootfs)]
    pub rootfs: Option<PathBuf>,

    /// A host folder or file inside the container, read-only with :ro (repeat for
    /// more)
    #[arg(short = 'v', long = "volume", value_name = "HOST:CONTAINER[:ro]", value_parser = parse_volume)]
    pub volumes: Vec<Volume>,

    /// Make the new tree the root with chroot(2) instead of pivot_root(2), to see
    /// why runtimes do not
    #[arg(long)]
    pub chroot: bool,

    /// Before the command, try the classic escape from a chroot (mkdir, chroot
    /// into it, cd .. as far as it goes, chroot .)
    #[arg(long)]
    pub try_escape: bool,

    /// Keep what the container wrote (its upper layer) when it ends, in
    /// <state root>/kept/<id>
    #[arg(long)]
    pub keep: bool,
}

/// A folder, or an archive of one, that is there.
fn parse_rootfs(text: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(text);
    if path.is_dir() || (path.is_file() && image::is_archive(&path)) {
        return Ok(path);
    }
    Err(format!(
        "'{text}' is not a folder, or a .tar, .tar.gz or .tgz file"
    ))
}

/// `HOST:CONTAINER` or `HOST:CONTAINER:ro`: both paths absolute, the host's there.
pub fn parse_volume(text: &str) -> Result<Volume, String> {
    let (host, container, read_only) = match text.split(':').collect::<Vec<_>>()[..]
    {
        [host, container] => (host, container, false),
        [host, container, "ro"] => (host, container, true),
        _ => {
            return Err(format!(
                "'{text}' is not HOST:CONTAINER or HOST:CONTAINER:ro"
            ));
        }
    };
    let (host, container) = (PathBuf::from(host), PathBuf::from(container));
    if !host.is_absolute() || !container.is_absolute() {
        return Err(format!("'{text}': both paths must start with /"));
    }
    if !host.exists() {
        return Err(format!("'{}' does not exist on the host", host.display()));
    }
    Ok(Volume {
        host,
        container,
        read_only,
    })
}

// ANCHOR: run_in_rootfs
/// Lesson 08: runs the container in its own root filesystem, the one given or the
/// busybox image (built once under the state root, for whom root inside is).
pub fn run_in_rootfs(
    program: &str,
    container: Container,
    args: &RootfsArgs,
    quiet: bool,
) -> ExitCode {
    let (uid, gid) = container
        .id_maps
        .as_ref()
        .and_then(IdMaps::root_outside)
        .unwrap_or((0, 0));
    let owner = image::Owner { uid, gid };
    let images = state_root(&container).join(image::IMAGES);
    let image = match &args.rootfs {
        Some(archive) if image::is_archive(archive) => {
            image::from_tar(&images, archive, owner)
        }
        Some(dir) => Ok(dir.clone()),
        None => {
            let busybox = PathBuf::from(image::HOST_BUSYBOX);
            image::busybox_image(&images, &busybox, owner)
        }
    };
    match image {
        Ok(image) => {
            let container = container.rootfs(Some(RootFs {
                image: vec![image],
                volumes: args.volumes.clone(),
                switch: if args.chroot {
                    RootSwitch::Chroot
                } else {
                    RootSwitch::PivotRoot
                },
                try_escape: args.try_escape,
                keep: args.keep,
                // Issue 17's defences stay off: the lessons show the kernel as is.
                mask_system_paths: false,
                nodev: false,
            }));
            run(program, &container, quiet)
        }
        Err(error) => {
            Narrator::new(program, quiet).error(explain(&error));
            ExitCode::from(error.exit_code())
        }
    }
}
// ANCHOR_END: run_in_rootfs

// ANCHOR: run
/// Runs the container and turns the outcome into the process's exit code: the
/// command's own, 128 + the signal that killed it, or the error's code after
/// printing what went wrong.
pub fn run(program: &str, container: &Container, quiet: bool) -> ExitCode {
    // Lesson 01 teaches how to read /proc/PID/ns and shows the whole table; the
    // later lessons sum it up in one line.
    let narrator =
        Narrator::new(program, quiet).with_namespace_table(program == "01-uts");
    // A lesson's container is named after the lesson's pid: one container per run,
    // and the names the chapters show (nsb<pid>, nsbox-<pid>, "10.89.0.2 <pid>")
    // stay the ones the transcripts recorded.
    let id = ContainerId::new(&std::process::id().to_string())
        .expect("a pid is a valid id");
    let container = container.clone().id(id);
    match container::run(&container, &state_root(&container), &narrator) {
        Ok(ending) => ExitCode::from(ending.shell_code()),
        Err(error) => {
            narrator.error(explain(&error));
            ExitCode::from(error.exit_code())
        }
    }
}
// ANCHOR_END: run

/// Where the container's state folder goes: with the network's files (`--state-dir`)
/// when there is a network, else in `/run/nsbox`. An ordinary user (or root in a
/// user namespace) cannot write there, so (as rootless runc does) theirs goes to
/// `$XDG_RUNTIME_DIR/nsbox` if that folder is theirs (sudo may pass root's on), else
/// to `/tmp/nsbox-<uid>`.
fn state_root(container: &Container) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    if let Some(network) = &container.network {
        return network.state_dir.clone();
    }
    let uid = nix::unistd::geteuid();
    let runtime_dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.metadata().is_ok_and(|m| m.uid() == uid.as_raw()));
    let temporary = std::env::temp_dir().join(format!("nsbox-{uid}"));
    [
        Some(PathBuf::from(state::DEFAULT_ROOT)),
        runtime_dir.map(|d| d.join("nsbox")),
    ]
    .into_iter()
    .flatten()
    .find(|root| can_write(root))
    .unwrap_or(temporary)
}

/// Can we make or write in `path`? Asks the kernel (`access(2)`) about it, or about
/// the first folder above it that exists.
fn can_write(path: &std::path::Path) -> bool {
    use nix::unistd::{AccessFlags, access};
    let existing = path.ancestors().find(|p| p.exists());
    existing.is_some_and(|p| access(p, AccessFlags::W_OK).is_ok())
}

// ANCHOR: explain
/// The error as the student reads it. The library says what is wrong, and never
/// names an option: which of this command line's options to change is ours to say.
pub fn explain(error: &Error) -> String {
    match error {
        Error::HostnameTooLong { .. } => {
            format!("{error} Pick a shorter --hostname.")
        }
        Error::InitNeedsPidNamespace => "--init needs a new PID namespace: only a \
                                         namespace's PID 1 inherits orphans"
            .into(),
        Error::NoFreeAddress { .. } => format!("{error}; use a larger --subnet"),
        Error::NftMissing => "network: --nat and --publish need the nft program: \
                              sudo apt-get install nftables"
            .into(),
        Error::MapRefused { path, text, error } => format!(
            "writing '{text}' to {path}: {error}.\n\
             Without root you may map only your own id, once (e.g. --map '0 {} 1'); \
             mapping other ids needs root.",
            nix::unistd::getuid()
        ),
        Error::NeedsRoot {
            capability: "CAP_NET_ADMIN",
            ..
        } => format!("{error} Or run it with --network none."),
        other => other.to_string(),
    }
}
// ANCHOR_END: explain

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_memory("64M").unwrap().0, 64 << 20);
        assert_eq!(parse_memory("64MiB").unwrap().0, 64 << 20);
        assert_eq!(parse_memory("1g").unwrap().0, 1 << 30);
        assert_eq!(parse_memory("8388608").unwrap().0, 8 << 20);
        for bad in ["0", "lots", "1M", "-5M", "12X", ""] {
            assert!(parse_memory(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn cpus_and_pids() {
        assert_eq!(parse_cpus("0.25").unwrap().quota_us(), 25_000);
        for bad in ["-1", "0", "0.001", "many", "100000"] {
            assert!(parse_cpus(bad).is_err(), "{bad} was accepted");
        }
        assert!(parse_pids("0").is_err());
        assert_eq!(parse_pids("8").unwrap().0, 8);
    }
}
