//! Instance-norm kernels on the CPU: per-plane statistics and a fused
//! per-plane affine (optionally followed by a ReLU, or by a residual add),
//! each one pass over a plane, planes in parallel.

use crate::ops::storage::f32_slice;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape};
use rayon::prelude::*;

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
            let (a, b) = (self.scale[i], self.shift[i]);
            match self.clamp {
                Clamp::None => o.iter_mut().zip(p).for_each(|(o, &v)| *o = v * a + b),
                Clamp::Relu => o.iter_mut().zip(p).for_each(|(o, &v)| *o = (v * a + b).max(0.0)),
                Clamp::Relu6 => o.iter_mut().zip(p).for_each(|(o, &v)| *o = (v * a + b).clamp(0.0, 6.0)),
            }
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
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

#[cfg(test)]
mod tests {
    use super::*;

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
