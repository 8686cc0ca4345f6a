//! The built-in image: a root filesystem made from the host's statically linked
//! busybox, so a container has files of its own without any network.
//!
//! busybox is one program that is 300 others: called as `ls` it lists, called as
//! `sh` it is a shell. An image of it is a handful of folders, the busybox binary,
//! a symbolic link per program, and the few files in `/etc` that programs expect.
//! It must be *statically* linked: inside the container there is no
//! `/lib/x86_64-linux-gnu/libc.so.6` for a dynamic program's loader to find.
//!
//! The image is built once, into a temporary folder renamed into place when
//! complete (a rename is atomic: another lesson sees no image or a whole one), and
//! built again when it is missing. It belongs to the user that root inside the
//! container is on the host, so that root can change its files (see [`build`]).

use super::Error;
use std::io::{self, Read};
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder under the state root where images are kept (a name no container
/// may take, see `id.rs`).
pub const IMAGES: &str = "images";

/// Where Debian's and Ubuntu's `busybox-static` package puts busybox.
pub const HOST_BUSYBOX: &str = "/bin/busybox";

/// The folders every image has; `/tmp` may be written by anyone.
const FOLDERS: [&str; 14] = [
    "bin", "dev", "etc", "home", "proc", "root", "run", "sbin", "sys", "tmp",
    "usr/bin", "usr/sbin", "var", "var/tmp",
];

/// Who owns the image's files on the host: the user and group that root in the
/// container is mapped to (0 and 0 without a user namespace).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    pub uid: u32,
    pub gid: u32,
}

// ANCHOR: busybox_image
/// The busybox image under `images` for `owner`, built first if it is missing:
/// `images/busybox-<uid>`.
pub fn busybox_image(
    images: &Path,
    busybox: &Path,
    owner: Owner,
) -> Result<PathBuf, Error> {
    let image = images.join(format!("busybox-{}", owner.uid));
    if image.join("bin/busybox").exists() {
        return Ok(image);
    }
    check_static(busybox)?;
    let building = images.join(format!(".busybox-{}.{}", owner.uid, unique()));
    let failed =
        |doing: &str| Error::image(format!("{doing} in {}", building.display()));
    std::fs::create_dir_all(&building).map_err(failed("mkdir"))?;
    let built = build(&building, busybox, owner);
    if let Err(error) = built {
        let _ = std::fs::remove_dir_all(&building);
        return Err(error);
    }
    // Another lesson may have built it meanwhile: then theirs stays, ours goes.
    if std::fs::rename(&building, &image).is_err() {
        let _ = std::fs::remove_dir_all(&building);
    }
    Ok(image)
}
// ANCHOR_END: busybox_image

// ANCHOR: from_tar
/// An image from a `.tar`, `.tar.gz` or `.tgz` of a root filesystem (what
/// `mmdebstrap` makes, or `docker export`), unpacked once under `images` with
/// `tar(1)`, for `owner` (see [`build`] for why), and unpacked again when the
/// archive is newer than what was unpacked.
pub fn from_tar(
    images: &Path,
    archive: &Path,
    owner: Owner,
) -> Result<PathBuf, Error> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .map(|n| n.trim_end_matches(".gz").trim_end_matches(".tgz"))
        .map(|n| n.trim_end_matches(".tar"))
        .unwrap_or("rootfs");
    let image = images.join(format!("{name}-{}", owner.uid));
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified());
    let archive_time = modified(archive)
        .map_err(Error::image(format!("stat {}", archive.display())))?;
    if modified(&image).is_ok_and(|unpacked| unpacked >= archive_time) {
        return Ok(image);
    }
    let unpacking = images.join(format!(".{name}-{}.{}", owner.uid, unique()));
    let failed = |doing: String| Error::image(doing);
    std::fs::create_dir_all(&unpacking)
        .map_err(failed(format!("mkdir {}", unpacking.display())))?;
    let result = unpack(archive, &unpacking, owner);
    if let Err(error) = result {
        let _ = std::fs::remove_dir_all(&unpacking);
        return Err(error);
    }
    let _ = std::fs::remove_dir_all(&image); // an older unpacking
    if std::fs::rename(&unpacking, &image).is_err() {
        let _ = std::fs::remove_dir_all(&unpacking);
    }
    Ok(image)
}
// ANCHOR_END: from_tar

