//! VGG16 / VGG19 convolutional trunks → canonical tensors.
//!
//! Canonical names: `conv{B}_{C}.weight` (OIHW, f32) and `conv{B}_{C}.bias`
//! for block B in 1..=5 and conv C in the block (VGG16: 2,2,3,3,3 convs;
//! VGG19: 2,2,4,4,4). Fully connected layers are dropped.
//!
//! Sources:
//! - Keras VGG16 exported to ONNX (`functional_1/blockB_convC_1/...`),
//!   expecting caffe input (BGR 0..255 minus the ImageNet mean);
//! - torchvision / timm state dicts (`features.N.weight`, `.pth` pickles or
//!   `.safetensors`), expecting RGB 0..1 normalised by mean/std.
//!   The conv layers are taken in order of N; their count (13 or 16) tells
//!   VGG16 from VGG19.

use crate::onnx::OnnxModel;
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use std::collections::HashMap;
use std::path::Path;

/// Which VGG.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum VggArch {
    Vgg16,
    Vgg19,
}

impl VggArch {
    /// Convs per block.
    pub fn block_sizes(self) -> [usize; 5] {
        match self {
            VggArch::Vgg16 => [2, 2, 3, 3, 3],
            VggArch::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// Canonical conv names in network order: `conv1_1`, `conv1_2`, `conv2_1`, ...
    pub fn conv_names(self) -> Vec<String> {
        let mut v = Vec::new();
        for (b, &n) in self.block_sizes().iter().enumerate() {
            for c in 1..=n {
                v.push(format!("conv{}_{}", b + 1, c));
            }
        }
        v
    }

    pub fn name(self) -> &'static str {
        match self {
            VggArch::Vgg16 => "vgg16",
            VggArch::Vgg19 => "vgg19",
        }
    }
}

/// The input preprocessing a set of VGG weights was trained with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InputConvention {
    /// Keras/caffe: RGB 0..255 → BGR, minus mean [103.939, 116.779, 123.68] (B, G, R).
    CaffeBgrMean,
    /// torchvision/timm: RGB 0..1, minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225].
    TorchvisionMeanStd,
}

impl InputConvention {
    pub fn name(self) -> &'static str {
        match self {
            InputConvention::CaffeBgrMean => "caffe-bgr-mean",
            InputConvention::TorchvisionMeanStd => "torchvision-mean-std",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "caffe-bgr-mean" | "caffe" => Some(InputConvention::CaffeBgrMean),
            "torchvision-mean-std" | "torchvision" | "torch" => Some(InputConvention::TorchvisionMeanStd),
            _ => None,
        }
    }
}

/// Imported VGG weights: architecture, input convention and canonical tensors (CPU, f32).
pub struct VggWeights {
    pub arch: VggArch,
    pub convention: InputConvention,
    pub tensors: HashMap<String, Tensor>,
}

/// Initializer names in the Keras VGG16 ONNX export.
fn keras_names(block: usize, conv: usize) -> (String, String) {
    let pre = format!("functional_1/block{block}_conv{conv}_1/");
    (format!("{pre}convolution/ReadVariableOp:0"), format!("{pre}Squeeze:0"))
}

/// Keras VGG16 (ONNX export) → canonical tensors; caffe convention.
pub fn from_keras_onnx(model: &OnnxModel) -> Result<VggWeights> {
    let arch = VggArch::Vgg16;
    let mut tensors = HashMap::new();
    for (b, &n) in arch.block_sizes().iter().enumerate() {
        for c in 1..=n {
            let (w, bias) = keras_names(b + 1, c);
            let w = model.tensor(&w)?;
            let bias = model.tensor(&bias)?.flatten_all()?;
            check_conv(&format!("conv{}_{}", b + 1, c), &w, &bias)?;
            tensors.insert(format!("conv{}_{}.weight", b + 1, c), w);
            tensors.insert(format!("conv{}_{}.bias", b + 1, c), bias);
        }
    }
    Ok(VggWeights { arch, convention: InputConvention::CaffeBgrMean, tensors })
}

