//! `nsbox images`: the images in the store, as a table like docker's.

use crate::runtime::Global;
use crate::runtime::images::{Image, Reference, Store, human_size};
use std::process::ExitCode;

/// `nsbox images`'s arguments (none yet).
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Prints REPOSITORY, TAG, IMAGE ID and SIZE for each image.
pub fn main(global: &Global, _args: Args) -> ExitCode {
    let images = match Store::open(&global.storage).list() {
        Ok(images) => images,
        Err(error) => {
            eprintln!("nsbox images: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = vec![[
        "REPOSITORY".to_string(),
        "TAG".to_string(),
        "IMAGE ID".to_string(),
        "SIZE".to_string(),
    ]];
    rows.extend(images.iter().map(row));
    print!("{}", table(&rows));
    ExitCode::SUCCESS
}

/// One image's row. Docker shows Docker Hub's images by their short names
/// (`busybox`, `user/img`); we show the full one, which is what `nsbox run` and
/// `nsbox rmi` are given back most safely.
fn row(image: &Image) -> [String; 4] {
    let (repository, tag) = match Reference::parse(&image.reference) {
        Ok(reference) => (reference.repository(), reference.tag.unwrap_or_default()),
        Err(_) => (image.reference.clone(), String::new()),
    };
    let tag = if tag.is_empty() { "<none>".into() } else { tag };
    let id = image.id.trim_start_matches("sha256:");
    let short_id = id.get(..12).unwrap_or(id).to_string();
    [repository, tag, short_id, human_size(image.size)]
}

/// The rows in columns, each as wide as its widest cell plus three spaces.
fn table(rows: &[[String; 4]]) -> String {
    let mut widths = [0; 4];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let mut text = String::new();
    for row in rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            line.push_str(&format!("{cell:width$}   "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}
