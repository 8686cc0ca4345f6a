//! Transcripts for the book: a terminal session, checked against the stored one
//! after the parts that change from run to run are replaced with placeholders.

use super::repository::{give_files_to_repository_owner, in_repository};
use super::{invoking_user, probe};
use nsbox::container::narrate;
use std::path::{Path, PathBuf};

/// A terminal session the book shows: each command as typed, then what it printed.
#[derive(Default)]
pub struct Transcript {
    text: String,
}

impl Transcript {
    /// Adds `$ cargo run -q --bin NAME -- ARGS` and its merged output.
    /// The words are kept apart by [`WORD_BREAK`]: once the placeholders are in, a
    /// line too wide for the book is broken between words with ` \`, as a reader
    /// would type it (and may paste it).
    pub fn lesson(&mut self, name: &str, args: &[&str], output: &str) -> &mut Self {
        let mut words = vec![format!("$ cargo run -q --bin {name} --")];
        words.extend(args.iter().map(|a| shell_word(a)));
        self.line(&words.join(&WORD_BREAK.to_string()));
        self.text.push_str(output);
        self
    }

    /// Adds `$ cargo run …` with its output composed from separate stdout and
    /// stderr, in the order a terminal shows it: the narration up to the command's
    /// start (the "go!" line, or init's "started" line), then the command's output,
    /// then the rest of the narration. Where the command's output and the parent's
    /// narration run at the same time, a merged pipe would show them in whichever
    /// order the scheduler chose.
    pub fn lesson_parts(
        &mut self,
        name: &str,
        args: &[&str],
        stdout: &str,
        stderr: &str,
    ) -> &mut Self {
        let lines: Vec<&str> = stderr.lines().collect();
        let mut start = lines
            .iter()
            .rposition(|l| l.contains("] go!") || l.contains(") started "))
            .map_or(0, |i| i + 1);
        // The lines under "go!" (08-rootfs lists its mounts there, indented) come
        // before the command's output too.
        while lines.get(start).is_some_and(|l| l.starts_with(' ')) {
            start += 1;
        }
        let mut output = String::new();
        for line in &lines[..start] {
            output.push_str(line);
            output.push('\n');
        }
        output.push_str(stdout);
        for line in &lines[start..] {
            output.push_str(line);
            output.push('\n');
        }
        self.lesson(name, args, &output)
    }

    /// Adds any command line and its output.
    pub fn command(&mut self, line: &str, output: &str) -> &mut Self {
        self.line(&format!("$ {line}"));
        self.text.push_str(output);
        self
    }

    pub fn line(&mut self, line: &str) -> &mut Self {
        self.text.push_str(line);
        self.text.push('\n');
        self
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// The widest line the book shows (see tests/book.rs).
const BOOK_WIDTH: usize = 85;

/// Between the words of a command line in a transcript until it is normalised: the
/// line may be broken there. (Where it breaks depends on the placeholders, which
/// are not as wide as the paths and numbers they replace.)
const WORD_BREAK: char = '\u{1f}';

/// Shell words joined by spaces, broken with ` \` and a 4-space indent where the
/// line would pass [`BOOK_WIDTH`].
fn break_command_line(words: &[String]) -> String {
    let mut text = String::new();
    let mut width = 0;
    for (i, word) in words.iter().enumerate() {
        let room_for_backslash = if i + 1 < words.len() { 2 } else { 0 };
        if i > 0 && width + 1 + word.len() + room_for_backslash > BOOK_WIDTH {
            text.push_str(" \\\n    ");
            width = 4;
        } else if i > 0 {
            text.push(' ');
            width += 1;
        }
        text.push_str(word);
        width += word.len();
    }
    text
}

fn shell_word(word: &str) -> String {
    if word.contains(|c: char| c.is_whitespace() || "'\"$;&|()*".contains(c)) {
        format!("'{}'", word.replace('\'', r"'\''"))
    } else {
        word.to_string()
    }
}

/// Checks a transcript against `lessons/<lesson>/transcripts/<name>.snap`, after
/// replacing what changes from run to run (pids, inode numbers, IPC keys, who ran
/// it) with placeholders. The book includes these files, so what it shows is what
/// this test saw.
///
/// On a difference the test fails naming the first line that differs. insta keeps
/// its own workflow: outside CI it writes the new version beside the old as
/// `<name>.snap.new`, for `cargo insta review`. Files written into the repository
/// are given to its owner: under sudo the test runs as root, and a root-owned file
/// in a student's clone is one they cannot change.
pub fn assert_transcript(lesson: &str, name: &str, transcript: &Transcript) {
    let dir: PathBuf =
        [env!("CARGO_MANIFEST_DIR"), "lessons", lesson, "transcripts"]
            .iter()
            .collect();
    let text = normalise_transcript(transcript.text());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name, text.as_str()));
    }));
    give_files_to_repository_owner(&dir);
    if let Err(panic) = outcome {
        let snap = dir.join(format!("{name}.snap"));
        match first_difference(&snap, &text) {
            Some(difference) => panic!("{difference}"),
            None => std::panic::resume_unwind(panic),
        }
    }
}

