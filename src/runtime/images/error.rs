//! What can go wrong with images: each message is one line that names the cause and
//! what to do.

use std::path::PathBuf;

/// An image operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{reference:?} is not an image reference: {why}")]
    MalformedReference { reference: String, why: String },

    #[error(
        "cannot reach the registry {registry}: {cause} (is it running, and is the name right?)"
    )]
    Unreachable { registry: String, cause: String },

    #[error(
        "{reference}: no such image on its registry (check the name and the tag)"
    )]
    NotFound { reference: String },

    #[error(
        "{registry} refused to let us pull {reference} anonymously \
         (private image? nsbox does not log in)"
    )]
    Unauthorized { registry: String, reference: String },

    #[error("{url}: the registry answered {status} {text}")]
    Registry {
        url: String,
        status: u16,
        text: String,
    },

    #[error(
        "{what} does not match its digest: expected {expected}, got {got} \
         (the registry's copy is damaged; nothing was kept)"
    )]
    DigestMismatch {
        what: String,
        expected: String,
        got: String,
    },

    #[error("{reference} has no image for {wanted}, only for: {available}")]
    NoPlatform {
        reference: String,
        wanted: String,
        available: String,
    },

    #[error("{what}: {why} (is it an OCI or Docker image?)")]
    BadDocument { what: String, why: String },

    #[error("layer {layer}: {why}; nothing was kept")]
    BadLayer { layer: String, why: String },

    #[error("{doing}: {source}")]
    Store {
        doing: String,
        source: std::io::Error,
    },

    #[error("{reference}: no such image here (see `nsbox images`)")]
    NoSuchImage { reference: String },

    #[error(
        "{reference} is used by container(s) {containers}: remove them first (`nsbox rm`)"
    )]
    InUse {
        reference: String,
        containers: String,
    },

    #[error("reading the containers' records in {dir}: {source}")]
    Containers {
        dir: PathBuf,
        source: std::io::Error,
    },
}

impl ImageError {
    /// A closure that wraps an I/O error on the store, saying what we were doing.
    pub fn store(doing: String) -> impl FnOnce(std::io::Error) -> ImageError {
        move |source| ImageError::Store { doing, source }
    }

    /// The exit code, as docker's: 2 for a reference that cannot be one, 1 for
    /// everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ImageError::MalformedReference { .. } => 2,
            _ => 1,
        }
    }
}
