//! The files the network keeps under the state directory (`<state>/net/`): the
//! address leases and the saved `ip_forward` value. Both are read and written by
//! several lesson binaries at once, so each is opened locked.

use std::fs::File;
use std::io;
use std::path::Path;

// ANCHOR: open_locked
/// Opens (creating it and its folders if needed) and locks a state file with
/// `flock(2)`.
///
/// Surprise: whoever held the lock before us may have deleted the file (the last
/// lease gone) while we waited. We would then hold a lock on a file nobody else can
/// find any more, so we check that the path still names the file we locked, and
/// start again if not. (Its folder may vanish too, between our `mkdir` and `open`:
/// then we also start again.)
pub fn open_locked(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    loop {
        std::fs::create_dir_all(path.parent().unwrap())?;
        let opened = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path);
        let file = match opened {
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            other => other?,
        };
        #[allow(deprecated)]
        // nix's newer Flock type takes the file by value; this is plainer
        nix::fcntl::flock(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            nix::fcntl::FlockArg::LockExclusive,
        )?;
        let locked = file.metadata()?.ino();
        if std::fs::metadata(path).is_ok_and(|now| now.ino() == locked) {
            return Ok(file);
        }
    }
}
// ANCHOR_END: open_locked

/// Removes a state file, then `<state>/net/` and `<state>/` if that left them empty,
/// so a machine with no container running keeps nothing of ours.
pub fn remove_state_file(path: &Path) -> io::Result<()> {
    std::fs::remove_file(path)?;
    let net_dir = path.parent().unwrap();
    let _ = std::fs::remove_dir(net_dir)
        .and_then(|_| std::fs::remove_dir(net_dir.parent().unwrap()));
    Ok(())
}
