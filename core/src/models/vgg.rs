//! VGG16 / VGG19 feature extractor: the loss network of every NST variant.
//!
//! API (stable; other modules build on it):
//! - [`Config`] { arch: VGG16|VGG19, pooling: max|avg, convention: caffe BGR-mean | torchvision mean/std };
//! - [`Vgg::new`]`(vb, cfg)` with canonical names `conv{B}_{C}.weight|bias`
//!   (see `restyle_weights::import::vgg`); [`Vgg::load`]`(path, pooling, device)` reads
//!   any supported file (Keras ONNX, torchvision/timm `.pth`/`.safetensors`, canonical);
//! - [`Vgg::forward`]`(&x, &["relu1_1", "relu4_2", ...])` takes RGB in 0..1,
//!   `[N,3,H,W]`, applies the weights' preprocessing inside, runs only up to the
//!   deepest requested layer and returns the requested activations, in network order;
//! - [`Vgg::activation_scale`]: activations under the caffe convention are ≈58× those
//!   under torchvision's; losses divide features by this scale so that one set of
//!   loss weights gives the same balance for either convention.
//!
//! Layer names are `relu{B}_{C}` (after the ReLU of conv B_C), as in the papers.

use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use crate::nn::frozen_conv::FrozenConv;
use candle_nn::VarBuilder;
pub use restyle_weights::import::vgg::{InputConvention, VggArch};

/// Pooling between blocks. Gatys et al. used average pooling; max is the common default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Pooling {
    #[default]
    Max,
    Avg,
}

impl std::str::FromStr for Pooling {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "max" => Ok(Pooling::Max),
            "avg" | "average" => Ok(Pooling::Avg),
            _ => Err(Error::InvalidArgument(format!("unknown pooling '{s}' (expected max or avg)"))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub arch: VggArch,
    pub pooling: Pooling,
    pub convention: InputConvention,
}

impl Config {
    pub fn vgg16_caffe() -> Self {
        Config { arch: VggArch::Vgg16, pooling: Pooling::Max, convention: InputConvention::CaffeBgrMean }
    }
    pub fn vgg19_torchvision() -> Self {
        Config { arch: VggArch::Vgg19, pooling: Pooling::Max, convention: InputConvention::TorchvisionMeanStd }
    }
}

/// Caffe mean, in B, G, R order, on 0..255.
const CAFFE_MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];
const TV_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const TV_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A VGG trunk (convs + ReLU + pooling), weights frozen.
pub struct Vgg {
    cfg: Config,
    /// (relu layer name, conv, pool before this conv)
    convs: Vec<(String, FrozenConv, bool)>,
    /// Per-channel RGB offset subtracted from the 0..1 input; the scale and
    /// channel order of the convention are folded into conv1_1's weights.
    input_mean: Tensor,
    device: Device,
}

impl Vgg {
    pub fn new(vb: VarBuilder, cfg: Config) -> Result<Self> {
        let device = vb.device().clone();
        let mut convs = Vec::new();
        let mut in_c = 3;
        let widths = [64, 128, 256, 512, 512];
        for (b, &n) in cfg.arch.block_sizes().iter().enumerate() {
            for c in 1..=n {
                let out_c = widths[b];
                let vbc = vb.pp(format!("conv{}_{}", b + 1, c));
                let mut w = vbc.get((out_c, in_c, 3, 3), "weight")?.to_dtype(DType::F32)?;
                let bias = vbc.get(out_c, "bias")?.to_dtype(DType::F32)?;
                if b == 0 && c == 1 {
                    w = fold_input_convention(&w, cfg.convention)?;
                }
                convs.push((format!("relu{}_{}", b + 1, c), FrozenConv::new(w, bias)?, b > 0 && c == 1));
                in_c = out_c;
            }
        }
        let mean: Vec<f32> = match cfg.convention {
            InputConvention::CaffeBgrMean => vec![CAFFE_MEAN_BGR[2] / 255.0, CAFFE_MEAN_BGR[1] / 255.0, CAFFE_MEAN_BGR[0] / 255.0],
            InputConvention::TorchvisionMeanStd => TV_MEAN.to_vec(),
        };
        let input_mean = Tensor::from_vec(mean, (1, 3, 1, 1), &device)?;
        Ok(Vgg { cfg, convs, input_mean, device })
    }

