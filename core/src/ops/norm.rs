//! Instance-norm kernels on the CPU: per-plane statistics and a fused
//! per-plane affine (optionally followed by a ReLU, or by a residual add),
//! each one pass over a plane, planes in parallel; and for training,
//! [`NormAct`]: the whole norm (own statistics, γ, β, ReLU) as one
//! differentiable op.

use crate::ops::storage::f32_slice;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Mutex;

/// Mean and `1/sqrt(σ² + ε)` of every `H×W` plane in one read of each
/// plane (it is in cache for the centred second pass): `[N·C, 2]`.
pub(crate) struct PlaneStats {
    pub(crate) eps: f64,
}

/// Sum of `f(v)` in f64 over 16 independent lanes: a sequential f64 sum is
/// bound by the add latency (one element per 4 cycles); lanes let it
/// vectorise while keeping the f64 accuracy of the statistics.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn lane_sum(p: &[f32], centre: f64, square: bool) -> f64 {
    let mut lanes = [0f64; 16];
    let chunks = p.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            let d = v as f64 - centre;
            *l += if square { d * d } else { d };
        }
    }
    let t: f64 = tail.iter().map(|&v| v as f64 - centre).map(|d| if square { d * d } else { d }).sum();
    lanes.iter().sum::<f64>() + t
}

/// The plain definition [`lane_sum`] is tested against.
#[cfg(test)]
fn plain_mean_inv_std(p: &[f32], eps: f64) -> (f32, f32) {
    let len = p.len() as f64;
    let mean = p.iter().map(|&v| v as f64).sum::<f64>() / len;
    let var = p.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / len;
    (mean as f32, (1.0 / (var + eps).sqrt()) as f32)
}

fn mean_inv_std(p: &[f32], eps: f64) -> (f32, f32) {
    let len = p.len() as f64;
    let mean = lane_sum(p, 0.0, false) / len;
    let var = lane_sum(p, mean, true) / len;
    (mean as f32, (1.0 / (var + eps).sqrt()) as f32)
}

impl CustomOp1 for PlaneStats {
    fn name(&self) -> &'static str {
        "instance-norm-stats"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let _span = crate::profile::span("norm", || format!("stats {c} @ {h}×{w}"), 0);
        let x = f32_slice(s, l)?;
        let mut out = vec![0f32; n * c * 2];
        out.par_chunks_mut(2).zip(x.par_chunks(h * w)).for_each(|(o, p)| {
            (o[0], o[1]) = mean_inv_std(p, self.eps);
        });
        Ok((CpuStorage::F32(out), Shape::from((n * c, 2))))
    }
}

/// The activation [`PlaneAffine`] applies after the affine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Clamp {
    None,
    Relu,
    /// min(max(x, 0), 6) (MobileNetV2).
    Relu6,
}

/// `x·scale + shift` with one scale and shift per `H×W` plane, then the
/// clamp, one pass.
pub(crate) struct PlaneAffine {
    pub(crate) scale: Vec<f32>,
    pub(crate) shift: Vec<f32>,
    pub(crate) clamp: Clamp,
}

