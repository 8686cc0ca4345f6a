//! Slices of a pool of host ids, one per container (`nsbox run --userns=auto`).
//!
//! A container whose root is an ordinary, unused range of host ids cannot do
//! anything to the host's files that "nobody" could not: that is the point of
//! `--userns=auto`. The pool is the range `/etc/subuid` and `/etc/subgid` give the
//! runtime (the face reads them); here it is cut into slices of [`SLICE`] ids, and
//! each container takes one nobody else holds, so no two containers share an id
//! either.
//!
//! Who holds which slice is written in one file, `<state root>/userns/slices`, one
//! line a slice (`UID_START GID_START COUNT HOLDER`), read and written under
//! `flock(2)`, like the network's address leases: a slice is held while its
//! holder's state folder exists, so one left behind by a starter killed before its
//! `delete` is free again once `delete` (or `rm -r`) has removed the folder.

use super::net::state_files::{open_locked, remove_state_file};
use super::user::{IdMaps, IdRange};
use super::{ContainerId, Error};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// How many ids a container gets: 65536, the whole range a 16-bit uid had, so
/// that every id an image may use (`nobody` is 65534) is mapped. (podman's
/// `--userns=auto` sizes the slice from the ids the image's files use, at least
/// 1024; a fixed slice is simpler and never too small.)
pub const SLICE: u32 = 65536;

/// One range of a pool: `START:COUNT` as `/etc/subuid` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubIds {
    pub start: u32,
    pub count: u32,
}

/// The host ids the runtime may hand out: its `/etc/subuid` and `/etc/subgid`
/// ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdPool {
    pub uids: Vec<SubIds>,
    pub gids: Vec<SubIds>,
}

/// One container's slice: `0 UID SLICE` and `0 GID SLICE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slice {
    pub uid: u32,
    pub gid: u32,
}

impl Slice {
    /// Root inside is the slice's first id; the slice maps ids 0..65536.
    pub fn maps(&self) -> IdMaps {
        let range = |outside| IdRange {
            inside: 0,
            outside,
            count: SLICE,
        };
        IdMaps {
            uids: vec![range(self.uid)],
            gids: vec![range(self.gid)],
        }
    }
}

impl IdPool {
    /// Every slice the pool holds, in order: the n-th uid slice goes with the n-th
    /// gid slice.
    pub fn slices(&self) -> Vec<Slice> {
        let cut = |ranges: &[SubIds]| -> Vec<u32> {
            ranges
                .iter()
                .flat_map(|r| {
                    let whole = r.count / SLICE;
                    (0..whole).filter_map(move |n| r.start.checked_add(n * SLICE))
                })
                .filter(|start| start.checked_add(SLICE).is_some())
                .collect()
        };
        let (uids, gids) = (cut(&self.uids), cut(&self.gids));
        uids.into_iter()
            .zip(gids)
            .map(|(uid, gid)| Slice { uid, gid })
            .collect()
    }
}

/// The file of who holds what, under the state root.
pub fn slices_file(root: &Path) -> PathBuf {
    root.join("userns").join("slices")
}

/// One line of the file.
struct Held {
    slice: Slice,
    holder: String,
}

/// Takes a slice of `pool` nobody under `root` holds, for `id`.
pub fn take(root: &Path, pool: &IdPool, id: &ContainerId) -> Result<Slice, Error> {
    let path = slices_file(root);
    let failed = |doing: &str| Error::state(format!("{doing} {}", path.display()));
    let mut file = open_locked(&path).map_err(failed("opening"))?;
    let mut held = read(&mut file).map_err(failed("reading"))?;
    // A slice whose holder's folder is gone is free again (see the top).
    held.retain(|h| root.join(&h.holder).is_dir());
    let all = pool.slices();
    let free = all
        .iter()
        .find(|slice| !held.iter().any(|h| h.slice.uid == slice.uid));
    let Some(&slice) = free else {
        let _ = write(&mut file, &held);
        return Err(Error::NoFreeIds { slices: all.len() });
    };
    held.push(Held {
        slice,
        holder: id.to_string(),
    });
    write(&mut file, &held).map_err(failed("writing"))?;
    Ok(slice)
}

/// Gives back every slice `id` holds under `root` (`delete` calls it), and removes
/// the file (and its folder) when no slice is held any more.
pub fn give_back(root: &Path, id: &ContainerId) -> Result<(), Error> {
    let path = slices_file(root);
    if !path.exists() {
        return Ok(());
    }
    let failed = |doing: &str| Error::state(format!("{doing} {}", path.display()));
    let mut file = open_locked(&path).map_err(failed("opening"))?;
    let mut held = read(&mut file).map_err(failed("reading"))?;
    held.retain(|h| h.holder != id.as_str() && root.join(&h.holder).is_dir());
    if held.is_empty() {
        // Still under the lock: a `take` waiting for it sees the file is gone and
        // opens a new one (see `open_locked`).
        remove_state_file(&path).map_err(failed("rm"))?;
        return Ok(());
    }
    write(&mut file, &held).map_err(failed("writing"))
}

fn read(file: &mut std::fs::File) -> std::io::Result<Vec<Held>> {
    let mut text = String::new();
    file.rewind()?;
    file.read_to_string(&mut text)?;
    let held = text
        .lines()
        .filter_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            let [uid, gid, _count, holder] = words.as_slice() else {
                return None;
            };
            Some(Held {
                slice: Slice {
                    uid: uid.parse().ok()?,
                    gid: gid.parse().ok()?,
                },
                holder: holder.to_string(),
            })
        })
        .collect();
    Ok(held)
}

fn write(file: &mut std::fs::File, held: &[Held]) -> std::io::Result<()> {
    let text: String = held
        .iter()
        .map(|h| format!("{} {} {SLICE} {}\n", h.slice.uid, h.slice.gid, h.holder))
        .collect();
    file.rewind()?;
    file.set_len(0)?;
    file.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pool_is_cut_in_whole_slices() {
        let pool = IdPool {
            uids: vec![SubIds {
                start: 100000,
                count: 3 * SLICE + 5,
            }],
            gids: vec![
                SubIds {
                    start: 200000,
                    count: SLICE,
                },
                SubIds {
                    start: 500000,
                    count: 2 * SLICE,
                },
            ],
        };
        let slices = pool.slices();
        assert_eq!(slices.len(), 3);
        assert_eq!(
            slices[1],
            Slice {
                uid: 100000 + SLICE,
                gid: 500000
            }
        );
        assert_eq!(slices[0].maps().uids[0].to_string(), "0 100000 65536");
    }
}
