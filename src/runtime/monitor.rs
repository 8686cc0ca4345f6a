//! The monitor: the process that is the container's parent for its whole life, as
//! conmon is for podman's containers.
//!
//! It creates the container with pipes on its stdout and stderr, copies what comes
//! through them into the log (and to the terminal, when `nsbox run` is in the
//! foreground), waits for the command to end, writes its exit code beside the
//! record, and then frees what the container held on the host: all of it with
//! `--rm`, else all but its files, which `nsbox rm` removes.
//!
//! In the foreground the `nsbox run` process is the monitor. With `-d` it forks
//! one that leaves the terminal's session and outlives it (see [`detach`]).
//! While it runs it holds a lock on `monitor.lock` in the state folder: `rm` and
//! `stop` wait for it to let go, and the kernel lets go for it if it is killed.

use super::Global;
use super::commands::common::{explain, narrator};
use super::containers::{self, EXIT_CODE, LOG, MONITOR_LOCK};
use super::log::{self, Stream};
use super::tty::{self, RawMode};
use crate::container::exit::Ending;
use crate::container::{Container, Error, Narrator, lifecycle};
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::unistd::{ForkResult, fork, setsid};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::ExitCode;
use std::thread::JoinHandle;

/// How the monitor runs the container.
pub struct Settings {
    /// Pass our stdin on to the command (`-i`); else it reads `/dev/null`.
    pub interactive: bool,
    /// Copy the command's output to our stdout and stderr too (in the foreground).
    pub echo: bool,
    /// Give the command a terminal (`-t`) instead of pipes.
    pub terminal: bool,
    /// Remove the container when it ends (`--rm`).
    pub remove: bool,
    /// The name to give back when it is removed.
    pub name: Option<String>,
}

/// Runs the container to its end. `started` is told once the command runs (or
/// could not be started): `nsbox run -d` waits for that to print the id and
/// return. Returns how the command ended.
pub fn supervise(
    mut container: Container,
    root: &Path,
    settings: &Settings,
    narrator: &Narrator,
    started: &mut dyn FnMut(Result<(), &Error>),
) -> Result<Ending, Error> {
    // Without a terminal: pipes, which we copy into the log.
    let pipes = if settings.terminal {
        container.terminal = true;
        None
    } else {
        let stdin = open_stdin(settings.interactive)?;
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        container.stdio = Some([
            stdin.as_raw_fd(),
            stdout_write.as_raw_fd(),
            stderr_write.as_raw_fd(),
        ]);
        Some((
            [stdout_read, stderr_read],
            (stdin, stdout_write, stderr_write),
        ))
    };
    let mut created = match lifecycle::create(&container, root, narrator) {
        Ok(created) => created,
        Err(error) => {
            // create removed what it had made; the name goes too.
            if let Some(name) = &settings.name {
                containers::release_name(root, name, &container.id);
            }
            started(Err(&error));
            return Err(error);
        }
    };
    let folder = containers::folder(root, &container.id);
    let _lock = lock(&folder)?;
    let log = open_log(&folder)?;
    let mut copiers = Vec::new();
    if let Some(([stdout_read, stderr_read], childs_ends)) = pipes {
        // The container has its copies now: ours must close, or the pipes would
        // never reach end-of-file.
        drop(childs_ends);
        copiers.push(copy(stdout_read, Stream::Stdout, &log, settings.echo)?);
        copiers.push(copy(stderr_read, Stream::Stderr, &log, settings.echo)?);
    }
    let mut raw_mode = None;
    let ending = match lifecycle::start(&mut created, narrator) {
        Ok(()) => {
            if let Some(master) = created.take_terminal() {
                raw_mode = attach_terminal(&master, settings)?;
                copiers.push(copy(master, Stream::Stdout, &log, settings.echo)?);
            }
            started(Ok(()));
            lifecycle::wait(&mut created, narrator)
        }
        Err(error) => {
            started(Err(&error));
            Err(error)
        }
    };
    for copier in copiers {
        let _ = copier.join();
    }
    drop(raw_mode);
    let code = match &ending {
        Ok(ending) => ending.shell_code(),
        Err(error) => error.exit_code(),
    };
    write_exit_code(&folder, code)?;
    finish(root, &container, settings, narrator)?;
    ending
}