/// Is this path an archive [`from_tar`] unpacks?
pub fn is_archive(path: &Path) -> bool {
    let name = path.to_string_lossy();
    [".tar", ".tar.gz", ".tgz"]
        .iter()
        .any(|end| name.ends_with(end))
}

/// `tar -xf ARCHIVE -C DIR --no-same-owner` (`-xzf` for a gzipped one: GNU tar
/// would notice by itself, busybox's does not), then every file given to `owner`.
fn unpack(archive: &Path, dir: &Path, owner: Owner) -> Result<(), Error> {
    let name = archive.to_string_lossy();
    let extract = if name.ends_with(".gz") || name.ends_with(".tgz") {
        "-xzf"
    } else {
        "-xf"
    };
    let doing = format!("tar {extract} {} -C {}", archive.display(), dir.display());
    let out = Command::new("tar")
        .arg(extract)
        .arg(archive)
        .arg("-C")
        .arg(dir)
        .arg("--no-same-owner")
        .output()
        .map_err(Error::image(doing.clone()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(Error::image(doing)(io::Error::other(said)));
    }
    give_to(dir, owner).map_err(Error::image(format!("chown -R {}", dir.display())))
}

// ANCHOR: build
/// Fills `dir`: the folders, busybox, a link per program it contains (`busybox
/// --list-full` names them with their folder: `bin/ls`, `usr/bin/awk`), and
/// `/etc/passwd`, `/etc/group`. Then gives every file to `owner`.
///
/// Why the owner matters: with a user namespace, root inside is an ordinary user
/// on the host, and host root's files are owned, inside, by nobody (65534). The
/// container could read them, but not change them: overlayfs copies a file up
/// before its first change, keeping its owner, and root inside cannot make a file
/// owned by an id that has no name in its namespace.
fn build(dir: &Path, busybox: &Path, owner: Owner) -> Result<(), Error> {
    let failed = |doing: String| Error::image(doing);
    for folder in FOLDERS {
        std::fs::create_dir_all(dir.join(folder))
            .map_err(failed(format!("mkdir {folder}")))?;
    }
    set_mode(&dir.join("tmp"), 0o1777).map_err(failed("chmod 1777 tmp".into()))?;
    set_mode(&dir.join("root"), 0o700).map_err(failed("chmod 700 root".into()))?;
    std::fs::copy(busybox, dir.join("bin/busybox"))
        .map_err(failed(format!("cp {}", busybox.display())))?;
    for program in programs_in(busybox)? {
        if program == "bin/busybox" {
            continue;
        }
        let link = dir.join(&program);
        symlink("/bin/busybox", &link)
            .map_err(failed(format!("ln -s {program}")))?;
    }
    std::fs::write(dir.join("etc/passwd"), PASSWD)
        .map_err(failed("etc/passwd".into()))?;
    std::fs::write(dir.join("etc/group"), GROUP)
        .map_err(failed("etc/group".into()))?;
    give_to(dir, owner)
        .map_err(failed(format!("chown -R {}:{}", owner.uid, owner.gid)))
}
// ANCHOR_END: build

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
                      nobody:x:65534:65534:nobody:/home:/bin/false\n";
const GROUP: &str = "root:x:0:\nnogroup:x:65534:\n";

/// The programs busybox contains, with their folders (`bin/ls`).
fn programs_in(busybox: &Path) -> Result<Vec<String>, Error> {
    let listing = Command::new(busybox)
        .arg("--list-full")
        .output()
        .map_err(Error::image(format!("{} --list-full", busybox.display())))?;
    let text = String::from_utf8_lossy(&listing.stdout);
    let programs: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|line| is_plain_relative(line))
        .map(String::from)
        .collect();
    if programs.is_empty() {
        return Err(Error::image(format!("{} --list-full", busybox.display()))(
            io::Error::other("it listed no programs"),
        ));
    }
    Ok(programs)
}