fn check_conv(name: &str, w: &Tensor, b: &Tensor) -> Result<()> {
    let d = w.dims();
    if d.len() != 4 || d[2] != 3 || d[3] != 3 || b.dims() != [d[0]] {
        return Err(Error::tensor(name, format!("expected a 3x3 conv (OIHW) and bias [O], got {:?} and {:?}", d, b.dims())));
    }
    Ok(())
}

/// A torchvision/timm state dict (`features.N.weight` / `features.N.bias`,
/// optionally prefixed, e.g. `module.`) → canonical tensors.
pub fn from_state_dict(entries: Vec<(String, Tensor)>) -> Result<VggWeights> {
    // index N → (weight, bias)
    let mut convs: std::collections::BTreeMap<usize, (Option<Tensor>, Option<Tensor>)> = Default::default();
    for (name, t) in entries {
        let Some(pos) = name.find("features.") else { continue };
        let rest = &name[pos + "features.".len()..];
        let mut parts = rest.splitn(2, '.');
        let (Some(idx), Some(kind)) = (parts.next(), parts.next()) else { continue };
        let Ok(idx) = idx.parse::<usize>() else { continue };
        let e = convs.entry(idx).or_default();
        match kind {
            "weight" => e.0 = Some(t),
            "bias" => e.1 = Some(t),
            _ => {}
        }
    }
    let arch = match convs.len() {
        13 => VggArch::Vgg16,
        16 => VggArch::Vgg19,
        0 => return Err(Error::Format("no `features.N.weight` tensors: not a torchvision/timm VGG state dict".into())),
        n => return Err(Error::Format(format!("{n} conv layers under `features.`: expected 13 (VGG16) or 16 (VGG19)"))),
    };
    let mut tensors = HashMap::new();
    for (name, (idx, (w, b))) in arch.conv_names().into_iter().zip(convs) {
        let w = w.ok_or_else(|| Error::tensor(&format!("features.{idx}.weight"), "missing"))?.to_dtype(DType::F32)?;
        let b = b.ok_or_else(|| Error::tensor(&format!("features.{idx}.bias"), "missing"))?.to_dtype(DType::F32)?;
        check_conv(&name, &w, &b)?;
        tensors.insert(format!("{name}.weight"), w);
        tensors.insert(format!("{name}.bias"), b);
    }
    Ok(VggWeights { arch, convention: InputConvention::TorchvisionMeanStd, tensors })
}

/// Reads any supported VGG file: Keras ONNX (`.onnx`), PyTorch pickle
/// (`.pth`/`.pt`/`.bin`) or `.safetensors` (a torchvision/timm state dict,
/// or an already canonical file whose metadata records the convention).
pub fn load(path: &Path) -> Result<VggWeights> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "onnx" => from_keras_onnx(&OnnxModel::load(path)?),
        "safetensors" => {
            let tensors = candle_core::safetensors::load(path, &candle_core::Device::Cpu)?;
            if tensors.contains_key("conv1_1.weight") {
                return canonical(path, tensors);
            }
            from_state_dict(tensors.into_iter().collect())
        }
        "pth" | "pt" | "bin" => {
            let entries = super::pickle_guard::guarded(|| candle_core::pickle::read_all(path))
                .map_err(|e| Error::Format(format!("{}: not a readable PyTorch state dict: {e}", path.display())))?;
            from_state_dict(entries)
        }
        _ => Err(Error::Format(format!("{}: unknown VGG weights format (expected .onnx, .pth, .safetensors)", path.display()))),
    }
}

/// A canonical safetensors file written by [`save`].
fn canonical(path: &Path, tensors: HashMap<String, Tensor>) -> Result<VggWeights> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| Error::Format(format!("{}: {e}", path.display())))?;
    let meta = meta.metadata().clone().unwrap_or_default();
    // Without metadata (a cache file written by the generic importer), the
    // source tells: only the Keras export uses caffe; torchvision files say "tv".
    let fname = path.file_name().map(|f| f.to_string_lossy().to_lowercase()).unwrap_or_default();
    let guessed = if fname.contains("tv") || fname.contains("vgg19") {
        InputConvention::TorchvisionMeanStd
    } else {
        InputConvention::CaffeBgrMean
    };
    let convention = meta.get("input_convention").and_then(|s| InputConvention::parse(s)).unwrap_or(guessed);
    let arch = if tensors.contains_key("conv5_4.weight") { VggArch::Vgg19 } else { VggArch::Vgg16 };
    Ok(VggWeights { arch, convention, tensors })
}