// ANCHOR: detach
/// `nsbox run -d`: forks the monitor, waits until it says the command runs (or why
/// it could not), prints the container's id and returns. The monitor lives on,
/// the container's parent, in a session of its own.
pub fn detach(
    container: Container,
    global: &Global,
    settings: &Settings,
) -> ExitCode {
    let id = container.id.clone();
    let (ready_read, ready_write) = match pipe() {
        Ok(ends) => ends,
        Err(error) => return fail_detached(&explain(&error), 125),
    };
    // SAFETY: nsbox has one thread here (the monitor starts its copiers after
    // create), so the child gets a consistent copy of our memory.
    match unsafe { fork() } {
        Err(errno) => fail_detached(&format!("fork: {errno}"), 125),
        Ok(ForkResult::Child) => {
            drop(ready_read);
            let code = be_the_monitor(container, global, settings, ready_write);
            std::process::exit(code)
        }
        Ok(ForkResult::Parent { .. }) => {
            drop(ready_write);
            let mut answer = String::new();
            let _ = File::from(ready_read).read_to_string(&mut answer);
            match answer.split_once('\n') {
                _ if answer == "ok" => {
                    println!("{id}");
                    ExitCode::SUCCESS
                }
                Some((code, message)) => {
                    fail_detached(message, code.parse().unwrap_or(125))
                }
                None => fail_detached(
                    "the monitor ended before the container started",
                    125,
                ),
            }
        }
    }
}
// ANCHOR_END: detach

fn fail_detached(message: &str, code: u8) -> ExitCode {
    eprintln!("nsbox run: {message}");
    ExitCode::from(code)
}

/// The monitor's life: out of the terminal's session (its Ctrl-C and hangup no
/// longer reach us), stdin and stdout on `/dev/null` (whoever reads `nsbox run -d`'s
/// output must see it end), and stderr too once the container runs.
fn be_the_monitor(
    container: Container,
    global: &Global,
    settings: &Settings,
    ready: OwnedFd,
) -> i32 {
    let _ = setsid();
    let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null")
    else {
        return 125;
    };
    let _ = nix::unistd::dup2_stdin(&null);
    let _ = nix::unistd::dup2_stdout(&null);
    let narrator = narrator(global.narrate);
    let mut ready = Some(File::from(ready));
    let mut started = |result: Result<(), &Error>| {
        if let Some(mut pipe) = ready.take() {
            let answer = match result {
                Ok(()) => "ok".to_string(),
                Err(error) => {
                    format!("{}\n{}", error.exit_code().max(1), explain(error))
                }
            };
            let _ = pipe.write_all(answer.as_bytes());
        }
        let _ = nix::unistd::dup2_stderr(&null);
    };
    match supervise(container, &global.root, settings, &narrator, &mut started) {
        Ok(ending) => i32::from(ending.shell_code()),
        Err(error) => i32::from(error.exit_code()),
    }
}

// ANCHOR: attach_terminal
/// `-t`: the container's terminal gets our window's size (and follows it), and,
/// in the foreground, our terminal goes raw and what we type goes to it. Returns
/// the guard that puts our terminal back.
fn attach_terminal(
    master: &OwnedFd,
    settings: &Settings,
) -> Result<Option<RawMode>, Error> {
    tty::copy_window_size(master);
    if !settings.echo {
        return Ok(None);
    }
    tty::attach(master, settings.interactive)
        .map(Some)
        .map_err(Error::state("the terminal"))
}
// ANCHOR_END: attach_terminal

