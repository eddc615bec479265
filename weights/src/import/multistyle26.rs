//! `multistyle26.onnx` (Dumoulin et al. 2017, PyTorch export) → the tensors
//! of `restyle_core::models::multistyle::MultiStyle26`.
//!
//! The initializers already carry PyTorch state-dict names (`contract.0.w`,
//! `res.3.1.norm.gamma`, …) in OIHW layout, so the import is a checked copy:
//! every expected tensor must be there with the expected shape.

use crate::onnx::OnnxModel;
use crate::{Error, Result};
use candle_core::Tensor;
use std::path::Path;

/// Number of built-in styles (rows of every γ/β table).
pub const NUM_STYLES: usize = 26;
/// Residual blocks in the network.
pub const NUM_RES: usize = 6;

/// (layer name, C_out, C_in, kernel) of every conv, in forward order.
pub fn layers() -> Vec<(String, usize, usize, usize)> {
    let mut v = vec![
        ("contract.0".to_string(), 32, 3, 9),
        ("contract.1".to_string(), 32, 32, 3),
        ("contract.2".to_string(), 32, 32, 3),
    ];
    for k in 0..NUM_RES {
        v.push((format!("res.{k}.0"), 32, 32, 3));
        v.push((format!("res.{k}.1"), 32, 32, 3));
    }
    v.push(("expand.0".to_string(), 8, 32, 3));
    v.push(("expand.1".to_string(), 4, 8, 3));
    v.push(("expand.2".to_string(), 3, 4, 9));
    v
}

/// Reads and validates the 54 tensors (18 convs × {w, norm.gamma, norm.beta}).
pub fn import(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let model = OnnxModel::load(path)?;
    import_model(&model)
}

pub fn import_model(model: &OnnxModel) -> Result<Vec<(String, Tensor)>> {
    let mut out = Vec::new();
    for (name, c_out, c_in, k) in layers() {
        let expect = [
            (format!("{name}.w"), vec![c_out, c_in, k, k]),
            (format!("{name}.norm.gamma"), vec![NUM_STYLES, c_out]),
            (format!("{name}.norm.beta"), vec![NUM_STYLES, c_out]),
        ];
        for (key, shape) in expect {
            let t = model.tensor(&key).map_err(|e| {
                Error::Format(format!("not a multistyle26 model: {e} (expected initializer '{key}')"))
            })?;
            if t.dims() != shape.as_slice() {
                return Err(Error::tensor(&key, format!("shape {:?}, expected {:?}", t.dims(), shape)));
            }
            out.push((key, t.to_dtype(candle_core::DType::F32)?));
        }
    }
    Ok(out)
}
