//! Downloads from the Hugging Face hub.
//!
//! Built on the `hf-hub` crate (0.4, blocking `ureq` client with rustls, so no
//! system OpenSSL is needed). Using it rather than a bare HTTP GET means the
//! files land in the standard Hugging Face cache (`HF_HOME`, default
//! `~/.cache/huggingface/hub`), shared with Python tools: a user who already
//! has `timm/vgg19.tv_in1k` needs no download at all, even offline. The crate
//! honours `HF_ENDPOINT` (mirrors, and the loopback server of our tests) and
//! the user's HF token.
//!
//! hf-hub writes to `<blob>.part` and renames only after the body is
//! complete, resuming an interrupted `.part` on the next try; we then check
//! the sha256 of the finished file (against the catalog's pin, or else the
//! hub's LFS sha256, which is the blob's ETag and its file name in the cache)
//! and delete it on mismatch, so a partial or corrupted download is never
//! used.

use crate::store::sha256_file_memoized;
use crate::{Error, Result};
use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Repo, RepoType};
use std::path::{Path, PathBuf};

/// Where and how to download. `None` fields come from the environment
/// (`HF_ENDPOINT`, `HF_HOME`) as hf-hub reads them.
#[derive(Clone, Debug, Default)]
pub struct HubOptions {
    pub endpoint: Option<String>,
    /// The Hugging Face cache folder (the one holding `models--*`).
    pub cache_dir: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// One file of one hub repo at a revision.
#[derive(Clone, Debug)]
pub struct HubFile<'a> {
    pub repo: &'a str,
    pub revision: &'a str,
    pub file: &'a str,
}

impl HubFile<'_> {
    fn repo(&self) -> Repo {
        Repo::with_revision(self.repo.to_string(), RepoType::Model, self.revision.to_string())
    }

    /// The URL hf-hub requests, for messages.
    pub fn url(&self, opts: &HubOptions) -> String {
        format!("{}/{}/resolve/{}/{}", endpoint(opts), self.repo, self.revision, self.file)
    }
}

fn endpoint(opts: &HubOptions) -> String {
    opts.endpoint
        .clone()
        .or_else(|| std::env::var("HF_ENDPOINT").ok())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
}

fn cache(opts: &HubOptions) -> hf_hub::Cache {
    match &opts.cache_dir {
        Some(d) => hf_hub::Cache::new(d.clone()),
        None => hf_hub::Cache::from_env(),
    }
}

/// The file if it is already in the Hugging Face cache (no network), after
/// the same checksum check as a download.
pub fn cached(f: &HubFile, sha256: Option<&str>, opts: &HubOptions) -> Result<Option<PathBuf>> {
    match cache(opts).repo(f.repo()).get(f.file) {
        Some(p) => verify_download(f, &p, sha256, opts).map(Some),
        None => Ok(None),
    }
}

/// Downloads `f` (or takes it from the Hugging Face cache) and returns the
/// verified local path. `sha256`: the expected hex digest, if pinned.
pub fn download(f: &HubFile, sha256: Option<&str>, opts: &HubOptions) -> Result<PathBuf> {
    let mut b = ApiBuilder::from_env().with_progress(opts.progress);
    if let Some(e) = &opts.endpoint {
        b = b.with_endpoint(e.clone());
    }
    if let Some(d) = &opts.cache_dir {
        b = b.with_cache_dir(d.clone());
    }
    let url = f.url(opts);
    let api = b.build().map_err(|e| Error::Download { url: url.clone(), reason: e.to_string() })?;
    let path = api.repo(f.repo()).get(f.file).map_err(|e| Error::Download { url: url.clone(), reason: e.to_string() })?;
    verify_download(f, &path, sha256, opts)
}

/// Checks a file of the hub cache; deletes it (pointer and blob) when wrong.
fn verify_download(f: &HubFile, path: &Path, sha256: Option<&str>, opts: &HubOptions) -> Result<PathBuf> {
    // The pointer is a symlink into blobs/<etag>; for LFS files the ETag is the sha256.
    let blob = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let etag = blob.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let expected = match sha256.filter(|s| !s.is_empty()) {
        Some(s) => Some(s.to_ascii_lowercase()),
        None if crate::catalog::is_sha256_hex(&etag) => Some(etag),
        None => None,
    };
    let Some(expected) = expected else {
        return Ok(path.to_path_buf());
    };
    let actual = sha256_file_memoized(path)?;
    if actual == expected {
        return Ok(path.to_path_buf());
    }
    // Never leave a bad file where the next run would take it.
    let _ = std::fs::remove_file(path);
    if blob != path {
        let _ = std::fs::remove_file(&blob);
    }
    Err(Error::Checksum {
        what: f.url(opts),
        expected,
        actual,
        note: "the downloaded file was deleted; run the command again to retry".into(),
    })
}