    pub fn config(&self) -> Config {
        self.cfg
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Every layer name this network has, in order (`relu1_1`, `relu1_2`, ...).
    pub fn layer_names(&self) -> Vec<&str> {
        self.convs.iter().map(|(n, _, _)| n.as_str()).collect()
    }

    /// Depth (1-based conv index) of a layer, or an error naming the valid layers.
    pub fn depth(&self, layer: &str) -> Result<usize> {
        self.convs.iter().position(|(n, _, _)| n == layer).map(|i| i + 1).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "unknown layer '{layer}' for {} (valid: {})",
                self.cfg.arch.name(),
                self.layer_names().join(", ")
            ))
        })
    }

    /// Activations divide by this before losses (caffe: 255·0.226, the ratio of
    /// the two conventions' input scales; torchvision: 1).
    pub fn activation_scale(&self) -> f64 {
        match self.cfg.convention {
            InputConvention::CaffeBgrMean => 255.0 * 0.226,
            InputConvention::TorchvisionMeanStd => 1.0,
        }
    }

    /// Activations of `layers` for RGB 0..1 input `x` [N,3,H,W], in network
    /// order; stops after the deepest requested layer.
    pub fn forward(&self, x: &Tensor, layers: &[&str]) -> Result<Features> {
        let mut wanted = vec![false; self.convs.len()];
        for l in layers {
            wanted[self.depth(l)? - 1] = true;
        }
        let Some(last) = wanted.iter().rposition(|&w| w) else {
            return Ok(Features(Vec::new()));
        };
        if x.rank() != 4 || x.dim(1)? != 3 {
            return Err(Error::InvalidArgument(format!("VGG input must be [N,3,H,W], got {:?}", x.dims())));
        }
        let mut h = x.broadcast_sub(&self.input_mean)?;
        let mut out = Vec::new();
        for (i, (name, conv, pool)) in self.convs.iter().enumerate().take(last + 1) {
            if *pool {
                h = match self.cfg.pooling {
                    Pooling::Max => crate::nn::max_pool2x2(&h)?,
                    Pooling::Avg => h.avg_pool2d(2)?,
                };
            }
            h = conv.forward_relu(&h)?;
            if wanted[i] {
                out.push((name.clone(), h.clone()));
            }
        }
        Ok(Features(out))
    }
}

/// conv1_1 weights that take (RGB 0..1 − mean) directly: caffe → ×255 and
/// input channels reversed (BGR); torchvision → ÷std. Exact, because the
/// zero padding stays zero under both.
fn fold_input_convention(w: &Tensor, convention: InputConvention) -> Result<Tensor> {
    let dev = w.device();
    Ok(match convention {
        InputConvention::CaffeBgrMean => {
            let rev = Tensor::new(&[2u32, 1, 0], dev)?;
            (w.index_select(&rev, 1)? * 255.0)?
        }
        InputConvention::TorchvisionMeanStd => {
            let inv: Vec<f32> = TV_STD.iter().map(|s| 1.0 / s).collect();
            w.broadcast_mul(&Tensor::from_vec(inv, (1, 3, 1, 1), dev)?)?
        }
    })
}

/// Named activations in network order.
#[derive(Clone, Debug)]
pub struct Features(pub Vec<(String, Tensor)>);

impl Features {
    pub fn get(&self, layer: &str) -> Option<&Tensor> {
        self.0.iter().find(|(n, _)| n == layer).map(|(_, t)| t)
    }
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.0.iter().map(|(n, t)| (n.as_str(), t))
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Module;
    use std::collections::HashMap;

    /// Tiny synthetic VGG16 with deterministic weights.
    pub(crate) fn synthetic(cfg: Config) -> Vgg {
        let dev = Device::Cpu;
        let mut t = HashMap::new();
        let widths = [64, 128, 256, 512, 512];
        let mut in_c = 3;
        for (b, &n) in cfg.arch.block_sizes().iter().enumerate() {
            for c in 1..=n {
                let o = widths[b];
                let w = (Tensor::rand(-1f32, 1f32, (o, in_c, 3, 3), &dev).unwrap() * (1.0 / (in_c as f64 * 9.0).sqrt())).unwrap();
                t.insert(format!("conv{}_{}.weight", b + 1, c), w);
                t.insert(format!("conv{}_{}.bias", b + 1, c), Tensor::full(0.01f32, o, &dev).unwrap());
                in_c = o;
            }
        }
        Vgg::new(VarBuilder::from_tensors(t, DType::F32, &dev), cfg).unwrap()
    }

