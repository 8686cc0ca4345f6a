//! The whole life of a container in one call, as the lessons use it: create,
//! start, wait, delete (see [`super::lifecycle`]).

use super::describe::report_usage;
use super::exit::Ending;
use super::lifecycle;
use super::{Container, Error, Narrator};
use std::path::Path;

// ANCHOR: run
/// Runs `container` to the end and returns how its command ended. Its state folder
/// is `<root>/<id>/` while it exists.
pub fn run(
    container: &Container,
    root: &Path,
    narrator: &Narrator,
) -> Result<Ending, Error> {
    let mut created = lifecycle::create(container, root, narrator)?;
    let result = lifecycle::start(&mut created, narrator)
        .and_then(|()| lifecycle::wait(&mut created, narrator));
    if let (Ok(ending), Some(usage)) = (&result, created.usage()) {
        report_usage(*ending, usage, container, narrator);
    }
    // Whatever happened, remove what create made (delete tells what fails).
    let _ = lifecycle::delete(root, &container.id, narrator);
    result
}
// ANCHOR_END: run
