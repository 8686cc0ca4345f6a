//! `nsbox pull REF`: downloads an image from its registry into the store.

use crate::runtime::Global;
use crate::runtime::images::{Progress, Store};
use std::process::ExitCode;

/// `nsbox pull`'s arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show no progress
    #[arg(short, long)]
    pub quiet: bool,

    /// The image: `busybox`, `user/img:tag`, `127.0.0.1:5000/img`, `img@sha256:…`
    pub reference: String,
}

/// Pulls the image; like docker, ends with its digest and its full name.
pub fn main(global: &Global, args: Args) -> ExitCode {
    let progress = if args.quiet {
        Progress::Quiet
    } else {
        Progress::Auto
    };
    let store = Store::open(&global.storage);
    match store.pull(&args.reference, progress) {
        Ok(image) => {
            if !args.quiet {
                println!("Digest: {}", image.digest);
            }
            println!("{}", image.reference);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("nsbox pull: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}
