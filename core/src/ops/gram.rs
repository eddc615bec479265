//! Gram matrices `F·Fᵀ` of `[N, C, K]` features, one per sample, with a
//! one-product backward: `∂F = (∂G + ∂Gᵀ)·F`. candle's matmul of `f` with
//! `f.t()` differentiates its two arguments separately (two C×C×K products,
//! a transposed copy and a full-size add of the two halves of ∂F); the
//! style losses of optimisation NST and training take a Gram of every
//! style layer at every step.

use crate::ops::gemm::{matmul_serial, View};
use rayon::prelude::*;
use crate::ops::storage::f32_slice;
use candle_core::{CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

pub(crate) struct Gram;

impl CustomOp1 for Gram {
    fn name(&self) -> &'static str {
        "restyle-gram"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, k) = l.shape().dims3()?;
        let _span = crate::profile::span("gram", || format!("{c}×{k} ×{n}"), 2 * (n * c * c * k) as u64);
        let f = f32_slice(s, l)?;
        let mut g = vec![0f32; n * c * c];
        if k == 0 || c == 0 {
            return Ok((CpuStorage::F32(g), Shape::from((n, c, c))));
        }
        // A C×C result over a long K: gemm would parallelise over the small
        // sides only (one thread busy, 24 GFLOP/s at 64×65536). Split K
        // instead: each thread sums its share in slices whose C rows stay in
        // L2, into its own partial Gram; the partials are added at the end.
        let threads = rayon::current_num_threads().clamp(1, k.div_ceil(256));
        let slice = (128usize << 10).div_ceil(c).max(256).min(k);
        for (fs, gs) in f.chunks(c * k).zip(g.chunks_mut(c * c)) {
            let share = k.div_ceil(threads);
            let partials: Vec<Vec<f32>> = (0..threads)
                .into_par_iter()
                .map(|t| {
                    let mut p = vec![0f32; c * c];
                    let (k0, k1) = (t * share, ((t + 1) * share).min(k));
                    for s0 in (k0..k1).step_by(slice) {
                        let len = slice.min(k1 - s0);
                        let a = View { data: &fs[s0..], row_stride: k, col_stride: 1 };
                        let b = View { data: &fs[s0..], row_stride: 1, col_stride: k };
                        matmul_serial(c, c, len, a, b, &mut p, c, true);
                    }
                    p
                })
                .collect();
            for p in partials {
                gs.iter_mut().zip(&p).for_each(|(g, v)| *g += v);
            }
        }
        Ok((CpuStorage::F32(g), Shape::from((n, c, c))))
    }

    fn bwd(&self, f: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let sym = (grad + grad.transpose(1, 2)?)?;
        Ok(Some(sym.contiguous()?.matmul(&f.contiguous()?)?))
    }
}

/// `f·fᵀ` per sample for `f` `[N, C, K]`: this op on f32 CPU tensors,
/// candle's matmul elsewhere.
pub(crate) fn gram(f: &Tensor) -> Result<Tensor> {
    if f.device().is_cpu() && f.dtype() == candle_core::DType::F32 {
        return f.contiguous()?.apply_op1(Gram);
    }
    f.matmul(&f.t()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_candle_matmul_forward_and_backward() {
        let dev = Device::Cpu;
        for (n, c, k) in [(1, 3, 7), (2, 5, 33), (3, 17, 100), (2, 4, 70_001)] {
            let f = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, c, k), &dev).unwrap()).unwrap();
            let w = Tensor::randn(0f32, 1.0, (n, c, c), &dev).unwrap();
            let ours = gram(f.as_tensor()).unwrap();
            let plain = f.matmul(&f.t().unwrap()).unwrap();
            let diff = |a: &Tensor, b: &Tensor| (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            // Relative to the largest entry: sums over 70 001 terms differ in
            // their last bits with the summation order.
            let peak = plain.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff(&ours, &plain) <= 1e-5 * peak.max(1.0), "{n}×{c}×{k} forward: {} of {peak}", diff(&ours, &plain));
            let go = (&ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let gp = (&plain * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let (a, b) = (go.get(&f).unwrap(), gp.get(&f).unwrap());
            let peak = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(diff(a, b) <= 1e-5 * peak.max(1.0), "{n}×{c}×{k} gradient: {} of {peak}", diff(a, b));
        }
    }
}
