//! The built-in busybox image: built from the host's busybox, complete, owned by
//! whom root inside will be, built once, built again when missing, and a program
//! that cannot serve refused with nothing left behind.

mod common;

use common::*;
use nsbox::container::Error;
use nsbox::container::image::{HOST_BUSYBOX, Owner, busybox_image};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

const OWNER: Owner = Owner {
    uid: 47000,
    gid: 47001,
};

fn busybox() -> &'static Path {
    let path = Path::new(HOST_BUSYBOX);
    assert!(
        path.exists(),
        "{HOST_BUSYBOX} is missing: sudo apt-get install busybox-static \
         (scripts/provision.sh installs it)"
    );
    path
}

/// Every path under `dir`, `dir` included, links not followed.
fn everything_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = vec![dir.to_path_buf()];
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            found.extend(everything_under(&entry.path()));
        } else {
            found.push(entry.path());
        }
    }
    found
}

#[test]
fn the_image_has_busybox_its_programs_and_etc() {
    require_root();
    let dir = TempDir::new("image");
    let image = busybox_image(&dir.path, busybox(), OWNER).unwrap();
    assert_eq!(image, dir.path.join("busybox-47000"));
    // The programs run: each link leads to busybox, which acts as the link's name.
    for program in ["bin/sh", "bin/ls", "bin/cat", "usr/bin/env"] {
        let link = std::fs::read_link(image.join(program)).unwrap();
        assert_eq!(link, Path::new("/bin/busybox"), "{program}");
    }
    let echo = std::process::Command::new(image.join("bin/busybox"))
        .args(["echo", "from the image"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echo.stdout), "from the image\n");
    let passwd = std::fs::read_to_string(image.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"), "{passwd}");
    let tmp = std::fs::metadata(image.join("tmp")).unwrap();
    assert_eq!(
        tmp.permissions().mode() & 0o7777,
        0o1777,
        "tmp is for everyone"
    );
    for path in everything_under(&image) {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (OWNER.uid, OWNER.gid),
            "{}",
            path.display()
        );
    }
    assert_eq!(
        std::fs::read_dir(&dir.path).unwrap().count(),
        1,
        "only the image is left in the folder"
    );
}

#[test]
fn it_is_built_once_and_again_when_missing() {
    require_root();
    let dir = TempDir::new("image-again");
    let image = busybox_image(&dir.path, busybox(), OWNER).unwrap();
    let first = std::fs::metadata(image.join("bin/busybox")).unwrap().ino();
    busybox_image(&dir.path, busybox(), OWNER).unwrap();
    let second = std::fs::metadata(image.join("bin/busybox")).unwrap().ino();
    assert_eq!(first, second, "a complete image is not built again");
    std::fs::remove_dir_all(&image).unwrap();
    busybox_image(&dir.path, busybox(), OWNER).unwrap();
    assert!(
        image.join("bin/sh").is_symlink(),
        "built again when missing"
    );
}

#[test]
fn builds_at_the_same_time_leave_one_whole_image() {
    require_root();
    let dir = TempDir::new("image-race");
    let path = dir.path.clone();
    let builders: Vec<_> = (0..4)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || busybox_image(&path, busybox(), OWNER))
        })
        .collect();
    for builder in builders {
        let image = builder.join().unwrap().unwrap();
        assert!(image.join("bin/sh").is_symlink());
    }
    let names: Vec<String> = std::fs::read_dir(&dir.path)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["busybox-47000"], "no half-built folder is left");
}

#[test]
fn a_dynamically_linked_program_is_refused() {
    require_root();
    let dir = TempDir::new("image-dynamic");
    // util-linux's unshare: dynamically linked wherever the tests run (in the test
    // VM, /bin/ls is busybox, static).
    let dynamic = ["/usr/bin/unshare", "/bin/unshare"]
        .into_iter()
        .map(Path::new)
        .find(|path| path.exists())
        .expect("unshare(1), from util-linux");
    let refused = busybox_image(&dir.path, dynamic, OWNER);
    match refused {
        Err(Error::Image { error, .. }) => {
            assert!(error.to_string().contains("dynamically linked"), "{error}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_dir(&dir.path).unwrap().count(),
        0,
        "nothing left"
    );
}
