//! CPU kernels: what the layers in [`crate::nn`] lower to. Each kernel is a
//! candle custom op (or a plain function on slices) tested against candle's
//! own op, forward and gradients, on odd shapes. Nothing here knows about
//! networks.

pub(crate) mod blocked;
pub mod conv;
pub(crate) mod frozen_grad;
pub(crate) mod frozen_layer;
pub(crate) mod gemm;
pub(crate) mod gram;
pub(crate) mod norm;
pub(crate) mod pad;
pub(crate) mod pool;
pub(crate) mod storage;
pub(crate) mod weight_grad;
pub(crate) mod winograd;
