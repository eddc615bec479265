//! AdaIN (Huang & Belongie 2017): arbitrary style transfer by matching the
//! per-channel mean and standard deviation of VGG features. The layout is
//! that of naoto0804/pytorch-AdaIN's `nn.Sequential`s, whose state dicts
//! (`vgg_normalised.pth`, `decoder.pth`) load by name; keys are module
//! indices, under `vgg.` and `decoder.`:
//!
//! ```text
//! encoder  0: 1×1 conv 3→3 (the "normalised" VGG's input transform, no ReLU)
//!          2 conv1_1 (c1), 5 conv1_2, pool, 9 conv2_1 (c2), 12 conv2_2, pool,
//!          16 19 22 25 conv3_1…3_4 (c3), pool, 29 conv4_1 (c4) → relu4_1
//! decoder  1: c4→c3, ×2, 5 8 11: c3→c3, 14: c3→c2, ×2, 18: c2→c2, 21: c2→c1,
//!          ×2, 25: c1→c1, 28: c1→3 (no ReLU)
//! ```
//!
//! Every 3×3 conv is reflect-padded by 1 and followed by a ReLU; pools are
//! 2×2 max pools with `ceil_mode=True`; ×2 is nearest upsampling. The
//! release has (c1, c2, c3, c4) = (64, 128, 256, 512); narrower networks
//! (the test fixture) are read off the tensor shapes. Input RGB 0..1, output
//! RGB ~0..1 (unbounded; clamped when turned into an image).

use crate::image::RgbImage;
use crate::nn::{upsample_nearest2x, ReflectConv};
use crate::progress::{Control, Progress, ProgressFn};
use crate::request::StyleImage;
use crate::nn::tiling::{run_with_shared_stats, Tiling};
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor, D};
use candle_nn::VarBuilder;
use restyle_weights::import::adain::Part;
use std::collections::HashMap;

/// ε added to the feature variance, as the release's `calc_mean_std`.
pub const EPS: f64 = 1e-5;

/// Smallest content/style side: relu4_1 (1/8 resolution, rounded up) must
/// be at least 2 pixels for the reflection pad of conv4_1.
pub const MIN_SIDE: usize = 9;

/// Widths of the four VGG stages (conv1_x … conv4_1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    pub widths: [usize; 4],
}

impl Default for Config {
    fn default() -> Self {
        Config { widths: [64, 128, 256, 512] }
    }
}

impl Config {
    /// Reads the widths off the encoder's tensors (`vgg.2.weight`, …).
    pub fn infer(tensors: &HashMap<String, Tensor>) -> Result<Self> {
        let out = |i: usize| -> Result<usize> {
            let t = tensors
                .get(&format!("vgg.{i}.weight"))
                .ok_or_else(|| Error::InvalidArgument(format!("not an AdaIN encoder: no tensor '{i}.weight'")))?;
            Ok(t.dim(0)?)
        };
        Ok(Config { widths: [out(2)?, out(9)?, out(16)?, out(29)?] })
    }
}

/// Per-sample, per-channel feature statistics, `[N, C, 1, 1]` each.
#[derive(Clone, Debug)]
pub struct MeanStd {
    pub mean: Tensor,
    pub std: Tensor,
}

impl MeanStd {
    /// Mean and `sqrt(var + ε)` over H×W, with the unbiased variance
    /// (`torch.var`'s default, which the release uses).
    pub fn of(f: &Tensor) -> candle_core::Result<Self> {
        let (n, c, h, w) = f.dims4()?;
        if h * w < 2 {
            candle_core::bail!("AdaIN statistics need at least 2 feature pixels, got {h}×{w}");
        }
        let v = f.reshape((n, c, h * w))?;
        let mean = v.mean_keepdim(D::Minus1)?;
        let var = (v.broadcast_sub(&mean)?.sqr()?.sum_keepdim(D::Minus1)? / (h * w - 1) as f64)?;
        let std = (var + EPS)?.sqrt()?;
        Ok(MeanStd { mean: mean.reshape((n, c, 1, 1))?, std: std.reshape((n, c, 1, 1))? })
    }