impl CustomOp1 for PlaneAffine {
    fn name(&self) -> &'static str {
        "instance-norm-affine"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = l.shape().dims4()?;
        let _span = crate::profile::span("norm", || format!("affine {:?} {c} @ {h}×{w}", self.clamp), 0);
        let x = f32_slice(s, l)?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h * w).zip(x.par_chunks(h * w)).enumerate().for_each(|(i, (o, p))| {
            affine_plane(o, p, self.scale[i], self.shift[i], self.clamp);
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

/// `o = clamp(p·a + b)` over one plane.
fn affine_plane(o: &mut [f32], p: &[f32], a: f32, b: f32, clamp: Clamp) {
    match clamp {
        Clamp::None => o.iter_mut().zip(p).for_each(|(o, &v)| *o = v * a + b),
        Clamp::Relu => o.iter_mut().zip(p).for_each(|(o, &v)| *o = (v * a + b).max(0.0)),
        Clamp::Relu6 => o.iter_mut().zip(p).for_each(|(o, &v)| *o = (v * a + b).clamp(0.0, 6.0)),
    }
}

/// `x·scale + shift + r` (a residual block's second norm and its skip
/// connection), one pass: `x` is arg 1, `r` (same shape) arg 2.
pub(crate) struct PlaneAffineAdd {
    pub(crate) scale: Vec<f32>,
    pub(crate) shift: Vec<f32>,
}

impl CustomOp2 for PlaneAffineAdd {
    fn name(&self) -> &'static str {
        "instance-norm-affine-add"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = l1.shape().dims4()?;
        if l1.dims() != l2.dims() {
            candle_core::bail!("residual add: {:?} and {:?} differ", l1.dims(), l2.dims());
        }
        let _span = crate::profile::span("norm", || format!("affine+add {c} @ {h}×{w}"), 0);
        let (x, r) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h * w).zip(x.par_chunks(h * w).zip(r.par_chunks(h * w))).enumerate().for_each(|(i, (o, (p, q)))| {
            let (a, b) = (self.scale[i], self.shift[i]);
            o.iter_mut().zip(p.iter().zip(q)).for_each(|(o, (&v, &s))| *o = v * a + b + s);
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }
}

/// γ or β of plane `i` (of `c` channels): `[C]` is shared by the batch,
/// `[N, C]` has one row per sample.
fn per_plane(v: &[f32], i: usize, c: usize) -> f32 {
    if v.len() == c {
        v[i % c]
    } else {
        v[i]
    }
}

/// Instance norm with the input's own statistics, affine γ/β (`[C]` or
/// `[N, C]`) and an optional ReLU, as one op for training: the forward is
/// two reads of each plane (statistics) and one write; the backward two
/// passes over x and ∂y per plane, where candle's graph of means,
/// broadcasts and the ReLU took about thirty full-tensor passes. The
/// forward keeps each plane's mean and 1/σ for the backward.
pub(crate) struct NormAct {
    eps: f64,
    relu: bool,
    /// `[mean, inv_std]` per plane, from the forward.
    stats: Mutex<Vec<(f32, f32)>>,
}

impl NormAct {
    pub(crate) fn new(eps: f64, relu: bool) -> Self {
        NormAct { eps, relu, stats: Mutex::new(Vec::new()) }
    }
}

impl CustomOp3 for NormAct {
    fn name(&self) -> &'static str {
        "instance-norm-act"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout, s3: &CpuStorage, l3: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let _span = crate::profile::span("norm", || format!("train fwd{} {c} @ {h}×{w}", if self.relu { "+relu" } else { "" }), 0);
        let (x, gamma, beta) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?, f32_slice(s3, l3)?);
        for v in [gamma, beta] {
            if v.len() != c && v.len() != n * c {
                candle_core::bail!("instance norm: γ/β need {c} or {} values, got {}", n * c, v.len());
            }
        }
        let mut stats = vec![(0f32, 0f32); n * c];
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h * w).zip(x.par_chunks(h * w)).zip(stats.par_iter_mut()).enumerate().for_each(|(i, ((o, p), st))| {
            let (mean, inv_std) = mean_inv_std(p, self.eps);
            *st = (mean, inv_std);
            let a = per_plane(gamma, i, c) * inv_std;
            let b = per_plane(beta, i, c) - mean * a;
            affine_plane(o, p, a, b, if self.relu { Clamp::Relu } else { Clamp::None });
        });
        *self.stats.lock().map_err(|_| candle_core::Error::Msg("instance norm: poisoned statistics".into()))? = stats;
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, gamma: &Tensor, beta: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, c, h, w) = x.dims4()?;
        let stats = self.stats.lock().map_err(|_| candle_core::Error::Msg("instance norm: poisoned statistics".into()))?.clone();
        if stats.len() != n * c {
            candle_core::bail!("instance norm: backward without its forward");
        }
        let params = |t: &Tensor| -> Result<Vec<f32>> { t.flatten_all()?.to_vec1::<f32>() };
        let (g, b) = (params(gamma)?, params(beta)?);
        let mut planes = Vec::with_capacity(n * c);
        for (i, &(mean, inv_std)) in stats.iter().enumerate() {
            planes.push(PlaneParams { mean, inv_std, gamma: per_plane(&g, i, c), beta: per_plane(&b, i, c) });
        }
        let op = NormActGrad { planes, relu: self.relu };
        let out = x.contiguous()?.apply_op2_no_bwd(&grad.contiguous()?, &op)?;
        let len = n * c * h * w;
        let dx = out.narrow(0, 0, len)?.reshape((n, c, h, w))?;
        // Per plane Σ∂z (∂β) and Σ∂z·x̂ (∂γ); summed over the batch for a shared [C].
        let sums = out.narrow(0, len, 2 * n * c)?.reshape((n, c, 2))?;
        let fold = |t: Tensor, like: &Tensor| -> Result<Tensor> {
            if like.elem_count() == c {
                t.sum(0)?.reshape(like.shape())
            } else {
                t.reshape(like.shape())
            }
        };
        let dbeta = fold(sums.narrow(2, 0, 1)?.squeeze(2)?, beta)?;
        let dgamma = fold(sums.narrow(2, 1, 1)?.squeeze(2)?, gamma)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

