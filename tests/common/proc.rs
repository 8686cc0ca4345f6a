//! What /proc says: namespaces by inode, the host's pids, a process's status and
//! cgroups, the hostname.

/// The inode of a process's namespace of one type (`/proc/<pid>/ns/<kind>`).
pub fn ns_inode(pid: &str, kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

/// Every pid on the host.
pub fn host_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The pids of the processes in a namespace, found by its inode.
pub fn pids_in_namespace(kind: &str, inode: u64) -> Vec<i32> {
    host_pids()
        .into_iter()
        .filter(|pid| ns_inode(&pid.to_string(), kind) == Some(inode))
        .collect()
}

/// A field of `/proc/<pid>/status`, e.g. `State` or `NSpid`.
pub fn status_field(pid: i32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(&format!("{field}:"))
            .map(|v| v.trim().to_string())
    })
}

pub fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// The directories of nsbox's cgroups a process is in, as the kernel gives them in
/// /proc/PID/cgroup (the v2 line, or one line per v1 tree).
pub fn cgroup_dirs_of(pid: i32) -> Vec<String> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    table
        .lines()
        .filter_map(|line| {
            let (_, rest) = line.split_once(':')?;
            let (controllers, path) = rest.split_once(':')?;
            path.contains("nsbox-").then(|| match controllers {
                "" => format!("/sys/fs/cgroup{path}"),
                name => format!(
                    "/sys/fs/cgroup/{}{path}",
                    name.split(',').next().unwrap()
                ),
            })
        })
        .collect()
}
