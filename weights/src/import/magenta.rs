//! The Magenta arbitrary style transfer release (Ghiasi et al. 2017, tf2onnx
//! int8 QDQ files `magenta-arbitrary-{predict,transform}-int8.onnx`) →
//! canonical float tensors for `restyle_core::models::arbitrary`.
//!
//! Weights are dequantized per output channel (`(q − zp) · scale`, the scale
//! and zero point found through each initializer's `DequantizeLinear` node,
//! never by name). Layouts are already OIHW. Canonical names:
//!
//! predict (MobileNetV2 → 100): `stem.{weight,bias}`,
//! `blocks.{i}.{expand,depthwise,project}.{weight,bias}` (block 0 has no
//! expand), `head.{weight,bias}` (Conv_1, 1280 ch), `bottleneck.weight`
//! `[100, 1280]` (no bias).
//!
//! transform: `contract.{0,1,2}.{weight,bias}`, `residual.{k}.conv{1,2}.weight`
//! (k = 0…4), `expand.{0,1,2}.weight` (the convs before a conditional
//! instance norm have zero biases and are omitted) and, per norm layer,
//! `<conv>.norm.{gamma,beta}.{weight,bias}` (`[C, 100]`, `[C]`): γ = W s + b.

use crate::onnx::OnnxModel;
use crate::{Error, Result};
use candle_core::Tensor;
use std::path::Path;

/// Width of the style vector.
pub const STYLE_DIM: usize = 100;

/// One MobileNetV2 inverted-residual unit: (TF name, C_in, expansion, C_out, stride).
pub const MOBILENET_UNITS: [(&str, usize, usize, usize, usize); 17] = [
    ("expanded_conv", 32, 1, 16, 1),
    ("expanded_conv_1", 16, 6, 24, 2),
    ("expanded_conv_2", 24, 6, 24, 1),
    ("expanded_conv_3", 24, 6, 32, 2),
    ("expanded_conv_4", 32, 6, 32, 1),
    ("expanded_conv_5", 32, 6, 32, 1),
    ("expanded_conv_6", 32, 6, 64, 2),
    ("expanded_conv_7", 64, 6, 64, 1),
    ("expanded_conv_8", 64, 6, 64, 1),
    ("expanded_conv_9", 64, 6, 64, 1),
    ("expanded_conv_10", 64, 6, 96, 1),
    ("expanded_conv_11", 96, 6, 96, 1),
    ("expanded_conv_12", 96, 6, 96, 1),
    ("expanded_conv_13", 96, 6, 160, 2),
    ("expanded_conv_14", 160, 6, 160, 1),
    ("expanded_conv_15", 160, 6, 160, 1),
    ("expanded_conv_16", 160, 6, 320, 1),
];

/// Channels of the MobileNet stem and of `Conv_1`.
pub const STEM_CHANNELS: usize = 32;
pub const HEAD_CHANNELS: usize = 1280;

/// Transfer network residual blocks.
pub const NUM_RESIDUAL: usize = 5;

/// Which of the two files a model is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Predict,
    Transform,
}

/// Tells the predict and transform files apart by their initializers.
pub fn detect(model: &OnnxModel) -> Option<Part> {
    if model.initializer("MobilenetV2/Conv/weights").is_some() {
        Some(Part::Predict)
    } else if model.initializer("transformer/contract/conv1/weights").is_some() {
        Some(Part::Transform)
    } else {
        None
    }
}

/// Reads either file (the importer interface of `import/mod.rs`).
pub fn import(path: &Path) -> Result<Vec<(String, Tensor)>> {
    Ok(import_part(path)?.1)
}

/// Reads either file; the first value says which one it was.
pub fn import_part(path: &Path) -> Result<(Part, Vec<(String, Tensor)>)> {
    let model = OnnxModel::load(path)?;
    match detect(&model) {
        Some(Part::Predict) => Ok((Part::Predict, import_predict(&model)?)),
        Some(Part::Transform) => Ok((Part::Transform, import_transform(&model)?)),
        None => Err(Error::Format(format!(
            "{}: not a Magenta arbitrary style file (no MobilenetV2/ or transformer/ weights)",
            path.display()
        ))),
    }
}

/// Dequantized initializer `name`, checked against `shape`.
fn get(model: &OnnxModel, name: &str, shape: &[usize]) -> Result<Tensor> {
    if model.initializer(name).is_none() {
        return Err(Error::tensor(name, "missing from the ONNX graph (not the Magenta release file?)"));
    }
    let t = model.dequantized(name)?.to_dtype(candle_core::DType::F32)?;
    if t.dims() != shape {
        return Err(Error::tensor(name, format!("shape {:?}, expected {:?}", t.dims(), shape)));
    }
    Ok(t)
}

