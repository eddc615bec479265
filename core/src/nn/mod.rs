//! Building blocks shared by the feed-forward style networks (arbitrary,
//! fast, multistyle): reflect padding, instance norm with external γ/β,
//! nearest ×2 upsampling and TF-SAME zero padding. All tensors are NCHW.
//!
//! Conventions follow `docs/network-specs.md` §1.

pub mod frozen_conv;
pub mod tiling;

use crate::ops::norm::{Clamp, PlaneAffine, PlaneAffineAdd, PlaneStats};
use candle_core::{DType, Device, Module, Result, Tensor, D};

/// ε of every instance norm in the Magenta and multistyle networks.
pub const IN_EPS: f64 = 1e-5;

fn reflect_dim(x: &Tensor, dim: usize, before: usize, after: usize) -> Result<Tensor> {
    if before == 0 && after == 0 {
        return Ok(x.clone());
    }
    let n = x.dim(dim)?;
    if before >= n || after >= n {
        candle_core::bail!("reflect padding of {before}/{after} needs a size above the pad, got {n}");
    }
    // Mirror without repeating the edge pixel (TF `REFLECT`, PyTorch
    // `reflect`). Small pads: concatenate the mirrored borders: concatenate the mirrored borders (cheaper than a gather of
    // the whole tensor).
    let mut parts = Vec::with_capacity(before + after + 1);
    for i in (1..=before).rev() {
        parts.push(x.narrow(dim, i, 1)?);
    }
    parts.push(x.clone());
    for i in 0..after {
        parts.push(x.narrow(dim, n - 2 - i, 1)?);
    }
    Tensor::cat(&parts, dim)
}

/// Reflect padding of the two spatial axes: `top, bottom, left, right`.
pub fn reflect_pad(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    let _span = crate::profile::span("padding", || format!("reflect {top}/{bottom}/{left}/{right} {:?}", x.dims()), 0);
    if top + bottom + left + right == 0 {
        return Ok(x.clone());
    }
    // On the CPU one pass (ops::pad), with a one-pass backward for training.
    if x.device().is_cpu() && x.dtype() == DType::F32 && x.rank() == 4 {
        let op = crate::ops::pad::ReflectPad { top, bottom, left, right };
        return if x.track_op() { x.contiguous()?.apply_op1(op) } else { x.contiguous()?.apply_op1_no_bwd(&op) };
    }
    reflect_pad_portable(x, top, bottom, left, right)
}

/// [`reflect_pad`] with candle ops (any device, differentiable): the plain
/// reference the CPU kernel is tested against.
pub fn reflect_pad_portable(x: &Tensor, top: usize, bottom: usize, left: usize, right: usize) -> Result<Tensor> {
    let x = reflect_dim(x, 2, top, bottom)?;
    reflect_dim(&x, 3, left, right)
}

/// Reflect padding by `p` on all four sides.
pub fn reflect_pad_all(x: &Tensor, p: usize) -> Result<Tensor> {
    reflect_pad(x, p, p, p, p)
}

/// TF `SAME` zero padding for a `k`×`k` conv with stride `s` on a size `n`
/// axis: `(before, after)`, the extra pixel going after (bottom/right).
pub fn tf_same_pads(n: usize, k: usize, s: usize) -> (usize, usize) {
    let out = n.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(n);
    (total / 2, total - total / 2)
}

/// The input form of a `k`×`k` stride-`s` conv with TF `SAME` zero padding
/// on an `h`×`w` input, for [`crate::ops::conv::conv2d_fused`].
pub fn tf_same_form(h: usize, w: usize, k: usize, s: usize) -> crate::ops::conv::InputForm {
    let ((t, b), (l, r)) = (tf_same_pads(h, k, s), tf_same_pads(w, k, s));
    crate::ops::conv::InputForm { upsample2x: false, pad: [t, b, l, r], reflect: false }
}

/// Zero pads the spatial axes the way TF `SAME` does for this conv.
pub fn tf_same_zero_pad(x: &Tensor, k: usize, s: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let _span = crate::profile::span("padding", || format!("zero (TF same) {:?}", x.dims()), 0);
    let (t, b) = tf_same_pads(h, k, s);
    let (l, r) = tf_same_pads(w, k, s);
    x.pad_with_zeros(2, t, b)?.pad_with_zeros(3, l, r)
}

