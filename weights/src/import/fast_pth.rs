//! Johnson transformer networks as users already have them: the PyTorch
//! state dicts of pytorch/examples `fast_neural_style` (`.pth`/`.model`,
//! keys `conv1.conv2d.weight`, `in1.weight`, `res1.conv1.conv2d.weight`,
//! `deconv1.conv2d.weight`, …), or restyle's own safetensors with the same
//! keys.
//!
//! The state dicts saved by old PyTorch versions carry `in*.running_mean` /
//! `running_var` entries for the instance norms; they are unused (instance
//! norm always uses the current statistics) and dropped here, as
//! pytorch/examples itself does.

use crate::{Error, Result};
use candle_core::{DType, Tensor};
use std::path::Path;

/// Reads a state dict (.pth zip pickle, or .safetensors) into f32 tensors with
/// the pytorch/examples key names. Fails when the file is not a transformer
/// network (no `conv1.conv2d.weight`).
pub fn import(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let is_safetensors = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    let raw: Vec<(String, Tensor)> = if is_safetensors {
        candle_core::safetensors::load(path, &candle_core::Device::Cpu)
            .map_err(|e| Error::Format(format!("{}: cannot read safetensors: {e}", path.display())))?
            .into_iter()
            .collect()
    } else {
        read_pth(path)?
    };
    let mut out = Vec::with_capacity(raw.len());
    for (name, t) in raw {
        // A state dict saved from a DataParallel wrapper prefixes "module.".
        let name = name.strip_prefix("module.").unwrap_or(&name).to_string();
        if name.ends_with(".running_mean") || name.ends_with(".running_var") || name.ends_with(".num_batches_tracked") {
            continue;
        }
        out.push((name, t.to_dtype(DType::F32)?));
    }
    if !out.iter().any(|(n, _)| n == "conv1.conv2d.weight") {
        return Err(Error::Format(format!(
            "{}: not a fast_neural_style transformer network (no 'conv1.conv2d.weight' among {} tensors)",
            path.display(),
            out.len()
        )));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Also used by the AdaIN importer (same container, other keys).
pub(crate) fn read_pth(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if super::detect_kind(path)? == super::FileKind::TorchLegacy {
        return super::torch_legacy::read(path);
    }
    let read = |key: Option<&str>| super::pickle_guard::guarded(|| candle_core::pickle::read_all_with_key(path, key));
    let tensors = read(None).map_err(|e| Error::Format(format!("{}: cannot read PyTorch file: {e}", path.display())))?;
    if !tensors.is_empty() {
        return Ok(tensors);
    }
    // Checkpoints that wrap the weights: {"state_dict": {...}} or {"model": {...}}.
    for key in ["state_dict", "model"] {
        if let Ok(t) = read(Some(key)) {
            if !t.is_empty() {
                return Ok(t);
            }
        }
    }
    Err(Error::Format(format!("{}: no tensors found in the PyTorch file", path.display())))
}
