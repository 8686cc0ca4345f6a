//! The runtime's containers: finding one by id, name or id prefix, listing them,
//! and the names they go by.
//!
//! Everything about a container is in its state folder, `<root>/<id>/`: the
//! library's record (`state.json`, with the runtime's notes in its annotations),
//! the log, the exit code. A name is a symbolic link `<root>/names/<name>` to the
//! id: making a link fails if the name exists, so two `nsbox run --name web` at
//! once cannot both get it.

use crate::container::state::State;
use crate::container::{ContainerId, lifecycle};
use std::io;
use std::path::{Path, PathBuf};

/// The folder of the name links, under the state root.
pub const NAMES: &str = "names";

/// The annotations the runtime writes in the record.
pub mod note {
    pub const NAME: &str = "nsbox.name";
    pub const IMAGE: &str = "nsbox.image";
    pub const IMAGE_NAME: &str = "nsbox.image.name";
    pub const COMMAND: &str = "nsbox.command";
    pub const CREATED: &str = "nsbox.created";
    pub const PORTS: &str = "nsbox.ports";
    pub const REMOVE: &str = "nsbox.rm";
    pub const WORKDIR: &str = "nsbox.workdir";
}

/// The files the monitor keeps beside the record.
pub const LOG: &str = "container.log";
pub const EXIT_CODE: &str = "exit-code";
pub const MONITOR_LOCK: &str = "monitor.lock";

/// Why a container could not be found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no container '{0}' (nsbox ps -a lists them)")]
    NotFound(String),
    #[error("'{0}' is the start of more than one container's id; give more of it")]
    Ambiguous(String),
}

/// The container `text` names: its name, its id, or the start of one id.
pub fn find(root: &Path, text: &str) -> Result<ContainerId, FindError> {
    let not_found = || FindError::NotFound(text.to_string());
    if let Ok(target) = std::fs::read_link(root.join(NAMES).join(text)) {
        let id = target.to_string_lossy().into_owned();
        return ContainerId::new(&id).map_err(|_| not_found());
    }
    let ids = ids(root);
    if ids.iter().any(|id| id.as_str() == text) {
        return ContainerId::new(text).map_err(|_| not_found());
    }
    let mut starting: Vec<&ContainerId> = ids
        .iter()
        .filter(|id| id.as_str().starts_with(text))
        .collect();
    match starting.len() {
        1 if !text.is_empty() => Ok(starting.remove(0).clone()),
        0 => Err(not_found()),
        _ => Err(FindError::Ambiguous(text.to_string())),
    }
}

/// The ids of every container under `root` (folders with a record), oldest first.
pub fn ids(root: &Path) -> Vec<ContainerId> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<(std::time::SystemTime, ContainerId)> = entries
        .flatten()
        .filter(|entry| entry.path().join("state.json").is_file())
        .filter_map(|entry| {
            let id = ContainerId::new(&entry.file_name().to_string_lossy()).ok()?;
            let made = entry.metadata().and_then(|m| m.modified()).ok()?;
            Some((made, id))
        })
        .collect();
    found.sort();
    found.into_iter().map(|(_, id)| id).collect()
}

/// One container, as `ps` and `inspect` show it.
pub struct Listed {
    pub id: ContainerId,
    pub state: State,
    /// Its exit code, once its monitor has written it.
    pub exit_code: Option<i32>,
    /// When it ended (the exit code file's time).
    pub finished: Option<std::time::SystemTime>,
}

impl Listed {
    pub fn read(root: &Path, id: &ContainerId) -> Option<Listed> {
        let state = lifecycle::state(root, id).ok()?;
        let exit_file = root.join(id.as_str()).join(EXIT_CODE);
        let exit_code = std::fs::read_to_string(&exit_file)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        let finished = std::fs::metadata(&exit_file)
            .and_then(|m| m.modified())
            .ok();
        Some(Listed {
            id: id.clone(),
            state,
            exit_code,
            finished,
        })
    }

    /// One of the runtime's notes, or "".
    pub fn note(&self, key: &str) -> &str {
        self.state.annotations.get(key).map_or("", String::as_str)
    }

    /// Its name, or its id if it has none.
    pub fn name(&self) -> &str {
        match self.note(note::NAME) {
            "" => self.id.as_str(),
            name => name,
        }
    }
}

/// Takes `name` for `id`: fails if another container has it.
pub fn claim_name(root: &Path, name: &str, id: &ContainerId) -> io::Result<()> {
    let names = root.join(NAMES);
    std::fs::create_dir_all(&names)?;
    std::os::unix::fs::symlink(id.as_str(), names.join(name))
}

/// Gives `name` back (if it is still `id`'s), and removes the names folder, and
/// the root, when that leaves them empty.
pub fn release_name(root: &Path, name: &str, id: &ContainerId) {
    let link = root.join(NAMES).join(name);
    if std::fs::read_link(&link).is_ok_and(|target| target == Path::new(id.as_str()))
    {
        let _ = std::fs::remove_file(&link);
    }
    let _ = std::fs::remove_dir(root.join(NAMES));
    let _ = std::fs::remove_dir(root);
}

/// The container's state folder.
pub fn folder(root: &Path, id: &ContainerId) -> PathBuf {
    root.join(id.as_str())
}
