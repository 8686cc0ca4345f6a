//! nsbox-probe: a tiny helper the tests run *inside* a container to report what it
//! sees. It is not part of the course. Each subcommand prints one plain answer on
//! stdout.
//!
//! - `mq-create NAME`: create a POSIX message queue, print `created`
//! - `mq-exists NAME`: print `present` or `absent`
//! - `mq-unlink NAME`: remove it, print `removed`
//! - `fds`: the file descriptors open in this process, e.g. `0 1 2`
//! - `listen PORT [COUNT]`: print `listening`, then answer COUNT (default 1) TCP
//!   connections on any address with `hello from HOSTNAME`, one at a time, printing
//!   `connection from IP`; each connection ends once the peer has closed its side
//! - `hog MIB`: allocate and touch MIB mebibytes, one at a time; print `allocated
//!   MIB MiB`
//! - `forks N`: fork N children that wait; print `forked N` or `fork failed after K:
//!   ERROR`
//! - `spin SECONDS`: burn CPU for SECONDS of wall time; print `wall MS cpu MS`
//! - `connect ADDRESS PORT [SECONDS]`: print what the listener there says (give up
//!   after SECONDS, default 10)
//! - `catch-exe SECONDS` (chapter 10, the runtime's binary): print `watching`, then
//!   watch for another program in this PID namespace; keep its `/proc/PID/exe`
//!   open (`O_PATH`), wait for it to end, and print what the kernel says of the
//!   mount that file was opened through: `caught: on a read-only mount` or
//!   `caught: on a writable mount` (nothing is ever written); or `nothing caught`
//!   after SECONDS
//! - `escape-chroot`: the classic way out of a chroot (mkdir, chroot into it, climb
//!   with `..` 64 times, chroot where it ends), then print the names in `/`, one a
//!   line, sorted
//! - `open PATH read|write`: open PATH (O_RDONLY or O_WRONLY) and close it without
//!   reading or writing; print `opened` or the errno's name (`EROFS`, `EACCES`)
//! - `read-count PATH`: read PATH (64 KiB at most); print how many bytes, or the
//!   errno's name
//! - `getcwd`: the working folder as the getcwd(2) system call itself names it
//!   (`(unreachable)/…` when it is outside our root), or the errno's name
//! - `status`: the `Cap*`, `NoNewPrivs` and `Seccomp` lines of /proc/self/status
//! - `id`: `uid=R euid=E`, the real and effective user ids
//! - `syscall NAME`: make one system call with arguments that change nothing even
//!   if it runs, and print `ok` or the error's name (`EPERM`). NAME is one of
//!   settimeofday, adjtimex, init_module, finit_module, keyctl, bpf, mount,
//!   unshare-user, clone-newuser, clone3, kcmp, pidfd_getfd, socket-vsock,
//!   personality-noaslr (see `try_syscall` for what each one asks)

use nix::errno::Errno;
use nix::fcntl::{OFlag, open};
use nix::mqueue::{MQ_OFlag, MqAttr, mq_open, mq_unlink};
use nix::sys::stat::Mode;
use std::ffi::CString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let answer = match words.as_slice() {
        ["mq-create", name] => mq_create(name),
        ["mq-exists", name] => mq_exists(name),
        ["mq-unlink", name] => mq_remove(name),
        ["fds"] => open_fds(),
        ["catch-exe", seconds] => catch_exe(seconds),
        ["escape-chroot"] => escape_chroot(),
        ["hog", mib] => hog(mib),
        ["forks", count] => forks(count),
        ["spin", seconds] => spin(seconds),
        ["listen", port] => listen(port, "1"),
        ["listen", port, count] => listen(port, count),
        ["connect", address, port] => connect(address, port, "10"),
        ["connect", address, port, seconds] => connect(address, port, seconds),
        // Issue 17, the filesystem's defences (tests/confinement.rs).
        ["open", path, "read"] => open_only(path, OFlag::O_RDONLY),
        ["open", path, "write"] => open_only(path, OFlag::O_WRONLY),
        ["read-count", path] => read_count(path),
        ["getcwd"] => raw_getcwd(),
        ["status"] => status(),
        ["id"] => Ok(ids()),
        ["syscall", name] => try_syscall(name),
        _ => Err("usage: nsbox-probe mq-create|mq-exists|mq-unlink NAME | fds | hog MIB | forks N | spin SECONDS | listen PORT [COUNT] | connect ADDRESS PORT [SECONDS] | status | id | syscall NAME".to_string()),
    };
    match answer {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(text) => {
            eprintln!("nsbox-probe: {text}");
            ExitCode::FAILURE
        }
    }
}

fn queue_name(name: &str) -> CString {
    CString::new(name).expect("queue name without NUL")
}

