//! `cargo workbook`: do nsbox's lessons yourself.
//!
//! `start` takes the piece a chapter teaches out of the finished code, `check` runs
//! the lesson's proofs against your build and prints a checklist, `hint` gives
//! graded hints one at a time, `reset` goes back to the starting version, `solution`
//! puts the finished code back. `reset` and `solution` overwrite only the exercise's
//! lines, and keep the student's in `.workbook/`. `dev-check` is the course checking
//! itself
//! (rustlings' `dev check` is the model): every starting version builds and fails
//! its proofs, and leaves the host as it was.

mod devcheck;
mod exercise;
mod progress;
mod proofs;
mod region;

use clap::{Parser, Subcommand};
use exercise::Exercise;
use progress::{Progress, State};
use proofs::Outcome;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    about = "Do nsbox's lessons yourself: start an exercise, check it, get hints",
    after_help = "The loop: `cargo workbook start 01-uts`, edit the file it names, \
                  `cargo workbook check 01-uts`, and `cargo workbook hint 01-uts` when stuck.\n\
                  Exit status: 0 when everything asked for holds, 1 when a proof fails or \
                  the tree does not build, 2 for bad usage."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Lists the exercises and where you are in each.
    List,
    /// Takes the piece the chapter teaches out of the code, for you to write.
    Start { lesson: String },
    /// Builds your code and runs the lesson's proofs: a checklist of what holds.
    Check { lesson: String },
    /// Shows the next hint (or hint NUMBER again).
    Hint {
        lesson: String,
        number: Option<usize>,
    },
    /// Back to the starting version (overwrites the exercise's lines; yours are
    /// kept in .workbook/).
    Reset { lesson: String },
    /// Puts the finished code in place (overwrites the exercise's lines; yours are
    /// kept in .workbook/).
    Solution { lesson: String },
    /// For the course: every starting version builds and fails its proofs (in a
    /// copy).
    DevCheck {
        /// Only this exercise (e.g. `02-ipc`); every exercise when left out.
        lesson: Option<String>,
        /// Also run every lesson's proofs against the finished code in the copy.
        #[arg(long)]
        finished: bool,
    },
}

/// The repository: the folder above this package, or `WORKBOOK_ROOT` (the workbook's
/// own tests point it at a copy).
fn repository() -> PathBuf {
    if let Some(root) = std::env::var_os("WORKBOOK_ROOT") {
        return PathBuf::from(root);
    }
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.parent().unwrap_or(here).to_path_buf()
}

fn main() -> ExitCode {
    let root = repository();
    let command = Cli::parse().command.unwrap_or(Command::List);
    let result = match command {
        Command::List => list(&root),
        Command::Start { lesson } => start(&root, &lesson, false),
        Command::Check { lesson } => check(&root, &lesson),
        Command::Hint { lesson, number } => hint(&root, &lesson, number),
        Command::Reset { lesson } => start(&root, &lesson, true),
        Command::Solution { lesson } => solution(&root, &lesson),
        Command::DevCheck { lesson, finished } => {
            devcheck::run(&root, lesson.as_deref(), finished)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("workbook: {message}");
            ExitCode::from(2)
        }
    }
}

fn list(root: &Path) -> Result<bool, String> {
    println!("The exercises (lessons/NN-name/exercise.toml):\n");
    for exercise in exercise::all(root)? {
        let progress = Progress {
            root,
            exercise: &exercise,
        };
        println!("  {:<12} {}", exercise.lesson, exercise.title);
        let files: Vec<&str> =
            exercise.regions.iter().map(|r| r.file.as_str()).collect();
        println!("  {:<12} in {}", "", files.join(", "));
        println!(
            "  {:<12} {}; hints seen {}/{}",
            "",
            progress.state()?.describe(),
            progress.hints_seen().min(exercise.hints.len()),
            exercise.hints.len()
        );
    }
    println!("\nStart one with `cargo workbook start 01-uts`.");
    Ok(true)
}

/// `start`, or with `overwrite` `reset` (which keeps the student's lines first).
fn start(root: &Path, lesson: &str, overwrite: bool) -> Result<bool, String> {
    let exercise = exercise::find(root, lesson)?;
    let progress = Progress {
        root,
        exercise: &exercise,
    };
    let already = progress.state()? == State::Starting;
    for line in progress.start(overwrite)? {
        println!("{line}");
    }
    if overwrite {
        println!("{} is back at its starting version.\n", exercise.lesson);
    } else if already {
        println!("{} is already at its starting version.\n", exercise.lesson);
    } else {
        println!("{}: the piece is now missing.\n", exercise.lesson);
    }
    show_task(&progress)?;
    Ok(true)
}

