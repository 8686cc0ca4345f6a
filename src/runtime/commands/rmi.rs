//! `nsbox rmi REF`: removes an image, and the layers no other image uses. Refused
//! while a container uses it.

use crate::runtime::Global;
use crate::runtime::images::{ImageError, Store, containers_using};
use std::process::ExitCode;

/// `nsbox rmi`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The images, by name (`busybox`) or id (as `nsbox images` shows)
    #[arg(required = true)]
    pub references: Vec<String>,
}

/// Removes each image; the exit code is the worst of them (docker's: 1 for an
/// image that could not be removed, 2 for a malformed name).
pub fn main(global: &Global, args: Args) -> ExitCode {
    let mut worst = 0;
    for reference in &args.references {
        match remove(global, reference) {
            Ok(name) => println!("Untagged: {name}"),
            Err(error) => {
                eprintln!("nsbox rmi: {error}");
                worst = worst.max(error.exit_code());
            }
        }
    }
    ExitCode::from(worst)
}

/// Removes one image unless a container's record names it; returns its name.
fn remove(global: &Global, reference: &str) -> Result<String, ImageError> {
    let store = Store::open(&global.storage);
    let image =
        store
            .resolve(reference)?
            .ok_or_else(|| ImageError::NoSuchImage {
                reference: reference.to_string(),
            })?;
    let users = containers_using(&global.root, &image.id)?;
    if !users.is_empty() {
        return Err(ImageError::InUse {
            reference: image.reference,
            containers: users.join(", "),
        });
    }
    store.remove(&image.reference)?;
    Ok(image.reference)
}
