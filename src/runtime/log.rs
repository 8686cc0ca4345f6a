//! The container's log: what its command wrote on stdout and stderr, kept in its
//! state folder by its monitor, read back by `nsbox logs`.
//!
//! One line of the file per line the command wrote, in the format Kubernetes'
//! container runtimes use (and conmon writes for podman):
//!
//! ```text
//! 2026-12-03T16:20:01.123456789Z stdout F hello
//! 2026-12-03T16:20:01.123501000Z stderr P no newline yet
//! ```
//!
//! `F` ends a line; `P` is part of one (the command wrote no newline yet), which
//! the next entries of the same stream complete.

use std::fs::File;
use std::io::{self, BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which of the command's outputs a piece came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// Appends what the command wrote, as it came, to the log.
pub fn append(log: &mut File, stream: Stream, bytes: &[u8]) -> io::Result<()> {
    let now = timestamp(SystemTime::now());
    let mut entries = Vec::new();
    for piece in bytes.split_inclusive(|&b| b == b'\n') {
        let (text, tag) = match piece.strip_suffix(b"\n") {
            Some(line) => (line, 'F'),
            None => (piece, 'P'),
        };
        write!(entries, "{now} {} {tag} ", stream.name())?;
        entries.extend_from_slice(text);
        entries.push(b'\n');
    }
    // One write per chunk: the stdout and stderr copiers share the file, and an
    // append of one buffer is never cut in two by the other's.
    log.write_all(&entries)
}

/// One entry read back: its stream and the bytes it adds to it.
pub struct Entry {
    pub stream: Stream,
    pub bytes: Vec<u8>,
}

/// Parses one line of the log (without its newline); `None` if it is not one.
pub fn parse(line: &[u8]) -> Option<Entry> {
    let mut fields = line.splitn(4, |&b| b == b' ');
    let _time = fields.next()?;
    let stream = match fields.next()? {
        b"stdout" => Stream::Stdout,
        b"stderr" => Stream::Stderr,
        _ => return None,
    };
    let tag = fields.next()?;
    let mut bytes = fields.next().unwrap_or_default().to_vec();
    if tag == b"F" {
        bytes.push(b'\n');
    }
    Some(Entry { stream, bytes })
}

/// Reads whole lines from `reader` and writes each entry to stdout or stderr.
/// Returns how many bytes it consumed (a last line without its newline yet is
/// left for the next call).
pub fn copy_out(
    reader: &mut impl BufRead,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> io::Result<u64> {
    let mut used = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok(used);
        }
        used += read as u64;
        if let Some(entry) = parse(&line[..line.len() - 1]) {
            match entry.stream {
                Stream::Stdout => stdout.write_all(&entry.bytes)?,
                Stream::Stderr => stderr.write_all(&entry.bytes)?,
            }
        }
    }
}

/// RFC 3339 in UTC with nanoseconds: `2026-12-03T16:20:01.123456789Z`.
pub fn timestamp(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_date(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_nanos()
    )
}

/// The calendar date `days` days after 1970-01-01 (Howard Hinnant's algorithm:
/// count in 400-year eras, each 146097 days long, with years starting in March so
/// that the leap day comes last).
fn civil_date(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524
        - day_of_era / 146_096)
        / 365;
    let day_of_year =
        day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339() {
        let time = UNIX_EPOCH + Duration::new(1_796_314_801, 5);
        assert_eq!(timestamp(time), "2026-12-03T16:20:01.000000005Z");
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000000000Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(leap), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn lines_and_pieces_come_back_as_written() {
        let path =
            std::env::temp_dir().join(format!("nsbox-log-{}", std::process::id()));
        let mut log = File::create(&path).unwrap();
        append(&mut log, Stream::Stdout, b"one\ntw").unwrap();
        append(&mut log, Stream::Stderr, b"oops\n").unwrap();
        append(&mut log, Stream::Stdout, b"o\n").unwrap();
        let mut reader = io::BufReader::new(File::open(&path).unwrap());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        copy_out(&mut reader, &mut out, &mut err).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "one\ntwo\n");
        assert_eq!(String::from_utf8(err).unwrap(), "oops\n");
    }
}