fn solution(root: &Path, lesson: &str) -> Result<bool, String> {
    let exercise = exercise::find(root, lesson)?;
    let progress = Progress {
        root,
        exercise: &exercise,
    };
    for line in progress.solve()? {
        println!("{line}");
    }
    println!("\n{}: the finished code is in place, at:", exercise.lesson);
    for place in progress.locations()? {
        println!("  {place}");
    }
    println!(
        "The rest of each file is as it was. `git diff` shows what changed, if you \
         had\ncommitted your work."
    );
    Ok(true)
}

fn show_task(progress: &Progress) -> Result<(), String> {
    let exercise = progress.exercise;
    println!("{}\n", exercise.title);
    println!("{}", exercise.task.trim_end());
    println!("\nWrite it here:");
    for place in progress.locations()? {
        println!("  {place}");
    }
    println!(
        "\nThen: `cargo workbook check {0}`. Stuck? `cargo workbook hint {0}` ({1} hints).",
        exercise.lesson,
        exercise.hints.len()
    );
    Ok(())
}

fn hint(root: &Path, lesson: &str, number: Option<usize>) -> Result<bool, String> {
    let exercise = exercise::find(root, lesson)?;
    let progress = Progress {
        root,
        exercise: &exercise,
    };
    let count = exercise.hints.len();
    let number = number.unwrap_or(progress.hints_seen() + 1).max(1);
    if number > count {
        println!(
            "That was the last hint ({count} of {count}). `cargo workbook hint {lesson} \
             N`\nshows hint N again. `cargo workbook solution {lesson}` writes the \
             finished code\nover the exercise's lines (it keeps a copy of yours first)."
        );
        return Ok(true);
    }
    let answer = |n: usize| shows_answer(&progress, &exercise.hints[n - 1]);
    let warning = |n: usize| {
        if answer(n) {
            " (it shows the answer)"
        } else {
            ""
        }
    };
    println!(
        "Hint {number} of {count} for {}{}:\n",
        exercise.lesson,
        warning(number)
    );
    println!("{}", exercise.hints[number - 1].trim_end());
    if number < count {
        println!(
            "\nStill stuck? `cargo workbook hint {}` gives the next one{}.",
            exercise.lesson,
            warning(number + 1)
        );
    }
    progress.set_hints_seen(number.max(progress.hints_seen()))?;
    Ok(true)
}

/// Whether a hint shows the answer: it holds every line of the finished code of
/// every region (comment lines aside), whitespace apart. Worked out, not written in
/// the exercise, so that `hint` says it exactly where it is true.
fn shows_answer(progress: &Progress, hint: &str) -> bool {
    let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
    let hint = squeeze(hint);
    progress.exercise.regions.iter().all(|region| {
        let Ok(finished) = progress.finished(region) else {
            return false;
        };
        let lines: Vec<String> = finished
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("//"))
            .map(squeeze)
            .collect();
        !lines.is_empty() && lines.iter().all(|l| hint.contains(l.as_str()))
    })
}

fn check(root: &Path, lesson: &str) -> Result<bool, String> {
    let exercise = exercise::find(root, lesson)?;
    let progress = Progress {
        root,
        exercise: &exercise,
    };
    println!(
        "Checking {} ({}) against its proofs, tests/{}.rs.\n",
        exercise.lesson,
        progress.state()?.describe(),
        exercise.proofs
    );
    if !proofs::build(root, &exercise.proofs, None) {
        println!("\n✗ your code does not build: the compiler's messages are above.");
        return Ok(false);
    }
    println!(
        "Running the proofs (they run the lessons as root, through sudo if you are not)…\n"
    );
    let passed =
        print_checklist(&exercise, proofs::run(root, &exercise.proofs, None));
    if passed {
        println!("\nEvery proof holds. On to the next chapter!");
    } else {
        println!(
            "\nNot yet. Read the ✗ lines, change your code, and check again. \
             Stuck? `cargo workbook hint {}`.",
            exercise.lesson
        );
    }
    Ok(passed)
}

/// Prints ✓/✗ per proof; true when all passed.
pub fn print_checklist(exercise: &Exercise, outcome: Outcome) -> bool {
    match outcome {
        Outcome::DoesNotBuild => {
            println!("✗ {} does not build", exercise.lesson);
            false
        }
        Outcome::Unreadable(raw) => {
            println!("{raw}");
            println!(
                "✗ the proofs gave no result we could read (their output is above)"
            );
            false
        }
        Outcome::Ran(proofs) => {
            for proof in &proofs {
                let mark = if proof.passed { '✓' } else { '✗' };
                println!("{mark} {}", proof.name);
                for line in &proof.why {
                    println!("      {line}");
                }
            }
            let failed = proofs.iter().filter(|p| !p.passed).count();
            println!(
                "\n{} of {} proofs hold.",
                proofs.len() - failed,
                proofs.len()
            );
            failed == 0
        }
    }
}
