//! `create`: everything the container needs, made from the outside, and its
//! process waiting at the door for `start`.

use super::{Created, Resources, stop};
use crate::container::cgroup::{self, Cgroup};
use crate::container::describe::{
    describe_new_namespaces, narrate_child, narrate_plan,
};
use crate::container::net::{self, Attachment};
use crate::container::rootfs::{self, Layers};
use crate::container::security::Recorded;
use crate::container::signals::{self, SignalInbox};
use crate::container::state::{self, NetworkRecord, State, StateDir, Status};
use crate::container::{
    Container, Error, Namespace, Narrator, child, id_slices, idmap, privileges,
    shifted_copy, spawn, user,
};
use nix::errno::Errno;
use nix::sys::signal::SigSet;
use nix::unistd::Pid;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

// ANCHOR: create
/// Checks the container, claims its id under `root`, makes its cgroup, leases its
/// address, clones its process and prepares it from outside. The process then
/// waits for [`super::start()`]. If anything fails, whatever was made is removed
/// again (by [`super::delete()`], from the record).
pub fn create(
    container: &Container,
    root: &Path,
    narrator: &Narrator,
) -> Result<Created, Error> {
    container.validate()?;
    privileges::check(narrator.program(), container)?;
    let container = with_network_root(container, root);
    let dir = StateDir::claim(root, &container.id)?;
    let mut record = State::new(&container.id);
    record.annotations = container.annotations.clone();
    // The signals we pass on stay blocked in this thread from now on (the child
    // unblocks them before `exec`): one that comes after `wait` returned must not
    // kill us during `delete`.
    let old_mask = signals::block_watched().map_err(Error::sys("sigprocmask"))?;
    let result = make(container, dir, &mut record, old_mask, narrator);
    if result.is_err() {
        if record.pid > 0 {
            stop(Pid::from_raw(record.pid));
        }
        let _ = super::delete(root, &record_id(&record), narrator);
    }
    result
}
// ANCHOR_END: create

/// The network's shared files (leases, saved `ip_forward`) live under the same
/// root as the containers' folders: a lease is held while its holder's folder is
/// there.
fn with_network_root(container: &Container, root: &Path) -> Container {
    let mut container = container.clone();
    if let Some(network) = &mut container.network {
        network.state_dir = root.to_path_buf();
    }
    container
}

fn record_id(record: &State) -> crate::container::ContainerId {
    crate::container::ContainerId::new(&record.id).expect("checked by create")
}

/// Makes each thing and writes it down in the record before the next, so a
/// `delete` from the record finds whatever exists at any moment. Until the first
/// thing exists, the folder alone holds the id: there is nothing to write down.
fn make(
    mut container: Container,
    dir: StateDir,
    record: &mut State,
    old_mask: SigSet,
    narrator: &Narrator,
) -> Result<Created, Error> {
    let inbox = SignalInbox::open().map_err(Error::sys("signalfd"))?;
    take_id_slice(&mut container, &dir, record, narrator)?;
    record.security = Recorded::save(&container.security, dir.path())
        .map_err(Error::state("writing the seccomp filter"))?;
    let cgroup = make_cgroup(&container, &dir, record, narrator)?;
    let network = lease_address(&container, narrator)?;
    if let (Some(config), Some(attachment)) = (&container.network, &network) {
        record.cleanup.network = Some(NetworkRecord {
            bridge: config.bridge.clone(),
            subnet: config.subnet.to_string(),
            address: attachment.address,
            host_end: attachment.host_end.clone(),
            veth_made: false,
            nat: config.nat || !config.publish.is_empty(),
            nat_tag: attachment.tag.clone(),
            remove_bridge: config.remove_bridge,
        });
        dir.write(record)?;
    }
    let layers = make_layers(&container, &dir, network.as_ref(), narrator)?;
    if container.rootfs.as_ref().is_some_and(|rootfs| rootfs.keep) {
        let kept = dir.root().join(rootfs::KEPT).join(container.id.as_str());
        record.cleanup.keep_layer = Some(kept);
        dir.write(record)?;
    }
    // Open until the clone has copied them to the child (then dropped here).
    let idmapped = idmap_image(&mut container, &dir, narrator)?;
    let idmapped_fds: Vec<_> = idmapped
        .iter()
        .map(|(tree, target)| (tree.as_raw_fd(), target.clone()))
        .collect();
    let resources = Resources {
        network,
        cgroup,
        layers,
    };
    narrator.say(format!(
        "clone({}): asking the kernel for a child process{}",
        spawn::flag_names(&container.namespaces),
        describe_new_namespaces(&container)
    ));
    let made = child::Made {
        network: resources.network.as_ref(),
        layers: resources.layers.as_ref(),
        cgroup: resources.cgroup.as_deref(),
        idmapped: &idmapped_fds,
    };
    let steps = child::plan(&container, &made);
    let child = spawn::spawn(&container, &steps, &old_mask)?;
    // The pid is written down with the status below, not before: until Go, the
    // child cannot outlive us (if we die, it reads end-of-file at the door and
    // exits, see `spawn::child_main`).
    record.pid = child.pid.as_raw();
    record.cleanup.start_time = state::start_time_of(record.pid).unwrap_or(0);
    drop(idmapped);
    // The child is waiting for Go: this is when the parent looks at it (and, in
    // later lessons, writes its uid maps, moves a veth into it, puts it in a
    // cgroup).
    narrate_child(child.pid, narrator)?;
    prepare_from_outside(&container, &resources, child.pid, narrator)?;
    if let Some(network) = &mut record.cleanup.network {
        network.veth_made = true;
    }
    if container.bind_netns {
        bind_netns(&container, &dir, record, child.pid, narrator)?;
    }
    narrate_plan(&steps, narrator);
    record.status = Status::Created;
    dir.write(record)?;
    Ok(Created {
        container,
        dir,
        record: record.clone(),
        resources,
        steps,
        child,
        inbox,
        terminal: None,
    })
}

