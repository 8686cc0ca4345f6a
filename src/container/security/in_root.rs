//! Paths inside the container's root, resolved as the container will see them.
//!
//! Before `pivot_root`, the child mounts onto paths such as `$ROOT/etc/hosts`
//! and `$ROOT/data` (a volume). `$ROOT` holds the image, and the image is not
//! ours: if it made `etc/hosts` a symlink to `/etc/shadow`, a plain `mount(2)`
//! (or `mkdir -p`) follows that link as *we* see it, out of the container's root
//! and onto the host's file. That is the class of CVE-2021-30465 (runc).
//!
//! So every target under the root is opened with `openat2(2)` and
//! `RESOLVE_IN_ROOT`: the kernel resolves each symlink and each `..` as if
//! `$ROOT` were `/`, so no path leads out of it (and `RESOLVE_NO_MAGICLINKS`
//! refuses `/proc/self/fd/N`-like links, which jump anywhere). A missing part
//! is made one at a time, with `mkdirat(2)` in the folder just resolved. The
//! mount then goes onto the file we opened, named by its `/proc/self/fd/N`:
//! the kernel follows that link to the very file, whatever the path says now.
//!
//! This is on for every container, the lessons' too: it changes nothing for an
//! honest image.

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat, openat2, readlinkat};
use nix::sys::stat::{Mode, mkdirat};
use std::ffi::OsStr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// What to make when the target is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Folder,
    /// An empty file (to bind a file or a device node on).
    File,
}

/// How many dangling symlinks we follow by hand before giving up (the kernel's
/// own limit for one path is 40).
const MAX_LINKS: usize = 40;

/// A place to mount on, held open.
pub struct MountPoint {
    /// The target, opened `O_PATH` (a handle on the file, not an open of it).
    pub fd: OwnedFd,
    /// The path to give `mount(2)`: `/proc/self/fd/N` for a target inside the
    /// root; the target itself for a host path of our own (the root itself,
    /// lessons 03-07's `/proc`).
    path: PathBuf,
}

impl MountPoint {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Inside the root: the mount goes onto the opened file itself.
    fn opened(fd: OwnedFd) -> MountPoint {
        let path = fd_path(&fd);
        MountPoint { fd, path }
    }
}

/// `/proc/self/fd/N`: a name for an open file, which the kernel follows to that
/// file (a "magic link").
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// `target` without `root`, if it is strictly under `root`.
fn inside<'a>(root: Option<&Path>, target: &'a Path) -> Option<&'a Path> {
    let rest = target.strip_prefix(root?).ok()?;
    (!rest.as_os_str().is_empty()).then_some(rest)
}

/// Runs in the child: the place to mount on at `target`, made first if it is
/// missing (a folder or an empty file). Under `root`, resolved inside it.
pub fn mount_point(
    root: Option<&Path>,
    target: &Path,
    kind: Kind,
) -> nix::Result<MountPoint> {
    match (root, inside(root, target)) {
        (Some(root), Some(rest)) => {
            let root = open_root(root)?;
            open_or_make(&root, rest, kind).map(MountPoint::opened)
        }
        _ => {
            make_on_host(target, kind).map_err(io_errno)?;
            let fd = open(target, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
            Ok(MountPoint {
                fd,
                path: target.to_path_buf(),
            })
        }
    }
}

/// Runs in the child: the place at `target` if it exists (`None` if not),
/// resolved inside `root` if it is under it. Made nowhere.
pub fn existing(
    root: Option<&Path>,
    target: &Path,
) -> nix::Result<Option<MountPoint>> {
    let opened = match (root, inside(root, target)) {
        (Some(root), Some(rest)) => resolve(&open_root(root)?, rest),
        _ => open(target, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()),
    };
    match opened {
        Ok(fd) => Ok(Some(MountPoint::opened(fd))),
        Err(Errno::ENOENT) => Ok(None),
        Err(errno) => Err(errno),
    }
}

/// Runs in the child: `ln -s POINTS_TO LINK`, the folder `LINK` is in resolved
/// inside `root` (made if missing).
pub fn symlink(
    root: Option<&Path>,
    points_to: &str,
    link: &Path,
) -> nix::Result<()> {
    let (Some(folder), Some(name)) = (link.parent(), link.file_name()) else {
        return Err(Errno::EINVAL);
    };
    let folder = mount_point(root, folder, Kind::Folder)?;
    nix::unistd::symlinkat(points_to, &folder.fd, name)
}

/// Reads the file at `path` in the folder `root` (an image's layer) as a process
/// whose `/` is `root` would: its links followed, never out of it. (An image's
/// `/etc/passwd` may be a link to the host's `/etc/shadow`.)
pub fn read_to_string(root: &Path, path: &Path) -> std::io::Result<String> {
    let file = resolve(&open_root(root)?, path)?;
    std::fs::read_to_string(fd_path(&file))
}

/// The root, as a handle every path inside is resolved from.
fn open_root(root: &Path) -> nix::Result<OwnedFd> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    open(root, flags, Mode::empty())
}

// ANCHOR: resolve
/// `openat2(root, path, RESOLVE_IN_ROOT)`: `path` as a process whose `/` is
/// `root` sees it. Symlinks are followed, but `/` and `..` stop at `root`.
fn resolve(root: &OwnedFd, path: &Path) -> nix::Result<OwnedFd> {
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    openat2(root, path, how)
}
// ANCHOR_END: resolve

