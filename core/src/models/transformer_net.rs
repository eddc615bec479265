//! Johnson et al. 2016 image transformation network, in the pytorch/examples
//! `fast_neural_style` layout so that its state dicts load by name:
//!
//! ```text
//! conv1 9×9/1 (c1) → in1 → relu      conv2 3×3/2 (c2) → in2 → relu
//! conv3 3×3/2 (c3) → in3 → relu      res1…resN: x + in2(conv2(relu(in1(conv1(x)))))
//! deconv1: nearest ×2, 3×3 (c2) → in4 → relu
//! deconv2: nearest ×2, 3×3 (c1) → in5 → relu
//! deconv3 9×9 (3), no norm, no activation
//! ```
//!
//! Every conv is reflect-padded by k/2 and has a bias; the instance norms are
//! affine (`inK.weight`, `inK.bias`), ε = 1e-5. pytorch/examples uses
//! (c1, c2, c3) = (32, 64, 128) and 5 residual blocks; narrower variants (the
//! embedded default) are read off the tensor shapes. Like pytorch/examples,
//! the network maps RGB 0..255 to RGB 0..255 (unbounded; clamped when turned
//! into an image).

use crate::image::RgbImage;
use crate::nn::{norm_then, reflect_pad, NormStats, ReflectConv, Then, IN_EPS};
use crate::nn::tiling::{run_with_norm_stats, Tiling};
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Init, VarBuilder};
use std::collections::HashMap;

/// Longest side at which a tiled run measures its whole-image norm statistics.
pub const STATS_MAX_SIDE: usize = 1024;

/// Widths and depth. pytorch/examples: `Config::default()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub c1: usize,
    pub c2: usize,
    pub c3: usize,
    pub num_res: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { c1: 32, c2: 64, c3: 128, num_res: 5 }
    }
}

impl Config {
    /// Reads the widths and the number of residual blocks off a state dict.
    pub fn infer(tensors: &HashMap<String, Tensor>) -> Result<Self> {
        let out_ch = |k: &str| -> Result<usize> {
            let t = tensors
                .get(k)
                .ok_or_else(|| Error::InvalidArgument(format!("not a fast_neural_style network: no tensor '{k}'")))?;
            Ok(t.dim(0)?)
        };
        let num_res = (1..).take_while(|i| tensors.contains_key(&format!("res{i}.conv1.conv2d.weight"))).count();
        if num_res == 0 {
            return Err(Error::InvalidArgument("not a fast_neural_style network: no residual blocks (res1.…)".into()));
        }
        Ok(Config {
            c1: out_ch("conv1.conv2d.weight")?,
            c2: out_ch("conv2.conv2d.weight")?,
            c3: out_ch("conv3.conv2d.weight")?,
            num_res,
        })
    }
}

/// `ConvLayer` / `UpsampleConvLayer` of pytorch/examples: (nearest ×2),
/// reflect pad k/2, conv with bias. Tensors under `<name>.conv2d.`.
#[derive(Clone, Debug)]
struct ConvLayer {
    conv: ReflectConv,
    upsample: bool,
}

impl ConvLayer {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize, upsample: bool) -> candle_core::Result<Self> {
        let vb = vb.pp("conv2d");
        // PyTorch's default conv init (kaiming uniform, a = √5): U(±1/√fan_in).
        let bound = 1.0 / ((c_in * k * k) as f64).sqrt();
        let init = Init::Uniform { lo: -bound, up: bound };
        let w = vb.get_with_hints((c_out, c_in, k, k), "weight", init)?;
        let b = vb.get_with_hints(c_out, "bias", init)?;
        Ok(ConvLayer { conv: ReflectConv::new(w, Some(b), stride)?, upsample })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.conv.forward_with(x, self.upsample, false)
    }
}

/// Affine instance norm (`nn.InstanceNorm2d(c, affine=True)`).
#[derive(Clone, Debug)]
struct InstanceNorm {
    weight: Tensor,
    bias: Tensor,
}

