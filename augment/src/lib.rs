//! restyle-augment: style augmentation of labelled datasets (Jackson et al.,
//! "Style Augmentation", REFERENCES.md §7).
//!
//! A thin front end over [`restyle_core::stylize::Stylizer`]: it discovers a
//! dataset's layout, plans every output from the seed and the image's
//! relative path alone, stylizes in a bounded pipeline (rayon decodes and
//! encodes, the network runs one image at a time on the device), writes
//! every file atomically, journals what is done so that `--resume` and
//! sharded runs can trust it, and finally writes a manifest and a report.

pub mod classes;
pub mod engine;
pub mod error;
pub mod layout;
pub mod manifest;
pub mod merge;
pub mod plan;
pub mod run;
pub mod shard;
pub mod state;
pub mod styles;

pub use error::{Error, Result};