/// The style prediction network (MobileNetV2 + bottleneck).
pub fn import_predict(model: &OnnxModel) -> Result<Vec<(String, Tensor)>> {
    let mut out = Vec::new();
    let mut push = |key: String, onnx: String, shape: &[usize]| -> Result<()> {
        out.push((key, get(model, &onnx, shape)?));
        Ok(())
    };
    let m = "MobilenetV2";
    push("stem.weight".into(), format!("{m}/Conv/weights"), &[STEM_CHANNELS, 3, 3, 3])?;
    push("stem.bias".into(), format!("{m}/Conv/Conv2D_bias"), &[STEM_CHANNELS])?;
    for (i, &(unit, c_in, t, c_out, _)) in MOBILENET_UNITS.iter().enumerate() {
        let c = c_in * t;
        if t != 1 {
            push(format!("blocks.{i}.expand.weight"), format!("{m}/{unit}/expand/weights"), &[c, c_in, 1, 1])?;
            push(format!("blocks.{i}.expand.bias"), format!("{m}/{unit}/expand/Conv2D_bias"), &[c])?;
        }
        push(format!("blocks.{i}.depthwise.weight"), format!("{m}/{unit}/depthwise/depthwise_weights"), &[c, 1, 3, 3])?;
        push(format!("blocks.{i}.depthwise.bias"), format!("{m}/{unit}/depthwise/depthwise_bias"), &[c])?;
        push(format!("blocks.{i}.project.weight"), format!("{m}/{unit}/project/weights"), &[c_out, c, 1, 1])?;
        push(format!("blocks.{i}.project.bias"), format!("{m}/{unit}/project/Conv2D_bias"), &[c_out])?;
    }
    push("head.weight".into(), format!("{m}/Conv_1/weights"), &[HEAD_CHANNELS, 320, 1, 1])?;
    push("head.bias".into(), format!("{m}/Conv_1/Conv2D_bias"), &[HEAD_CHANNELS])?;
    let w = get(model, "mobilenet_conv/Conv/weights", &[STYLE_DIM, HEAD_CHANNELS, 1, 1])?;
    out.push(("bottleneck.weight".into(), w.reshape((STYLE_DIM, HEAD_CHANNELS))?));
    Ok(out)
}

/// (canonical conv name, TF scope, C_out, C_in, kernel) of the transfer
/// network's 16 convs in forward order; the last 13 carry a conditional
/// instance norm.
pub fn transform_convs() -> Vec<(String, String, usize, usize, usize)> {
    let mut v = vec![
        ("contract.0".to_string(), "transformer/contract/conv1".to_string(), 8, 3, 9),
        ("contract.1".into(), "transformer/contract/conv2".into(), 16, 8, 3),
        ("contract.2".into(), "transformer/contract/conv3".into(), 32, 16, 3),
    ];
    for k in 0..NUM_RESIDUAL {
        for j in 1..=2 {
            v.push((format!("residual.{k}.conv{j}"), format!("transformer/residual/residual{}/conv{j}", k + 1), 32, 32, 3));
        }
    }
    v.push(("expand.0".into(), "transformer/expand/conv1/conv".into(), 16, 32, 3));
    v.push(("expand.1".into(), "transformer/expand/conv2/conv".into(), 8, 16, 3));
    v.push(("expand.2".into(), "transformer/expand/conv3/conv".into(), 3, 8, 9));
    v
}

/// The transfer network and its style-parameter maps.
pub fn import_transform(model: &OnnxModel) -> Result<Vec<(String, Tensor)>> {
    let mut out = Vec::new();
    for (i, (key, scope, c_out, c_in, k)) in transform_convs().into_iter().enumerate() {
        out.push((format!("{key}.weight"), get(model, &format!("{scope}/weights"), &[c_out, c_in, k, k])?));
        if i < 3 {
            out.push((format!("{key}.bias"), get(model, &format!("{scope}/Conv2D_bias"), &[c_out])?));
            continue;
        }
        // Conv_1 → γ (scale), Conv → β (offset): network-specs §3.3.
        for (param, tf) in [("gamma", "Conv_1"), ("beta", "Conv")] {
            let p = format!("style_params/{scope}/StyleNorm/{tf}");
            let w = get(model, &format!("{p}/weights"), &[c_out, STYLE_DIM, 1, 1])?;
            out.push((format!("{key}.norm.{param}.weight"), w.reshape((c_out, STYLE_DIM))?));
            out.push((format!("{key}.norm.{param}.bias"), get(model, &format!("{p}/Conv2D_bias"), &[c_out])?));
        }
    }
    Ok(out)
}
