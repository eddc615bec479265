//! The loss network's layer as one differentiable op (CPU, f32): 3×3
//! "same" convolution + bias + ReLU with frozen weights.
//!
//! Why: written with candle's ops, one VGG layer is five graph nodes (two
//! padding `cat`s, the convolution, the bias broadcast, the ReLU). Every
//! node's backward sweeps and allocates a whole feature map, and candle
//! accumulates each input's gradient into a fresh zero tensor: with the
//! pooling (see [`crate::ops::pool`]) that was 47 % of a Gatys step at
//! 256 px (`restyle bench profile --net gatys`). Here a layer is one node:
//! forward pads by indexing and adds the bias and ReLU in the kernel;
//! backward masks ∂L/∂y by y > 0 in one pass and runs the transposed
//! convolution.
//!
//! Kernels: the register-blocked one where either side has fewer than
//! [`BLOCKED_MAX_CHANNELS`] channels and the CPU has AVX-512, Winograd
//! F(2×2, 3×3) otherwise (its filters transformed once, when the layer is
//! built). Gradients flow to the input only: the weights are constants.

use crate::ops::blocked;
use crate::ops::conv::BLOCKED_MAX_CHANNELS;
use crate::ops::storage::f32_slice;
use crate::ops::winograd;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use std::sync::Arc;

/// A frozen 3×3 stride-1 convolution with zero padding 1, bias and ReLU:
/// the weights in the layouts both passes need, prepared once.
pub(crate) struct FrozenConvRelu {
    p: Arc<Prepared>,
}

struct Prepared {
    o: usize,
    c: usize,
    /// `[O, C, 3, 3]`
    w: Vec<f32>,
    /// `[C, O, 3, 3]`, rotated by 180°: the input gradient's filters.
    w_t: Vec<f32>,
    bias: Vec<f32>,
    /// Winograd filters of the forward and of the input gradient (wide layers only).
    u: Option<(Vec<f32>, Vec<f32>)>,
}

impl FrozenConvRelu {
    /// `w` `[O, C, 3, 3]` and `bias` `[O]`, f32 on the CPU; `None` otherwise
    /// (the caller keeps candle's ops).
    pub(crate) fn new(w: &Tensor, bias: &Tensor) -> Result<Option<Self>> {
        if !w.device().is_cpu() || w.dtype() != DType::F32 || bias.dtype() != DType::F32 {
            return Ok(None);
        }
        let (o, c, kh, kw) = w.dims4()?;
        if (kh, kw) != (3, 3) || bias.elem_count() != o {
            return Ok(None);
        }
        let w = w.flatten_all()?.to_vec1::<f32>()?;
        let mut w_t = vec![0f32; w.len()];
        for ci in 0..c {
            for oi in 0..o {
                for k in 0..9 {
                    w_t[(ci * o + oi) * 9 + k] = w[(oi * c + ci) * 9 + 8 - k];
                }
            }
        }
        let u = (!use_blocked(c, o)).then(|| (winograd::filters(&w, o, c, false), winograd::filters(&w, o, c, true)));
        let bias = bias.flatten_all()?.to_vec1::<f32>()?;
        Ok(Some(FrozenConvRelu { p: Arc::new(Prepared { o, c, w, w_t, bias, u }) }))
    }

    /// relu(conv(x) + b) for `x` `[N, C, H, W]` (f32, CPU), differentiable in `x`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(ConvReluOp { p: self.p.clone() })
    }
}

/// The blocked kernel where a side is narrow (as `ops::conv`'s Auto).
fn use_blocked(c: usize, o: usize) -> bool {
    c.min(o) < BLOCKED_MAX_CHANNELS && blocked::available()
}

/// 3×3 "same" correlation of `x` `[N, ci, H, W]` into `co` channels with
/// `w` `[co, ci, 3, 3]` (blocked) or Winograd filters `u`; bias and ReLU
/// applied when given.
#[allow(clippy::too_many_arguments)]
fn same3x3(x: &[f32], n: usize, ci: usize, h: usize, wd: usize, co: usize, w: &[f32], u: Option<&[f32]>, bias: Option<&[f32]>, relu: bool) -> Vec<f32> {
    let plane = h * wd;
    if u.is_none() {
        let input = blocked::Input { n, c: ci, h, w: wd, upsample: 1, pad: [1; 4], mode: blocked::PadMode::Zero };
        let mut out = vec![0f32; n * co * plane];
        let clamp = relu.then_some((0.0, f32::INFINITY));
        if blocked::correlate(input, x, w, co, 3, 3, 1, false, bias, clamp, &mut out) {
            return out;
        }
    }
    let owned;
    let u = match u {
        Some(u) => u,
        None => {
            owned = winograd::filters(w, co, ci, false);
            &owned
        }
    };
    let mut out = winograd::correlate(x, n, ci, h, wd, 1, u, co);
    if bias.is_some() || relu {
        out.par_chunks_mut(plane).enumerate().for_each(|(i, p)| {
            let b = bias.map_or(0.0, |b| b[i % co]);
            if relu {
                p.iter_mut().for_each(|v| *v = (*v + b).max(0.0));
            } else {
                p.iter_mut().for_each(|v| *v += b);
            }
        });
    }
    out
}

