//! The backward of a frozen convolution: ∂L/∂x only, never ∂L/∂W.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CudaStorage, CustomOp2, Layout, MetalStorage, Result, Shape, Tensor};

/// `y` (the output of a convolution of the detached `x`) re-attached to `x`,
/// so that backward sends ∂L/∂y to ∂L/∂x through `w_t` (W with in/out
/// channels swapped and the kernel flipped).
pub(crate) fn attach_input_grad(y: &Tensor, x: &Tensor, w_t: &Tensor) -> Result<Tensor> {
    y.apply_op2(x, InputGrad { w_t: w_t.clone() })
}

/// Identity on its first argument (the conv output); its backward sends the
/// output gradient to the second (the conv input) through W′.
struct InputGrad {
    w_t: Tensor,
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "frozen-conv-input-grad"
    }
    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, _: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        Ok((s1.try_clone(l1)?, l1.shape().clone()))
    }
    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout, _: &CudaStorage, _: &Layout) -> candle_core::Result<(CudaStorage, Shape)> {
        Ok((s1.try_clone(l1)?, l1.shape().clone()))
    }
    fn metal_fwd(&self, s1: &MetalStorage, l1: &Layout, _: &MetalStorage, _: &Layout) -> candle_core::Result<(MetalStorage, Shape)> {
        Ok((s1.try_clone(l1)?, l1.shape().clone()))
    }
    fn bwd(&self, _: &Tensor, _: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((None, Some(grad.conv2d(&self.w_t, 1, 1, 1, 1)?)))
    }
}

