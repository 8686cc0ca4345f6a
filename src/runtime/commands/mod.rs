//! One file per subcommand. Each has its arguments (`…Args`, parsed by clap) and a
//! function that runs it and returns the process's exit code.

pub mod common;
pub mod exec;
pub mod images;
pub mod inspect;
pub mod kill;
pub mod logs;
pub mod ps;
pub mod pull;
pub mod rm;
pub mod rmi;
pub mod run;
pub mod stop;
