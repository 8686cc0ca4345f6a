//! The container's own root filesystem (lesson 08).
//!
//! Until lesson 07 the container saw the host's files: its mount namespace was a
//! copy of the host's mount table. Here it gets a tree of its own:
//!
//! ```text
//!   image (read-only)  ─┐
//!                       ├─ overlay ─→ <state>/<id>/rootfs/root  ─ pivot_root ─→ /
//!   upper (its writes) ─┘
//! ```
//!
//! The parent makes the container's layer (`upper`, `work`, `root`) in its state
//! folder. The child, in its new mount namespace, mounts the overlay on `root`,
//! mounts the kernel's filesystems in it (`/proc`, `/sys`, a small `/dev`), binds
//! the volumes, and then swaps roots with `pivot_root(2)` and detaches the old one:
//! after that, no path leads back to the host's files.

use super::security::in_root::{self, Kind};
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use nix::unistd::{chdir, chroot, pivot_root};
use std::fmt;
use std::io;
use std::os::unix::fs::chown;
use std::path::{Path, PathBuf};

/// What the container's root is made of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootFs {
    /// The image: one folder or more (an image pulled from a registry comes in
    /// layers), bottom first, that become the overlay's read-only lower layers.
    pub image: Vec<PathBuf>,
    /// Host folders or files that appear inside (`-v HOST:CONTAINER[:ro]`).
    pub volumes: Vec<Volume>,
    /// How the child makes it its root.
    pub switch: RootSwitch,
    /// The experiment of chapter 08: before the command, try the classic escape
    /// ([`try_escape`]).
    pub try_escape: bool,
    /// Keep the container's layer when it is deleted (`--keep`), in
    /// `<state root>/kept/<id>`.
    pub keep: bool,
    /// Mask the kernel files a container has no business with, and make others
    /// read-only (`security::masks`). Off in the lessons; `nsbox run` turns it on.
    pub mask_system_paths: bool,
    /// Only the devices bound into `/dev` can be opened: `nodev` on every
    /// filesystem it can write to (`security::devices`). Off in the lessons;
    /// `nsbox run` turns it on.
    pub nodev: bool,
}

/// Where `--keep` puts a container's layer, under the state root (a name no
/// container may take, see `id.rs`).
pub const KEPT: &str = "kept";

/// How the child makes the new tree its root.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RootSwitch {
    /// `pivot_root(2)`, and the old root unmounted: what container runtimes do.
    #[default]
    PivotRoot,
    /// `chroot(2)`: only this process's idea of `/` changes; the host's tree is
    /// still all there in its mount namespace (chapter 08 shows why that is not
    /// enough).
    Chroot,
}

/// `-v HOST:CONTAINER[:ro]`: the host's `host` at `container` inside.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub container: PathBuf,
    pub read_only: bool,
}

// ANCHOR: layers
/// The container's own layer, in its state folder: `upper` holds what it writes,
/// `work` is overlayfs' scratch space (on the same filesystem as `upper`), and
/// `root` is where the overlay is mounted, in the child's mount namespace only: on
/// the host it stays an empty folder. `etc` holds the files made for this
/// container ([`ETC_FILES`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layers {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub root: PathBuf,
    pub etc: PathBuf,
}
// ANCHOR_END: layers

impl Layers {
    /// The layer's folders under `dir`.
    pub fn under(dir: &Path) -> Layers {
        Layers {
            upper: dir.join("upper"),
            work: dir.join("work"),
            root: dir.join("root"),
            etc: dir.join("etc"),
        }
    }

    /// Makes the folders, owned by `uid`:`gid` on the host: whom root inside is.
    /// (In a user namespace, root inside is an ordinary user here, and overlayfs
    /// writes into `upper` and `work` with that user's rights.)
    pub fn make(&self, uid: u32, gid: u32) -> io::Result<()> {
        for dir in [&self.upper, &self.work, &self.root, &self.etc] {
            std::fs::create_dir_all(dir)?;
            chown(dir, Some(uid), Some(gid))?;
        }
        Ok(())
    }
}

/// The files of `/etc` made for each container, as Docker does, and bound over
/// the image's: its name, the names it can resolve without a server, and the
/// servers that resolve the others.
pub const ETC_FILES: [&str; 3] = ["hostname", "hosts", "resolv.conf"];

