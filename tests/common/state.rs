//! The state records a killed lesson leaves: a lesson's container is named after
//! the lesson's pid, and its record stays in /run/nsbox until `delete` removes it,
//! as after any crash of a runtime's starter.

use nix::unistd::Pid;
use nsbox::container::state::DEFAULT_ROOT;
use nsbox::container::{ContainerId, Narrator, lifecycle};
use std::path::Path;

/// Deletes the containers of these lessons (process group leaders: a lesson's pid)
/// that they could not delete themselves, because the test killed them.
pub fn delete_left_records(lessons: &[Pid]) {
    let root = Path::new(DEFAULT_ROOT);
    let narrator = Narrator::new("test", true);
    for lesson in lessons {
        let Ok(id) = ContainerId::new(&lesson.to_string()) else {
            continue;
        };
        if root.join(id.as_str()).exists() {
            let _ = lifecycle::delete(root, &id, &narrator);
        }
    }
}
