//! What to build: the container's specification, before anything exists.
//!
//! A [`Container`] says which namespaces to make, what to set up in them and what to
//! run. It is plain data: nothing here touches the kernel, so a face (a lesson
//! binary, later the `nsbox` runtime or an OCI `config.json`) can build one, and the
//! library checks it with [`Container::validate`] before creating anything.

use super::cgroup::Limits;
use super::id_slices::IdPool;
use super::net::NetworkConfig;
use super::rootfs::RootFs;
use super::security::Security;
use super::user::IdMaps;
use super::{ContainerId, Error, Namespace, Propagation, uts};
use nix::sched::CloneFlags;
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::path::PathBuf;

/// What to isolate, and what to run once it is isolated.
///
/// Later lessons add fields here: uid/gid maps (05), a network (06), resource limits
/// (07) and a root filesystem (the `nsbox` runtime).
#[derive(Clone, Debug)]
pub struct Container {
    /// Its name, and the root of every name it has on the host (see [`super::id`]).
    pub id: ContainerId,
    /// The new namespaces the child gets. Every namespace type not listed is shared
    /// with us.
    pub namespaces: Vec<Namespace>,
    /// The hostname the child sets in its UTS namespace (only meaningful with
    /// [`Namespace::Uts`]).
    pub hostname: Option<String>,
    /// The program and its arguments; `command[0]` is looked up in `$PATH`.
    pub command: Vec<String>,
    /// Run a tiny init as PID 1, which starts the command as PID 2 (see [`super::pid`]).
    pub init: bool,
    /// The propagation of the child's mount tree (only meaningful with
    /// [`Namespace::Mount`]).
    pub propagation: Propagation,
    /// The uid/gid maps the parent writes (only meaningful with
    /// [`Namespace::User`]); `None` leaves the ids unmapped.
    pub id_maps: Option<IdMaps>,
    /// The network to wire the child to (only meaningful with [`Namespace::Net`]);
    /// `None` leaves its network namespace with only `lo`, down.
    pub network: Option<NetworkConfig>,
    /// Put the child in a cgroup of its own with these limits (`None`: no cgroup).
    pub limits: Option<Limits>,
    /// A root filesystem of its own (`None`: the host's files, as through lesson 07).
    pub rootfs: Option<RootFs>,
    /// Ask the kernel to kill the child when its parent dies (`PR_SET_PDEATHSIG`),
    /// so a killed lesson binary leaves no container running. On by default; a
    /// container meant to outlive the command that started it turns it off.
    pub die_with_parent: bool,
    /// The command's environment, `KEY=VALUE` each (`None`: ours, as the lessons
    /// do; the runtime gives the image's).
    pub env: Option<Vec<String>>,
    /// The folder the command starts in, made if missing (`None`: where the child
    /// is after the root switch, `/`).
    pub workdir: Option<PathBuf>,
    /// Run the command as this uid and gid (`None`: as root, or as whom the
    /// lesson's user maps make us).
    pub user: Option<(u32, u32)>,
    /// The command's stdin, stdout and stderr: our file descriptors the child puts
    /// in place of its 0, 1 and 2 (`None`: ours, inherited). The runtime passes
    /// pipes here, to keep a log.
    pub stdio: Option<[RawFd; 3]>,
    /// Give the command a terminal: a pty from the container's own `devpts` (needs
    /// a root filesystem of its own); the parent gets its master end.
    pub terminal: bool,
    /// Key-value notes copied into the state record (the OCI spec's annotations):
    /// the runtime writes the container's name, image and command there.
    pub annotations: BTreeMap<String, String>,
    /// Bind-mount the container's network namespace on
    /// `/run/netns/nsbox-<id>`, so `ip netns exec` can enter it, and it outlives
    /// its processes until `delete`.
    pub bind_netns: bool,
    /// Close every descriptor above 2 when the command starts, so no file the
    /// runtime inherited reaches it (chapter 10). The lessons leave it off.
    pub close_host_files: bool,
    /// `--userns=auto`: `create` takes a slice of this pool nobody else holds,
    /// maps root inside onto it (filling [`Container::id_maps`]), and shows the
    /// image's files through idmapped mounts (see [`super::idmap`]).
    pub id_pool: Option<IdPool>,
    /// The process-level defences (capabilities, no_new_privs, seccomp); the
    /// default is none, as in the lessons (see [`super::security`]).
    pub security: Security,
}