/// 2×2 max pooling, stride 2, floor mode, with the right gradient (each
/// window's to its maximum): one op on the CPU ([`crate::ops::pool`]),
/// elsewhere a max over a reshaped view, because candle's own `max_pool2d`
/// backward scales the gradient by ¼.
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return crate::ops::pool::max_pool2x2(x);
    }
    max_pool2x2_portable(x)
}

/// [`max_pool2x2`] from candle ops (any device): a max over each window of
/// a reshaped view, whose backward sends the gradient to the maximum.
pub fn max_pool2x2_portable(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    x.narrow(2, 0, 2 * ho)?.narrow(3, 0, 2 * wo)?.contiguous()?.reshape((n, c, ho, 2, wo, 2))?.max_keepdim(5)?.max_keepdim(3)?.reshape((n, c, ho, wo))
}

/// Nearest-neighbour ×2 upsampling: every pixel repeated 2×2.
pub fn upsample_nearest2x(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let _span = crate::profile::span("upsample", || format!("nearest ×2 {:?}", x.dims()), 0);
    x.upsample_nearest2d(2 * h, 2 * w)
}

/// Per-sample, per-channel statistics of an instance norm: mean and
/// `1/sqrt(σ² + ε)`, both `[N, C, 1, 1]`. Computed in f32 with a centred
/// second pass (no E[x²] − E[x]² cancellation).
#[derive(Clone, Debug)]
pub struct InstanceStats {
    pub mean: Tensor,
    pub inv_std: Tensor,
}

impl InstanceStats {
    pub fn of(x: &Tensor, eps: f64) -> Result<Self> {
        if inference_on_cpu(&[x]) {
            let (n, c, _, _) = x.dims4()?;
            let both = x.contiguous()?.apply_op1_no_bwd(&PlaneStats { eps })?;
            let part = |i| both.narrow(1, i, 1)?.reshape((n, c, 1, 1));
            return Ok(InstanceStats { mean: part(0)?, inv_std: part(1)? });
        }
        let x = x.to_dtype(DType::F32)?;
        let mean = x.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
        let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim(D::Minus1)?.mean_keepdim(D::Minus2)?;
        let inv_std = (var + eps)?.sqrt()?.recip()?;
        Ok(InstanceStats { mean, inv_std })
    }

    /// Moves the statistics to `device` (tiles may run elsewhere).
    pub fn to_device(&self, device: &Device) -> Result<Self> {
        Ok(InstanceStats { mean: self.mean.to_device(device)?, inv_std: self.inv_std.to_device(device)? })
    }
}

/// What follows a normalisation, fused into its pass where the CPU
/// inference kernels run (candle ops otherwise, same result).
#[derive(Clone, Copy, Debug)]
pub enum Then<'a> {
    Nothing,
    Relu,
    /// min(max(x, 0), 6) (MobileNetV2).
    Relu6,
    /// A residual block's skip connection: `+ r` (same shape).
    Add(&'a Tensor),
}

/// `x + bias` (`bias` one value per channel), then `then`: one pass on the
/// CPU in inference, candle ops otherwise.
pub fn add_bias_then(x: &Tensor, bias: &Tensor, then: Then) -> Result<Tensor> {
    let c = x.dim(1)?;
    let ones = Tensor::ones((1, c, 1, 1), x.dtype(), x.device())?;
    affine_then(x, &ones, &bias.reshape((1, c, 1, 1))?, then)
}

/// `(x − μ)/sqrt(σ² + ε) · γ + β` with the given statistics. `gamma` and
/// `beta` are `[C]` (shared by the batch) or `[N, C]` (one row per sample).
pub fn normalize(x: &Tensor, stats: &InstanceStats, gamma: &Tensor, beta: &Tensor) -> Result<Tensor> {
    normalize_then(x, stats, gamma, beta, Then::Nothing)
}

