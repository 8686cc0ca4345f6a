//! Unpacking a layer: a tar file (maybe gzip'd or zstd'd), streamed from the
//! registry into a folder, checked on the way against two digests.
//!
//! - the blob's digest (what the manifest names), over the compressed bytes;
//! - its `diff_id` (what the config names), over the uncompressed tar.
//!
//! A layer says "this file was deleted" with a *whiteout*: an empty file named
//! `.wh.NAME` in the tar. Overlayfs, which stacks our layers, has its own way of
//! saying it, so we translate while unpacking (see [`write_whiteout`] and
//! [`mark_opaque`]).

use super::ImageError;
use super::digest::{Digest, Hashing};
use super::manifest::Compression;
use nix::sys::stat::{Mode, SFlag, makedev, mknod};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

/// The prefix of a whiteout's name in a layer tar (OCI image spec, "Whiteouts").
const WHITEOUT_PREFIX: &str = ".wh.";

/// A whiteout that hides everything below its folder in the layers beneath
/// ("opaque whiteout").
const OPAQUE_WHITEOUT: &str = ".wh..wh..opq";

/// The digests a layer must have.
pub struct Expected<'a> {
    /// Of the blob as the registry sends it (compressed).
    pub digest: &'a Digest,
    /// Of the tar inside it (`rootfs.diff_ids` in the config).
    pub diff_id: &'a Digest,
}

/// Unpacks a layer blob into `into` (an empty folder), checking both digests.
/// Returns the length of the tar. On an error, `into` holds a part of the layer:
/// the caller removes it.
pub fn unpack(
    blob: impl Read,
    compression: Compression,
    expected: Expected,
    into: &Path,
) -> Result<u64, ImageError> {
    let refused = |why: String| ImageError::BadLayer {
        layer: expected.digest.short().to_string(),
        why,
    };
    let mut compressed = Hashing::new(blob);
    let unpacked = unpack_compressed(&mut compressed, compression, into);
    // Read to the end whatever happened: a damaged blob often fails to
    // decompress, and its digest then says why better than gzip's complaint.
    let (digest, _) = compressed.finish().map_err(|e| refused(e.to_string()))?;
    if digest != *expected.digest {
        return Err(ImageError::DigestMismatch {
            what: format!("layer {}", expected.digest.short()),
            expected: expected.digest.to_string(),
            got: digest.to_string(),
        });
    }
    let (diff_id, length) = unpacked.map_err(|error| match error {
        ImageError::BadLayer { why, .. } => refused(why),
        other => other,
    })?;
    if diff_id != *expected.diff_id {
        return Err(ImageError::DigestMismatch {
            what: format!("the tar of layer {}", expected.digest.short()),
            expected: expected.diff_id.to_string(),
            got: diff_id.to_string(),
        });
    }
    Ok(length)
}

/// Decompresses and unpacks, returning the tar's digest and length.
fn unpack_compressed(
    compressed: &mut impl Read,
    compression: Compression,
    into: &Path,
) -> Result<(Digest, u64), ImageError> {
    let failed = |e: io::Error| bad_tar(e.to_string());
    let decompressed: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(compressed),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(compressed)),
        Compression::Zstd => {
            Box::new(zstd::Decoder::new(compressed).map_err(failed)?)
        }
    };
    let mut tar = Hashing::new(decompressed);
    unpack_tar(&mut tar, into)?;
    tar.finish().map_err(failed)
}

/// Unpacks a tar stream entry by entry.
fn unpack_tar(tar: impl Read, into: &Path) -> Result<(), ImageError> {
    let mut archive = tar::Archive::new(tar);
    // We run as root: files keep their owners, modes and extended attributes
    // (file capabilities are one), as in the image.
    archive.set_preserve_ownerships(true);
    archive.set_preserve_permissions(true);
    archive.set_unpack_xattrs(true);
    archive.set_overwrite(true);
    let entries = archive.entries().map_err(|e| bad_tar(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad_tar(e.to_string()))?;
        unpack_entry(&mut entry, into)?;
    }
    Ok(())
}