impl Container {
    /// A container that runs `command` and isolates nothing yet.
    pub fn new(command: Vec<String>) -> Self {
        Container {
            id: ContainerId::generate(),
            namespaces: Vec::new(),
            hostname: None,
            command,
            init: false,
            propagation: Propagation::default(),
            id_maps: None,
            network: None,
            limits: None,
            rootfs: None,
            die_with_parent: true,
            env: None,
            workdir: None,
            user: None,
            stdio: None,
            terminal: false,
            annotations: BTreeMap::new(),
            bind_netns: false,
            close_host_files: false,
            id_pool: None,
            security: Security::default(),
        }
    }

    /// Call it this (instead of a generated id).
    pub fn id(mut self, id: ContainerId) -> Self {
        self.id = id;
        self
    }

    /// Ask for these new namespaces.
    pub fn namespaces(
        mut self,
        namespaces: impl IntoIterator<Item = Namespace>,
    ) -> Self {
        self.namespaces.extend(namespaces);
        self
    }

    /// Set this hostname inside the container.
    pub fn hostname(mut self, name: &str) -> Self {
        self.hostname = Some(name.to_string());
        self
    }

    /// Run a tiny init as PID 1 that starts the command as its child.
    pub fn with_init(mut self, init: bool) -> Self {
        self.init = init;
        self
    }

    /// Give the child's mount tree this propagation.
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// Map ids this way (`None`: leave them unmapped).
    pub fn id_maps(mut self, maps: Option<IdMaps>) -> Self {
        self.id_maps = maps;
        self
    }

    /// Wire the child to a bridge on the host (`None`: no network but `lo`).
    pub fn network(mut self, network: Option<NetworkConfig>) -> Self {
        self.network = network;
        self
    }

    /// Give the child a cgroup of its own, with these limits.
    pub fn rootfs(mut self, rootfs: Option<RootFs>) -> Self {
        self.rootfs = rootfs;
        self
    }

    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Have the child killed when its parent dies (the default), or not.
    pub fn die_with_parent(mut self, die: bool) -> Self {
        self.die_with_parent = die;
        self
    }

    /// The namespace part of the `clone(2)` flags.
    pub fn clone_flags(&self) -> CloneFlags {
        self.namespaces
            .iter()
            .filter(|ns| ns.made_by_clone())
            .fold(CloneFlags::empty(), |flags, ns| flags | ns.clone_flag())
    }

    /// Checks everything that can be checked before anything is created.
    pub fn validate(&self) -> Result<(), Error> {
        if self.command.is_empty() {
            return Err(Error::BadInput("no command to run".into()));
        }
        if let Some(name) = &self.hostname {
            uts::validate_hostname(name)?;
        }
        if let Some(maps) = &self.id_maps {
            maps.validate()?;
        }
        if let Some(network) = &self.network {
            if !self.namespaces.contains(&Namespace::Net) {
                return Err(Error::BadInput(
                    "a network needs a new network namespace".into(),
                ));
            }
            network.validate()?;
        }
        if self.terminal && (self.rootfs.is_none() || self.stdio.is_some()) {
            return Err(Error::BadInput(
                "a terminal needs a root filesystem of its own, and no other stdio"
                    .into(),
            ));
        }
        if self.bind_netns && !self.namespaces.contains(&Namespace::Net) {
            return Err(Error::BadInput(
                "only a new network namespace can be bind-mounted".into(),
            ));
        }
        if let Some(workdir) = &self.workdir
            && !workdir.is_absolute()
        {
            return Err(Error::BadInput(format!(
                "the working folder '{}' must start with /",
                workdir.display()
            )));
        }
        if self.id_pool.is_some()
            && (!self.namespaces.contains(&Namespace::User)
                || self.id_maps.is_some())
        {
            return Err(Error::BadInput(
                "ids from a pool need a new user namespace, and no maps of their own"
                    .into(),
            ));
        }
        if self.init && !self.namespaces.contains(&Namespace::Pid) {
            return Err(Error::InitNeedsPidNamespace);
        }
        Ok(())
    }
}