/// [`normalize`], then `then`.
pub fn normalize_then(x: &Tensor, stats: &InstanceStats, gamma: &Tensor, beta: &Tensor, then: Then) -> Result<Tensor> {
    let c = x.dim(1)?;
    let as4 = |t: &Tensor| -> Result<Tensor> {
        match t.rank() {
            1 => t.reshape((1, c, 1, 1)),
            2 => t.reshape((t.dim(0)?, c, 1, 1)),
            r => candle_core::bail!("γ/β must be [C] or [N, C], got rank {r}"),
        }
    };
    // Fold the normalisation into one scale and one shift per channel.
    let scale = stats.inv_std.broadcast_mul(&as4(gamma)?)?;
    let shift = as4(beta)?.broadcast_sub(&stats.mean.broadcast_mul(&scale)?)?;
    affine_then(x, &scale, &shift, then)
}

/// `x·scale + shift` (`[N or 1, C, 1, 1]` each), then `then`.
fn affine_then(x: &Tensor, scale: &Tensor, shift: &Tensor, then: Then) -> Result<Tensor> {
    let residual_ok = match then {
        Then::Add(r) => inference_on_cpu(&[r]),
        _ => true,
    };
    if inference_on_cpu(&[x, scale, shift]) && residual_ok {
        let (n, c, _, _) = x.dims4()?;
        let per_plane = |t: &Tensor| t.broadcast_as((n, c, 1, 1))?.flatten_all()?.to_vec1::<f32>();
        let (scale, shift) = (per_plane(scale)?, per_plane(shift)?);
        let clamp = match then {
            Then::Relu => Clamp::Relu,
            Then::Relu6 => Clamp::Relu6,
            Then::Nothing | Then::Add(_) => Clamp::None,
        };
        return match then {
            Then::Add(r) => x.contiguous()?.apply_op2_no_bwd(&r.contiguous()?, &PlaneAffineAdd { scale, shift }),
            _ => x.contiguous()?.apply_op1_no_bwd(&PlaneAffine { scale, shift, clamp }),
        };
    }
    let y = x.broadcast_mul(scale)?.broadcast_add(shift)?;
    match then {
        Then::Nothing => Ok(y),
        Then::Relu => y.relu(),
        Then::Relu6 => y.clamp(0f32, 6f32),
        Then::Add(r) => r + y,
    }
}

/// Inference (nothing to differentiate) on f32 CPU tensors: the case the
/// fused per-plane kernels below handle; training keeps candle's ops.
fn inference_on_cpu(ts: &[&Tensor]) -> bool {
    ts.iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32 && !t.track_op())
}

/// Instance norm with external γ/β (conditional instance norm): statistics
/// of `x` itself, ε = [`IN_EPS`] unless given.
pub fn instance_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let stats = InstanceStats::of(x, eps)?;
    normalize(x, &stats, gamma, beta)
}

/// The next instance norm of a network (γ/β `[C]` or `[N, C]`), with the
/// statistics `stats` gives, then `then`. Training on the CPU with the
/// input's own statistics runs as one differentiable op
/// ([`crate::ops::norm::NormAct`]) instead of candle's graph of means and
/// broadcasts.
pub fn norm_then(x: &Tensor, stats: &mut NormStats, gamma: &Tensor, beta: &Tensor, eps: f64, then: Then) -> Result<Tensor> {
    let cpu_f32 = [x, gamma, beta].iter().all(|t| t.device().is_cpu() && t.dtype() == DType::F32);
    if matches!(stats, NormStats::Own) && cpu_f32 && x.track_op() && x.rank() == 4 {
        let relu = matches!(then, Then::Relu);
        if let Then::Nothing | Then::Relu | Then::Add(_) = then {
            let y = x.contiguous()?.apply_op3(&gamma.contiguous()?, &beta.contiguous()?, crate::ops::norm::NormAct::new(eps, relu))?;
            return match then {
                Then::Add(r) => r + y,
                _ => Ok(y),
            };
        }
    }
    let s = stats.next(x, eps)?;
    normalize_then(x, &s, gamma, beta, then)
}

/// Where a network takes the statistics of its instance norms from: its own
/// input (normal), a recording run (collects them in order), or recorded
/// ones (tiles of a large image share the whole image's statistics).
#[derive(Debug, Default)]
pub enum NormStats {
    #[default]
    Own,
    Record(Vec<InstanceStats>),
    Replay { stats: Vec<InstanceStats>, next: usize },
}

