//! The fallback when the kernel cannot idmap the image's folders (a filesystem
//! without support, such as overlayfs or NFS, or a kernel before 5.12): a copy
//! of the image whose owners are shifted by the container's map, file by file.
//!
//! The copy goes in the container's own folder, so `delete` removes it with the
//! rest. It costs the image's size per container (and time to copy): fine for a
//! small image, which is why it is only the fallback. (Caching one copy per slice
//! would save that, but would need a home in the image store and removing with
//! `rmi`; podman's storage keeps such copies as layers of their own.)

use super::user::{IdMaps, IdRange};
use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::{Path, PathBuf};

/// Copies `from` to `to` (which must not exist), every owner shifted by `maps`:
/// an id the map does not cover becomes the host's `nobody` range's overflow id
/// shifted the same way (65534 inside).
pub fn copy_shifted(from: &Path, to: &Path, maps: &IdMaps) -> io::Result<()> {
    let mut copied = HashMap::new();
    copy_entry(from, to, maps, &mut copied)
}

/// One entry and, for a folder, all under it. `copied` remembers files with
/// more than one name (hard links), so they stay one file.
fn copy_entry(
    from: &Path,
    to: &Path,
    maps: &IdMaps,
    copied: &mut HashMap<(u64, u64), PathBuf>,
) -> io::Result<()> {
    let meta = fs::symlink_metadata(from)?;
    let kind = meta.file_type();
    if kind.is_dir() {
        fs::create_dir(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_entry(&entry.path(), &to.join(entry.file_name()), maps, copied)?;
        }
    } else if kind.is_symlink() {
        symlink(fs::read_link(from)?, to)?;
    } else if kind.is_file() {
        let key = (meta.dev(), meta.ino());
        if meta.nlink() > 1
            && let Some(first) = copied.get(&key)
        {
            return fs::hard_link(first, to);
        }
        fs::copy(from, to)?;
        copied.insert(key, to.to_path_buf());
    } else {
        // A device node, a fifo, a socket (or an overlay whiteout, a 0:0 char
        // device): made again, the same.
        let mode = nix::sys::stat::Mode::from_bits_truncate(meta.mode());
        let kind = nix::sys::stat::SFlag::from_bits_truncate(meta.mode());
        nix::sys::stat::mknod(to, kind, mode, meta.rdev())?;
    }
    // Extended attributes: overlayfs keeps whiteouts and opaque folders in them.
    for name in xattr::list(from)? {
        if let Some(value) = xattr::get(from, &name)? {
            xattr::set(to, &name, &value)?;
        }
    }
    let uid = shift(&maps.uids, meta.uid());
    let gid = shift(&maps.gids, meta.gid());
    lchown(to, Some(uid), Some(gid))?;
    if !kind.is_symlink() {
        // Again after chown, which clears the setuid and setgid bits.
        fs::set_permissions(to, fs::Permissions::from_mode(meta.mode() & 0o7777))?;
    }
    Ok(())
}

/// The host id that `inside` is in the container (or 65534's, if unmapped).
fn shift(ranges: &[IdRange], inside: u32) -> u32 {
    let find = |id: u32| {
        ranges
            .iter()
            .find(|r| id >= r.inside && id - r.inside < r.count)
            .map(|r| r.outside + (id - r.inside))
    };
    find(inside).or_else(|| find(65534)).unwrap_or(65534)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_shift_by_the_map() {
        let range = IdRange {
            inside: 0,
            outside: 100000,
            count: 65536,
        };
        assert_eq!(shift(&[range], 0), 100000);
        assert_eq!(shift(&[range], 7), 100007);
        assert_eq!(shift(&[range], 70000), 165534);
    }
}
