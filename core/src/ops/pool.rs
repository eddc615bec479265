//! 2×2 max pooling, stride 2, as one differentiable CPU op.
//!
//! Why not candle's `max_pool2d`: its backward (candle 0.11) scales the
//! gradient by the fraction of maxima in the window, ¼ for the usual single
//! maximum, so every layer below a pooling got a quarter of its gradient
//! (1/64 at relu4_2 behind three poolings), and for odd sizes it upsamples
//! the pooled map to the wrong grid. It is also five full-map passes
//! (upsample, compare, average, multiply, upsample). Here backward is one
//! pass that routes each window's gradient to its first maximum, as
//! PyTorch does.

use crate::ops::storage::f32_slice;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// 2×2 max pooling, stride 2, floor mode (odd last rows and columns are
/// dropped, as candle and PyTorch do), differentiable; CPU f32.
pub(crate) fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    x.contiguous()?.apply_op1(MaxPool)
}

struct MaxPool;

impl CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "restyle-max-pool2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let (ho, wo) = (h / 2, w / 2);
        let x = f32_slice(s, l)?;
        let mut out = vec![0f32; n * c * ho * wo];
        if ho > 0 && wo > 0 {
            out.par_chunks_mut(ho * wo).zip(x.par_chunks(h * w)).for_each(|(o, p)| {
                for (i, row) in o.chunks_mut(wo).enumerate() {
                    let (r0, r1) = (&p[2 * i * w..][..2 * wo], &p[(2 * i + 1) * w..][..2 * wo]);
                    for (j, v) in row.iter_mut().enumerate() {
                        *v = r0[2 * j].max(r0[2 * j + 1]).max(r1[2 * j].max(r1[2 * j + 1]));
                    }
                }
            });
        }
        Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))))
    }

    fn bwd(&self, x: &Tensor, _y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPoolGrad)?))
    }
}

/// ∂L/∂x of [`MaxPool`] from x (arg 1) and ∂L/∂y (arg 2): each window's
/// gradient goes to its first maximum (row-major), as PyTorch does.
struct MaxPoolGrad;

impl CustomOp2 for MaxPoolGrad {
    fn name(&self) -> &'static str {
        "restyle-max-pool2x2-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l1.shape().dims4()?;
        let (ho, wo) = (h / 2, w / 2);
        if l2.dims() != [n, c, ho, wo] {
            candle_core::bail!("max pool grad: gradient {:?} for input {:?}", l2.dims(), l1.dims());
        }
        let (x, gy) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let mut gx = vec![0f32; x.len()];
        if ho > 0 && wo > 0 {
            gx.par_chunks_mut(h * w).zip(x.par_chunks(h * w).zip(gy.par_chunks(ho * wo))).for_each(|(gp, (p, g))| {
                for i in 0..ho {
                    for j in 0..wo {
                        let at = [2 * i * w + 2 * j, 2 * i * w + 2 * j + 1, (2 * i + 1) * w + 2 * j, (2 * i + 1) * w + 2 * j + 1];
                        let best = at.into_iter().fold(at[0], |b, k| if p[k] > p[b] { k } else { b });
                        gp[best] = g[i * wo + j];
                    }
                }
            });
        }
        Ok((CpuStorage::F32(gx), Shape::from((n, c, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// ∂x by definition: each window's gradient to its first maximum.
    fn reference_grad(x: &[f32], g: &[f32], planes: usize, h: usize, w: usize) -> Vec<f32> {
        let (ho, wo) = (h / 2, w / 2);
        let mut gx = vec![0f32; x.len()];
        for p in 0..planes {
            for i in 0..ho {
                for j in 0..wo {
                    let mut best = (f32::NEG_INFINITY, 0);
                    for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                        let k = p * h * w + (2 * i + dy) * w + 2 * j + dx;
                        if x[k] > best.0 {
                            best = (x[k], k);
                        }
                    }
                    gx[best.1] += g[p * ho * wo + i * wo + j];
                }
            }
        }
        gx
    }

    #[test]
    fn max_pool_forward_matches_candle_and_grad_matches_definition() {
        let dev = Device::Cpu;
        for (h, w) in [(8, 6), (7, 9), (3, 5)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, 3, h, w), &dev).unwrap()).unwrap();
            let ours = max_pool2x2(x.as_tensor()).unwrap();
            let theirs = x.as_tensor().max_pool2d(2).unwrap();
            assert_eq!(ours.flatten_all().unwrap().to_vec1::<f32>().unwrap(), theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            let r = Tensor::randn(0f32, 1., ours.dims(), &dev).unwrap();
            let g = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let got = g.get(&x).unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let xs = x.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let want = reference_grad(&xs, &r.flatten_all().unwrap().to_vec1::<f32>().unwrap(), 6, h, w);
            assert_eq!(got, want, "{h}x{w}");
        }
    }
}