/// A transcript as the book shows it. Narration wraps at 80 columns, and a
/// placeholder such as `[PID]` is not as wide as the number it replaces, so the
/// tests run the lessons with whole lines of narration (see `process::start`), put
/// the placeholders in, then wrap them the way the lessons do
/// (`nsbox::container::narrate::wrap`).
fn normalise_transcript(text: &str) -> String {
    let filtered = apply_filters(&transcript_filters(), text);
    let mut out: Vec<String> = Vec::new();
    let mut lines = filtered.lines().peekable();
    // Whether the last line was narration: an indented line under it is narration too.
    let mut under_narration = false;
    while let Some(line) = lines.next() {
        if line.contains(WORD_BREAK) {
            let words: Vec<String> =
                line.split(WORD_BREAK).map(String::from).collect();
            out.push(break_command_line(&words));
            under_narration = false;
            continue;
        }
        let Some(prefix) = narration_prefix(line) else {
            under_narration &= line.starts_with("    ");
            out.push(if under_narration {
                wrap_detail(line)
            } else {
                line.to_string()
            });
            continue;
        };
        under_narration = true;
        // A message of several lines (an error and its fix) goes on under its prefix.
        let indent = " ".repeat(prefix.len());
        let mut message = line[prefix.len()..].to_string();
        while let Some(next) = lines.next_if(|next| {
            next.starts_with(&indent) && !next[indent.len()..].starts_with(' ')
        }) {
            message.push('\n');
            message.push_str(&next[indent.len()..]);
        }
        out.push(narrate::wrap(&prefix, &message, narrate::DEFAULT_WIDTH));
    }
    let mut joined = out.join("\n");
    if filtered.ends_with('\n') {
        joined.push('\n');
    }
    joined
}

/// An indented line of narration under another (`Narrator::detail`: 08-rootfs's
/// mounts) wrapped as the lesson wraps it, under its own indent. Short ones stay
/// as they are.
fn wrap_detail(line: &str) -> String {
    let text = line.trim_start_matches(' ');
    let indent = &line[..line.len() - text.len()];
    if indent.len() < 4 || line.chars().count() <= narrate::DEFAULT_WIDTH {
        return line.to_string();
    }
    narrate::wrap(indent, text, narrate::DEFAULT_WIDTH)
}

/// `[03-pid] ` or `03-pid: error: ` at the start of a line of narration.
fn narration_prefix(line: &str) -> Option<String> {
    let program = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if let Some(rest) = line.strip_prefix('[') {
        let name = rest.split(']').next()?;
        if program(name) && rest[name.len()..].starts_with("] ") {
            return Some(format!("[{name}] "));
        }
    }
    let (name, _) = line.split_once(": error: ")?;
    program(name).then(|| format!("{name}: error: "))
}

/// The replacements a transcript gets: [`normalisations`], the probe's path, and the
/// user who ran the tests (the user behind sudo), whom lessons 06 and 07 map to root
/// inside.
fn transcript_filters() -> Vec<(String, String)> {
    let mut filters: Vec<(String, String)> = normalisations()
        .into_iter()
        .map(|(pattern, replacement)| (pattern.to_string(), replacement.to_string()))
        .collect();
    // Where chapter 07 tells the reader to copy the probe.
    filters.push((regex_escape(probe()), "/tmp/nsbox-probe".to_string()));
    let (uid, gid) = invoking_user();
    filters.push((format!(r"(uid_map: 0) {uid} 1\b"), "$1 [UID] 1".to_string()));
    filters.push((format!(r"(gid_map: 0) {gid} 1\b"), "$1 [GID] 1".to_string()));
    filters
}