// ANCHOR: etc_files
/// Writes the container's `/etc/hostname`, `/etc/hosts` and `/etc/resolv.conf`
/// into `layers.etc`, owned by `uid`:`gid` (root inside may change them).
pub fn write_etc_files(
    layers: &Layers,
    hostname: &str,
    address: Option<std::net::Ipv4Addr>,
    (uid, gid): (u32, u32),
) -> io::Result<()> {
    let mut hosts =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
            .to_string();
    if let Some(address) = address {
        hosts.push_str(&format!("{address}\t{hostname}\n"));
    }
    let files = [
        ("hostname", format!("{hostname}\n")),
        ("hosts", hosts),
        ("resolv.conf", resolv_conf()),
    ];
    for (name, text) in files {
        let path = layers.etc.join(name);
        std::fs::write(&path, text)?;
        chown(&path, Some(uid), Some(gid))?;
    }
    Ok(())
}
// ANCHOR_END: etc_files

/// The host's name servers, as the container can reach them. A server on the
/// host's loopback (`127.0.0.53`, systemd-resolved's stub) answers only in the
/// host's network namespace, so then we take the servers that stub itself asks
/// (`/run/systemd/resolve/resolv.conf`), as Docker does.
fn resolv_conf() -> String {
    let usable = |text: &str| {
        text.lines()
            .filter(|line| {
                let Some(server) = line.trim().strip_prefix("nameserver") else {
                    return true; // search, options: kept
                };
                let server = server.trim();
                !(server.starts_with("127.") || server == "::1")
            })
            .map(|line| format!("{line}\n"))
            .collect::<String>()
    };
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let text = usable(&host);
    if text.contains("nameserver") {
        return text;
    }
    let upstream = std::fs::read_to_string("/run/systemd/resolve/resolv.conf")
        .unwrap_or_default();
    usable(&upstream)
}

/// The device nodes the container gets, as the host's own, bound in: a user
/// namespace may not make device nodes (`mknod`), but it may bind existing ones.
pub const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The links every Linux `/dev` has: `(link, where it points)`.
pub const DEV_LINKS: [(&str, &str); 5] = [
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
];

// ANCHOR: mount
/// One `mount(2)` the child makes: `mount -t TYPE -o OPTIONS SOURCE TARGET`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    pub fs_type: String,
    pub source: String,
    pub target: PathBuf,
    /// The flags, with the names `mount(8)` gives them as options (`nosuid`, `ro`).
    pub flags: Vec<(&'static str, MsFlags)>,
    /// What the filesystem itself reads (`mode=755`, `lowerdir=…`).
    pub data: String,
}
// ANCHOR_END: mount

const NOSUID: (&str, MsFlags) = ("nosuid", MsFlags::MS_NOSUID);
const NODEV: (&str, MsFlags) = ("nodev", MsFlags::MS_NODEV);
const NOEXEC: (&str, MsFlags) = ("noexec", MsFlags::MS_NOEXEC);
const READ_ONLY: (&str, MsFlags) = ("ro", MsFlags::MS_RDONLY);
const REMOUNT: (&str, MsFlags) = ("remount", MsFlags::MS_REMOUNT);

impl Mount {
    fn new(fs_type: &str, target: PathBuf) -> Mount {
        Mount {
            fs_type: fs_type.into(),
            source: fs_type.into(),
            target,
            flags: Vec::new(),
            data: String::new(),
        }
    }