/// `usr/bin/awk` yes; `/etc/passwd`, `../x` or an empty line no: busybox only
/// names where its programs go, but we check before we write.
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !part.is_empty() && part != ".." && part != ".")
}

// ANCHOR: check_static
/// Is `program` statically linked? A dynamically linked ELF program names its
/// loader (`/lib64/ld-linux-x86-64.so.2`) in a program header of type `PT_INTERP`;
/// a static one has none. We read the headers ourselves: 64 bytes of ELF header say
/// where the program headers are, and each is 56 bytes, its type first.
fn check_static(program: &Path) -> Result<(), Error> {
    let not_usable = |why: &str| {
        Error::image(format!(
            "{} cannot be the image's busybox",
            program.display()
        ))(io::Error::other(why.to_string()))
    };
    let mut bytes = Vec::new();
    std::fs::File::open(program)
        .and_then(|f| f.take(1 << 20).read_to_end(&mut bytes))
        .map_err(Error::image(format!("reading {}", program.display())))?;
    match has_interpreter(&bytes) {
        None => Err(not_usable("it is not a 64-bit ELF program")),
        Some(true) => Err(not_usable(
            "it is dynamically linked, and the image has no libraries for it",
        )),
        Some(false) => Ok(()),
    }
}

/// `Some(true)` if the ELF program in `bytes` has a `PT_INTERP` header; `None` if
/// it is not a little-endian 64-bit ELF file.
fn has_interpreter(bytes: &[u8]) -> Option<bool> {
    const PT_INTERP: u32 = 3;
    if bytes.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |at: usize| {
        Some(u16::from_le_bytes(bytes.get(at..at + 2)?.try_into().ok()?))
    };
    let u32_at = |at: usize| {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let u64_at = |at: usize| {
        Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let headers_at = usize::try_from(u64_at(0x20)?).ok()?; // e_phoff
    let header_size = usize::from(u16_at(0x36)?); // e_phentsize
    let count = usize::from(u16_at(0x38)?); // e_phnum
    let mut types = (0..count).map(|i| u32_at(headers_at + i * header_size));
    Some(types.any(|kind| kind == Some(PT_INTERP)))
}
// ANCHOR_END: check_static

/// A name no other build uses at the same time: our pid, and a count for builds
/// in several threads of one process.
fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static BUILDS: AtomicU32 = AtomicU32::new(0);
    let n = BUILDS.fetch_add(1, Ordering::Relaxed);
    format!("{}.{n}", std::process::id())
}

fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// `chown -R -h`: every file and folder under `dir`, links themselves included.
fn give_to(dir: &Path, owner: Owner) -> io::Result<()> {
    let (uid, gid) = (Some(owner.uid.into()), Some(owner.gid.into()));
    let chown = |path: &Path| {
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            path,
            uid,
            gid,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(io::Error::from)
    };
    chown(dir)?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            give_to(&entry.path(), owner)?;
        } else {
            chown(&entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_static_from_dynamic() {
        let bytes = std::fs::read(HOST_BUSYBOX).unwrap_or_else(|e| {
            panic!("{HOST_BUSYBOX}: {e}: sudo apt-get install busybox-static")
        });
        assert_eq!(has_interpreter(&bytes), Some(false), "busybox-static");
        // util-linux's unshare: dynamically linked wherever the tests run (in the
        // test VM, /bin/ls is busybox, static).
        let unshare = ["/usr/bin/unshare", "/bin/unshare"]
            .iter()
            .find_map(|path| std::fs::read(path).ok())
            .expect("unshare(1), from util-linux");
        assert_eq!(has_interpreter(&unshare), Some(true), "unshare is dynamic");
        assert_eq!(has_interpreter(b"#!/bin/sh\n"), None);
    }

    #[test]
    fn only_plain_relative_paths_become_links() {
        assert!(is_plain_relative("usr/bin/awk"));
        for bad in ["", "/bin/sh", "../etc/passwd", "bin//sh", "bin/./sh"] {
            assert!(!is_plain_relative(bad), "{bad:?}");
        }
    }
}
