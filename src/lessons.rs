//! The course's catalog: each lesson's name, title and the namespaces it asks
//! `clone(2)` for, written down once.
//!
//! The doctor reads it (which namespaces a lesson needs), and so do the tests (which
//! lessons there are, and what each one must create). A lesson binary spells out its
//! own list, in the lines its chapter shows and its exercise edits; `tests/lessons.rs`
//! proves, from `/proc`, that each binary creates exactly the namespaces listed here.

use crate::container::Namespace::{self, Cgroup, Ipc, Mount, Net, Pid, User, Uts};

/// One lesson of the course.
#[derive(Debug)]
pub struct Lesson {
    /// The binary's name, and the chapter's directory: `lessons/<name>/`.
    pub name: &'static str,
    /// The chapter's title, after its number.
    pub title: &'static str,
    /// The new namespaces a container of this lesson gets, in the order the course
    /// adds them.
    pub namespaces: &'static [Namespace],
    /// False for the one lesson that runs as you: 05-user.
    pub runs_as_root: bool,
}

impl Lesson {
    /// Whether a container of this lesson gets a new namespace of this type.
    pub fn isolates(&self, namespace: Namespace) -> bool {
        self.namespaces.contains(&namespace)
    }
}

pub const UTS: Lesson = Lesson {
    name: "01-uts",
    title: "UTS: a hostname of its own",
    namespaces: &[Uts],
    runs_as_root: true,
};

pub const IPC: Lesson = Lesson {
    name: "02-ipc",
    title: "IPC: queues nobody else can see",
    namespaces: &[Uts, Ipc],
    runs_as_root: true,
};

pub const PID: Lesson = Lesson {
    name: "03-pid",
    title: "PID: becoming process 1",
    namespaces: &[Uts, Ipc, Pid],
    runs_as_root: true,
};

pub const MNT: Lesson = Lesson {
    name: "04-mnt",
    title: "Mount: a /proc of its own",
    namespaces: &[Uts, Ipc, Pid, Mount],
    runs_as_root: true,
};

pub const USER: Lesson = Lesson {
    name: "05-user",
    title: "User: root without root",
    namespaces: &[Uts, Ipc, Pid, Mount, User],
    runs_as_root: false,
};

pub const NET: Lesson = Lesson {
    name: "06-net",
    title: "Network: a veth, a bridge, a way out",
    namespaces: &[Uts, Ipc, Pid, Mount, User, Net],
    runs_as_root: true,
};

pub const CGROUPS: Lesson = Lesson {
    name: "07-cgroups",
    title: "cgroups: how much it may use",
    namespaces: &[Uts, Ipc, Pid, Mount, User, Net, Cgroup],
    runs_as_root: true,
};

/// The last lesson adds no namespace: a root filesystem of its own, in the mount
/// namespace lesson 04 made.
pub const ROOTFS: Lesson = Lesson {
    name: "08-rootfs",
    title: "Root filesystem: a tree of its own",
    namespaces: &[Uts, Ipc, Pid, Mount, User, Net, Cgroup],
    runs_as_root: true,
};

/// Every lesson, in the course's order. Each adds a namespace to the one before,
/// up to 07, which has them all; 08 adds a root filesystem.
pub const LESSONS: [&Lesson; 8] =
    [&UTS, &IPC, &PID, &MNT, &USER, &NET, &CGROUPS, &ROOTFS];

/// Every namespace type the lessons ask for, in the order the course adds them (the
/// last lesson asks for them all).
pub fn namespaces_in_course_order() -> &'static [Namespace] {
    LESSONS[LESSONS.len() - 1].namespaces
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each lesson up to 07 is the one before plus one namespace, so the chapters
    /// can say "one more word"; 08 has 07's namespaces.
    #[test]
    fn each_lesson_adds_one_namespace_to_the_one_before() {
        for pair in LESSONS[..7].windows(2) {
            let (before, after) = (pair[0], pair[1]);
            assert_eq!(after.namespaces.len(), before.namespaces.len() + 1);
            assert!(after.namespaces.starts_with(before.namespaces), "{after:?}");
        }
        assert_eq!(ROOTFS.namespaces, CGROUPS.namespaces);
    }

    #[test]
    fn lessons_are_numbered_in_order() {
        for (i, lesson) in LESSONS.iter().enumerate() {
            assert!(
                lesson.name.starts_with(&format!("0{}-", i + 1)),
                "{lesson:?}"
            );
        }
    }
}