/// Frees what the container held: everything with `--rm`, else all but its
/// folder.
fn finish(
    root: &Path,
    container: &Container,
    settings: &Settings,
    narrator: &Narrator,
) -> Result<(), Error> {
    if !settings.remove {
        return lifecycle::release(root, &container.id, narrator);
    }
    lifecycle::delete(root, &container.id, narrator)?;
    if let Some(name) = &settings.name {
        containers::release_name(root, name, &container.id);
    }
    Ok(())
}

/// Our stdin for `-i`, else `/dev/null`: never the terminal by accident.
fn open_stdin(interactive: bool) -> Result<OwnedFd, Error> {
    let file = if interactive {
        // A copy, closed on exec like the others: the child's dup2 keeps its own.
        let copy = nix::unistd::dup(std::io::stdin()).map_err(Error::sys("dup"))?;
        nix::fcntl::fcntl(
            &copy,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )
        .map_err(Error::sys("fcntl"))?;
        return Ok(copy);
    } else {
        File::open("/dev/null").map_err(Error::state("opening /dev/null"))?
    };
    Ok(file.into())
}

/// A pipe, both ends closed on `exec` (the container gets its end through dup2).
fn pipe() -> Result<(OwnedFd, OwnedFd), Error> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(Error::sys("pipe2"))
}

/// `flock(monitor.lock)`: held while the monitor lives. The file is opened
/// close-on-exec, so the container's command never holds it.
fn lock(folder: &Path) -> Result<Flock<File>, Error> {
    let path = folder.join(MONITOR_LOCK);
    let file = File::create(&path)
        .map_err(Error::state(format!("creating {}", path.display())))?;
    Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| Error::sys("flock")(errno))
}

/// Is a monitor still watching this container? (Its lock is held.)
pub fn is_watched(folder: &Path) -> bool {
    let Ok(file) = File::open(folder.join(MONITOR_LOCK)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_err()
}

/// Waits (up to `seconds`) until no monitor watches the container.
pub fn wait_unwatched(folder: &Path, seconds: u64) -> bool {
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while is_watched(folder) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    true
}

fn open_log(folder: &Path) -> Result<File, Error> {
    let path = folder.join(LOG);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(Error::state(format!("opening {}", path.display())))
}

/// A thread that copies one of the command's outputs into the log (and to ours,
/// with `echo`) until the pipe reaches end-of-file: every process holding its
/// other end has exited.
fn copy(
    pipe: OwnedFd,
    stream: Stream,
    log: &File,
    echo: bool,
) -> Result<JoinHandle<()>, Error> {
    let mut log = log.try_clone().map_err(Error::state("the log"))?;
    let mut pipe = File::from(pipe);
    Ok(std::thread::spawn(move || {
        let mut buffer = vec![0; 64 * 1024];
        while let Ok(read) = pipe.read(&mut buffer) {
            if read == 0 {
                break;
            }
            let bytes = &buffer[..read];
            let _ = log::append(&mut log, stream, bytes);
            if echo {
                show(stream, bytes);
            }
        }
    }))
}

/// Writes what the command wrote to our stdout or stderr, at once: Rust's stdout
/// waits for a newline, and a shell's prompt has none.
pub fn show(stream: Stream, bytes: &[u8]) {
    let _ = match stream {
        Stream::Stdout => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(bytes).and_then(|()| stdout.flush())
        }
        Stream::Stderr => std::io::stderr().write_all(bytes),
    };
}

/// `exit-code`: how the command ended, as a shell's `$?`. Written whole or not at
/// all (a reader never sees an empty file).
fn write_exit_code(folder: &Path, code: u8) -> Result<(), Error> {
    let path = folder.join(EXIT_CODE);
    let temporary = folder.join(format!(".{EXIT_CODE}.new"));
    std::fs::write(&temporary, format!("{code}\n"))
        .and_then(|()| std::fs::rename(&temporary, &path))
        .map_err(Error::state(format!("writing {}", path.display())))
}
