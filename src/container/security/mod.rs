//! The defences of issue 17: what root in a container may *not* do.

// The filesystem's defences: paths resolved inside the root, masked and
// read-only kernel files, devices only the bound-in ones.
pub mod devices;
pub mod in_root;
pub mod masks;
