//! What `pull` shows while it works: a progress bar per layer on a terminal, one
//! plain line per layer otherwise (a log, a CI job), or nothing.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read};

/// How much to show while pulling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Bars if stderr is a terminal, plain lines if not.
    Auto,
    /// Nothing.
    Quiet,
}

/// Shows the layers' progress on stderr.
pub struct Reporter {
    mode: Mode,
}

/// What a [`Reporter`] shows.
enum Mode {
    /// A bar per layer (stderr is a terminal).
    Bars(MultiProgress),
    /// A line per layer when it is done.
    Lines,
    /// Nothing.
    Quiet,
}

impl Reporter {
    /// Bars, lines or nothing, as `progress` and stderr say.
    pub fn new(progress: Progress) -> Reporter {
        let mode = match progress {
            Progress::Quiet => Mode::Quiet,
            Progress::Auto if std::io::stderr().is_terminal() => {
                Mode::Bars(MultiProgress::new())
            }
            Progress::Auto => Mode::Lines,
        };
        Reporter { mode }
    }

    /// A layer we already have.
    pub fn already_there(&self, short: &str) {
        match &self.mode {
            Mode::Bars(bars) => {
                let _ = bars.println(format!("{short}: Already exists"));
            }
            Mode::Lines => eprintln!("{short}: Already exists"),
            Mode::Quiet => {}
        }
    }

    /// A layer starting to download, `size` bytes compressed.
    pub fn layer(&self, short: &str, size: u64) -> LayerProgress {
        let bar = match &self.mode {
            Mode::Bars(bars) => {
                let bar = bars.add(ProgressBar::new(size));
                let style = ProgressStyle::with_template(
                    "{prefix}: {bar:30} {bytes}/{total_bytes} {msg}",
                )
                .expect("the template is valid");
                bar.set_style(style);
                bar.set_prefix(short.to_string());
                Some(bar)
            }
            _ => None,
        };
        let lines = matches!(self.mode, Mode::Lines);
        LayerProgress {
            short: short.to_string(),
            bar,
            lines,
        }
    }
}

/// One layer's progress.
pub struct LayerProgress {
    short: String,
    bar: Option<ProgressBar>,
    lines: bool,
}

impl LayerProgress {
    /// Wraps the blob's reader so that each read moves the bar.
    pub fn track<R: Read>(&self, blob: R) -> impl Read {
        Tracked {
            inner: blob,
            bar: self.bar.clone(),
        }
    }

    /// The layer is in place; `downloaded` bytes came over the network.
    pub fn done(self, downloaded: u64) {
        let size = human_size(downloaded);
        if let Some(bar) = self.bar {
            bar.finish_with_message(format!("Pull complete ({size})"));
        } else if self.lines {
            eprintln!("{}: Pull complete ({size})", self.short);
        }
    }
}

/// A reader that advances a progress bar.
struct Tracked<R> {
    inner: R,
    bar: Option<ProgressBar>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        if let Some(bar) = &self.bar {
            bar.inc(read as u64);
        }
        Ok(read)
    }
}

/// `1.2MB`, as docker shows sizes (powers of 1000).
pub fn human_size(bytes: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut size = bytes as f64;
    let mut unit = 0;
    while size >= 1000.0 && unit < units.len() - 1 {
        size /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        return format!("{bytes}B");
    }
    let text = format!("{size:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text}{}", units[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_dockers() {
        assert_eq!(human_size(512), "512B");
        assert_eq!(human_size(4_260_000), "4.3MB");
        assert_eq!(human_size(2_000), "2kB");
    }
}
