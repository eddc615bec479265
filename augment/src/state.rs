//! The state a run leaves in its output folder, shared by [`crate::run`]
//! (which writes it) and [`crate::merge`] (which reads it): the run
//! settings, each shard's journal and completion file, and the dataset view
//! both work on. A leaf module, so `run` and `merge` need not import each
//! other's internals.

use crate::layout::{self, Dataset, Format};
use crate::manifest::STATE_DIR;
use crate::plan::PlanOptions;
use crate::shard::Shard;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The settings every shard and every resumed run of one output must share.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    pub tool: String,
    pub input: String,
    pub format: Format,
    pub plan: PlanOptions,
    pub styles: serde_json::Value,
    pub engine: String,
    pub working_size: usize,
    pub shards: usize,
    pub limit: Option<usize>,
}

/// A source image left out, and why.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    pub source: String,
    pub reason: String,
}

/// What a finished shard leaves for `merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardDone {
    pub shard: String,
    pub skipped: Vec<Skipped>,
    /// Style images left out because they could not be decoded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_styles: Vec<Skipped>,
}

pub(crate) fn state_dir(out: &Path) -> PathBuf {
    out.join(STATE_DIR)
}
pub(crate) fn config_path(out: &Path) -> PathBuf {
    state_dir(out).join("config.json")
}
pub(crate) fn journal_path(out: &Path, shard: Shard) -> PathBuf {
    state_dir(out).join(format!("journal.{}.jsonl", shard.tag()))
}
pub(crate) fn done_path(out: &Path, shard: Shard) -> PathBuf {
    state_dir(out).join(format!("{}.done.json", shard.tag()))
}

/// Removes temporary files a killed run left behind (`.restyle-*.tmp`).
pub(crate) fn remove_stale_temporaries(out: &Path) {
    for entry in walkdir::WalkDir::new(out).into_iter().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy();
        if entry.file_type().is_file() && name.starts_with(".restyle-") && name.ends_with(".tmp") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Builds the dataset view a run works on (with `limit` applied).
pub(crate) fn open_dataset(input: &Path, format: Option<Format>, limit: Option<usize>) -> Result<Dataset> {
    let mut ds = layout::open(input, format)?;
    if let Some(n) = limit {
        ds.items.truncate(n);
    }
    Ok(ds)
}