fn mq_create(name: &str) -> Result<String, String> {
    let flags = MQ_OFlag::O_CREAT | MQ_OFlag::O_EXCL | MQ_OFlag::O_RDWR;
    let mode = Mode::from_bits_truncate(0o600);
    // nix passes neither mode nor attributes when `attr` is None, even with O_CREAT,
    // and the kernel then reads garbage (EINVAL): give both.
    let attr = MqAttr::new(0, 10, 64, 0);
    mq_open(queue_name(name).as_c_str(), flags, mode, Some(&attr))
        .map(|_| "created".to_string())
        .map_err(|e| format!("mq_open({name}, O_CREAT): {e}"))
}

fn mq_exists(name: &str) -> Result<String, String> {
    match mq_open(
        queue_name(name).as_c_str(),
        MQ_OFlag::O_RDONLY,
        Mode::empty(),
        None,
    ) {
        Ok(_) => Ok("present".to_string()),
        Err(Errno::ENOENT) => Ok("absent".to_string()),
        Err(e) => Err(format!("mq_open({name}): {e}")),
    }
}

fn mq_remove(name: &str) -> Result<String, String> {
    mq_unlink(queue_name(name).as_c_str())
        .map(|_| "removed".to_string())
        .map_err(|e| format!("mq_unlink({name}): {e}"))
}

/// Lists /proc/self/fd, leaving out the descriptor used to read that directory.
fn open_fds() -> Result<String, String> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| e.to_string())?;
    let mut fds: Vec<i32> = dir
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| {
            let target = std::fs::read_link(format!("/proc/self/fd/{fd}"));
            !matches!(target, Ok(path) if path.to_str() == Some("/proc/self/fd") || path.to_string_lossy().ends_with("/fd"))
        })
        .collect();
    fds.sort();
    Ok(fds
        .iter()
        .map(|fd| fd.to_string())
        .collect::<Vec<_>>()
        .join(" "))
}

fn listen(port: &str, count: &str) -> Result<String, String> {
    use std::io::Write;
    let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
    let listener = std::net::TcpListener::bind(format!("0.0.0.0:{port}"))
        .map_err(|e| format!("bind :{port}: {e}"))?;
    println!("listening");
    let hostname =
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for _ in 0..count {
        let (mut stream, peer) =
            listener.accept().map_err(|e| format!("accept: {e}"))?;
        println!("connection from {}", peer.ip());
        let _ = writeln!(stream, "hello from {}", hostname.trim());
        wait_for_the_peer_to_close(stream);
    }
    Ok(format!("answered {count}"))
}

/// Closes our side, then waits (up to 10 s) for the peer to close its side before
/// going on. Without this wait, a listener in a container could exit, and its
/// network namespace be freed, before the peer's FIN arrives: that FIN is then
/// never acknowledged, and the peer's kernel resends it for about 100 s, holding
/// the *peer's* namespace (and veth pair) all that time.
fn wait_for_the_peer_to_close(mut stream: std::net::TcpStream) {
    use std::io::Read;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
    let _ = stream.read_to_end(&mut Vec::new());
}

fn connect(address: &str, port: &str, seconds: &str) -> Result<String, String> {
    use std::io::Read;
    let target = format!("{address}:{port}");
    let socket: std::net::SocketAddr =
        target.parse().map_err(|e| format!("{target}: {e}"))?;
    let seconds: u64 = seconds
        .parse()
        .map_err(|_| format!("bad timeout {seconds}"))?;
    let timeout = std::time::Duration::from_secs(seconds);
    let mut stream = std::net::TcpStream::connect_timeout(&socket, timeout)
        .map_err(|e| format!("connect {target}: {e}"))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| format!("{target}: {e}"))?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .map_err(|e| format!("read {target}: {e}"))?;
    Ok(text.trim().to_string())
}

fn hog(mib: &str) -> Result<String, String> {
    let mib: usize = mib.parse().map_err(|_| format!("bad size {mib}"))?;
    let mut kept: Vec<Vec<u8>> = Vec::new();
    for _ in 0..mib {
        // Writing every byte makes the kernel really give us the pages.
        kept.push(vec![1u8; 1 << 20]);
    }
    Ok(format!("allocated {} MiB", kept.len()))
}

fn forks(count: &str) -> Result<String, String> {
    use nix::unistd::{ForkResult, fork};
    let count: usize = count.parse().map_err(|_| format!("bad count {count}"))?;
    let mut children = Vec::new();
    let mut answer = format!("forked {count}");
    for made in 0..count {
        // SAFETY: the probe is single-threaded; the child only sleeps and exits.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => {
                std::thread::sleep(std::time::Duration::from_secs(30));
                std::process::exit(0);
            }
            Ok(ForkResult::Parent { child }) => children.push(child),
            Err(errno) => {
                answer = format!("fork failed after {made}: {errno}");
                break;
            }
        }
    }
    for child in children {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        let _ = nix::sys::wait::waitpid(child, None);
    }
    Ok(answer)
}