impl InstanceNorm {
    fn new(vb: VarBuilder, c: usize) -> candle_core::Result<Self> {
        Ok(InstanceNorm {
            weight: vb.get_with_hints(c, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(c, "bias", Init::Const(0.0))?,
        })
    }

    /// The norm, then the ReLU or skip connection that follows it (fused).
    fn forward(&self, x: &Tensor, stats: &mut NormStats, then: Then) -> candle_core::Result<Tensor> {
        norm_then(x, stats, &self.weight, &self.bias, IN_EPS, then)
    }
}

#[derive(Clone, Debug)]
struct ResidualBlock {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
}

impl ResidualBlock {
    fn new(vb: VarBuilder, c: usize) -> candle_core::Result<Self> {
        Ok(ResidualBlock {
            conv1: ConvLayer::new(vb.pp("conv1"), c, c, 3, 1, false)?,
            in1: InstanceNorm::new(vb.pp("in1"), c)?,
            conv2: ConvLayer::new(vb.pp("conv2"), c, c, 3, 1, false)?,
            in2: InstanceNorm::new(vb.pp("in2"), c)?,
        })
    }

    fn forward(&self, x: &Tensor, stats: &mut NormStats) -> candle_core::Result<Tensor> {
        let y = self.in1.forward(&self.conv1.forward(x)?, stats, Then::Relu)?;
        self.in2.forward(&self.conv2.forward(&y)?, stats, Then::Add(x))
    }
}

/// The transformer network.
#[derive(Clone, Debug)]
pub struct TransformerNet {
    conv1: ConvLayer,
    in1: InstanceNorm,
    conv2: ConvLayer,
    in2: InstanceNorm,
    conv3: ConvLayer,
    in3: InstanceNorm,
    res: Vec<ResidualBlock>,
    deconv1: ConvLayer,
    in4: InstanceNorm,
    deconv2: ConvLayer,
    in5: InstanceNorm,
    deconv3: ConvLayer,
    config: Config,
    device: Device,
}

impl TransformerNet {
    /// Builds the network from `vb` (loaded tensors, or a `VarMap` for training,
    /// where the PyTorch default initialisation applies).
    pub fn new(cfg: Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let Config { c1, c2, c3, num_res } = cfg;
        Ok(TransformerNet {
            conv1: ConvLayer::new(vb.pp("conv1"), 3, c1, 9, 1, false)?,
            in1: InstanceNorm::new(vb.pp("in1"), c1)?,
            conv2: ConvLayer::new(vb.pp("conv2"), c1, c2, 3, 2, false)?,
            in2: InstanceNorm::new(vb.pp("in2"), c2)?,
            conv3: ConvLayer::new(vb.pp("conv3"), c2, c3, 3, 2, false)?,
            in3: InstanceNorm::new(vb.pp("in3"), c3)?,
            res: (1..=num_res).map(|i| ResidualBlock::new(vb.pp(format!("res{i}")), c3)).collect::<candle_core::Result<_>>()?,
            deconv1: ConvLayer::new(vb.pp("deconv1"), c3, c2, 3, 1, true)?,
            in4: InstanceNorm::new(vb.pp("in4"), c2)?,
            deconv2: ConvLayer::new(vb.pp("deconv2"), c2, c1, 3, 1, true)?,
            in5: InstanceNorm::new(vb.pp("in5"), c1)?,
            deconv3: ConvLayer::new(vb.pp("deconv3"), c1, 3, 9, 1, false)?,
            config: cfg,
            device: vb.device().clone(),
        })
    }

    /// From a state dict (pytorch/examples key names), widths inferred.
    pub fn from_tensors(tensors: HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let cfg = Config::infer(&tensors)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        TransformerNet::new(cfg, vb).map_err(|e| Error::InvalidArgument(format!("not a fast_neural_style network: {e}")))
    }

