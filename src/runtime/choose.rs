//! Which image `nsbox run` uses, and which command it runs in it.
//!
//! `nsbox run [IMAGE] [COMMAND…]`: the first word is an image if one by that name
//! is in the store, or if it is `busybox` (the image lesson 08 builds from the
//! host's busybox, which needs no network). Otherwise all the words are the command,
//! run in that built-in busybox image.

use super::{Global, images};
use crate::container::image::{self, Owner};
use crate::container::security::in_root;
use std::path::{Path, PathBuf};

/// The name of the image built from the host's busybox.
pub const BUILT_IN: &str = "busybox";

/// An image, as `run` uses it.
#[derive(Clone, Debug, Default)]
pub struct Image {
    /// The name it was asked by.
    pub name: String,
    /// Its id: the digest of its config (`builtin` for the built-in one).
    pub id: String,
    /// Its layers, bottom first.
    pub layers: Vec<PathBuf>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub workdir: Option<PathBuf>,
    pub user: Option<String>,
}

/// The image and the command `words` ask for.
pub fn image_and_command(
    global: &Global,
    words: &[String],
) -> Result<(Image, Vec<String>), String> {
    if let Some(option) = words.first().filter(|w| w.starts_with('-')) {
        return Err(format!(
            "unknown option '{option}' (nsbox run --help lists them)"
        ));
    }
    let (image, asked) = match words.first() {
        Some(first) => match pulled(global, first)? {
            Some(image) => (image, &words[1..]),
            None if first == BUILT_IN => (built_in(global)?, &words[1..]),
            None if looks_like_an_image(first) => {
                return Err(format!(
                    "no image '{first}' here: nsbox pull {first} first (nsbox images \
                     lists the ones here)"
                ));
            }
            None => (built_in(global)?, words),
        },
        None => (built_in(global)?, words),
    };
    let command = command(&image, asked);
    if command.is_empty() {
        return Err(format!(
            "the image '{}' names no command: give one after it",
            image.name
        ));
    }
    Ok((image, command))
}

/// The image's entrypoint, then the command asked for or else the image's own.
fn command(image: &Image, asked: &[String]) -> Vec<String> {
    let rest = if asked.is_empty() { &image.cmd } else { asked };
    image.entrypoint.iter().chain(rest).cloned().collect()
}

/// `registry:5000/x`, `x:tag`, `x@sha256:…`: a command never looks like that.
fn looks_like_an_image(word: &str) -> bool {
    !word.starts_with('/') && word.contains(['/', ':', '@'])
}

/// A pulled image by that name (or id), if there is one.
fn pulled(global: &Global, name: &str) -> Result<Option<Image>, String> {
    let store = images::Store::open(&global.storage);
    let Ok(Some(image)) = store.resolve(name) else {
        // A word that is no image name at all is a command: not an error here.
        return Ok(None);
    };
    let config = image.config;
    Ok(Some(Image {
        name: name.to_string(),
        id: image.id,
        layers: image.layers,
        entrypoint: config.entrypoint,
        cmd: config.cmd,
        env: config.env,
        workdir: config.working_dir.map(PathBuf::from),
        user: config.user.filter(|user| !user.is_empty()),
    }))
}

/// Lesson 08's busybox image, built in the store the first time.
fn built_in(global: &Global) -> Result<Image, String> {
    let images = global.storage.join("builtin");
    let busybox = Path::new(image::HOST_BUSYBOX);
    let root = Owner { uid: 0, gid: 0 };
    let layer = image::busybox_image(&images, busybox, root)
        .map_err(|error| format!("the built-in busybox image: {error}"))?;
    Ok(Image {
        name: BUILT_IN.to_string(),
        id: "builtin".to_string(),
        layers: vec![layer],
        cmd: vec!["sh".to_string()],
        ..Image::default()
    })
}

// ANCHOR: user_in
/// `UID[:GID]`, or a user (and group) name looked up in the image's `/etc/passwd`
/// and `/etc/group`: a name means nothing outside the image that defines it.
pub fn user_in(layers: &[PathBuf], user: &str) -> Result<(u32, u32), String> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((user, group)) => (user, Some(group)),
        None => (user, None),
    };
    let passwd = top_file(layers, "etc/passwd");
    let (uid, primary_gid) = match user_part.parse::<u32>() {
        Ok(uid) => (uid, lookup(&passwd, 2, uid).unwrap_or(uid)),
        Err(_) => by_name(&passwd, user_part).ok_or_else(|| {
            format!("no user '{user_part}' in the image's /etc/passwd")
        })?,
    };
    let gid = match group_part {
        None => primary_gid,
        Some(group) => match group.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => by_name(&top_file(layers, "etc/group"), group)
                .map(|(gid, _)| gid)
                .ok_or_else(|| {
                    format!("no group '{group}' in the image's /etc/group")
                })?,
        },
    };
    Ok((uid, gid))
}
// ANCHOR_END: user_in

/// The file as the container will see it: from the highest layer that has it,
/// each layer read as a root of its own (a link in the image never leads to a
/// file of the host's).
fn top_file(layers: &[PathBuf], path: &str) -> String {
    layers
        .iter()
        .rev()
        .find_map(|layer| in_root::read_to_string(layer, Path::new(path)).ok())
        .unwrap_or_default()
}

/// `name:x:UID:GID:…` → (UID, GID) for `name` (`/etc/group`: `name:x:GID:…`).
fn by_name(file: &str, name: &str) -> Option<(u32, u32)> {
    let fields: Vec<&str> = file
        .lines()
        .find(|l| l.split(':').next() == Some(name))?
        .split(':')
        .collect();
    let first = fields.get(2)?.parse().ok()?;
    let second = fields.get(3).and_then(|g| g.parse().ok()).unwrap_or(first);
    Some((first, second))
}

/// The GID (field `field` + 1) of the passwd line whose UID is `uid`.
fn lookup(file: &str, field: usize, uid: u32) -> Option<u32> {
    file.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(field)?.parse::<u32>().ok()? == uid)
            .then(|| fields.get(field + 1)?.parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own under the system's temporary folder.
    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir()
            .join(format!("nsbox-choose-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn users_come_from_the_image_never_through_a_link_out_of_it() {
        let dir = scratch("passwd");
        let host_file = dir.join("host-passwd");
        std::fs::write(&host_file, "ghost:x:4242:4343::/:/bin/sh\n").unwrap();
        let layer = dir.join("layer");
        std::fs::create_dir_all(layer.join("etc")).unwrap();
        // An absolute link, and one that climbs: both stay in the layer.
        std::os::unix::fs::symlink(&host_file, layer.join("etc/passwd")).unwrap();
        let climbing = format!("../../../../../..{}", host_file.display());
        std::os::unix::fs::symlink(&climbing, layer.join("etc/group")).unwrap();
        let layers = [layer.clone()];
        assert!(user_in(&layers, "ghost").is_err());
        assert!(user_in(&layers, "0:ghost").is_err());
        // The same line, in the image itself, is found.
        std::fs::remove_file(layer.join("etc/passwd")).unwrap();
        std::fs::write(layer.join("etc/passwd"), "ghost:x:4242:4343::/:/bin/sh\n")
            .unwrap();
        assert_eq!(user_in(&layers, "ghost"), Ok((4242, 4343)));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
