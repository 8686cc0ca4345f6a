//! `nsbox ps [-a]`: the containers, as docker lists them.

use crate::container::Status;
use crate::runtime::Global;
use crate::runtime::containers::{self, Listed, note};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Show the stopped containers too
    #[arg(short = 'a', long)]
    pub all: bool,

    /// Show only the ids
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn main(global: &Global, args: Args) -> ExitCode {
    let listed: Vec<Listed> = containers::ids(&global.root)
        .iter()
        .filter_map(|id| Listed::read(&global.root, id))
        .filter(|c| args.all || c.state.status == Status::Running)
        .collect();
    if args.quiet {
        for container in &listed {
            println!("{}", container.id);
        }
        return ExitCode::SUCCESS;
    }
    let mut rows = vec![
        [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ]
        .map(String::from),
    ];
    rows.extend(listed.iter().map(row));
    print_table(&rows);
    ExitCode::SUCCESS
}

fn row(container: &Listed) -> [String; 7] {
    let command = container.note(note::COMMAND);
    let command = if command.chars().count() > 20 {
        format!("\"{}…\"", command.chars().take(19).collect::<String>())
    } else {
        format!("\"{command}\"")
    };
    [
        container.id.to_string(),
        container.note(note::IMAGE_NAME).to_string(),
        command,
        format!("{} ago", ago(created(container))),
        status(container),
        ports(container.note(note::PORTS)),
        container.name().to_string(),
    ]
}

/// `8080:80` → `0.0.0.0:8080->80/tcp`, as docker shows it.
fn ports(noted: &str) -> String {
    let shown: Vec<String> = noted
        .split(',')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (ports, protocol) = p.split_once('/').unwrap_or((p, "tcp"));
            let (host, inside) = ports.split_once(':')?;
            Some(format!("0.0.0.0:{host}->{inside}/{protocol}"))
        })
        .collect();
    shown.join(", ")
}

/// `Up 5 seconds`, `Exited (0) 3 minutes ago`, `Created`.
pub fn status(container: &Listed) -> String {
    match container.state.status {
        Status::Running => format!("Up {}", ago(created(container))),
        Status::Creating | Status::Created => "Created".into(),
        Status::Stopped => match (container.exit_code, container.finished) {
            (Some(code), Some(when)) => format!("Exited ({code}) {} ago", ago(when)),
            // Its monitor was killed before it could write the code.
            _ => "Exited (unknown)".into(),
        },
    }
}

pub fn created(container: &Listed) -> SystemTime {
    let seconds = container.note(note::CREATED).parse().unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// How long ago, in docker's words: `Less than a second`, `5 seconds`, `About a
/// minute`, `3 minutes`, `About an hour`, `2 hours`, `4 days`.
pub fn ago(when: SystemTime) -> String {
    let seconds = SystemTime::now()
        .duration_since(when)
        .unwrap_or_default()
        .as_secs();
    match seconds {
        0 => "Less than a second".into(),
        1 => "1 second".into(),
        2..60 => format!("{seconds} seconds"),
        60..120 => "About a minute".into(),
        120..3600 => format!("{} minutes", seconds / 60),
        3600..7200 => "About an hour".into(),
        7200..172_800 => format!("{} hours", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}

/// Columns three spaces apart, each as wide as its widest cell.
fn print_table<const N: usize>(rows: &[[String; N]]) {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|r| r[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", cells.join("   ").trim_end());
    }
}