    fn flags(mut self, flags: &[(&'static str, MsFlags)]) -> Mount {
        self.flags = flags.to_vec();
        self
    }

    /// The same mount, `nodev` too (see `security::devices`).
    pub fn nodev(mut self) -> Mount {
        if !self.flags.contains(&NODEV) {
            self.flags.push(NODEV);
        }
        self
    }

    fn data(mut self, data: &str) -> Mount {
        self.data = data.into();
        self
    }

    /// An overlay's read-only layer (`lowerdir=`), if this is one.
    pub fn lower_dir(&self) -> Option<String> {
        let options = self.data.split(',');
        let lower = options
            .into_iter()
            .find_map(|o| o.strip_prefix("lowerdir="));
        lower.map(String::from)
    }

    /// Runs in the child: makes the mount point if it is missing, then mounts.
    /// A target under `root` (the folder that becomes `/`) is resolved inside it
    /// (see `security::in_root`).
    pub fn apply(&self, root: Option<&Path>) -> nix::Result<()> {
        let target = in_root::mount_point(root, &self.target, Kind::Folder)?;
        let flags = self
            .flags
            .iter()
            .fold(MsFlags::empty(), |all, (_, flag)| all | *flag);
        let data = (!self.data.is_empty()).then_some(self.data.as_str());
        mount(
            Some(self.source.as_str()),
            target.path(),
            Some(self.fs_type.as_str()),
            flags,
            data,
        )
    }
}

impl fmt::Display for Mount {
    /// `mount -t tmpfs -o nosuid,mode=755 tmpfs /dev`
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        let mut options: Vec<&str> =
            self.flags.iter().map(|(name, _)| *name).collect();
        if !self.data.is_empty() {
            options.push(&self.data);
        }
        write!(f, "mount -t {}", self.fs_type)?;
        if !options.is_empty() {
            write!(f, " -o {}", options.join(","))?;
        }
        write!(f, " {} {}", self.source, self.target.display())
    }
}

// ANCHOR: overlay
/// `mount -t overlay -o lowerdir=IMAGE,upperdir=UPPER,workdir=WORK overlay ROOT`:
/// reads come from `upper` if the container has written the file, else from the
/// image; writes always go to `upper`, copying the file up first. The image is
/// never changed, so any number of containers can share it.
///
/// An image of several layers gives several lower folders, joined by `:`, and
/// overlayfs wants the *top* one first: a file in a higher layer hides the same
/// path below it.
pub fn overlay(image: &[PathBuf], layers: &Layers) -> Mount {
    let lower: Vec<String> = image
        .iter()
        .rev()
        .map(|dir| dir.display().to_string())
        .collect();
    let data = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        layers.upper.display(),
        layers.work.display()
    );
    Mount::new("overlay", layers.root.clone()).data(&data)
}
// ANCHOR_END: overlay

// ANCHOR: kernel_filesystems
/// The kernel's filesystems, in the container's root: a fresh `/proc` for its PID
/// namespace, `/sys` read-only (its network devices are the container's own, the
/// rest is the machine's and not for it to change), and a `/dev` of a few nodes.
pub fn kernel_filesystems(root: &Path) -> Vec<Mount> {
    vec![
        Mount::new("proc", root.join("proc")).flags(&[NOSUID, NODEV, NOEXEC]),
        Mount::new("sysfs", root.join("sys"))
            .flags(&[NOSUID, NODEV, NOEXEC, READ_ONLY]),
        Mount::new("tmpfs", root.join("dev"))
            .flags(&[NOSUID, NOEXEC])
            .data("mode=755,size=64k"),
        Mount::new("devpts", root.join("dev/pts"))
            .flags(&[NOSUID, NOEXEC])
            .data("newinstance,ptmxmode=0666,mode=620"),
        Mount::new("tmpfs", root.join("dev/shm"))
            .flags(&[NOSUID, NODEV, NOEXEC])
            .data("mode=1777,size=64m"),
    ]
}
// ANCHOR_END: kernel_filesystems

/// `mount -t cgroup2 -o nosuid,nodev,noexec,ro cgroup2 TARGET`
pub fn cgroup2_read_only(target: &Path) -> Mount {
    Mount::new("cgroup2", target.to_path_buf())
        .flags(&[NOSUID, NODEV, NOEXEC, READ_ONLY])
}

/// `mount -t tmpfs -o nosuid,nodev,noexec,DATA tmpfs TARGET`
pub fn tmpfs(target: &Path, data: &str) -> Mount {
    Mount::new("tmpfs", target.to_path_buf())
        .flags(&[NOSUID, NODEV, NOEXEC])
        .data(data)
}

/// `mount -t tmpfs -o remount,ro,nosuid,nodev,noexec,DATA tmpfs TARGET`: the
/// tmpfs [`tmpfs`] mounted there, made read-only (its options again, or the
/// kernel would take them as changed).
pub fn tmpfs_read_only_again(target: &Path, data: &str) -> Mount {
    Mount::new("tmpfs", target.to_path_buf())
        .flags(&[REMOUNT, READ_ONLY, NOSUID, NODEV, NOEXEC])
        .data(data)
}

