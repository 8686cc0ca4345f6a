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

// ---------------------------------------------------------------------------------
// The book as a reader sees it: built with mdBook (and our preprocessor) into a
// temporary folder, then read back from the HTML.

/// The longest line a code or console block may have: what a browser shows at
/// 1280 px without scrolling sideways.
const WIDEST_LINE: usize = 85;
/// A chapter is read in one sitting; longer material goes to an appendix.
const MOST_WORDS: usize = 3000;

/// One page of the built book: its file name and the HTML of its `<main>`.
struct Page {
    name: String,
    main: String,
}

/// Builds the book once for all the tests below, and reads every page.
fn built_book() -> &'static [Page] {
    static PAGES: std::sync::OnceLock<Vec<Page>> = std::sync::OnceLock::new();
    PAGES.get_or_init(|| {
        let out =
            std::env::temp_dir().join(format!("nsbox-book-{}", std::process::id()));
        let built = std::process::Command::new("mdbook")
            .arg("build")
            .arg(Path::new(ROOT).join("book"))
            .arg("--dest-dir")
            .arg(&out)
            .output();
        let built = match built {
            Ok(built) => built,
            Err(e) => panic!(
                "could not run mdbook ({e}): install it with scripts/provision.sh \
                 (or `cargo install mdbook --version 0.5.4 --locked`)"
            ),
        };
        let log = String::from_utf8_lossy(&built.stderr);
        assert!(built.status.success(), "mdbook build failed:\n{log}");
        assert!(
            !log.contains("WARN") && !log.contains("ERROR"),
            "mdbook build warned:\n{log}"
        );
        let pages = read_pages(&out);
        let _ = std::fs::remove_dir_all(&out);
        pages
    })
}

/// Every chapter page in `dir` (print.html and index.html repeat the others; 404.html and
/// toc.html are no chapters).
fn read_pages(dir: &Path) -> Vec<Page> {
    let mut pages = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".html")
            || ["print.html", "index.html", "404.html", "toc.html"]
                .contains(&name.as_str())
        {
            continue;
        }
        let html = std::fs::read_to_string(&path).unwrap();
        let main = between(&html, "<main>", "</main>")
            .unwrap_or_else(|| panic!("{name} has no <main>"))
            .to_string();
        pages.push(Page { name, main });
    }
    assert!(pages.len() > 5, "the built book has {} pages", pages.len());
    pages
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let from = text.find(start)? + start.len();
    let to = from + text[from..].find(end)?;
    Some(&text[from..to])
}

/// The text of some HTML: tags dropped, entities decoded.
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&")
}

/// Each `<pre>…</pre>` block of a page, as text.
fn blocks(main: &str) -> Vec<String> {
    main.split("<pre>")
        .skip(1)
        .filter_map(|rest| rest.split("</pre>").next())
        .map(text_of)
        .collect()
}

/// A page's prose: what is left without code blocks and diagrams.
fn prose(main: &str) -> String {
    let mut html = main.to_string();
    for (start, end) in [("<pre>", "</pre>"), ("<svg", "</svg>")] {
        while let Some(from) = html.find(start) {
            let Some(length) = html[from..].find(end) else {
                break;
            };
            html.replace_range(from..from + length + end.len(), " ");
        }
    }
    // Tags become spaces, so that words in two cells of a table stay two words.
    text_of(&html.replace('<', " <"))
}

fn words(text: &str) -> usize {
    text.split_whitespace()
        .filter(|word| word.chars().any(char::is_alphanumeric))
        .count()
}

#[test]
fn no_line_of_a_code_or_console_block_is_wider_than_85_columns() {
    let mut wide = Vec::new();
    for page in built_book() {
        for block in blocks(&page.main) {
            for line in block.lines() {
                let width = line.chars().count();
                if width > WIDEST_LINE {
                    wide.push(format!("{} ({width} columns): {line}", page.name));
                }
            }
        }
    }
    assert!(
        wide.is_empty(),
        "{} lines in the book are wider than {WIDEST_LINE} columns, and a reader must scroll \
         to see their end (wrap narration, break commands with \\, fit listings):\n{}",
        wide.len(),
        wide.join("\n")
    );
}

#[test]
fn every_chapter_is_under_3000_words_of_prose() {
    let mut long = Vec::new();
    let mut counted = 0;
    for page in built_book() {
        if page.name.starts_with("appendix") {
            continue;
        }
        counted += 1;
        let count = words(&prose(&page.main));
        if count >= MOST_WORDS {
            long.push(format!("{}: {count} words", page.name));
        }
    }
    assert!(counted >= 9, "counted only {counted} chapters");
    assert!(
        long.is_empty(),
        "chapters of {MOST_WORDS} words of prose or more (move detail to an appendix):\n{}",
        long.join("\n")
    );
}

#[test]
fn every_diagram_is_drawn() {
    let mut written = 0;
    for file in book_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        written += text.lines().filter(|l| l.trim() == "```dot").count();
    }
    let drawn: usize = built_book()
        .iter()
        .map(|page| {
            page.main
                .matches("<figure class=\"diagram\">\n<svg")
                .count()
        })
        .sum();
    assert!(written > 0, "the book has no diagram");
    assert_eq!(
        drawn, written,
        "diagrams written in the chapters, and drawn in the book"
    );
}

/// In a console block a line is a command (`$ …`) or what a command printed. A note such
/// as `# in a second terminal` would read as a root prompt.
#[test]
fn console_blocks_hold_no_comment_lines() {
    let mut notes = Vec::new();
    for file in book_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut in_console = false;
        for line in text.lines() {
            if line.starts_with("```") {
                in_console = line.trim() == "```console";
                continue;
            }
            if in_console && line.starts_with("# ") {
                notes.push(format!("{}: {line}", file.display()));
            }
        }
    }
    assert!(
        notes.is_empty(),
        "console blocks with comment lines:\n{}",
        notes.join("\n")
    );
}

/// A reader can go deeper from every chapter: each links to man7.org's man pages,
/// each page once (at its first mention), by an address of the form man7.org uses.
#[test]
fn chapters_link_each_man_page_once_and_well_formed() {
    let mut problems = Vec::new();
    let chapters = book_files()
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "README.md"));
    for file in chapters {
        let text = std::fs::read_to_string(&file).unwrap();
        let links: Vec<&str> = text
            .split("https://man7.org/linux/man-pages/")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap())
            .collect();
        if links.is_empty() {
            problems.push(format!("{}: no link to a man page", file.display()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for link in links {
            if !seen.insert(link) {
                problems.push(format!("{}: {link} linked twice", file.display()));
            }
            if !is_man7_page(link) {
                problems
                    .push(format!("{}: {link} is no man7.org page", file.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `man2/clone.2.html` (with an optional `#anchor`): the section in the folder and
/// in the file name agree.
fn is_man7_page(link: &str) -> bool {
    let page = link.split('#').next().unwrap();
    let Some((folder, file)) = page.split_once('/') else {
        return false;
    };
    let Some(section) = folder.strip_prefix("man") else {
        return false;
    };
    let name_ok = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c))
    };
    matches!(section, "1" | "2" | "3" | "4" | "5" | "7" | "8")
        && file
            .strip_suffix(&format!(".{section}.html"))
            .is_some_and(name_ok)
}