struct ConvReluOp {
    p: Arc<Prepared>,
}

impl ConvReluOp {
    fn label(&self, h: usize, w: usize) -> String {
        let which = if self.p.u.is_some() { "winograd" } else { "blocked" };
        format!("3x3 s1 {}→{} @ {}×{} +bias+relu [{which}]", self.p.c, self.p.o, h + 2, w + 2)
    }
}

impl CustomOp1 for ConvReluOp {
    fn name(&self) -> &'static str {
        "restyle-frozen-conv-relu"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, c, h, w) = l.shape().dims4()?;
        let p = &self.p;
        if c != p.c {
            candle_core::bail!("frozen conv: input has {c} channels, the layer takes {}", p.c);
        }
        let flops = 2 * (n * p.o * h * w * p.c * 9) as u64;
        let _span = crate::profile::span("conv", || self.label(h, w), flops);
        let x = f32_slice(s, l)?;
        let out = same3x3(x, n, p.c, h, w, p.o, &p.w, p.u.as_ref().map(|u| u.0.as_slice()), Some(&p.bias), true);
        Ok((CpuStorage::F32(out), Shape::from((n, p.o, h, w))))
    }

    fn bwd(&self, _x: &Tensor, y: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(grad.contiguous()?.apply_op2_no_bwd(&y.contiguous()?, &ConvReluInputGrad { p: self.p.clone() })?))
    }
}

/// ∂L/∂x from ∂L/∂y (arg 1) and y (arg 2): the ReLU's mask, then the
/// transposed convolution.
struct ConvReluInputGrad {
    p: Arc<Prepared>,
}

impl CustomOp2 for ConvReluInputGrad {
    fn name(&self) -> &'static str {
        "restyle-frozen-conv-relu-input-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (n, o, h, w) = l1.shape().dims4()?;
        let p = &self.p;
        if o != p.o || l1.dims() != l2.dims() {
            candle_core::bail!("frozen conv grad: gradient {:?} vs output {:?} of a {}→{} layer", l1.dims(), l2.dims(), p.c, p.o);
        }
        let flops = 2 * (n * p.o * h * w * p.c * 9) as u64;
        let _span = crate::profile::span("conv-grad-input", || ConvReluOp { p: p.clone() }.label(h, w), flops);
        let (gy, y) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let mut masked = vec![0f32; gy.len()];
        masked.par_chunks_mut(1 << 14).zip(gy.par_chunks(1 << 14).zip(y.par_chunks(1 << 14))).for_each(|(m, (g, y))| {
            m.iter_mut().zip(g.iter().zip(y)).for_each(|(m, (g, y))| *m = if *y > 0.0 { *g } else { 0.0 });
        });
        let gx = same3x3(&masked, n, p.o, h, w, p.c, &p.w_t, p.u.as_ref().map(|u| u.1.as_slice()), None, false);
        Ok((CpuStorage::F32(gx), Shape::from((n, p.c, h, w))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Max |a − b| relative to max |b|.
    fn rel(a: &Tensor, b: &Tensor) -> f32 {
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let m = b.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        d / m.max(1e-12)
    }

    /// The fused layer against candle's conv2d + bias + relu, forward and
    /// ∂x, on odd sizes, for a blocked (narrow) and a Winograd (wide) layer.
    #[test]
    fn conv_relu_matches_candle_forward_and_input_grad() {
        let dev = Device::Cpu;
        for (c, o, h, w) in [(3, 16, 13, 11), (20, 9, 7, 10), (128, 128, 9, 7)] {
            let wt = (Tensor::randn(0f32, 1., (o, c, 3, 3), &dev).unwrap() / (c as f64 * 9.0).sqrt()).unwrap();
            let b = Tensor::randn(0f32, 0.3, o, &dev).unwrap();
            let layer = FrozenConvRelu::new(&wt, &b).unwrap().unwrap();
            let x = Var::from_tensor(&Tensor::randn(0f32, 1., (2, c, h, w), &dev).unwrap()).unwrap();
            let r = Tensor::randn(0f32, 1., (2, o, h, w), &dev).unwrap();

            let ours = layer.forward(x.as_tensor()).unwrap();
            let theirs = x.as_tensor().conv2d(&wt, 1, 1, 1, 1).unwrap().broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap().relu().unwrap();
            assert!(rel(&ours, &theirs) < 1e-4, "forward {c}→{o}: {}", rel(&ours, &theirs));

            let g_ours = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g_theirs = (theirs * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let (a, e) = (g_ours.get(&x).unwrap(), g_theirs.get(&x).unwrap());
            assert!(rel(a, e) < 1e-4, "input grad {c}→{o}: {}", rel(a, e));
        }
    }
}