// ANCHOR: make_cgroup
/// Makes the container's cgroup and writes its limits, before anything else exists.
/// Its folders go into the record before they are made: killed between the two, we
/// leave a record that `delete` can clean up from, never a folder nobody knows of.
fn make_cgroup(
    container: &Container,
    dir: &StateDir,
    record: &mut State,
    narrator: &Narrator,
) -> Result<Option<Box<dyn Cgroup>>, Error> {
    let Some(limits) = &container.limits else {
        return Ok(None);
    };
    let layout = cgroup::detect()?;
    let cgroup = cgroup::planned(&layout, &container.id)?;
    record.cleanup.cgroup = cgroup.paths().iter().map(Into::into).collect();
    dir.write(record)?;
    cgroup.make()?;
    narrator.say(format!("{layout}: mkdir {}", cgroup.paths().join(" ")));
    let written = cgroup
        .apply(limits)
        .map_err(Error::cgroup("writing the limits"))?;
    for line in written {
        narrator.say(format!("wrote {line}"));
    }
    Ok(Some(cgroup))
}
// ANCHOR_END: make_cgroup

// ANCHOR: make_layers
/// The container's own layer of its root filesystem, in its state folder (so
/// `delete` removes it with the folder), owned by whom root inside is.
fn make_layers(
    container: &Container,
    dir: &StateDir,
    network: Option<&Attachment>,
    narrator: &Narrator,
) -> Result<Option<Layers>, Error> {
    if container.rootfs.is_none() {
        return Ok(None);
    }
    let layers = Layers::under(&dir.path().join("rootfs"));
    let (uid, gid) = container
        .id_maps
        .as_ref()
        .and_then(|maps| maps.root_outside())
        .unwrap_or((0, 0));
    layers
        .make(uid, gid)
        .map_err(Error::image(format!("mkdir {}", layers.upper.display())))?;
    narrator.say(format!(
        "mkdir {} {} {}: the container's own layer, owned by {uid}:{gid}",
        layers.upper.display(),
        layers.work.display(),
        layers.root.display()
    ));
    let hostname = container.hostname.as_deref().unwrap_or("container");
    let address = network.map(|attachment| attachment.address);
    rootfs::write_etc_files(&layers, hostname, address, (uid, gid))
        .map_err(Error::image(format!("writing {}", layers.etc.display())))?;
    narrator.say(format!(
        "wrote {}/{{{}}} for the container",
        layers.etc.display(),
        rootfs::ETC_FILES.join(",")
    ));
    Ok(Some(layers))
}
// ANCHOR_END: make_layers

/// Picks the container's address before anything else is created.
fn lease_address(
    container: &Container,
    narrator: &Narrator,
) -> Result<Option<Attachment>, Error> {
    let Some(config) = &container.network else {
        return Ok(None);
    };
    let attachment = net::lease(config, &container.id)?;
    narrator.say(format!(
        "leased {} in {} (gateway {}) for this container",
        attachment.address,
        config.subnet,
        config.subnet.gateway()
    ));
    Ok(Some(attachment))
}

// ANCHOR: prepare_from_outside
/// What the parent sets up for the child while it waits. Each lesson that needs a
/// step done from outside adds it here.
fn prepare_from_outside(
    container: &Container,
    resources: &Resources,
    child: Pid,
    narrator: &Narrator,
) -> Result<(), Error> {
    if container.namespaces.contains(&Namespace::User) {
        write_id_maps(container, child, narrator)?;
    }
    if let (Some(config), Some(attachment)) =
        (&container.network, &resources.network)
    {
        net::attach(config, attachment, child.as_raw() as u32, narrator)?;
    }
    if let Some(cgroup) = &resources.cgroup {
        // Before Go: the command's first instruction already runs under the limits.
        cgroup
            .attach(child)
            .map_err(Error::cgroup("moving the child into it"))?;
        narrator.say(format!(
            "echo {child} > cgroup.procs: the child is in its cgroup before it \
             runs anything"
        ));
    }
    Ok(())
}
// ANCHOR_END: prepare_from_outside

