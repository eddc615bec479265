//! How to resolve: [`ResolveOptions`] and the one parser of
//! `RESTYLE_WEIGHTS_DIR` ([`weights_dirs_from_env`]).
//!
//! A leaf module (it needs only the hub's options and the error type), so the
//! resolver, the importers and the front ends can all use it.

use crate::hub::HubOptions;
use crate::{Error, Result};
use std::ffi::OsStr;
use std::path::PathBuf;

/// The environment variable naming weights folders (a path list).
pub const WEIGHTS_DIR_ENV: &str = "RESTYLE_WEIGHTS_DIR";

/// The folders named by `RESTYLE_WEIGHTS_DIR`: a path list split like `PATH`
/// (`:` on Unix, `;` on Windows), empty entries dropped; empty when unset.
/// Every reader of the variable (resolver, C ABI, tests) uses this.
pub fn weights_dirs_from_env() -> Vec<PathBuf> {
    std::env::var_os(WEIGHTS_DIR_ENV).map(|v| split_weights_dirs(&v)).unwrap_or_default()
}

/// [`weights_dirs_from_env`] for a given value.
pub fn split_weights_dirs(value: &OsStr) -> Vec<PathBuf> {
    // `a::b` or a trailing `:` would otherwise add "" (the current folder).
    std::env::split_paths(value).filter(|p| !p.as_os_str().is_empty()).collect()
}

/// How to resolve. `None`/`false` fields fall back to the environment.
#[derive(Clone, Debug, Default)]
pub struct ResolveOptions {
    /// Explicit weights: a file for a single-part model, or a folder.
    pub path: Option<PathBuf>,
    /// Folder of weight files; default `RESTYLE_WEIGHTS_DIR` (a path list).
    pub weights_dir: Option<PathBuf>,
    /// The restyle cache; default `RESTYLE_CACHE_DIR`, else the user cache folder + `restyle`.
    pub cache_dir: Option<PathBuf>,
    /// Never download (also when `RESTYLE_OFFLINE=1` or `HF_HUB_OFFLINE=1`).
    pub offline: bool,
    pub hub: HubOptions,
}

impl ResolveOptions {
    pub fn offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    pub fn is_offline(&self) -> bool {
        let on = |k: &str| std::env::var(k).is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
        self.offline || on("RESTYLE_OFFLINE") || on("HF_HUB_OFFLINE")
    }

    /// Folders searched in step 2: [`weights_dir`](Self::weights_dir), else
    /// [`weights_dirs_from_env`].
    pub fn weights_dirs(&self) -> Vec<PathBuf> {
        match &self.weights_dir {
            Some(d) => vec![d.clone()],
            None => weights_dirs_from_env(),
        }
    }

    /// Checks what the user named explicitly: the weights folder (or each
    /// `RESTYLE_WEIGHTS_DIR` entry) must be an existing folder, and an
    /// explicit [`path`](Self::path) must exist. A typo there would
    /// otherwise be ignored silently and other weights used. Front ends call
    /// this once before resolving; [`crate::resolve()`] itself does not, so
    /// that library callers may point at a folder that appears later.
    pub fn check(&self) -> Result<()> {
        if let Some(p) = &self.path {
            if !p.exists() {
                return Err(Error::Config(format!("weights {}: no such file or folder", p.display())));
            }
        }
        match &self.weights_dir {
            Some(d) => check_folder(d).map_err(|why| Error::Config(format!("weights folder {}: {why}", d.display()))),
            None => {
                for d in weights_dirs_from_env() {
                    check_folder(&d).map_err(|why| {
                        let value = std::env::var_os(WEIGHTS_DIR_ENV).unwrap_or_default();
                        Error::Config(format!(
                            "{WEIGHTS_DIR_ENV} names {}: {why} ({WEIGHTS_DIR_ENV}={}); correct or unset it",
                            d.display(),
                            value.to_string_lossy()
                        ))
                    })?;
                }
                Ok(())
            }
        }
    }

    /// The restyle cache folder (canonical files live in its `models/`).
    pub fn cache_dir(&self) -> Result<PathBuf> {
        if let Some(d) = &self.cache_dir {
            return Ok(d.clone());
        }
        if let Some(d) = std::env::var_os("RESTYLE_CACHE_DIR") {
            return Ok(PathBuf::from(d));
        }
        dirs::cache_dir()
            .map(|d| d.join("restyle"))
            .ok_or_else(|| Error::Format("no user cache folder on this system; set RESTYLE_CACHE_DIR".into()))
    }

    pub fn models_dir(&self) -> Result<PathBuf> {
        Ok(self.cache_dir()?.join("models"))
    }
}

/// `Err(why)` unless `d` is an existing folder.
fn check_folder(d: &std::path::Path) -> std::result::Result<(), &'static str> {
    match std::fs::metadata(d) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err("not a folder"),
        Err(_) => Err("no such folder"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_list_gives_each_folder_and_drops_empty_entries() {
        #[cfg(unix)]
        assert_eq!(split_weights_dirs(OsStr::new("a:b")), vec![PathBuf::from("a"), PathBuf::from("b")]);
        let joined = std::env::join_paths(["a", "", "b"]).unwrap();
        assert_eq!(split_weights_dirs(&joined), vec![PathBuf::from("a"), PathBuf::from("b")]);
        assert!(split_weights_dirs(OsStr::new("")).is_empty());
    }

    #[test]
    fn an_explicit_weights_folder_must_exist_and_be_a_folder() {
        let t = tempfile::tempdir().unwrap();
        let ok = ResolveOptions { weights_dir: Some(t.path().to_path_buf()), ..Default::default() };
        ok.check().unwrap();
        let gone = t.path().join("typo");
        let e = ResolveOptions { weights_dir: Some(gone.clone()), ..Default::default() }.check().unwrap_err();
        assert!(matches!(e, Error::Config(_)), "{e}");
        assert!(e.to_string().contains("no such folder") && e.to_string().contains(&gone.display().to_string()), "{e}");
        let file = t.path().join("f.onnx");
        std::fs::write(&file, b"x").unwrap();
        let e = ResolveOptions { weights_dir: Some(file), ..Default::default() }.check().unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");
        let e = ResolveOptions { path: Some(gone), ..ok.clone() }.check().unwrap_err();
        assert!(e.to_string().contains("no such file or folder"), "{e}");
    }
}