impl NormStats {
    pub fn replay(stats: Vec<InstanceStats>) -> Self {
        NormStats::Replay { stats, next: 0 }
    }

    /// The statistics to use for the next norm layer, whose input is `x`.
    pub fn next(&mut self, x: &Tensor, eps: f64) -> Result<InstanceStats> {
        match self {
            NormStats::Own => InstanceStats::of(x, eps),
            NormStats::Record(v) => {
                let s = InstanceStats::of(x, eps)?;
                v.push(s.clone());
                Ok(s)
            }
            NormStats::Replay { stats, next } => {
                let s = stats.get(*next).ok_or_else(|| candle_core::Error::Msg("replayed fewer norm statistics than layers".into()))?;
                *next += 1;
                s.to_device(x.device())
            }
        }
    }

    /// The recorded statistics (empty unless recording).
    pub fn into_recorded(self) -> Vec<InstanceStats> {
        match self {
            NormStats::Record(v) => v,
            _ => Vec::new(),
        }
    }
}

/// A conv whose padding is a reflect pad of `pad` pixels on every side.
#[derive(Clone, Debug)]
pub struct ReflectConv {
    pub conv: candle_nn::Conv2d,
    pub pad: usize,
}

impl ReflectConv {
    /// `weight` OIHW, optional bias `[O]`; stride as given, no conv padding.
    pub fn new(weight: Tensor, bias: Option<Tensor>, stride: usize) -> Result<Self> {
        let k = weight.dim(2)?;
        let cfg = candle_nn::Conv2dConfig { padding: 0, stride, dilation: 1, groups: 1, cudnn_fwd_algo: None };
        Ok(ReflectConv { conv: candle_nn::Conv2d::new(weight, bias, cfg), pad: k / 2 })
    }
}

impl ReflectConv {
    /// The layer on `x` upsampled ×2 (nearest) first when `upsample2x`, then
    /// a ReLU when `relu`. In inference on AVX-512 CPUs upsampling, padding,
    /// bias and ReLU are done by the convolution kernel itself
    /// ([`crate::ops::conv::conv2d_fused`]); otherwise layer by layer.
    pub fn forward_with(&self, x: &Tensor, upsample2x: bool, relu: bool) -> Result<Tensor> {
        let p = self.pad;
        let form = crate::ops::conv::InputForm { upsample2x, pad: [p; 4], reflect: true };
        let stride = self.conv.config().stride;
        let clamp = relu.then_some((0.0, f32::INFINITY));
        if let Some(y) = crate::ops::conv::conv2d_fused(x, self.conv.weight(), self.conv.bias(), stride, form, false, clamp)? {
            return Ok(y);
        }
        let x = if upsample2x { upsample_nearest2x(x)? } else { x.clone() };
        let y = crate::ops::conv::conv2d(&reflect_pad_all(&x, p)?, self.conv.weight(), stride)?;
        let y = match self.conv.bias() {
            Some(b) => y.broadcast_add(&b.reshape((1, b.elem_count(), 1, 1))?)?,
            None => y,
        };
        if relu {
            y.relu()
        } else {
            Ok(y)
        }
    }
}

