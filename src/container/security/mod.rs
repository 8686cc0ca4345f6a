//! Hardening (chapter 10): what keeps a container's root from reaching the host
//! through the holes namespaces and cgroups leave open.
//!
//! - [`binary`]: the runtime's own binary, out of the containers' reach;
//! - [`files`]: no descriptor of the host's survives into the container.

pub mod binary;
pub mod files;