    #[test]
    fn forward_returns_requested_layers_in_order_with_shapes() {
        let vgg = synthetic(Config::vgg16_caffe());
        let x = Tensor::rand(0f32, 1f32, (1, 3, 32, 32), &Device::Cpu).unwrap();
        let f = vgg.forward(&x, &["relu3_1", "relu1_1"]).unwrap();
        let names: Vec<_> = f.iter().map(|(n, _)| n.to_string()).collect();
        assert_eq!(names, ["relu1_1", "relu3_1"]);
        assert_eq!(f.get("relu1_1").unwrap().dims(), &[1, 64, 32, 32]);
        assert_eq!(f.get("relu3_1").unwrap().dims(), &[1, 256, 8, 8]);
        assert!(vgg.forward(&x, &["relu6_1"]).is_err());
        assert!(vgg.forward(&x, &["relu5_4"]).is_err()); // VGG19 only
        assert_eq!(vgg.depth("relu5_3").unwrap(), 13);
    }

    #[test]
    fn frozen_conv_input_gradient_matches_candle_autograd() {
        let dev = Device::Cpu;
        let w = Tensor::rand(-1f32, 1., (5, 4, 3, 3), &dev).unwrap();
        let b = Tensor::rand(-1f32, 1., 5, &dev).unwrap();
        let x = candle_core::Var::rand(0f32, 1., (1, 4, 7, 6), &dev).unwrap();
        let conv = FrozenConv::new(w.clone(), b.clone()).unwrap();
        let ours = conv.forward(x.as_tensor()).unwrap().sqr().unwrap().sum_all().unwrap();
        let g1 = ours.backward().unwrap().get(x.as_tensor()).unwrap().clone();
        let plain = candle_nn::Conv2d::new(w, Some(b), candle_nn::Conv2dConfig { padding: 1, ..Default::default() });
        let theirs = plain.forward(x.as_tensor()).unwrap().sqr().unwrap().sum_all().unwrap();
        let g2 = theirs.backward().unwrap().get(x.as_tensor()).unwrap().clone();
        let v = (ours.to_scalar::<f32>().unwrap(), theirs.to_scalar::<f32>().unwrap());
        assert!((v.0 - v.1).abs() <= 1e-4 * v.1.abs(), "{v:?}");
        let err = (g1 - &g2).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let peak = g2.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(err <= 1e-5 * peak, "gradient err {err} vs {peak}");
    }

    #[test]
    fn folded_caffe_preprocessing_matches_explicit() {
        let vgg = synthetic(Config::vgg16_caffe());
        let x = Tensor::rand(0f32, 1f32, (1, 3, 8, 8), &Device::Cpu).unwrap();
        let got = vgg.forward(&x, &["relu1_1"]).unwrap().get("relu1_1").unwrap().clone();
        // explicit: BGR 0..255 minus mean, then the original conv1_1
        let (_, conv, _) = &vgg.convs[0];
        let w = conv.w.index_select(&Tensor::new(&[2u32, 1, 0], &Device::Cpu).unwrap(), 1).unwrap();
        let w = (w / 255.0).unwrap();
        let bgr = (x.index_select(&Tensor::new(&[2u32, 1, 0], &Device::Cpu).unwrap(), 1).unwrap() * 255.0).unwrap();
        let mean = Tensor::new(&CAFFE_MEAN_BGR, &Device::Cpu).unwrap().reshape((1, 3, 1, 1)).unwrap();
        let pre = bgr.broadcast_sub(&mean).unwrap();
        let want = candle_nn::Conv2d::new(w, Some(conv.b.flatten_all().unwrap()), candle_nn::Conv2dConfig { padding: 1, ..Default::default() })
            .forward(&pre)
            .unwrap()
            .relu()
            .unwrap();
        let err = (got - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(err < 1e-3, "err {err}");
    }
}