impl Module for ReflectConv {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_with(x, false, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_pool_portable_matches_the_cpu_op_forward_and_grad() {
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1., (2, 3, 7, 10), &Device::Cpu).unwrap()).unwrap();
        let r = Tensor::randn(0f32, 1., (2, 3, 3, 5), &Device::Cpu).unwrap();
        let mut out = Vec::new();
        for f in [max_pool2x2, max_pool2x2_portable] {
            let y = f(x.as_tensor()).unwrap();
            let g = (&y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            out.push((y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), g.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()));
        }
        assert_eq!(out[0], out[1]);
    }

    fn t(v: &[f32], shape: (usize, usize, usize, usize)) -> Tensor {
        Tensor::from_slice(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn reflect_pad_mirrors_without_the_edge() {
        let x = t(&[1., 2., 3., 4.], (1, 1, 1, 4));
        let y = reflect_pad(&x, 0, 0, 2, 3).unwrap();
        assert_eq!(y.flatten_all().unwrap().to_vec1::<f32>().unwrap(), vec![3., 2., 1., 2., 3., 4., 3., 2., 1.]);
        let x = t(&[1., 2., 3., 4., 5., 6.], (1, 1, 3, 2));
        let y = reflect_pad_all(&x, 1).unwrap();
        assert_eq!(y.dims(), &[1, 1, 5, 4]);
        assert_eq!(y.get(0).unwrap().get(0).unwrap().get(0).unwrap().to_vec1::<f32>().unwrap(), vec![4., 3., 4., 3.]);
        assert!(reflect_pad_all(&x, 2).is_err(), "pad must be below the size");
    }

    #[test]
    fn tf_same_is_asymmetric_on_even_sizes() {
        assert_eq!(tf_same_pads(256, 3, 2), (0, 1));
        assert_eq!(tf_same_pads(255, 3, 2), (1, 1));
        assert_eq!(tf_same_pads(8, 3, 1), (1, 1));
        assert_eq!(tf_same_pads(8, 1, 1), (0, 0));
    }

    #[test]
    fn instance_norm_matches_the_formula() {
        let v: Vec<f32> = (0..2 * 2 * 9).map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.0).collect();
        let x = t(&v, (2, 2, 3, 3));
        let gamma = Tensor::new(&[[2f32, 0.5], [1.0, -1.0]], &Device::Cpu).unwrap();
        let beta = Tensor::new(&[[0.1f32, 0.2], [0.0, 3.0]], &Device::Cpu).unwrap();
        let y = instance_norm(&x, &gamma, &beta, IN_EPS).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let g = [2f64, 0.5, 1.0, -1.0];
        let b = [0.1f64, 0.2, 0.0, 3.0];
        for (k, chunk) in v.chunks(9).enumerate() {
            let m = chunk.iter().map(|&a| a as f64).sum::<f64>() / 9.0;
            let var = chunk.iter().map(|&a| (a as f64 - m).powi(2)).sum::<f64>() / 9.0;
            for (i, &a) in chunk.iter().enumerate() {
                let want = (a as f64 - m) / (var + 1e-5).sqrt() * g[k] + b[k];
                assert!((y[k * 9 + i] as f64 - want).abs() < 1e-5, "{k} {i}");
            }
        }
    }

    /// The fused inference kernels and candle's ops (used when training)
    /// give the same normalisation.
    #[test]
    fn fused_inference_path_matches_the_differentiable_one() {
        let dev = Device::Cpu;
        let x = (Tensor::randn(0f32, 2.0, (2, 3, 5, 7), &dev).unwrap() + 1.5).unwrap();
        let gamma = Tensor::randn(1f32, 0.3, (2, 3), &dev).unwrap();
        let beta = Tensor::randn(0f32, 0.3, 3, &dev).unwrap();
        let fused = instance_norm(&x, &gamma, &beta, IN_EPS).unwrap();
        let tracked = candle_core::Var::from_tensor(&x).unwrap();
        assert!(tracked.track_op());
        let plain = instance_norm(&tracked, &gamma, &beta, IN_EPS).unwrap();
        let d = (fused - plain).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-5, "{d}");
    }

    /// The fused ReLU and residual add equal the candle ops they replace.
    #[test]
    fn fused_relu_and_residual_add_match_candle_ops() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 2.0, (2, 3, 5, 7), &dev).unwrap();
        let r = Tensor::randn(0f32, 1.0, (2, 3, 5, 7), &dev).unwrap();
        let gamma = Tensor::randn(1f32, 0.3, 3, &dev).unwrap();
        let beta = Tensor::randn(0f32, 0.3, (2, 3), &dev).unwrap();
        let s = InstanceStats::of(&x, IN_EPS).unwrap();
        let plain = normalize(&x, &s, &gamma, &beta).unwrap();
        let diff = |a: Tensor, b: Tensor| (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(diff(normalize_then(&x, &s, &gamma, &beta, Then::Relu).unwrap(), plain.relu().unwrap()) < 1e-6);
        assert!(diff(normalize_then(&x, &s, &gamma, &beta, Then::Relu6).unwrap(), plain.clamp(0f32, 6f32).unwrap()) < 1e-6);
        let bias = Tensor::randn(0f32, 1.0, 3, &dev).unwrap();
        let biased = x.broadcast_add(&bias.reshape((1, 3, 1, 1)).unwrap()).unwrap();
        assert!(diff(add_bias_then(&x, &bias, Then::Relu6).unwrap(), biased.clamp(0f32, 6f32).unwrap()) < 1e-6);
        assert!(diff(add_bias_then(&x, &bias, Then::Add(&r)).unwrap(), (&r + &biased).unwrap()) < 1e-6);
        assert!(diff(normalize_then(&x, &s, &gamma, &beta, Then::Add(&r)).unwrap(), (&r + &plain).unwrap()) < 1e-6);
        // The differentiable path (tracked input) gives the same.
        let tracked = candle_core::Var::from_tensor(&x).unwrap();
        assert!(diff(normalize_then(&tracked, &s, &gamma, &beta, Then::Add(&r)).unwrap(), (&r + &plain).unwrap()) < 1e-5);
    }

    #[test]
    fn replayed_stats_reproduce_own_stats() {
        let x = t(&(0..16).map(|i| i as f32).collect::<Vec<_>>(), (1, 1, 4, 4));
        let (g, b) = (Tensor::new(&[1.5f32], &Device::Cpu).unwrap(), Tensor::new(&[0.5f32], &Device::Cpu).unwrap());
        let mut rec = NormStats::Record(Vec::new());
        let s = rec.next(&x, IN_EPS).unwrap();
        let own = normalize(&x, &s, &g, &b).unwrap();
        let mut rep = NormStats::replay(rec.into_recorded());
        let crop = x.narrow(3, 0, 2).unwrap();
        let s2 = rep.next(&crop, IN_EPS).unwrap();
        let y = normalize(&crop, &s2, &g, &b).unwrap();
        let d = (y - own.narrow(3, 0, 2).unwrap()).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-6);
        assert!(rep.next(&crop, IN_EPS).is_err());
    }

    #[test]
    fn upsample_repeats_pixels() {
        let x = t(&[1., 2., 3., 4.], (1, 1, 2, 2));
        let y = upsample_nearest2x(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(y, vec![1., 1., 2., 2., 1., 1., 2., 2., 3., 3., 4., 4., 3., 3., 4., 4.]);
    }

    #[test]
    fn reflect_pad_kernel_matches_the_portable_reference() {
        let dev = Device::Cpu;
        for &(n, c, h, w) in &[(1, 3, 7, 5), (2, 4, 9, 13), (1, 1, 2, 2)] {
            let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            for &(t, b, l, r) in &[(1, 1, 1, 1), (4, 4, 4, 4), (0, 1, 0, 1), (2, 0, 3, 1), (1, 0, 0, 0)] {
                if t >= h || b >= h || l >= w || r >= w {
                    continue;
                }
                let fast = reflect_pad(&x, t, b, l, r).unwrap();
                let plain = reflect_pad_portable(&x, t, b, l, r).unwrap();
                assert_eq!(fast.dims(), plain.dims());
                let d = (fast - plain).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
                assert_eq!(d, 0.0, "{n}x{c}x{h}x{w} pad {t}/{b}/{l}/{r}");
            }
        }
        // Training: the one-pass backward equals the concatenation's.
        let x = candle_core::Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 7, 9), &dev).unwrap()).unwrap();
        for &(t, b, l, r) in &[(4, 4, 4, 4), (1, 0, 2, 3), (0, 1, 0, 1)] {
            let fast = reflect_pad(&x, t, b, l, r).unwrap();
            let plain = reflect_pad_portable(&x, t, b, l, r).unwrap();
            let weight = Tensor::randn(0f32, 1.0, fast.dims(), &dev).unwrap();
            let grad = |y: &Tensor| (y * &weight).unwrap().sum_all().unwrap().backward().unwrap().get(&x).unwrap().clone();
            let d = (grad(&fast) - grad(&plain)).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(d < 1e-5, "pad {t}/{b}/{l}/{r}: gradient differs by {d}");
        }
        // A pad as large as the axis is an error on both paths, never a panic.
        let x = Tensor::zeros((1, 1, 3, 3), candle_core::DType::F32, &dev).unwrap();
        assert!(reflect_pad(&x, 3, 0, 0, 0).is_err());
        assert!(reflect_pad_portable(&x, 3, 0, 0, 0).is_err());
    }
}
