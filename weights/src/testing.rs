//! Locating the real pretrained files for tests.
//!
//! Tests that need real weights call [`real_weights`]: it finds the file in
//! a `RESTYLE_WEIGHTS_DIR` folder or the repository's sibling `../shared/weights`.
//! When the file is missing the test is skipped with a message, unless
//! `RESTYLE_REQUIRE_REAL_WEIGHTS=1` (set by CI), where it fails.

use std::path::PathBuf;

/// Directories searched for development weights, in order: each entry of
/// `RESTYLE_WEIGHTS_DIR` (a path list), then `../shared/weights`.
pub fn weights_dirs() -> Vec<PathBuf> {
    let mut dirs = crate::options::weights_dirs_from_env();
    // weights/ is one level below the workspace root; shared/ is beside it.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    dirs.push(root.join("..").join("shared").join("weights"));
    dirs
}

/// The repository's shared data folder (`../shared/data`), for tests.
pub fn shared_data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("shared").join("data")
}

pub fn require_real_weights() -> bool {
    std::env::var("RESTYLE_REQUIRE_REAL_WEIGHTS").map(|v| v == "1").unwrap_or(false)
}

/// Path of a real weights file (e.g. `vgg16-keras-imagenet.onnx`), or `None`
/// (test skipped, with a note on stderr). Panics, failing the test, when the
/// file is missing and `RESTYLE_REQUIRE_REAL_WEIGHTS=1`.
pub fn real_weights(file: &str) -> Option<PathBuf> {
    let dirs = weights_dirs();
    if let Some(p) = dirs.iter().map(|d| d.join(file)).find(|p| p.is_file()) {
        return Some(p);
    }
    let msg = format!("real weights '{file}' not found in {dirs:?}; set RESTYLE_WEIGHTS_DIR");
    if require_real_weights() {
        panic!("{msg} (RESTYLE_REQUIRE_REAL_WEIGHTS=1)");
    }
    eprintln!("SKIPPED: {msg}");
    None
}
