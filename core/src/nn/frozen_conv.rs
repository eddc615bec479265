//! The loss network's convolution: frozen weights, gradient for the input only.

use crate::Result;
use candle_core::{DType, Tensor};

/// A 3×3, stride 1, padding 1 convolution with frozen weights.
///
/// On the CPU it runs [`crate::ops::conv::conv2d`]. Elsewhere, candle's Conv2D backward always computes the kernel gradient too, as a
/// convolution whose kernel is the whole H×W output gradient — by far the
/// costliest part of an NST step, and useless with frozen weights. Here the
/// forward runs on the detached input and a custom op re-attaches the input
/// so that backward computes only ∂L/∂x = conv2d(∂L/∂y, W′), W′ = W with in/out
/// channels swapped and the kernel flipped (exact for this geometry).
pub(crate) struct FrozenConv {
    pub(crate) w: Tensor,
    pub(crate) b: Tensor,
    /// W′ for the input gradient.
    w_t: Tensor,
    /// The whole layer with its ReLU as one op (CPU, f32).
    fused: Option<crate::ops::frozen_layer::FrozenConvRelu>,
}

impl FrozenConv {
    pub(crate) fn new(w: Tensor, b: Tensor) -> Result<Self> {
        let w_t = w.transpose(0, 1)?.contiguous()?.flip(&[2, 3])?.contiguous()?;
        let w = w.contiguous()?;
        let fused = crate::ops::frozen_layer::FrozenConvRelu::new(&w, &b)?;
        let b = b.reshape((1, b.elem_count(), 1, 1))?;
        Ok(FrozenConv { w, b, w_t, fused })
    }

    /// relu(conv(x) + b): one op on the CPU (see `ops::frozen_layer`).
    pub(crate) fn forward_relu(&self, x: &Tensor) -> Result<Tensor> {
        match &self.fused {
            Some(layer) if x.device().is_cpu() && x.dtype() == DType::F32 => Ok(layer.forward(x)?),
            _ => Ok(self.forward(x)?.relu()?),
        }
    }

    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            // The im2col + gemm op; its backward skips the (constant) weights.
            let xp = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
            return Ok(crate::ops::conv::conv2d(&xp, &self.w, 1)?.broadcast_add(&self.b)?);
        }
        let y = x.detach().conv2d(&self.w, 1, 1, 1, 1)?;
        let y = if x.track_op() { crate::ops::frozen_grad::attach_input_grad(&y, x, &self.w_t)? } else { y };
        Ok(y.broadcast_add(&self.b)?)
    }
}

