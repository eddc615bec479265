//! Errors of the weights layer. A missing model always says how to get it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{context}: {source}")]
    Io { context: String, #[source] source: std::io::Error },
    #[error("{path}: not a readable ONNX model: {reason}")]
    Onnx { path: PathBuf, reason: String },
    #[error("tensor '{name}': {reason}")]
    Tensor { name: String, reason: String },
    #[error("{0}")]
    Format(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },
    #[error("{what}: sha256 mismatch: expected {expected}, got {actual}; {note}")]
    Checksum { what: String, expected: String, actual: String, note: String },
    /// A model that is nowhere to be found; the text says what to run.
    #[error("{0}")]
    Missing(String),
    /// A setting that cannot be right, e.g. a weights folder that does not
    /// exist ([`crate::ResolveOptions::check`]).
    #[error("{0}")]
    Config(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io { context: context.into(), source }
    }
    pub fn tensor(name: &str, reason: impl Into<String>) -> Self {
        Error::Tensor { name: name.to_string(), reason: reason.into() }
    }
}
