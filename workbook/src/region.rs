//! Finding the lines between `// ANCHOR: exercise` and `// ANCHOR_END: exercise` in
//! a file, and putting other lines in their place.

/// The marker lines around a region (mdBook's anchor syntax).
const BEGIN: &str = "// ANCHOR: exercise";
const END: &str = "// ANCHOR_END: exercise";

/// Where a region is in a file's text: the byte range of the lines between the
/// markers.
#[derive(Debug, PartialEq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    /// The line number (from 1) of the first line inside, for messages.
    pub first_line: usize,
}

/// Finds the one region of a file.
pub fn find(text: &str) -> Result<Span, String> {
    let mut begin = None;
    let mut offset = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        let marker = line.trim();
        if marker == BEGIN {
            if begin.is_some() {
                return Err(format!("a second '{BEGIN}' on line {}", index + 1));
            }
            begin = Some((offset + line.len(), index + 2));
        } else if marker == END {
            let Some((start, first_line)) = begin else {
                return Err(format!(
                    "'{END}' on line {} before '{BEGIN}'",
                    index + 1
                ));
            };
            return Ok(Span {
                start,
                end: offset,
                first_line,
            });
        }
        offset += line.len();
    }
    Err(match begin {
        Some(_) => format!("'{BEGIN}' without '{END}'"),
        None => format!("no '{BEGIN}' line"),
    })
}

/// The text of the region.
pub fn read(text: &str) -> Result<&str, String> {
    let span = find(text)?;
    Ok(&text[span.start..span.end])
}

/// The file's text with the region's lines replaced.
pub fn replace(text: &str, lines: &str) -> Result<String, String> {
    let span = find(text)?;
    let mut lines = lines.to_string();
    if !lines.is_empty() && !lines.ends_with('\n') {
        lines.push('\n');
    }
    Ok(format!(
        "{}{lines}{}",
        &text[..span.start],
        &text[span.end..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "fn a() {\n    // ANCHOR: exercise\n    one();\n    two();\n    // ANCHOR_END: exercise\n}\n";

    #[test]
    fn reads_the_lines_between_the_markers() {
        assert_eq!(read(FILE).unwrap(), "    one();\n    two();\n");
        assert_eq!(find(FILE).unwrap().first_line, 3);
    }

    #[test]
    fn replaces_them_and_keeps_the_markers() {
        let replaced = replace(FILE, "    todo();").unwrap();
        assert_eq!(
            replaced,
            "fn a() {\n    // ANCHOR: exercise\n    todo();\n    // ANCHOR_END: exercise\n}\n"
        );
        assert_eq!(replace(&replaced, read(FILE).unwrap()).unwrap(), FILE);
    }

    #[test]
    fn refuses_broken_markers() {
        assert!(find("fn a() {}\n").is_err());
        assert!(find("// ANCHOR: exercise\nx\n").is_err());
        assert!(find("// ANCHOR_END: exercise\n").is_err());
        assert!(find("// ANCHOR: exercise\n// ANCHOR: exercise\n").is_err());
    }
}
