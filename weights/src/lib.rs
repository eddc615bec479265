//! restyle-weights: where restyle's networks come from.
//!
//! - [`onnx`]: reads ONNX files (protobuf decoded with prost, no system
//!   protoc) and dequantizes int8 QDQ initializers.

pub mod error;
pub mod import;
pub mod onnx;
pub mod testing;

pub use error::{Error, Result};
