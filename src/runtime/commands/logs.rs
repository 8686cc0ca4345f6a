//! `nsbox logs [-f] ID`: what the container's command wrote, from its log.

use super::common::fail;
use crate::runtime::containers::{self, LOG};
use crate::runtime::{Global, log, monitor};
use std::io::{BufReader, Seek, SeekFrom};
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Keep printing what comes, until the container ends
    #[arg(short = 'f', long)]
    pub follow: bool,

    /// The container, by id, name or the start of an id
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let id = match containers::find(&global.root, &args.container) {
        Ok(id) => id,
        Err(error) => return fail("logs", error, 1),
    };
    let folder = containers::folder(&global.root, &id);
    let Ok(file) = std::fs::File::open(folder.join(LOG)) else {
        return fail("logs", format!("container {id} has no log (yet)"), 1);
    };
    let mut reader = BufReader::new(file);
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut position = 0;
    loop {
        // Asked before reading: what the monitor wrote before it let go is then
        // read below, and nothing comes after.
        let ended = !monitor::is_watched(&folder);
        match log::copy_out(&mut reader, &mut stdout, &mut stderr) {
            Ok(used) => position += used,
            Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => {
                return ExitCode::SUCCESS;
            }
            Err(error) => return fail("logs", error, 1),
        }
        if !args.follow || ended {
            return ExitCode::SUCCESS;
        }
        std::thread::sleep(Duration::from_millis(100));
        // Back to the start of a line the monitor was still writing.
        if reader.seek(SeekFrom::Start(position)).is_err() {
            return ExitCode::SUCCESS;
        }
    }
}
