//! The image store (`--storage`, default `/var/lib/nsbox`), and pulling images from a
//! registry.
//!
//! An image, as a registry serves it (the OCI image and distribution specs), is a
//! chain of documents, each naming the next by its sha256 digest:
//!
//! ```text
//! tag ──▶ index ──(this machine's platform)──▶ manifest ──▶ config
//!                                                 └──▶ layer, layer, … (tar files)
//! ```
//!
//! [`Store::pull`] walks the chain, checks every part against its digest, unpacks
//! each layer into a folder of its own, and writes a record; the runtime stacks
//! the folders with overlayfs ([`Image::layers`], bottom first).
//!
//! - [`reference`]: `busybox` means `docker.io/library/busybox:latest`;
//! - [`registry`]: the HTTP requests, and Docker Hub's anonymous tokens;
//! - [`manifest`]: the JSON documents, and picking a platform in an index;
//! - [`layer`]: unpacking a tar, checking it, translating whiteouts for overlayfs;
//! - [`store`]: where it all goes on disk;
//! - [`in_use`]: which containers use an image (`nsbox rmi` refuses those).

pub mod digest;
pub mod error;
pub mod in_use;
pub mod layer;
pub mod manifest;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod store;

pub use error::ImageError;
pub use in_use::containers_using;
pub use manifest::ImageConfig;
pub use progress::{Progress, human_size};
pub use reference::Reference;
pub use store::Store;

use std::path::PathBuf;

/// A pulled image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The normalised reference it was pulled as: `docker.io/library/busybox:latest`.
    pub reference: String,
    /// Its id: the config's digest, `sha256:…` (the same image under two tags has
    /// one id).
    pub id: String,
    /// The digest of what the tag named on the registry (the index's, for a
    /// multi-platform image): `nsbox pull` prints it, as docker does.
    pub digest: String,
    /// The unpacked layers' folders, bottom first: overlayfs's `lowerdir` wants
    /// them the other way round (top first).
    pub layers: Vec<PathBuf>,
    /// What to run, from the image's config.
    pub config: ImageConfig,
    /// The bytes of the files in its layers.
    pub size: u64,
}
