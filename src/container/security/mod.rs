//! Hardening (chapter 10): what keeps root in a container from reaching the host
//! through the holes namespaces and cgroups leave open.
//!
//! Without these, root in a container is root on the host with every capability,
//! and only the namespaces stand between it and the machine. The process itself
//! is made weaker, each a field of [`Security`]:
//! - [`capabilities`]: keep only the capabilities an ordinary workload needs;
//! - no_new_privs: no `exec` can give the process more than it has (no setuid);
//! - [`seccomp`]: a filter on the system calls themselves.
//!
//! Each is off in [`Security::default`], as the lessons need; `nsbox run` turns
//! them all on. [`super::child::plan`] puts their steps in the order that works.
//!
//! The container's files and the runtime are guarded too:
//! - [`in_root`]: paths in the image resolved inside its root, never out of it;
//! - [`masks`]: the kernel's files in `/proc` and `/sys` masked or read-only;
//! - [`devices`]: only the devices bound in can be opened;
//! - [`binary`]: the runtime's own binary, out of the containers' reach;
//! - [`files`]: no descriptor of the host's survives into the container.
//!
//! And root inside can be nobody outside (`--userns=auto`): [`super::id_slices`]
//! hands out ranges of host ids, and [`super::idmap`] shows the image through
//! idmapped mounts ([`super::shifted_copy`] where a filesystem cannot).

pub mod binary;
pub mod capabilities;
pub mod devices;
pub mod files;
pub mod in_root;
pub mod masks;
pub mod seccomp;

pub use capabilities::CapSet;
pub use seccomp::{Filter, Profile};
use std::path::Path;

/// The defences a container's processes get (the default: none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Security {
    /// Keep only these capabilities, in all five sets (`None`: keep whatever we
    /// have; root has all of them).
    pub capabilities: Option<CapSet>,
    /// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: setuid and file capabilities no longer
    /// raise anything at `exec`.
    pub no_new_privileges: bool,
    /// Install this seccomp filter (`None`: no filter).
    pub seccomp: Option<Filter>,
}

impl Security {
    /// Nothing asked for: the lessons' containers.
    pub fn is_off(&self) -> bool {
        *self == Security::default()
    }
}

/// The file in the container's state folder that keeps its seccomp filter, for
/// `exec`: each program as hex, 16 digits an instruction (code, jt, jf, k).
///
/// Why a file of its own and not the record: some 1500 instructions are 25 kB of
/// text, which every nsbox command would read (and `inspect` show) along with
/// the record; only `exec` needs them.
pub const FILTER_FILE: &str = "seccomp.json";

/// The defences as the state record keeps them, for `exec`.
#[derive(
    Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct Recorded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<CapSet>,
    #[serde(default)]
    pub no_new_privileges: bool,
    /// The filter is in [`FILTER_FILE`] (how many instructions, 0: no filter).
    #[serde(default)]
    pub seccomp_instructions: usize,
}

impl Recorded {
    /// What to record of these defences; the filter goes to [`FILTER_FILE`] in
    /// `dir`.
    pub fn save(security: &Security, dir: &Path) -> std::io::Result<Recorded> {
        if let Some(filter) = &security.seccomp {
            let programs = Vec::<String>::from(filter.clone());
            std::fs::write(
                dir.join(FILTER_FILE),
                serde_json::to_string(&programs)?,
            )?;
        }
        Ok(Recorded {
            capabilities: security.capabilities,
            no_new_privileges: security.no_new_privileges,
            seccomp_instructions: security
                .seccomp
                .as_ref()
                .map_or(0, Filter::instructions),
        })
    }

    /// The defences again, the filter read from `dir`.
    pub fn load(&self, dir: &Path) -> std::io::Result<Security> {
        let seccomp = match self.seccomp_instructions {
            0 => None,
            _ => {
                let text = std::fs::read_to_string(dir.join(FILTER_FILE))?;
                let programs: Vec<String> = serde_json::from_str(&text)?;
                Some(Filter::try_from(programs).map_err(std::io::Error::other)?)
            }
        };
        Ok(Security {
            capabilities: self.capabilities,
            no_new_privileges: self.no_new_privileges,
            seccomp,
        })
    }

    /// Nothing recorded: the lessons' containers.
    pub fn is_off(&self) -> bool {
        *self == Recorded::default()
    }
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`. It cannot be undone, and children and
/// `exec`s keep it.
pub fn set_no_new_privileges() -> Result<(), nix::errno::Errno> {
    nix::sys::prctl::set_no_new_privs()
}
