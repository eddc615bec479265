//! The error type of restyle-core: every failure a user can cause says what
//! went wrong and, where there is one, what to do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read image {path}: {reason}")]
    ImageRead { path: PathBuf, reason: String },
    #[error("cannot write image {path}: {reason}")]
    ImageWrite { path: PathBuf, reason: String },
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("device: {0}")]
    Device(String),
    #[error(transparent)]
    Weights(#[from] restyle_weights::Error),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// Video input/output (the ffmpeg tools, containers, streams).
    #[error("{0}")]
    Video(String),
    #[error("{context}: {source}")]
    Io { context: String, #[source] source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
}
