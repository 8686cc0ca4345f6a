//! What the subcommands share: errors in one line, and the narrator.

use crate::container::{ContainerId, Error, Narrator};
use crate::runtime::{Global, containers};
use std::process::ExitCode;

/// Prints `nsbox COMMAND: MESSAGE` on stderr and returns `code`.
pub fn fail(command: &str, message: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("nsbox {command}: {message}");
    ExitCode::from(code)
}

/// A library error, in the runtime's words, and its exit code (125: the engine
/// failed; 126/127: the command could not be run or found, as a shell says).
pub fn fail_with(command: &str, error: &Error) -> ExitCode {
    fail(command, explain(error), error.exit_code().max(1))
}

/// The library's error, with what to change on `nsbox`'s command line.
pub fn explain(error: &Error) -> String {
    match error {
        Error::HostnameTooLong { .. } => {
            format!("{error} Pick a shorter --hostname.")
        }
        Error::NftMissing => "publishing ports (-p) and NAT need the nft program: \
                              sudo apt-get install nftables"
            .into(),
        Error::NeedsRoot { .. } => format!(
            "{error}\nnsbox makes namespaces, mounts and cgroups: run it as root \
             (sudo nsbox …, or cargo run --bin nsbox -- …)."
        ),
        other => other.to_string(),
    }
}

/// The library's narration, on stderr, only with `--narrate`.
pub fn narrator(narrate: bool) -> Narrator {
    Narrator::new("nsbox", !narrate)
}

/// Does `act` to each container `texts` name (id, name or the start of an id), in
/// order, printing each name as docker does; stops at the first that fails.
pub fn for_each_container(
    global: &Global,
    command: &str,
    texts: &[String],
    mut act: impl FnMut(&ContainerId) -> Result<(), ExitCode>,
) -> ExitCode {
    for text in texts {
        let id = match containers::find(&global.root, text) {
            Ok(id) => id,
            Err(error) => return fail(command, error, 1),
        };
        if let Err(code) = act(&id) {
            return code;
        }
        println!("{text}");
    }
    ExitCode::SUCCESS
}