// ANCHOR: bind_netns
/// `mount --bind /proc/PID/ns/net /run/netns/nsbox-<id>`: the namespace now has a
/// name `ip netns` knows, and it lives as long as the bind mount, even with no
/// process left in it. Written down first, so `delete` finds it whatever happens.
fn bind_netns(
    container: &Container,
    dir: &StateDir,
    record: &mut State,
    child: Pid,
    narrator: &Narrator,
) -> Result<(), Error> {
    let path = Path::new(net::NETNS_DIR).join(container.id.netns_name());
    record.cleanup.netns_mount = Some(path.clone());
    dir.write(record)?;
    net::bind_netns(child, &path)?;
    narrator.say(format!(
        "mount --bind /proc/{child}/ns/net {}: `ip netns exec {}` enters it",
        path.display(),
        container.id.netns_name()
    ));
    Ok(())
}
// ANCHOR_END: bind_netns

fn write_id_maps(
    container: &Container,
    child: Pid,
    narrator: &Narrator,
) -> Result<(), Error> {
    let Some(maps) = &container.id_maps else {
        narrator.say(
            "no uid/gid map written: inside, every id is unmapped and \
                      shows as 65534",
        );
        return Ok(());
    };
    let privileged = privileges::can_map_any_ids()?;
    for line in user::write_maps(child, maps, privileged)? {
        narrator.say(format!("wrote {line}"));
    }
    Ok(())
}

// ANCHOR: take_id_slice
/// `--userns=auto`: a slice of the pool's ids nobody else holds, written down
/// before anything is made with it; root inside is its first id.
fn take_id_slice(
    container: &mut Container,
    dir: &StateDir,
    record: &mut State,
    narrator: &Narrator,
) -> Result<(), Error> {
    let Some(pool) = &container.id_pool else {
        return Ok(());
    };
    let slice = id_slices::take(dir.root(), pool, &container.id)?;
    record.cleanup.id_slice = Some(slice.uid);
    dir.write(record)?;
    narrator.say(format!(
        "took host uids {}… and gids {}… ({} each) for this container alone",
        slice.uid,
        slice.gid,
        id_slices::SLICE
    ));
    container.id_maps = Some(slice.maps());
    Ok(())
}
// ANCHOR_END: take_id_slice

// ANCHOR: idmap_image
/// `--userns=auto`: for each of the image's folders, an idmapped copy of its
/// mount, detached (see [`idmap`]), which the child attaches on
/// `rootfs/lower/N` in its own mount namespace; the overlay is built on those.
/// Where the filesystem cannot be idmapped, `rootfs/lower/N` is a copy of the
/// folder with its owners shifted instead (see [`shifted_copy`]).
fn idmap_image(
    container: &mut Container,
    dir: &StateDir,
    narrator: &Narrator,
) -> Result<Vec<(OwnedFd, PathBuf)>, Error> {
    let (Some(_), Some(maps), Some(rootfs)) = (
        &container.id_pool,
        &container.id_maps,
        &mut container.rootfs,
    ) else {
        return Ok(Vec::new());
    };
    let userns = idmap::userns_with_maps(maps)?;
    let lower = dir.path().join("rootfs").join("lower");
    std::fs::create_dir_all(&lower)
        .map_err(Error::state(format!("mkdir {}", lower.display())))?;
    let mut idmapped = Vec::new();
    let mut folders = Vec::new();
    for (n, folder) in rootfs.image.iter().enumerate() {
        let target = lower.join(n.to_string());
        match idmap::idmapped_copy(folder, userns.as_fd()) {
            Ok(tree) => {
                narrator.say(format!(
                    "open_tree({}) and mount_setattr(MOUNT_ATTR_IDMAP, 0:{}:{}): \
                     the image's files, owned by 0… on disk, owned by root inside",
                    folder.display(),
                    maps.uids[0].outside,
                    maps.uids[0].count,
                ));
                // Made here: root inside may not write in the container's folder.
                std::fs::create_dir(&target)
                    .map_err(Error::state(format!("mkdir {}", target.display())))?;
                idmapped.push((tree, target.clone()));
            }
            // EINVAL: this filesystem cannot be idmapped; ENOSYS: a kernel
            // before 5.12. Then a copy, shifted.
            Err(Errno::EINVAL | Errno::ENOSYS) => {
                shifted_copy::copy_shifted(folder, &target, maps).map_err(
                    Error::image(format!("copying {} shifted", folder.display())),
                )?;
                narrator.say(format!(
                    "cp -a {} {}, every owner + {}: this filesystem cannot be \
                     idmapped",
                    folder.display(),
                    target.display(),
                    maps.uids[0].outside,
                ));
            }
            Err(errno) => {
                return Err(Error::IdmapRefused {
                    folder: folder.clone(),
                    errno,
                });
            }
        }
        folders.push(target);
    }
    rootfs.image = folders;
    Ok(idmapped)
}
// ANCHOR_END: idmap_image
