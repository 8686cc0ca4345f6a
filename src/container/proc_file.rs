//! Reading a small file of `/proc` in one go.
//!
//! The kernel makes such a file's text when it is read, and says its size is 0.
//! `std::fs::read_to_string` trusts that size and reads 32 bytes, then 32, 64, 128…:
//! eight system calls for `/proc/self/status`, each of which asks the kernel for the
//! text again. One page-sized read gets all of it, and a second says it is the end.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

/// The text of a `/proc` file of at most a few pages.
pub fn read(path: impl AsRef<Path>) -> io::Result<String> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::with_capacity(4096);
    let mut page = [0u8; 4096];
    loop {
        match file.read(&mut page)? {
            0 => break,
            n => bytes.extend_from_slice(&page[..n]),
        }
    }
    String::from_utf8(bytes).map_err(io::Error::other)
}
