//! Content digests (`sha256:…`): how an image names each of its parts, and how we
//! check that what the registry sent is what the image asked for.

use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::{self, Read};

/// A `sha256:<64 hex digits>` digest. (The spec allows other algorithms; every
/// registry uses this one, and nsbox refuses the others rather than trust them
/// unchecked.)
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:…`, or says why it is not one.
    pub fn parse(text: &str) -> Result<Digest, String> {
        let Some(hex) = text.strip_prefix("sha256:") else {
            return Err(format!("{text:?} is not a sha256:… digest"));
        };
        let lower_hex = |c: char| c.is_ascii_digit() || ('a'..='f').contains(&c);
        if hex.len() != 64 || !hex.chars().all(lower_hex) {
            return Err(format!("{text:?} is not a sha256:… digest"));
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The digest of some bytes.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The 64 hex digits alone (a file name in the store).
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex digits, as docker shows image and layer ids.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

/// A reader that passes bytes through and computes their digest on the way, so a
/// layer is checked while it streams, without keeping it whole.
pub struct Hashing<R> {
    inner: R,
    hasher: Sha256,
    length: u64,
}

impl<R: Read> Hashing<R> {
    /// Starts hashing what is read from `inner`.
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            length: 0,
        }
    }

    /// Reads what is left (a tar file ends with padding that tar readers may not
    /// read), then gives the digest of everything and its length.
    pub fn finish(mut self) -> io::Result<(Digest, u64)> {
        io::copy(&mut self, &mut io::sink())?;
        let hex = hex::encode(self.hasher.finalize());
        Ok((Digest { hex }, self.length))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buffer)?;
        self.hasher.update(&buffer[..read]);
        self.length += read as u64;
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashing_reader_agrees_with_digest_of() {
        let data = b"hello, layer".repeat(1000);
        let mut reader = Hashing::new(&data[..]);
        let mut first = [0u8; 10];
        reader.read_exact(&mut first).unwrap();
        let (digest, length) = reader.finish().unwrap();
        assert_eq!(digest, Digest::of(&data));
        assert_eq!(length, data.len() as u64);
    }

    #[test]
    fn parses_only_sha256() {
        let good = format!("sha256:{}", "0f".repeat(32));
        assert_eq!(Digest::parse(&good).unwrap().to_string(), good);
        assert!(Digest::parse(&format!("sha512:{}", "0".repeat(128))).is_err());
        assert!(Digest::parse("sha256:ABC").is_err());
    }
}
