//! Hardening (chapter 10): what keeps a container's root from reaching the host
//! through the holes namespaces and cgroups leave open.
//!
//! - [`in_root`]: paths in the image resolved inside its root, never out of it;
//! - [`masks`]: the kernel's files in `/proc` and `/sys` masked or read-only;
//! - [`devices`]: only the devices bound in can be opened;
//! - [`binary`]: the runtime's own binary, out of the containers' reach;
//! - [`files`]: no descriptor of the host's survives into the container.

pub mod binary;
pub mod devices;
pub mod files;
pub mod in_root;
pub mod masks;