#[derive(Clone, Copy)]
struct PlaneParams {
    mean: f32,
    inv_std: f32,
    gamma: f32,
    beta: f32,
}

/// The backward of [`NormAct`] on (x, ∂y): `[N·C·H·W]` ∂x followed by
/// `[N·C, 2]` (Σ∂z, Σ∂z·x̂) per plane, where z is the pre-ReLU output and
/// x̂ the normalised input:
/// `∂x = γ/σ · (∂z − mean(∂z) − x̂·mean(∂z·x̂))`.
struct NormActGrad {
    planes: Vec<PlaneParams>,
    relu: bool,
}

impl CustomOp2 for NormActGrad {
    fn name(&self) -> &'static str {
        "instance-norm-act-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        if l1.dims() != l2.dims() || self.planes.len() != n * c {
            candle_core::bail!("instance norm grad: {:?} vs {:?}", l1.dims(), l2.dims());
        }
        let _span = crate::profile::span("norm", || format!("train bwd{} {c} @ {h}×{w}", if self.relu { "+relu" } else { "" }), 0);
        let (x, gy) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let m = h * w;
        let mut out = vec![0f32; x.len() + 2 * n * c];
        let (dx, sums) = out.split_at_mut(x.len());
        dx.par_chunks_mut(m).zip(sums.par_chunks_mut(2)).zip(x.par_chunks(m).zip(gy.par_chunks(m))).zip(self.planes.par_iter()).for_each(
            |(((d, s), (p, g)), pp)| {
                let (s1, s2) = grad_sums(p, g, pp, self.relu);
                s[0] = s1 as f32;
                s[1] = s2 as f32;
                let (mz, mzx) = ((s1 / m as f64) as f32, (s2 / m as f64) as f32);
                let k = pp.gamma * pp.inv_std;
                for ((d, &v), &gv) in d.iter_mut().zip(p).zip(g) {
                    let xh = (v - pp.mean) * pp.inv_std;
                    let gz = if self.relu && pp.gamma * xh + pp.beta <= 0.0 { 0.0 } else { gv };
                    *d = k * (gz - mz - xh * mzx);
                }
            },
        );
        Ok((CpuStorage::F32(out), Shape::from(x.len() + 2 * n * c)))
    }
}

