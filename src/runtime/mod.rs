//! The `nsbox` runtime: a container engine with docker's and podman's command line,
//! made of the course's own [`crate::container`] module.
//!
//! - [`commands`]: one file per subcommand (`nsbox run`, `ps`, `logs`, …);
//! - [`containers`]: finding containers by id or name, and listing them;
//! - [`monitor`]: the container's parent for its whole life (conmon's job),
//!   [`log`], what it keeps of the command's output, and [`tty`], our terminal
//!   and the container's with `-t`;
//! - [`subids`]: the host ids `--userns=auto` hands out;
//! - [`images`]: the image store, and `pull` from a registry (the OCI
//!   distribution API).
//!
//! `src/bin/nsbox.rs` only parses the command line and calls one of [`commands`].

pub mod choose;
pub mod commands;
pub mod containers;
pub mod images;
pub mod log;
pub mod monitor;
pub mod security;
pub mod subids;
pub mod tty;

use std::path::PathBuf;

/// Where the runtime keeps containers' state (a tmpfs: containers end with a
/// reboot).
pub const DEFAULT_STATE_ROOT: &str = "/run/nsbox";

/// Where it keeps images (on disk: they outlive a reboot, as docker's do).
pub const DEFAULT_STORAGE: &str = "/var/lib/nsbox";

/// The options every subcommand shares.
#[derive(clap::Args, Clone, Debug)]
pub struct Global {
    /// Where containers' state folders are
    #[arg(long, global = true, env = "NSBOX_ROOT", default_value = DEFAULT_STATE_ROOT, value_name = "DIR")]
    pub root: PathBuf,

    /// Where images are stored
    #[arg(long, global = true, env = "NSBOX_STORAGE", default_value = DEFAULT_STORAGE, value_name = "DIR")]
    pub storage: PathBuf,

    /// Tell, as the lessons do, each thing nsbox asks the kernel for (on stderr)
    #[arg(long, global = true)]
    pub narrate: bool,
}
