//! Files the tests write inside the repository belong to its owner, not to root.

use std::path::Path;

/// A path inside the repository, as the student would type it from there.
pub fn in_repository(path: &Path) -> String {
    let relative = path
        .strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path);
    relative.display().to_string()
}

/// The owner of the repository (the clone's user), as (uid, gid).
fn repository_owner() -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(env!("CARGO_MANIFEST_DIR")).unwrap();
    (meta.uid(), meta.gid())
}

/// Gives a file the tests wrote inside the repository (or its `target/`) to the
/// repository's owner, so that a student can change or delete it, and `cargo clean`
/// works.
pub fn give_to_repository_owner(path: &Path) {
    let (uid, gid) = repository_owner();
    let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
}

/// Gives every file of a directory that is not its owner's to that owner.
pub fn give_files_to_repository_owner(dir: &Path) {
    use std::os::unix::fs::MetadataExt;
    let (uid, _) = repository_owner();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.metadata().is_ok_and(|m| m.uid() != uid) {
            give_to_repository_owner(&entry.path());
        }
    }
}