/// (Σ∂z, Σ∂z·x̂) over one plane, in 16 f64 lanes.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn grad_sums(p: &[f32], g: &[f32], pp: &PlaneParams, relu: bool) -> (f64, f64) {
    let (mut a, mut b) = ([0f64; 16], [0f64; 16]);
    let one = |v: f32, gv: f32| -> (f32, f32) {
        let xh = (v - pp.mean) * pp.inv_std;
        let gz = if relu && pp.gamma * xh + pp.beta <= 0.0 { 0.0 } else { gv };
        (gz, gz * xh)
    };
    let (pc, gc) = (p.chunks_exact(16), g.chunks_exact(16));
    let (pt, gt) = (pc.remainder(), gc.remainder());
    for (cp, cg) in pc.zip(gc) {
        for l in 0..16 {
            let (z, zx) = one(cp[l], cg[l]);
            a[l] += z as f64;
            b[l] += zx as f64;
        }
    }
    let (mut s1, mut s2) = (a.iter().sum::<f64>(), b.iter().sum::<f64>());
    for (&v, &gv) in pt.iter().zip(gt) {
        let (z, zx) = one(v, gv);
        s1 += z as f64;
        s2 += zx as f64;
    }
    (s1, s2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The training op against candle's graph of the same norm (forward and
    /// all three gradients), with a ReLU, γ/β shared or per sample, on
    /// planes that are not a multiple of 16.
    #[test]
    fn norm_act_matches_candle_ops_forward_and_backward() {
        use candle_core::{Device, Var, D};
        let dev = Device::Cpu;
        for (relu, per_sample) in [(true, false), (false, false), (true, true)] {
            let (n, c, h, w) = (2, 3, 5, 7);
            let x = Var::from_tensor(&(Tensor::randn(0f32, 2.0, (n, c, h, w), &dev).unwrap() + 0.7).unwrap()).unwrap();
            let gshape: &[usize] = if per_sample { &[n, c] } else { &[c] };
            let gamma = Var::from_tensor(&Tensor::randn(1f32, 0.5, gshape, &dev).unwrap()).unwrap();
            let beta = Var::from_tensor(&Tensor::randn(0f32, 0.5, gshape, &dev).unwrap()).unwrap();
            let r = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            let fused = x.apply_op3(gamma.as_tensor(), beta.as_tensor(), NormAct::new(1e-5, relu)).unwrap();
            let as4 = |t: &Tensor| if per_sample { t.reshape((n, c, 1, 1)).unwrap() } else { t.reshape((1, c, 1, 1)).unwrap() };
            let mean = x.mean_keepdim(D::Minus1).unwrap().mean_keepdim(D::Minus2).unwrap();
            let xc = x.broadcast_sub(&mean).unwrap();
            let var = xc.sqr().unwrap().mean_keepdim(D::Minus1).unwrap().mean_keepdim(D::Minus2).unwrap();
            let z = xc.broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap()).unwrap().broadcast_mul(&as4(&gamma)).unwrap().broadcast_add(&as4(&beta)).unwrap();
            let plain = if relu { z.relu().unwrap() } else { z };
            let diff = |a: &Tensor, b: &Tensor| (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff(&fused, &plain) < 1e-5);
            let gf = (&fused * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let gp = (&plain * &r).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [x.as_tensor(), gamma.as_tensor(), beta.as_tensor()] {
                let (a, b) = (gf.get(v).unwrap(), gp.get(v).unwrap());
                assert_eq!(a.dims(), b.dims());
                let peak = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
                assert!(diff(a, b) <= 1e-4 * peak.max(1.0), "relu {relu} per-sample {per_sample}: {} of {peak}", diff(a, b));
            }
        }
    }

    #[test]
    fn lane_statistics_match_the_plain_definition() {
        for len in [1usize, 15, 16, 17, 255, 4096 + 7] {
            let p: Vec<f32> = (0..len).map(|i| ((i * 37 % 101) as f32 - 40.0) * 0.37 + 1000.0).collect();
            let (m0, s0) = plain_mean_inv_std(&p, 1e-5);
            let (m1, s1) = mean_inv_std(&p, 1e-5);
            assert!((m0 - m1).abs() <= 1e-6 * m0.abs(), "{len}: {m0} {m1}");
            assert!((s0 - s1).abs() <= 1e-6 * s0.abs(), "{len}: {s0} {s1}");
        }
    }
}
