//! Importers: third-party weight files → canonical tensors (names matching
//! restyle-core's modules), written as safetensors into the cache.
//!
//! Each network owner adds `weights/src/import/<net>.rs` with
//! `pub fn import(path: &Path) -> Result<Vec<(String, candle_core::Tensor)>>`
//! and its `pub mod` line below; the dispatcher here detects the file kind
//! and calls the right one.

// Per-network importers (each owner adds their line):
// pub mod vgg;
// pub mod magenta;
// pub mod multistyle26;
// pub mod fast_pth;