/// Writes canonical safetensors with `arch` and `input_convention` metadata.
pub fn save(w: &VggWeights, path: &Path) -> Result<()> {
    let meta: HashMap<String, String> =
        [("arch".to_string(), w.arch.name().to_string()), ("input_convention".to_string(), w.convention.name().to_string())].into();
    // candle's own safetensors View impl is for another safetensors version:
    // go through little-endian f32 bytes.
    let mut data = Vec::new();
    let mut names: Vec<&String> = w.tensors.keys().collect();
    names.sort();
    for name in names {
        let t = &w.tensors[name];
        let bytes: Vec<u8> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        data.push((name.clone(), t.dims().to_vec(), bytes));
    }
    let views = data
        .iter()
        .map(|(n, shape, bytes)| {
            let v = safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map_err(|e| Error::Format(format!("{n}: {e}")))?;
            Ok((n.clone(), v))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize_to_file(views, &Some(meta), path).map_err(|e| Error::Format(format!("{}: {e}", path.display())))
}

/// The importer entry point shared by every network: canonical tensors.
pub fn import(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut v: Vec<_> = load(path)?.tensors.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn conv(o: usize, i: usize, v: f32) -> (Tensor, Tensor) {
        (Tensor::full(v, (o, i, 3, 3), &Device::Cpu).unwrap(), Tensor::full(v, o, &Device::Cpu).unwrap())
    }

    #[test]
    fn state_dict_maps_in_order_and_detects_arch() {
        // torchvision VGG19 indices: convs interleaved with ReLU/pool modules.
        let idx = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34];
        let mut entries = Vec::new();
        for (k, &i) in idx.iter().enumerate() {
            let (w, b) = conv(2, 2, k as f32);
            entries.push((format!("features.{i}.weight"), w));
            entries.push((format!("features.{i}.bias"), b));
        }
        entries.push(("classifier.0.weight".into(), Tensor::zeros(4, DType::F32, &Device::Cpu).unwrap()));
        let w = from_state_dict(entries).unwrap();
        assert_eq!(w.arch, VggArch::Vgg19);
        assert_eq!(w.convention, InputConvention::TorchvisionMeanStd);
        // conv3_1 is the 5th conv (k = 4), stored at features.10
        let v = w.tensors["conv3_1.bias"].to_vec1::<f32>().unwrap();
        assert_eq!(v, vec![4.0, 4.0]);
        assert_eq!(w.tensors["conv5_4.weight"].to_vec3::<f32>().is_err(), true); // rank 4
        assert_eq!(w.tensors.len(), 32);
    }

    #[test]
    fn wrong_layer_count_is_an_error() {
        let (w, b) = conv(2, 2, 1.0);
        let e = from_state_dict(vec![("features.0.weight".into(), w), ("features.0.bias".into(), b)]);
        assert!(e.is_err());
    }

    #[test]
    fn canonical_roundtrip_keeps_convention() {
        let mut tensors = HashMap::new();
        for name in VggArch::Vgg16.conv_names() {
            let (w, b) = conv(1, 1, 0.5);
            tensors.insert(format!("{name}.weight"), w);
            tensors.insert(format!("{name}.bias"), b);
        }
        let w = VggWeights { arch: VggArch::Vgg16, convention: InputConvention::CaffeBgrMean, tensors };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("vgg.safetensors");
        save(&w, &p).unwrap();
        let back = load(&p).unwrap();
        assert_eq!(back.arch, VggArch::Vgg16);
        assert_eq!(back.convention, InputConvention::CaffeBgrMean);
        assert_eq!(back.tensors.len(), 26);
    }
}