    pub fn to_device(&self, device: &Device) -> candle_core::Result<Self> {
        Ok(MeanStd { mean: self.mean.to_device(device)?, std: self.std.to_device(device)? })
    }

    /// Weighted mix of several styles' statistics (weights normalised to 1).
    /// Mixing the AdaIN outputs, as the release's `style_interpolation_weights`
    /// does, is the same: Σ wᵢ(σᵢ·x̂ + μᵢ) = (Σ wᵢσᵢ)·x̂ + Σ wᵢμᵢ.
    pub fn mix(stats: &[(MeanStd, f32)]) -> Result<Self> {
        let total: f32 = stats.iter().map(|(_, w)| *w).sum();
        if stats.is_empty() || stats.iter().any(|(_, w)| *w < 0.0 || !w.is_finite()) || total <= 0.0 {
            return Err(Error::InvalidArgument("style weights must be non-negative with a positive sum".into()));
        }
        let (mut mean, mut std) = ((stats[0].0.mean.zeros_like())?, (stats[0].0.std.zeros_like())?);
        for (s, w) in stats {
            let w = (*w / total) as f64;
            mean = (mean + (&s.mean * w)?)?;
            std = (std + (&s.std * w)?)?;
        }
        Ok(MeanStd { mean, std })
    }
}

/// AdaIN(x, target) = σ_t · (x − μ(x)) / σ(x) + μ_t, per sample and channel.
pub fn adaptive_instance_norm(x: &Tensor, target: &MeanStd) -> candle_core::Result<Tensor> {
    adaptive_instance_norm_with(x, &MeanStd::of(x)?, target)
}

/// AdaIN with the statistics `own` taken as x's (a tile uses the whole
/// image's, so that tiles do not each get their own colours).
pub fn adaptive_instance_norm_with(x: &Tensor, own: &MeanStd, target: &MeanStd) -> candle_core::Result<Tensor> {
    let scale = target.std.broadcast_div(&own.std)?;
    let shift = target.mean.broadcast_sub(&own.mean.broadcast_mul(&scale)?)?;
    x.broadcast_mul(&scale)?.broadcast_add(&shift)
}

/// A conv module `vb.<index>.weight|bias` of the given shape.
fn conv(vb: &VarBuilder, index: usize, c_in: usize, c_out: usize, k: usize) -> candle_core::Result<ReflectConv> {
    let w = vb.get((c_out, c_in, k, k), &format!("{index}.weight"))?;
    let b = vb.get(c_out, &format!("{index}.bias"))?;
    ReflectConv::new(w, Some(b), 1)
}

/// 3×3 convs grouped as `plan` says (`(c_in, c_out)` per conv), taking the
/// module indices in order from `indices`.
fn conv_stages(vb: &VarBuilder, indices: &[usize], plan: &[&[(usize, usize)]]) -> candle_core::Result<Vec<Vec<ReflectConv>>> {
    let mut next = indices.iter();
    plan.iter()
        .map(|stage| {
            stage
                .iter()
                .map(|&(ci, co)| {
                    let i = next.next().ok_or_else(|| candle_core::Error::Msg("more convs planned than indices".into()))?;
                    conv(vb, *i, ci, co, 3)
                })
                .collect()
        })
        .collect()
}

/// 2×2 max pool with `ceil_mode=True`: an odd last row/column forms a window
/// of its own, done here by repeating it (max of equal values is exact).
fn max_pool_ceil(x: &Tensor) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let x = if h % 2 == 1 { x.pad_with_same(2, 0, 1)? } else { x.clone() };
    let x = if w % 2 == 1 { x.pad_with_same(3, 0, 1)? } else { x };
    crate::nn::max_pool2x2(&x)
}

