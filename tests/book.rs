//! The book includes real source files and real transcripts. mdBook only logs a
//! missing file and renders a misspelt anchor as an empty block, so this test fails
//! on both.

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// One `{{#include path:anchor}}` (or `{{#rustdoc_include …}}`) found in a Markdown
/// file.
#[derive(Debug)]
struct Include {
    in_file: PathBuf,
    target: PathBuf,
    /// An anchor name, or `None` for a whole file or a line range such as `4:`.
    anchor: Option<String>,
}

fn includes_in(file: &Path) -> Vec<Include> {
    let text = std::fs::read_to_string(file).unwrap();
    let dir = file.parent().unwrap();
    let mut found = Vec::new();
    for piece in text.split("{{#").skip(1) {
        let Some(body) = piece.split("}}").next() else {
            continue;
        };
        let Some(spec) = body
            .strip_prefix("include ")
            .or_else(|| body.strip_prefix("rustdoc_include "))
        else {
            continue;
        };
        let mut parts = spec.trim().splitn(2, ':');
        let path = parts.next().unwrap();
        let selector = parts.next();
        let anchor = selector
            .filter(|s| {
                !s.chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit() || c == ':')
            })
            .map(str::to_string);
        found.push(Include {
            in_file: file.to_path_buf(),
            target: dir.join(path),
            anchor,
        });
    }
    found
}

/// Every Markdown file the book is made of: book/src and the lessons it includes.
fn book_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![
        Path::new(ROOT).join("book/src"),
        Path::new(ROOT).join("lessons"),
    ];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn every_include_names_a_file_and_anchor_that_exist() {
    let mut problems = Vec::new();
    let mut count = 0;
    for file in book_files() {
        for include in includes_in(&file) {
            count += 1;
            let Ok(text) = std::fs::read_to_string(&include.target) else {
                problems.push(format!(
                    "{}: no file {}",
                    include.in_file.display(),
                    include.target.display()
                ));
                continue;
            };
            if let Some(anchor) = &include.anchor {
                let start = format!("ANCHOR: {anchor}");
                let end = format!("ANCHOR_END: {anchor}");
                let has = |marker: &str| {
                    text.lines().any(|l| l.trim_end().ends_with(marker))
                };
                if !has(&start) || !has(&end) {
                    problems.push(format!(
                        "{}: {} has no anchor '{anchor}'",
                        include.in_file.display(),
                        include.target.display()
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "broken includes:\n{}",
        problems.join("\n")
    );
    assert!(
        count > 0,
        "the book includes nothing: is this test reading the right folders?"
    );
}

#[test]
fn every_chapter_in_the_summary_exists() {
    let summary = Path::new(ROOT).join("book/src/SUMMARY.md");
    let text = std::fs::read_to_string(&summary).unwrap();
    for link in text.split("](").skip(1) {
        let target = link.split(')').next().unwrap();
        let path = Path::new(ROOT).join("book/src").join(target);
        assert!(
            path.exists(),
            "SUMMARY.md links to {target}, which does not exist"
        );
    }
}