    pub fn config(&self) -> Config {
        self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The network on `x` (`[N, 3, H, W]`, RGB 0..255, H and W multiples of
    /// 4), norm statistics taken as `stats` says. Output RGB ~0..255.
    pub fn forward_with(&self, x: &Tensor, stats: &mut NormStats) -> candle_core::Result<Tensor> {
        let mut y = self.in1.forward(&self.conv1.forward(x)?, stats, Then::Relu)?;
        y = self.in2.forward(&self.conv2.forward(&y)?, stats, Then::Relu)?;
        y = self.in3.forward(&self.conv3.forward(&y)?, stats, Then::Relu)?;
        for r in &self.res {
            y = r.forward(&y, stats)?;
        }
        y = self.in4.forward(&self.deconv1.forward(&y)?, stats, Then::Relu)?;
        y = self.in5.forward(&self.deconv2.forward(&y)?, stats, Then::Relu)?;
        self.deconv3.forward(&y)
    }

    /// RGB 0..1 of any size → stylized RGB 0..1 (clamped): reflect-pads
    /// bottom/right to a multiple of 4, runs at 0..255, crops back.
    pub fn stylize_with(&self, x: &Tensor, stats: &mut NormStats) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (ph, pw) = (h.next_multiple_of(4) - h, w.next_multiple_of(4) - w);
        let padded = (reflect_pad(x, 0, ph, 0, pw)? * 255.0)?;
        let y = self.forward_with(&padded, stats)?.narrow(2, 0, h)?.narrow(3, 0, w)?;
        (y / 255.0)?.clamp(0f32, 1f32)
    }

    /// `[1,3,H,W]` RGB 0..1 → stylized, tiled (sharing the whole image's norm
    /// statistics, measured at up to `stats_max_side`) when larger than a tile.
    pub fn stylize_tensor(&self, x: &Tensor, tiling: Tiling, stats_max_side: usize) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        if h < 10 || w < 10 {
            return Err(Error::InvalidArgument(format!("content image of {w}×{h} is too small (at least 10×10)")));
        }
        let x = x.to_device(&self.device)?.to_dtype(DType::F32)?;
        run_with_norm_stats(&x, tiling, stats_max_side, |t, stats| self.stylize_with(t, stats))
    }

    pub fn stylize(&self, content: &RgbImage, tiling: Tiling) -> Result<RgbImage> {
        let x = content.to_tensor(&self.device)?;
        RgbImage::from_tensor(&self.stylize_tensor(&x, tiling, STATS_MAX_SIDE)?)
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    fn tiny() -> TransformerNet {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        TransformerNet::new(Config { c1: 4, c2: 8, c3: 8, num_res: 2 }, vb).unwrap()
    }

    #[test]
    fn any_size_in_same_size_out() {
        let net = tiny();
        for (h, w) in [(10, 10), (23, 37), (64, 30)] {
            let x = Tensor::rand(0f32, 1., (1, 3, h, w), &Device::Cpu).unwrap();
            let y = net.stylize_tensor(&x, Tiling::default(), STATS_MAX_SIDE).unwrap();
            assert_eq!(y.dims(), &[1, 3, h, w]);
            let (lo, hi) = (y.min_all().unwrap().to_scalar::<f32>().unwrap(), y.max_all().unwrap().to_scalar::<f32>().unwrap());
            assert!((0.0..=1.0).contains(&lo) && (0.0..=1.0).contains(&hi));
        }
        assert!(net.stylize_tensor(&Tensor::zeros((1, 3, 4, 40), DType::F32, &Device::Cpu).unwrap(), Tiling::default(), 64).is_err());
    }

    #[test]
    fn config_is_read_off_the_tensors() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let cfg = Config { c1: 4, c2: 6, c3: 8, num_res: 3 };
        TransformerNet::new(cfg, vb).unwrap();
        let map: HashMap<String, Tensor> = vm.data().lock().unwrap().iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
        assert_eq!(map.len(), 2 * (6 + 4 * 3) + 2 * 5);
        assert!(map.contains_key("res3.in2.weight") && map.contains_key("deconv3.conv2d.bias"));
        assert_eq!(Config::infer(&map).unwrap(), cfg);
        let mut broken = map.clone();
        broken.remove("conv2.conv2d.weight");
        assert!(TransformerNet::from_tensors(broken, &Device::Cpu).is_err());
    }
}