/// Runs in the child: `mount --bind FROM TO`, made read-only if asked (a bind mount
/// takes its flags only on a second, "remount", call). Makes `TO` first, a folder
/// or an empty file like `FROM`; a `TO` under `root` is resolved inside it (see
/// `security::in_root`).
pub fn bind(
    from: &Path,
    to: &Path,
    read_only: bool,
    root: Option<&Path>,
) -> nix::Result<()> {
    let kind = if from.is_dir() {
        Kind::Folder
    } else {
        Kind::File
    };
    let target = in_root::mount_point(root, to, kind)?;
    let none = None::<&str>;
    mount(
        Some(from),
        target.path(),
        none,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        none,
    )?;
    if read_only {
        // Found again: the path now leads onto the new mount, which the remount
        // must name (the handle from before names the folder under it).
        let bound = in_root::mount_point(root, to, kind)?;
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
        mount(none, bound.path(), none, flags, none)?;
    }
    Ok(())
}

/// Runs in the child: `ln -s POINTS_TO LINK` (`LINK`'s folder resolved inside
/// `root`, if under it).
pub fn link(points_to: &str, link: &Path, root: Option<&Path>) -> nix::Result<()> {
    in_root::symlink(root, points_to, link)
}

// ANCHOR: pivot_root
/// Runs in the child: makes `new_root` the root of its mount namespace, and takes
/// the old root out of it.
///
/// `pivot_root(".", ".")` is the short form (see `pivot_root(2)`): from inside the
/// new root, it puts the old root on top of the new one, at the same place. The
/// old root is then the top mount on `/`, and unmounting `/`, detached (it may be
/// busy), removes it and everything under it from the namespace. What is left is
/// the new root alone: no path, `..` included, leads out of it.
pub fn enter_root(new_root: &Path) -> nix::Result<()> {
    // ANCHOR: exercise
    chdir(new_root)?;
    pivot_root(".", ".")?;
    umount2(".", MntFlags::MNT_DETACH)?;
    chdir("/")
    // ANCHOR_END: exercise
}
// ANCHOR_END: pivot_root

// ANCHOR: chroot
/// Runs in the child: `cd NEW_ROOT; chroot .`. The process's `/` is now the new
/// tree; nothing else changes: every mount of the host is still in its mount
/// namespace, under a path it can no longer name from `/`.
pub fn change_root(new_root: &Path) -> nix::Result<()> {
    chdir(new_root)?;
    chroot(".")?;
    chdir("/")
}
// ANCHOR_END: chroot

// ANCHOR: try_escape
/// Runs in the child: the classic way out of a `chroot`, for a process with
/// `CAP_SYS_CHROOT` (root in the container has it).
///
/// The kernel stops `..` at a process's root only when the process is *at* its
/// root. So: make a folder, `chroot` into it without going in (our working folder
/// is now outside our root), climb with `..` as far as it goes, and `chroot` to
/// where we end up. After `chroot` that is the host's `/`; after `pivot_root`,
/// the container's own, since nothing is above it any more.
pub fn try_escape() -> nix::Result<()> {
    match std::fs::create_dir("/.escape") {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(io_errno(e));
        }
        _ => {}
    }
    chroot("/.escape")?;
    for _ in 0..64 {
        chdir("..")?;
    }
    chroot(".")
}
// ANCHOR_END: try_escape

/// An `io::Error` as the errno the step reports.
fn io_errno(error: io::Error) -> nix::errno::Errno {
    nix::errno::Errno::from_raw(error.raw_os_error().unwrap_or(nix::libc::EIO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mounts_read_as_mount_commands() {
        let layers = Layers::under(Path::new("/run/nsbox/box/rootfs"));
        assert_eq!(
            overlay(&["/images/busybox".into()], &layers).to_string(),
            "mount -t overlay -o lowerdir=/images/busybox,upperdir=/run/nsbox/box/\
             rootfs/upper,workdir=/run/nsbox/box/rootfs/work overlay \
             /run/nsbox/box/rootfs/root"
        );
        let two = overlay(&["/l/bottom".into(), "/l/top".into()], &layers);
        assert!(two.to_string().contains("lowerdir=/l/top:/l/bottom,"));
        let mounts = kernel_filesystems(Path::new("/r"));
        assert_eq!(
            mounts[1].to_string(),
            "mount -t sysfs -o nosuid,nodev,noexec,ro sysfs /r/sys"
        );
        assert_eq!(
            mounts[2].to_string(),
            "mount -t tmpfs -o nosuid,noexec,mode=755,size=64k tmpfs /r/dev"
        );
    }
}