fn spin(seconds: &str) -> Result<String, String> {
    let seconds: f64 = seconds.parse().map_err(|_| format!("bad time {seconds}"))?;
    let start = std::time::Instant::now();
    let mut x = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        x = std::hint::black_box(
            x.wrapping_mul(6364136223846793005).wrapping_add(1),
        );
    }
    let wall = start.elapsed();
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF)
            .map_err(|e| e.to_string())?;
    let millis = |t: nix::sys::time::TimeVal| t.tv_sec() * 1000 + t.tv_usec() / 1000;
    let cpu = millis(usage.user_time()) + millis(usage.system_time());
    Ok(format!("wall {} cpu {cpu}", wall.as_millis()))
}

/// `catch-exe`: the first half of CVE-2019-5736, stopped before any write.
fn catch_exe(seconds: &str) -> Result<String, String> {
    use std::os::unix::fs::MetadataExt;
    let seconds: u64 = seconds.parse().map_err(|_| "SECONDS: a number")?;
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    let me = std::fs::metadata("/proc/self/exe").map_err(|e| e.to_string())?;
    let mine = (me.dev(), me.ino());
    println!("watching");
    while std::time::Instant::now() < deadline {
        for pid in other_pids() {
            let path = format!("/proc/{pid}/exe");
            let Ok(exe) = nix::fcntl::open(
                path.as_str(),
                nix::fcntl::OFlag::O_PATH,
                Mode::empty(),
            ) else {
                continue;
            };
            let Ok(stat) = nix::sys::stat::fstat(&exe) else {
                continue;
            };
            if (stat.st_dev, stat.st_ino) == mine {
                continue; // one of ours (a child of our own program)
            }
            while std::path::Path::new(&format!("/proc/{pid}")).exists() {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            let mount =
                nix::sys::statvfs::fstatvfs(&exe).map_err(|e| e.to_string())?;
            let read_only = mount
                .flags()
                .contains(nix::sys::statvfs::FsFlags::ST_RDONLY);
            return Ok(match read_only {
                true => "caught: on a read-only mount".into(),
                false => "caught: on a writable mount".into(),
            });
        }
    }
    Ok("nothing caught".into())
}

/// The pids in /proc, but ours.
fn other_pids() -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .map(|dir| {
            dir.flatten()
                .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
                .filter(|&pid| pid != me)
                .collect()
        })
        .unwrap_or_default()
}

// Issue 17, the filesystem's defences (tests/confinement.rs).

/// Opens and closes, nothing read or written: the kernel's permission checks
/// (mount flags, nodev) happen at open.
fn open_only(path: &str, flags: OFlag) -> Result<String, String> {
    match open(path, flags | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(_) => Ok("opened".to_string()),
        Err(errno) => Ok(format!("{errno:?}")),
    }
}

fn read_count(path: &str) -> Result<String, String> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => {
            return Ok(format!(
                "{:?}",
                Errno::from_raw(e.raw_os_error().unwrap_or(0))
            ));
        }
    };
    let mut bytes = Vec::new();
    match file.take(64 * 1024).read_to_end(&mut bytes) {
        Ok(count) => Ok(count.to_string()),
        Err(e) => Ok(format!(
            "{:?}",
            Errno::from_raw(e.raw_os_error().unwrap_or(0))
        )),
    }
}

/// The getcwd(2) system call itself: the C library's wrapper turns
/// `(unreachable)/…` into ENOENT, and we want to see the kernel's words.
fn raw_getcwd() -> Result<String, String> {
    let mut buffer = vec![0u8; 4096];
    // SAFETY: the kernel writes at most `buffer.len()` bytes into the buffer.
    let length = unsafe {
        nix::libc::syscall(nix::libc::SYS_getcwd, buffer.as_mut_ptr(), buffer.len())
    };
    if length < 0 {
        return Ok(format!("{:?}", Errno::last()));
    }
    let text = &buffer[..length as usize];
    let text = text.strip_suffix(&[0]).unwrap_or(text);
    Ok(String::from_utf8_lossy(text).into_owned())
}

// --- The defences (issue 17): what the kernel lets this process do. ---

fn status() -> Result<String, String> {
    let text =
        std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    let wanted = ["Cap", "NoNewPrivs:", "Seccomp:"];
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| wanted.iter().any(|w| line.starts_with(w)))
        .collect();
    Ok(lines.join("\n"))
}

fn ids() -> String {
    format!(
        "uid={} euid={}",
        nix::unistd::getuid(),
        nix::unistd::geteuid()
    )
}

