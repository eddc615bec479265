//! Instance-norm kernels on the CPU: per-plane statistics and a fused
//! per-plane affine, each one pass over a plane, planes in parallel.

use crate::ops::storage::f32_slice;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape};
use rayon::prelude::*;

/// Mean and `1/sqrt(σ² + ε)` of every `H×W` plane in one read of each
/// plane (it is in cache for the centred second pass): `[N·C, 2]`.
pub(crate) struct PlaneStats {
    pub(crate) eps: f64,
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
            let len = p.len() as f64;
            let mean = p.iter().map(|&v| v as f64).sum::<f64>() / len;
            let var = p.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / len;
            o[0] = mean as f32;
            o[1] = (1.0 / (var + self.eps).sqrt()) as f32;
        });
        Ok((CpuStorage::F32(out), Shape::from((n * c, 2))))
    }
}

/// `x·scale + shift` with one scale and shift per `H×W` plane, one pass.
pub(crate) struct PlaneAffine {
    pub(crate) scale: Vec<f32>,
    pub(crate) shift: Vec<f32>,
}

impl CustomOp1 for PlaneAffine {
    fn name(&self) -> &'static str {
        "instance-norm-affine"
    }
    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (_, c, h, w) = l.shape().dims4()?;
        let _span = crate::profile::span("norm", || format!("affine {c} @ {h}×{w}"), 0);
        let x = f32_slice(s, l)?;
        let mut out = vec![0f32; x.len()];
        out.par_chunks_mut(h * w).zip(x.par_chunks(h * w)).enumerate().for_each(|(i, (o, p))| {
            let (a, b) = (self.scale[i], self.shift[i]);
            o.iter_mut().zip(p).for_each(|(o, &v)| *o = v * a + b);
        });
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }
}

