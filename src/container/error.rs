//! What can go wrong, each with the words a student needs to fix it.

use super::steps::ChildError;
use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The arguments make no sense; nothing was created.
    #[error("{0}")]
    BadInput(String),

    /// We lack a capability the kernel will insist on.
    #[error(
        "{program} needs root: {why} needs {capability}, and this process (uid \
         {uid}) does not have it.\n\
         fix: run it with `cargo run --bin {program}` (which uses sudo for you) or \
         `sudo {path}`.\n\
         {hint}"
    )]
    NeedsRoot {
        program: String,
        path: String,
        why: String,
        capability: &'static str,
        /// Where to go from here without root.
        hint: &'static str,
        uid: u32,
    },

    /// This machine does not let ordinary users create user namespaces.
    #[error(
        "{program} cannot create a user namespace as an ordinary user here: \
         {setting}.\n\
         fix: `{fix}`, or run it as root (`sudo`)."
    )]
    UserNamespacesOff {
        program: String,
        setting: String,
        fix: String,
    },

    /// The kernel refused a uid/gid map (or the setgroups file).
    #[error(
        "writing '{text}' to {path}: {error}.\n\
         Without root you may map only your own id, once (e.g. '0 {uid} 1'); \
         mapping other ids needs root."
    , uid = nix::unistd::getuid())]
    MapRefused {
        path: String,
        text: String,
        error: std::io::Error,
    },

    /// Another container has published this host port.
    #[error(
        "host port {port}/{protocol} is published by another container already; \
         pick another"
    )]
    PortPublished { port: u16, protocol: &'static str },

    /// Every slice of the id pool is held by a container.
    #[error(
        "every one of the {slices} slices of host ids in the pool is held by a \
         container: remove one, or give the pool more ids"
    )]
    NoFreeIds { slices: usize },

    /// The kernel would not make an idmapped mount of an image's folder.
    #[error(
        "mounting {folder} idmapped for the container's user namespace: {errno}"
    )]
    IdmapRefused {
        folder: std::path::PathBuf,
        errno: Errno,
    },

    /// The hostname is longer than the kernel allows; nothing was created.
    #[error(
        "hostname '{name}' is {length} bytes long; the kernel allows at most \
         {limit} (HOST_NAME_MAX).",
        length = name.len()
    )]
    HostnameTooLong { name: String, limit: usize },

    /// An init was asked for without a new PID namespace; nothing was created.
    #[error(
        "an init needs a new PID namespace: only a namespace's PID 1 inherits \
         orphans"
    )]
    InitNeedsPidNamespace,

    /// Every address of the subnet is leased to a running container.
    #[error(
        "no free address left in {subnet}: every one is leased (see {})",
        lease_file.display()
    )]
    NoFreeAddress {
        subnet: String,
        lease_file: std::path::PathBuf,
    },

    /// NAT rules need the `nft` program, and it is not installed.
    #[error(
        "network: NAT and published ports need the nft program: \
         sudo apt-get install nftables"
    )]
    NftMissing,

    /// Making, limiting or removing the container's cgroup failed: what we were
    /// doing, and what the kernel said.
    #[error("cgroup: {doing}: {error}")]
    Cgroup {
        doing: String,
        error: std::io::Error,
    },

    /// No cgroup filesystem here has every controller a limit needs.
    #[error(
        "cgroup: no cgroup tree here has the {missing} controller(s): is \
         /sys/fs/cgroup mounted?"
    )]
    NoCgroupControllers { missing: String },

    /// Setting up the container's network failed: what we were doing (the `ip` or
    /// `nft` command, or the file), and what the kernel or the program said.
    #[error("network: {doing}: {error}")]
    Network {
        doing: String,
        error: std::io::Error,
    },

    /// A container id the library cannot use; nothing was created.
    #[error("{0}")]
    BadId(String),

    /// A container with this id exists already (its state directory does).
    #[error("a container with id '{id}' exists already ({})", dir.display())]
    ContainerExists { id: String, dir: std::path::PathBuf },

    /// No container with this id (no state directory under the root).
    #[error("no container with id '{id}' ({} does not exist)", dir.display())]
    NoSuchContainer { id: String, dir: std::path::PathBuf },

    /// The container is not running, so it cannot be sent a signal.
    #[error("container '{id}' is not running")]
    NotRunning { id: String },

    /// Building or reading a root filesystem image failed.
    #[error("image: {doing}: {error}")]
    Image {
        doing: String,
        error: std::io::Error,
    },

    /// Reading or writing the container's state record failed.
    #[error("state: {doing}: {error}")]
    State {
        doing: String,
        error: std::io::Error,
    },

    /// `clone(2)` itself said no.
    #[error("clone({flags}) failed: {errno}{hint}")]
    Clone {
        flags: String,
        errno: Errno,
        hint: &'static str,
    },

    /// Something in the child, before or at `exec`, failed and the child told us.
    #[error("{0}")]
    Child(ChildError),

    /// Parent and child could not talk.
    #[error("handshake with the child: {0}")]
    Handshake(#[from] std::io::Error),

    /// Reading `/proc` failed.
    #[error("reading /proc: {0}")]
    Proc(#[from] procfs::ProcError),

    /// Any other system call that failed in the parent.
    #[error("{call}: {errno}")]
    Sys { call: &'static str, errno: Errno },
}

impl Error {
    /// The exit code the lesson binary ends with. The numbers follow the shell and
    /// `docker run`: 2 for bad usage, 125 when the container could not be set up,
    /// 126 when the command exists but could not be run, 127 when it does not exist.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::BadInput(_)
            | Error::HostnameTooLong { .. }
            | Error::InitNeedsPidNamespace
            | Error::BadId(_)
            | Error::NoFreeAddress { .. } => 2,
            Error::PortPublished { .. } => 125,
            Error::Child(child) => child.exit_code(),
            _ => 125,
        }
    }

    /// Shorthand for a failed network step.
    pub fn network(
        doing: impl Into<String>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let doing = doing.into();
        move |error| Error::Network { doing, error }
    }

    /// Shorthand for a failed cgroup step.
    pub fn cgroup(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let doing = doing.into();
        move |error| Error::Cgroup { doing, error }
    }

    /// Shorthand for a failed image step.
    pub fn image(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let doing = doing.into();
        move |error| Error::Image { doing, error }
    }

    /// Shorthand for a failed state file operation.
    pub fn state(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let doing = doing.into();
        move |error| Error::State { doing, error }
    }

    /// Shorthand for a failed system call.
    pub fn sys(call: &'static str) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Sys { call, errno }
    }
}