fn apply_filters(filters: &[(String, String)], text: &str) -> String {
    let mut text = text.to_string();
    for (pattern, replacement) in filters {
        let regex = regex::Regex::new(pattern).unwrap();
        text = regex.replace_all(&text, replacement.as_str()).into_owned();
    }
    text
}

/// Where this run's transcript first differs from the stored one, in words.
fn first_difference(snap: &Path, new: &str) -> Option<String> {
    let stored = std::fs::read_to_string(snap).unwrap_or_default();
    // The snapshot file: a header between two `---` lines, then the transcript.
    let stored = stored.splitn(3, "---\n").nth(2).unwrap_or("");
    let old: Vec<&str> = stored.trim_end().lines().collect();
    let new: Vec<&str> = new.trim_end().lines().collect();
    let at = (0..old.len().max(new.len())).find(|&i| old.get(i) != new.get(i))?;
    let show = |line: Option<&&str>| {
        line.map_or("(no line: the transcript ends)".into(), |l| {
            format!("{l:?}")
        })
    };
    let pending = snap.with_extension("snap.new");
    let review = if pending.exists() {
        format!(
            "\nthe whole new transcript is in {}",
            in_repository(&pending)
        )
    } else {
        String::new()
    };
    Some(format!(
        "the transcript differs from {} (what the book shows), at line {} of the transcript:\n  book: {}\n  now:  {}{review}",
        in_repository(snap),
        at + 1,
        show(old.get(at)),
        show(new.get(at)),
    ))
}

/// What the book replaces, and with what. Chapter text explains each placeholder.
pub fn normalisations() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"host pid \d+", "host pid [PID]"),
        (r"/proc/\d{2,}/", "/proc/[PID]/"),
        (r"status: \d+ ", "status: [PID] "),
        (r"\b40265\d{5}\b", "[INODE]"),
        // An IPC key, at the start of an `ipcs` line.
        (r"(?m)^0x[0-9a-f]{8}\b", "[KEY]"),
        (r"(Message queue id:) \d+", "$1 [ID]"),
        (r"(?m)^(\[KEY\]) +\d+ +", "$1 [ID] "),
        (r"orphan pid \d+", "orphan pid [N]"),
        (r"\bns([bp])\d+", "ns${1}[PID]"),
        (r"(?m)^(\d+: \w+)@if\d+", "$1@if[N]"),
        (r"(eth0@if)\d+", "${1}[N]"),
        (r"link/ether [0-9a-f:]{17}", "link/ether [MAC]"),
        (r"(ip link add \w+ address) [0-9a-f:]{17}", "$1 [MAC]"),
        (r"fe80::[0-9a-f:]+/64", "fe80::[MAC]/64"),
        (r"netns \d+", "netns [PID]"),
        (
            r"/sys/fs/cgroup/nsbox/nsbox-\d+",
            "/sys/fs/cgroup/nsbox/nsbox-[PID]",
        ),
        (
            r"/sys/fs/cgroup/(\w+)/\S*?nsbox-\d+",
            "/sys/fs/cgroup/$1/…/nsbox-[PID]",
        ),
        (r"echo \d+ > cgroup.procs", "echo [PID] > cgroup.procs"),
        (r"peak memory [\d.]+ MiB", "peak memory [N] MiB"),
        (r"CPU time [\d.]+ s", "CPU time [T] s"),
        (r"/tmp/nsbox-test-[\w.-]+", "[TMP]"),
        (r"/run/nsbox/(kept/)?\d+\b", "/run/nsbox/$1[PID]"),
        (r"busybox-\d+", "busybox-[UID]"),
        (r"owned by \d+:\d+", "owned by [UID]:[GID]"),
        (r"(?m)^(root +\d+ +\d+) +\d+ +\d\d:\d\d", "$1 [C] [TIME]"),
    ]
}

/// `text` as a regular expression that matches only itself.
fn regex_escape(text: &str) -> String {
    text.chars()
        .map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                format!("\\{c}")
            } else {
                c.to_string()
            }
        })
        .collect()
}
