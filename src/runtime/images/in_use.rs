//! Which containers use an image: the runtime writes the image's id in each
//! container's record (`<root>/<id>/state.json`, annotation `nsbox.image`). We
//! only read those records.

use super::ImageError;
use std::io;
use std::path::Path;

/// The annotation that names a container's image (its config digest).
pub const IMAGE_ANNOTATION: &str = "nsbox.image";

/// The ids of the containers under `state_root` whose record names `image_id`,
/// running or not (a stopped container can start again, so it still needs its
/// image, as docker says too).
pub fn containers_using(
    state_root: &Path,
    image_id: &str,
) -> Result<Vec<String>, ImageError> {
    let failed = |source| ImageError::Containers {
        dir: state_root.to_path_buf(),
        source,
    };
    let folders = match std::fs::read_dir(state_root) {
        Ok(folders) => folders,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(failed(e)),
    };
    let mut users = Vec::new();
    for folder in folders {
        let folder = folder.map_err(failed)?;
        if record_names_image(&folder.path().join("state.json"), image_id) {
            users.push(folder.file_name().to_string_lossy().into_owned());
        }
    }
    users.sort();
    Ok(users)
}

/// Whether a container's record names the image. A folder without a readable
/// record (the network's `net/`, a container still being made) does not.
fn record_names_image(record: &Path, image_id: &str) -> bool {
    let Ok(text) = std::fs::read_to_string(record) else {
        return false;
    };
    let Ok(state) = serde_json::from_str::<serde_json::Value>(&text) else {
        return false;
    };
    state["annotations"][IMAGE_ANNOTATION].as_str() == Some(image_id)
}
