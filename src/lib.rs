//! nsbox: learn how Linux containers work by building one, one kernel feature at a
//! time.
//!
//! - [`container`]: the module every lesson binary (and the `nsbox` runtime) is made
//!   of.
//! - [`lesson`]: the command line all lesson binaries share.
//! - [`lessons`]: the course's catalog: each lesson's name, title and namespaces.
//! - [`doctor`]: checks that this machine can run the lessons (`cargo run --bin
//!   doctor`).
//! - [`runtime`]: `nsbox`, the container engine the course ends with (chapter 09).

pub mod container;
pub mod doctor;
pub mod lesson;
pub mod lessons;
pub mod runtime;
