//! The process-level defences (issue 17): what root in a container may still do.
//!
//! Without them, root in a container is root on the host with every capability,
//! and only the namespaces stand between it and the machine. Three defences
//! make the process itself weaker, each a field of [`Security`]:
//! - [`capabilities`]: keep only the capabilities an ordinary workload needs;
//! - no_new_privs: no `exec` can give the process more than it has (no setuid);
//! - [`seccomp`]: a filter on the system calls themselves.
//!
//! Each is off in [`Security::default`], as the lessons need; `nsbox run` turns
//! them all on. [`super::child::plan`] puts their steps in the order that works.

pub mod capabilities;
pub mod seccomp;

pub use capabilities::CapSet;
pub use seccomp::{Filter, Profile};

/// The defences a container's processes get (the default: none).
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct Security {
    /// Keep only these capabilities, in all five sets (`None`: keep whatever we
    /// have; root has all of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapSet>,
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: setuid and file capabilities no longer
    /// raise anything at `exec`.
    #[serde(default)]
    pub no_new_privileges: bool,
    /// Install this seccomp filter (`None`: no filter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<Filter>,
}

impl Security {
    /// Nothing asked for: the lessons' containers.
    pub fn is_off(&self) -> bool {
        *self == Security::default()
    }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`. It cannot be undone, and children and
/// `exec`s keep it.
pub fn set_no_new_privileges() -> Result<(), nix::errno::Errno> {
    nix::sys::prctl::set_no_new_privs()
}