/// The normalised VGG19 up to relu4_1.
#[derive(Clone, Debug)]
pub struct Encoder {
    input: ReflectConv,
    /// Stages of conv+ReLU layers, a ceil-mode max pool between stages.
    stages: Vec<Vec<ReflectConv>>,
}

impl Encoder {
    pub fn new(cfg: Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let [c1, c2, c3, c4] = cfg.widths;
        let idx = Part::Vgg.conv_indices();
        // (c_in, c_out) of conv1_1 … conv4_1, grouped by stage.
        let plan: [&[(usize, usize)]; 4] =
            [&[(3, c1), (c1, c1)], &[(c1, c2), (c2, c2)], &[(c2, c3), (c3, c3), (c3, c3), (c3, c3)], &[(c3, c4)]];
        Ok(Encoder { input: conv(&vb, idx[0], 3, 3, 1)?, stages: conv_stages(&vb, &idx[1..], &plan)? })
    }

    /// RGB 0..1 `[N, 3, H, W]` → relu4_1 `[N, c4, ⌈H/8⌉, ⌈W/8⌉]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = self.input.forward(x)?;
        for (s, convs) in self.stages.iter().enumerate() {
            if s > 0 {
                y = max_pool_ceil(&y)?;
            }
            for c in convs {
                y = c.forward(&y)?.relu()?;
            }
        }
        Ok(y)
    }
}

/// The decoder: relu4_1-shaped features → RGB at 8× their size.
#[derive(Clone, Debug)]
pub struct Decoder {
    /// Stages of conv+ReLU layers, nearest ×2 after each.
    stages: Vec<Vec<ReflectConv>>,
    tail: Vec<ReflectConv>,
    out: ReflectConv,
}

impl Decoder {
    pub fn new(cfg: Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let [c1, c2, c3, c4] = cfg.widths;
        let idx = Part::Decoder.conv_indices();
        let plan: [&[(usize, usize)]; 4] =
            [&[(c4, c3)], &[(c3, c3), (c3, c3), (c3, c3), (c3, c2)], &[(c2, c2), (c2, c1)], &[(c1, c1)]];
        let mut stages = conv_stages(&vb, idx, &plan)?;
        let tail = stages.pop().unwrap_or_default();
        Ok(Decoder { stages, tail, out: conv(&vb, idx[8], c1, 3, 3)? })
    }

    pub fn forward(&self, t: &Tensor) -> candle_core::Result<Tensor> {
        let mut y = t.clone();
        for convs in &self.stages {
            for c in convs {
                y = c.forward(&y)?.relu()?;
            }
            y = upsample_nearest2x(&y)?;
        }
        for c in &self.tail {
            y = c.forward(&y)?.relu()?;
        }
        self.out.forward(&y)
    }
}

/// Per-run options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Shorter side style images are resized to (the release's default 512).
    pub style_size: usize,
    /// Tiles for content images larger than `tiling.tile` on either side.
    pub tiling: Tiling,
    /// Tiled images take the content's feature statistics from the whole
    /// image scaled to at most this longest side (exact when no larger).
    pub stats_max_side: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { style_size: 512, tiling: Tiling { tile: 1024, overlap: 64 }, stats_max_side: 1024 }
    }
}

/// Encoder + decoder.
#[derive(Clone, Debug)]
pub struct AdaIN {
    pub encoder: Encoder,
    pub decoder: Decoder,
    config: Config,
    device: Device,
}

impl AdaIN {
    /// Tensors under `vgg.` and `decoder.` (the catalog's part names).
    pub fn new(cfg: Config, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(AdaIN {
            encoder: Encoder::new(cfg, vb.pp("vgg"))?,
            decoder: Decoder::new(cfg, vb.pp("decoder"))?,
            config: cfg,
            device: vb.device().clone(),
        })
    }