// ANCHOR: open_or_make
/// `path` inside `root`, made if missing: `mkdir -p` that never leaves the root.
///
/// If `path` cannot be resolved, we make the folder it is in (the same way,
/// one level up), then its last part there, with `mkdirat(2)` relative to that
/// folder: the kernel never walks a path of ours again. If the last part exists
/// but leads nowhere (a symlink to a missing path, which `mkdirat` refuses with
/// `EEXIST`), we read the link and go on with where it points, still in `root`.
pub fn open_or_make(
    root: &OwnedFd,
    path: &Path,
    kind: Kind,
) -> nix::Result<OwnedFd> {
    let mut path = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match resolve(root, &path) {
            Err(Errno::ENOENT) => {}
            resolved => return resolved,
        }
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(Errno::ENOENT);
        };
        let folder = open_or_make(root, parent, Kind::Folder)?;
        match make(&folder, name, kind) {
            Ok(()) => {}
            Err(Errno::EEXIST) => {
                // A dangling symlink: an absolute target replaces the path
                // (PathBuf::join does that), and `resolve` takes it from `root`.
                let points_to = readlinkat(&folder, name)?;
                path = parent.join(points_to);
            }
            Err(errno) => return Err(errno),
        }
    }
    Err(Errno::ELOOP)
}
// ANCHOR_END: open_or_make

/// Makes `name` in `folder`; `EEXIST` if something (a symlink) is there.
fn make(folder: &OwnedFd, name: &OsStr, kind: Kind) -> nix::Result<()> {
    match kind {
        Kind::Folder => mkdirat(folder, name, Mode::from_bits_truncate(0o755)),
        Kind::File => {
            // O_EXCL and O_NOFOLLOW: never open (or create through) a link.
            let flags = OFlag::O_CREAT
                | OFlag::O_EXCL
                | OFlag::O_NOFOLLOW
                | OFlag::O_WRONLY
                | OFlag::O_CLOEXEC;
            openat(folder, name, flags, Mode::from_bits_truncate(0o644)).map(drop)
        }
    }
}

/// A host path of our own: made the plain way (a folder, or an empty file in
/// its folder).
fn make_on_host(target: &Path, kind: Kind) -> std::io::Result<()> {
    if kind == Kind::Folder {
        return std::fs::create_dir_all(target);
    }
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(target)
        .map(drop)
}

// ANCHOR: check_workdir
/// Runs in the child (and in `exec`'s): fails unless our working folder is
/// inside our root.
///
/// A working folder can be outside the root: `chdir("/proc/self/fd/N")` with a
/// descriptor of a host folder that leaked into the container (CVE-2024-21626,
/// runc) lands there, and `..` then walks the host's tree. The kernel knows:
/// `getcwd(2)` names such a folder `(unreachable)/…` instead of a path from
/// `/`, and the C library turns that into `ENOENT`.
pub fn check_workdir() -> nix::Result<()> {
    match nix::unistd::getcwd() {
        Ok(dir) if dir.is_absolute() => Ok(()),
        Ok(_) => Err(Errno::ENOENT),
        Err(errno) => Err(errno),
    }
}
// ANCHOR_END: check_workdir

/// An `io::Error` as the errno a step reports.
fn io_errno(error: std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink as ln_s;

    /// A folder that goes when the test ends.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir()
                .join(format!("nsbox-in-root-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// An image whose `data` is a symlink to an absolute path outside it: the
    /// plain way (`mkdir -p $ROOT/data/sub`) makes the folder *outside* the
    /// root, on the "host"; resolved in the root, it is made inside.
    #[test]
    fn a_symlink_in_the_image_cannot_lead_out_of_the_root() {
        let scratch = Scratch::new("link");
        let root = scratch.0.join("root");
        let host = scratch.0.join("host");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(&host).unwrap();
        ln_s(&host, root.join("data")).unwrap();
        ln_s(host.join("hosts"), root.join("etc/hosts")).unwrap();

        // The naive way: the path joined, and the kernel follows the link.
        std::fs::create_dir_all(root.join("data/sub")).unwrap();
        assert!(host.join("sub").is_dir(), "the plain join left the root");
        std::fs::remove_dir(host.join("sub")).unwrap();

        // Resolved in the root: the link's target is taken from the root.
        let fd = open_root(&root).unwrap();
        open_or_make(&fd, Path::new("data/sub"), Kind::Folder).unwrap();
        open_or_make(&fd, Path::new("etc/hosts"), Kind::File).unwrap();
        let inside_host = root.join(host.strip_prefix("/").unwrap());
        assert!(inside_host.join("sub").is_dir());
        assert!(inside_host.join("hosts").is_file());
        assert_eq!(std::fs::read_dir(&host).unwrap().count(), 0, "host touched");
    }

    /// `..` stops at the root, as it does at `/`.
    #[test]
    fn dot_dot_stops_at_the_root() {
        let scratch = Scratch::new("dotdot");
        let root = scratch.0.join("root");
        std::fs::create_dir_all(&root).unwrap();
        ln_s("../../../../escaped", root.join("up")).unwrap();
        let fd = open_root(&root).unwrap();
        open_or_make(&fd, Path::new("up/x"), Kind::Folder).unwrap();
        assert!(root.join("escaped/x").is_dir());
        assert!(!scratch.0.join("escaped").exists());
    }
}