/// `ok`, or the error's name, from a raw system call's result.
fn answer(result: nix::libc::c_long) -> String {
    if result < 0 {
        format!("{:?}", Errno::last())
    } else {
        "ok".to_string()
    }
}

/// One system call, with arguments chosen so that nothing changes even when the
/// kernel lets it run: what comes back is which check stopped it.
fn try_syscall(name: &str) -> Result<String, String> {
    use nix::libc::{self, SYS_clone, syscall};
    // SAFETY (all the calls below): raw system calls whose pointer arguments point
    // at live locals or are NULL, which the kernel checks.
    let result = unsafe {
        match name {
            // tv_usec out of range: EINVAL once past seccomp (the kernel checks
            // the value before CAP_SYS_TIME); the clock never changes.
            "settimeofday" => {
                let tv = libc::timeval {
                    tv_sec: 0,
                    tv_usec: 2_000_000,
                };
                syscall(libc::SYS_settimeofday, &tv, std::ptr::null::<u8>())
            }
            // ADJ_TICK with a tick far out of range: EPERM without CAP_SYS_TIME,
            // EINVAL with it.
            "adjtimex" => {
                let mut tx: libc::timex = std::mem::zeroed();
                tx.modes = libc::ADJ_TICK;
                tx.tick = 1;
                syscall(libc::SYS_adjtimex, &mut tx)
            }
            // No module at all: EPERM without CAP_SYS_MODULE, another error with.
            "init_module" => syscall(
                libc::SYS_init_module,
                std::ptr::null::<u8>(),
                0,
                c"".as_ptr(),
            ),
            "finit_module" => syscall(libc::SYS_finit_module, -1, c"".as_ptr(), 0),
            // KEYCTL_GET_KEYRING_ID of the thread keyring, without creating it.
            "keyctl" => syscall(libc::SYS_keyctl, 0, -1, 0),
            // BPF_PROG_LOAD with no attributes: EINVAL or EFAULT once allowed.
            "bpf" => syscall(libc::SYS_bpf, 5, std::ptr::null::<u8>(), 0),
            // A filesystem type that does not exist: ENODEV once allowed.
            "mount" => syscall(
                libc::SYS_mount,
                c"none".as_ptr(),
                c"/tmp".as_ptr(),
                c"nsbox-no-such-fs".as_ptr(),
                0,
                std::ptr::null::<u8>(),
            ),
            "unshare-user" => syscall(libc::SYS_unshare, libc::CLONE_NEWUSER),
            // A child in a new user namespace, which exits at once.
            "clone-newuser" => {
                let flags = (libc::CLONE_NEWUSER | libc::SIGCHLD) as libc::c_ulong;
                let pid = syscall(SYS_clone, flags, 0, 0, 0, 0);
                if pid == 0 {
                    libc::_exit(0);
                }
                if pid > 0 {
                    libc::waitpid(pid as i32, std::ptr::null_mut(), 0);
                }
                pid
            }
            // A size of 0 is never valid: EINVAL once past seccomp.
            "clone3" => syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0),
            // KCMP_FILE of our own fd 0 with itself.
            "kcmp" => {
                let me = libc::getpid();
                syscall(libc::SYS_kcmp, me, me, 0, 0, 0)
            }
            // A copy of our own fd 0, through a pidfd of ourselves.
            "pidfd_getfd" => {
                let pidfd = syscall(libc::SYS_pidfd_open, libc::getpid(), 0);
                syscall(libc::SYS_pidfd_getfd, pidfd, 0, 0)
            }
            "socket-vsock" => {
                syscall(libc::SYS_socket, libc::AF_VSOCK, libc::SOCK_STREAM, 0)
            }
            // ADDR_NO_RANDOMIZE: turns address randomisation off for our children.
            "personality-noaslr" => syscall(libc::SYS_personality, 0x0040000),
            other => return Err(format!("no probe for the system call '{other}'")),
        }
    };
    Ok(answer(result))
}

/// `escape-chroot`: CAP_SYS_CHROOT's classic escape; what `/` holds where it ends.
fn escape_chroot() -> Result<String, String> {
    fn failed(what: &'static str) -> impl Fn(Errno) -> String {
        move |e| format!("{what}: {e}")
    }
    match std::fs::create_dir("/.escape") {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            return Err(format!("mkdir /.escape: {e}"));
        }
        _ => {}
    }
    nix::unistd::chroot("/.escape").map_err(failed("chroot /.escape"))?;
    for _ in 0..64 {
        nix::unistd::chdir("..").map_err(failed("cd .."))?;
    }
    nix::unistd::chroot(".").map_err(failed("chroot ."))?;
    let mut names: Vec<String> = std::fs::read_dir("/")
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names.join("\n"))
}