/// Unpacks one entry: a whiteout, a device node, or anything the tar crate knows.
fn unpack_entry(
    entry: &mut tar::Entry<impl Read>,
    into: &Path,
) -> Result<(), ImageError> {
    let path = entry.path().map_err(|e| bad_tar(e.to_string()))?;
    let relative = relative_path(&path)?;
    let Some(name) = relative.file_name().and_then(|name| name.to_str()) else {
        return Ok(()); // `./`, the layer's own root.
    };
    let parent = make_parents(into, relative.parent().unwrap_or(Path::new("")))?;
    let kind = entry.header().entry_type();
    let io_error = |e: io::Error| bad_tar(format!("{}: {e}", relative.display()));
    if name == OPAQUE_WHITEOUT {
        return mark_opaque(&parent).map_err(io_error);
    }
    if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        return write_whiteout(&parent.join(hidden)).map_err(io_error);
    }
    if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
        // The tar crate would write these as empty files.
        return make_node(entry.header(), &parent.join(name)).map_err(io_error);
    }
    // `unpack_in` checks that the entry, and a hard link's target, land inside
    // `into` even through symlinks the layer made. It skips (false) a path with
    // `..`, which we refused already.
    match entry.unpack_in(into) {
        Ok(true) => Ok(()),
        Ok(false) => {
            Err(bad_tar(format!("{} leaves the layer", relative.display())))
        }
        Err(e) => Err(bad_tar(with_causes(&e))),
    }
}

/// The entry's path inside the layer, or an error if it could land outside it
/// (absolute, or with `..`).
fn relative_path(path: &Path) -> Result<PathBuf, ImageError> {
    let mut relative = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::Normal(part) => relative.push(part),
            _ => {
                let why = format!("{} would land outside the layer", path.display());
                return Err(bad_tar(why));
            }
        }
    }
    Ok(relative)
}

/// Makes the folders `relative` names inside `layer` (tars need not list them),
/// refusing to go through a symlink: it could point anywhere on the host.
fn make_parents(layer: &Path, relative: &Path) -> Result<PathBuf, ImageError> {
    let mut path = layer.to_path_buf();
    for part in relative.components() {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => {
                let why = format!("{} is not a folder", relative.display());
                return Err(bad_tar(why));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let made = std::fs::create_dir(&path);
                made.map_err(|e| bad_tar(format!("mkdir {}: {e}", path.display())))?;
            }
            Err(e) => return Err(bad_tar(format!("{}: {e}", path.display()))),
        }
    }
    Ok(path)
}

/// Writes overlayfs's whiteout for `.wh.NAME`: a character device 0/0 named NAME.
/// Overlayfs hides NAME in the lower layers when it finds one. (The OCI format
/// uses an empty file with a prefix instead because a tar file, which must work
/// on any system, cannot count on device nodes.)
fn write_whiteout(path: &Path) -> io::Result<()> {
    remove_if_there(path)?;
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))?;
    Ok(())
}

/// Marks a folder opaque for overlayfs (`.wh..wh..opq`): the extended attribute
/// `trusted.overlay.opaque=y` makes it hide whatever the folder holds in the
/// layers below, while what this layer puts in it stays.
fn mark_opaque(folder: &Path) -> io::Result<()> {
    xattr::set(folder, "trusted.overlay.opaque", b"y")
}

/// Makes a device node or a FIFO as the tar header says, with its owner and mode.
fn make_node(header: &tar::Header, path: &Path) -> io::Result<()> {
    let kind = header.entry_type();
    let flag = if kind.is_character_special() {
        SFlag::S_IFCHR
    } else if kind.is_block_special() {
        SFlag::S_IFBLK
    } else {
        SFlag::S_IFIFO
    };
    let major = header.device_major()?.unwrap_or(0);
    let minor = header.device_minor()?.unwrap_or(0);
    let mode = Mode::from_bits_truncate(header.mode()?);
    remove_if_there(path)?;
    mknod(path, flag, mode, makedev(major.into(), minor.into()))?;
    let (uid, gid) = (header.uid()? as u32, header.gid()? as u32);
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))?;
    // mknod applied our umask to the mode: set it as the image says.
    nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        mode,
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )?;
    Ok(())
}

/// Removes a file the same layer wrote before (tars may repeat a path).
fn remove_if_there(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// An error and the errors under it: the tar crate says "failed to unpack `x`"
/// and keeps why (the system's error) underneath.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        text.push_str(&format!(": {error}"));
        cause = error.source();
    }
    text
}

/// A tar we refuse to unpack ([`unpack`] names the layer).
fn bad_tar(why: String) -> ImageError {
    ImageError::BadLayer {
        layer: String::new(),
        why,
    }
}
