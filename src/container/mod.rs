//! The container module: everything the lessons (and, later, the `nsbox` runtime)
//! use to start a process in new namespaces.
//!
//! One file per idea:
//! - [`spec`]: the [`Container`], what to build;
//! - [`id`]: the container's id, which names everything it has on the host;
//! - [`state`]: its state folder and record (`/run/nsbox/<id>/state.json`);
//! - [`lifecycle`]: create, start, wait, state, kill, delete, as separate calls;
//!   [`run()`]: all of them in a row, as the lessons use them;
//! - [`namespaces`]: the eight namespace types and how to see which ones a process
//!   has;
//! - [`spawn`]: `clone(2)` with the flags we ask for, and what the child does before
//!   `exec`;
//! - [`steps`]: what the child does, as a list of typed steps, and [`child`]:
//!   which steps for this container, and taking them;
//! - [`exec`]: the child becoming the command; [`terminal`]: a pty for it;
//! - [`handshake`]: the messages parent and child send each other;
//! - [`uts`]: the hostname;
//! - [`image`]: the built-in root filesystem, made from the host's busybox;
//! - [`mount`]: mount propagation and a `/proc` of the container's own;
//! - [`user`]: uid and gid maps; [`id_slices`]: a slice of host ids per
//!   container (`--userns=auto`), and [`idmap`]: the image seen through it
//!   ([`shifted_copy`] where the filesystem cannot);
//! - [`net`]: a veth pair, a bridge, addresses and routes, NAT (one file each);
//! - [`cgroup`]: memory, CPU and pids limits, on cgroup v1 and v2;
//! - [`security`]: what root inside may not do (masked paths, devices, mounts
//!   that stay inside the root);
//! - [`pid`]: PID 1 and its duties (an optional tiny init);
//! - [`signals`]: passing the signals the lesson binary gets on to the container;
//! - [`exit`]: turning how the container ended into an exit code, as a shell does;
//! - [`privileges`]: checking we are allowed to do any of this;
//! - [`security`]: what root in the container may still do: capabilities,
//!   no_new_privs, seccomp;
//! - [`narrate`]: the [`Narrator`], telling the student what just happened;
//! - [`describe`]: the words it uses for the container and its child.
//!
//! Imports point one way: `lifecycle/` uses everything, [`spec`] only the types it
//! holds, and no two files use each other. A later lesson adds a file here and a
//! field to [`Container`]; it changes nothing else.

pub mod cgroup;
pub mod child;
pub mod describe;
pub mod error;
pub mod exec;
pub mod exit;
pub mod handshake;
pub mod id;
pub mod id_slices;
pub mod idmap;
pub mod image;
pub mod lifecycle;
pub mod mount;
pub mod mount_api;
pub mod namespaces;
pub mod narrate;
pub mod net;
pub mod pid;
pub mod privileges;
pub mod proc_file;
pub mod programs;
pub mod rootfs;
mod run;
pub mod security;
pub mod shifted_copy;
pub mod signals;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod steps;
pub mod terminal;
pub mod user;
pub mod uts;

pub use error::Error;
pub use exit::Ending;
pub use id::ContainerId;
pub use lifecycle::Created;
pub use mount::Propagation;
pub use namespaces::Namespace;
pub use narrate::Narrator;
pub use run::run;
pub use spec::Container;
pub use state::{State, Status};
pub use user::{IdMaps, IdRange};