    pub fn from_tensors(tensors: HashMap<String, Tensor>, device: &Device) -> Result<Self> {
        let cfg = Config::infer(&tensors)?;
        let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
        AdaIN::new(cfg, vb).map_err(|e| {
            Error::InvalidArgument(format!("the AdaIN encoder and decoder do not fit together (widths {:?}): {e}", cfg.widths))
        })
    }

    pub fn config(&self) -> Config {
        self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// RGB 0..1 `[N, 3, H, W]` → relu4_1 features.
    pub fn encode(&self, x: &Tensor) -> Result<Tensor> {
        let (_, c, h, w) = x.dims4()?;
        if c != 3 || h < MIN_SIDE || w < MIN_SIDE {
            return Err(Error::InvalidArgument(format!(
                "AdaIN needs RGB images of at least {MIN_SIDE}×{MIN_SIDE}, got {c} channels {w}×{h}"
            )));
        }
        Ok(self.encoder.forward(&x.to_device(&self.device)?.to_dtype(DType::F32)?)?)
    }

    /// The style statistics of one image `[1, 3, H, W]`.
    pub fn style_stats(&self, style: &Tensor) -> Result<MeanStd> {
        Ok(MeanStd::of(&self.encode(style)?)?)
    }

    /// Content `[1, 3, H, W]` (0..1) restyled to `target` with strength
    /// `alpha`: t = α·AdaIN(f_c) + (1 − α)·f_c, decoded. Unclamped; the size
    /// of the content. With `ceil_mode` pooling the decoder returns
    /// 8·⌈H/8⌉ × 8·⌈W/8⌉ whose top-left H×W is aligned with the input (the
    /// pool windows start at 0), so the extra rows/columns are cropped off:
    /// the result is the release's output, cropped.
    pub fn transfer(&self, content: &Tensor, target: &MeanStd, alpha: f32) -> Result<Tensor> {
        self.transfer_with(content, None, target, alpha)
    }

    /// [`Self::transfer`], the content's feature statistics `own` if given
    /// (else its own).
    fn transfer_with(&self, content: &Tensor, own: Option<&MeanStd>, target: &MeanStd, alpha: f32) -> Result<Tensor> {
        if !(0.0..=1.0).contains(&alpha) {
            return Err(Error::InvalidArgument(format!("AdaIN strength must be in 0..1, got {alpha}")));
        }
        let (_, _, h, w) = content.dims4()?;
        let fc = self.encode(content)?;
        let t = match own {
            Some(own) => adaptive_instance_norm_with(&fc, &own.to_device(fc.device())?, target)?,
            None => adaptive_instance_norm(&fc, target)?,
        };
        let t = ((t * alpha as f64)? + (fc * (1.0 - alpha as f64))?)?;
        Ok(self.decoder.forward(&t)?.narrow(2, 0, h)?.narrow(3, 0, w)?)
    }

    /// [`Self::transfer`] of a `[1, 3, H, W]` image of any size: in
    /// overlapping tiles with feathered seams when larger than a tile, every
    /// tile normalised with the content statistics of the whole image
    /// (measured at up to `opts.stats_max_side`).
    pub fn transfer_tiled(&self, content: &Tensor, target: &MeanStd, alpha: f32, opts: &Options) -> Result<Tensor> {
        run_with_shared_stats(
            content,
            opts.tiling,
            opts.stats_max_side,
            |probe| Ok(MeanStd::of(&self.encode(probe)?)?),
            |tile, own| self.transfer_with(tile, own, target, alpha),
        )
    }

    /// One content image in a weighted mix of styles (each resized to
    /// `opts.style_size` on its shorter side; tiled as `opts` says), clamped
    /// to 0..1. Reports one progress step per style and one for the decoding.
    pub fn stylize(
        &self,
        content: &RgbImage,
        styles: &[StyleImage],
        alpha: f32,
        opts: &Options,
        progress: &mut ProgressFn,
    ) -> Result<RgbImage> {
        if styles.is_empty() {
            return Err(Error::InvalidArgument("AdaIN needs at least one style image".into()));
        }
        let total = styles.len() + 1;
        let mut report = |step: usize| {
            if progress(&Progress { stage: "adain".into(), step, total, ..Progress::default() }) == Control::Cancel {
                return Err(Error::Cancelled);
            }
            Ok(())
        };
        let mut stats = Vec::with_capacity(styles.len());
        for (i, s) in styles.iter().enumerate() {
            report(i)?;
            stats.push((self.style_stats(&self.style_tensor(&s.image, opts)?)?, s.weight));
        }
        let target = MeanStd::mix(&stats)?;
        report(styles.len())?;
        let y = self.transfer_tiled(&content.to_tensor(&self.device)?, &target, alpha, opts)?.clamp(0f32, 1f32)?;
        report(total)?;
        RgbImage::from_tensor(&y)
    }

    fn style_tensor(&self, style: &RgbImage, opts: &Options) -> Result<Tensor> {
        crate::models::arbitrary::style_input(style, opts.style_size)?.to_tensor(&self.device)
    }

    /// The weighted mix of the styles' statistics as [`Self::stylize`]
    /// computes it, flattened (every channel's mean, then every std), so a
    /// video computes it once and hands it to [`Self::stylize_with_stats`].
    pub fn mixed_style_stats(&self, styles: &[StyleImage], opts: &Options) -> Result<Vec<f32>> {
        if styles.is_empty() {
            return Err(Error::InvalidArgument("AdaIN needs at least one style image".into()));
        }
        let mut stats = Vec::with_capacity(styles.len());
        for s in styles {
            stats.push((self.style_stats(&self.style_tensor(&s.image, opts)?)?, s.weight));
        }
        let m = MeanStd::mix(&stats)?;
        Ok([m.mean.flatten_all()?.to_vec1::<f32>()?, m.std.flatten_all()?.to_vec1::<f32>()?].concat())
    }

    /// [`Self::stylize`] with the statistics of [`Self::mixed_style_stats`]
    /// instead of style images: the same result, without encoding a style.
    pub fn stylize_with_stats(&self, content: &RgbImage, stats: &[f32], alpha: f32, opts: &Options, progress: &mut ProgressFn) -> Result<RgbImage> {
        let c = self.config().widths[3];
        if stats.len() != 2 * c {
            return Err(Error::InvalidArgument(format!("AdaIN style statistics need {} values (mean and std of {c} channels), got {}", 2 * c, stats.len())));
        }
        let t = |v: &[f32]| Tensor::from_slice(v, (1, c, 1, 1), &self.device);
        let target = MeanStd { mean: t(&stats[..c])?, std: t(&stats[c..])? };
        let mut report = |step: usize| {
            if progress(&Progress { stage: "adain".into(), step, total: 1, ..Progress::default() }) == Control::Cancel {
                return Err(Error::Cancelled);
            }
            Ok(())
        };
        report(0)?;
        let y = self.transfer_tiled(&content.to_tensor(&self.device)?, &target, alpha, opts)?.clamp(0f32, 1f32)?;
        report(1)?;
        RgbImage::from_tensor(&y)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::VarMap;

    fn stats_of(t: &Tensor) -> (Vec<f32>, Vec<f32>) {
        let s = MeanStd::of(t).unwrap();
        (s.mean.flatten_all().unwrap().to_vec1().unwrap(), s.std.flatten_all().unwrap().to_vec1().unwrap())
    }

    #[test]
    fn statistics_are_unbiased_with_eps() {
        let x = Tensor::new(&[1f32, 2., 3., 6.], &Device::Cpu).unwrap().reshape((1, 1, 2, 2)).unwrap();
        let (m, s) = stats_of(&x);
        // mean 3, unbiased var (4 + 1 + 0 + 9) / 3
        assert_eq!(m, vec![3.0]);
        assert!((s[0] as f64 - (14.0 / 3.0 + EPS).sqrt()).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn adain_output_takes_the_style_statistics() {
        let dev = Device::Cpu;
        let content = Tensor::randn(0f32, 1.0, (1, 6, 7, 9), &dev).unwrap().affine(3.0, 1.0).unwrap();
        let style = Tensor::randn(0f32, 1.0, (1, 6, 5, 4), &dev)
            .unwrap()
            .broadcast_mul(&Tensor::new(&[0.1f32, 0.5, 1.0, 2.0, 4.0, 0.01], &dev).unwrap().reshape((1, 6, 1, 1)).unwrap())
            .unwrap()
            .broadcast_add(&Tensor::new(&[-2f32, 0., 1., 3., 0.5, 7.], &dev).unwrap().reshape((1, 6, 1, 1)).unwrap())
        .unwrap();
        let target = MeanStd::of(&style).unwrap();
        let y = adaptive_instance_norm(&content, &target).unwrap();
        let (ym, ys) = stats_of(&y);
        let (sm, ss) = stats_of(&style);
        for c in 0..6 {
            assert!((ym[c] - sm[c]).abs() < 1e-4, "channel {c}: mean {} vs style {}", ym[c], sm[c]);
            // The output's plain std is the target σ_s = sqrt(var_s + ε), up to the
            // factor sqrt(var_c / (var_c + ε)) ≈ 1 − 6e-7 here (var_c ≈ 9).
            let plain = ((ys[c] as f64).powi(2) - EPS).sqrt();
            assert!((plain / ss[c] as f64 - 1.0).abs() < 1e-4, "channel {c}: std {plain} vs style {}", ss[c]);
        }
        // A mix with weights 3:1 is the weighted target, and weights are normalised.
        let other = MeanStd::of(&content).unwrap();
        let mix = MeanStd::mix(&[(target.clone(), 3.0), (other.clone(), 1.0)]).unwrap();
        let want = ((&target.mean * 0.75).unwrap() + (&other.mean * 0.25).unwrap()).unwrap();
        let d: f32 = (mix.mean - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
        assert!(d < 1e-6);
        assert!(MeanStd::mix(&[(target, 0.0)]).is_err());
    }

    #[test]
    fn ceil_mode_pool_keeps_the_partial_windows() {
        let x = Tensor::arange(0f32, 15., &Device::Cpu).unwrap().reshape((1, 1, 3, 5)).unwrap();
        let y = max_pool_ceil(&x).unwrap();
        assert_eq!(y.dims(), &[1, 1, 2, 3]);
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![6., 8., 9., 11., 13., 14.]);
    }

    #[test]
    fn any_size_in_same_size_out_and_widths_are_inferred() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let cfg = Config { widths: [2, 3, 4, 5] };
        let net = AdaIN::new(cfg, vb).unwrap();
        let map: HashMap<String, Tensor> =
            vm.data().lock().unwrap().iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
        assert_eq!(map.len(), 2 * (10 + 9));
        assert_eq!(Config::infer(&map).unwrap(), cfg);
        let style = MeanStd::of(&net.encode(&Tensor::rand(0f32, 1., (1, 3, 20, 30), &Device::Cpu).unwrap()).unwrap()).unwrap();
        for (h, w) in [(9, 9), (17, 23), (32, 40)] {
            let x = Tensor::rand(0f32, 1., (1, 3, h, w), &Device::Cpu).unwrap();
            assert_eq!(net.transfer(&x, &style, 0.5).unwrap().dims(), &[1, 3, h, w]);
        }
        let tiny = Tensor::rand(0f32, 1., (1, 3, 8, 30), &Device::Cpu).unwrap();
        assert!(net.transfer(&tiny, &style, 1.0).unwrap_err().to_string().contains("at least 9×9"));
        let mut narrow = map.clone();
        narrow.insert("decoder.1.weight".into(), Tensor::zeros((4, 6, 3, 3), DType::F32, &Device::Cpu).unwrap());
        let e = AdaIN::from_tensors(narrow, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("do not fit together") && e.contains("decoder.1.weight"), "{e}");
    }
}
