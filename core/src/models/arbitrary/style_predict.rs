//! The style prediction network of Ghiasi et al. (2017) as released by
//! Magenta: MobileNetV2 (BatchNorm folded into the convs) up to `Conv_1`,
//! global average pooling, then a linear 1280 → 100 bottleneck: the style
//! vector. Spec: `docs/network-specs.md` §2.
//!
//! Input is RGB in 0..1 with no normalisation. Zero padding is TF `SAME`,
//! which is asymmetric on stride-2 convs (0 before, 1 after on even sizes).

use crate::nn::{add_bias_then, tf_same_form, tf_same_zero_pad, Then};
use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;
use restyle_weights::import::magenta::{HEAD_CHANNELS, MOBILENET_UNITS, STEM_CHANNELS, STYLE_DIM};

/// The stem: a 3×3 stride-2 conv with TF-SAME zero padding.
#[derive(Clone, Debug)]
struct Stem {
    weight: Tensor,
    /// `[1, O, 1, 1]`.
    bias: Tensor,
}

impl Stem {
    fn new(vb: &VarBuilder, c_out: usize, c_in: usize) -> Result<Self> {
        let weight = vb.get((c_out, c_in, 3, 3), "weight")?;
        let bias = vb.get(c_out, "bias")?.reshape((1, c_out, 1, 1))?;
        Ok(Stem { weight, bias })
    }
}

impl Stem {
    /// The conv, then ReLU6 (bias and activation in one pass; the TF-SAME
    /// padding done by the kernel's indexing where it can).
    fn forward_relu6(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let form = tf_same_form(h, w, 3, 2);
        let y = match crate::ops::conv::conv2d_fused(x, &self.weight, None, 2, form, false, None)? {
            Some(y) => y,
            None => crate::ops::conv::conv2d(&tf_same_zero_pad(x, 3, 2)?, &self.weight, 2)?,
        };
        add_bias_then(&y, &self.bias, Then::Relu6)
    }
}

/// A 1×1 conv as one matmul over the pixels (no im2col copy).
#[derive(Clone, Debug)]
pub struct Pointwise {
    /// `[1, O, C]`.
    weight: Tensor,
    /// `[1, O, 1]`.
    bias: Tensor,
}

impl Pointwise {
    pub fn new(vb: &VarBuilder, c_out: usize, c_in: usize) -> Result<Self> {
        let weight = vb.get((c_out, c_in, 1, 1), "weight")?.reshape((1, c_out, c_in))?;
        let bias = vb.get(c_out, "bias")?.reshape((1, c_out, 1))?;
        Ok(Pointwise { weight, bias })
    }
}

impl Pointwise {
    /// The conv, then `then` (bias and `then` in one pass).
    fn forward_then(&self, x: &Tensor, then: Then) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let o = self.weight.dim(1)?;
        // The inference kernel (narrow layers): bias and ReLU6 in its
        // accumulators; a residual is one add after it.
        let clamp = if matches!(then, Then::Relu6) { Some((0.0, 6.0)) } else { None };
        let form = crate::ops::conv::InputForm { upsample2x: false, pad: [0; 4], reflect: false };
        if let Some(y) = crate::ops::conv::conv2d_fused(x, &self.weight.reshape((o, c, 1, 1))?, Some(&self.bias), 1, form, false, clamp)? {
            return match then {
                Then::Add(r) => r + y,
                Then::Relu => y.relu(),
                Then::Nothing | Then::Relu6 => Ok(y),
            };
        }
        let wt = if n == 1 { self.weight.clone() } else { self.weight.broadcast_as((n, o, c))?.contiguous()? };
        let _span = crate::profile::span("conv", || format!("1x1 {c}→{o} @ {h}×{w} [matmul]"), (2 * n * o * c * h * w) as u64);
        let y = wt.matmul(&x.reshape((n, c, h * w))?)?.reshape((n, o, h, w))?;
        add_bias_then(&y, &self.bias, then)
    }
}

impl Module for Pointwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, Then::Nothing)
    }
}

/// Depthwise 3×3 conv with TF-SAME zero padding ([`crate::ops::conv::depthwise3x3`]).
#[derive(Clone, Debug)]
pub struct Depthwise {
    /// `[C, 1, 3, 3]`.
    weight: Tensor,
    bias: Tensor,
    stride: usize,
}

impl Depthwise {
    pub fn new(vb: VarBuilder, c: usize, stride: usize) -> Result<Self> {
        let weight = vb.get((c, 1, 3, 3), "weight")?;
        let bias = vb.get(c, "bias")?.reshape((1, c, 1, 1))?;
        Ok(Depthwise { weight, bias, stride })
    }
}

impl Depthwise {
    /// The conv, then `then` (bias and `then` in one pass).
    fn forward_then(&self, x: &Tensor, then: Then) -> Result<Tensor> {
        // The inference kernel: TF-SAME padding by indexing, bias and ReLU6
        // in its accumulators.
        let clamp = match then {
            Then::Nothing => Some(None),
            Then::Relu6 => Some(Some((0.0, 6.0))),
            _ => None,
        };
        if let Some(clamp) = clamp {
            let (_, _, h, w) = x.dims4()?;
            let form = tf_same_form(h, w, 3, self.stride);
            if let Some(y) = crate::ops::conv::conv2d_fused(x, &self.weight, Some(&self.bias), self.stride, form, true, clamp)? {
                return Ok(y);
            }
        }
        let xp = tf_same_zero_pad(x, 3, self.stride)?;
        add_bias_then(&crate::ops::conv::depthwise3x3(&xp, &self.weight, self.stride)?, &self.bias, then)
    }
}

impl Module for Depthwise {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_then(x, Then::Nothing)
    }
}

/// MobileNetV2 inverted residual: expand 1×1 + ReLU6, depthwise 3×3 +
/// ReLU6, linear project 1×1, plus the input when shapes allow.
#[derive(Clone, Debug)]
pub struct InvertedResidual {
    expand: Option<Pointwise>,
    depthwise: Depthwise,
    project: Pointwise,
    residual: bool,
}

impl InvertedResidual {
    pub fn new(vb: VarBuilder, c_in: usize, t: usize, c_out: usize, stride: usize) -> Result<Self> {
        let c = c_in * t;
        let expand = if t != 1 { Some(Pointwise::new(&vb.pp("expand"), c, c_in)?) } else { None };
        Ok(InvertedResidual {
            expand,
            depthwise: Depthwise::new(vb.pp("depthwise"), c, stride)?,
            project: Pointwise::new(&vb.pp("project"), c_out, c)?,
            residual: stride == 1 && c_in == c_out,
        })
    }
}

impl Module for InvertedResidual {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x.clone();
        if let Some(e) = &self.expand {
            h = e.forward_then(&h, Then::Relu6)?;
        }
        h = self.depthwise.forward_then(&h, Then::Relu6)?;
        self.project.forward_then(&h, if self.residual { Then::Add(x) } else { Then::Nothing })
    }
}

/// Style image (RGB 0..1, `[N, 3, H, W]`, any size; 256² as trained) →
/// style vector `[N, 100]`.
#[derive(Clone, Debug)]
pub struct StylePredict {
    stem: Stem,
    blocks: Vec<InvertedResidual>,
    head: Pointwise,
    /// `[100, 1280]`, no bias.
    bottleneck: Tensor,
}

impl StylePredict {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let stem = Stem::new(&vb.pp("stem"), STEM_CHANNELS, 3)?;
        let blocks = MOBILENET_UNITS
            .iter()
            .enumerate()
            .map(|(i, &(_, c_in, t, c_out, s))| InvertedResidual::new(vb.pp(format!("blocks.{i}")), c_in, t, c_out, s))
            .collect::<Result<Vec<_>>>()?;
        let last = MOBILENET_UNITS[MOBILENET_UNITS.len() - 1].3;
        let head = Pointwise::new(&vb.pp("head"), HEAD_CHANNELS, last)?;
        let bottleneck = vb.get((STYLE_DIM, HEAD_CHANNELS), "bottleneck.weight")?;
        Ok(StylePredict { stem, blocks, head, bottleneck })
    }
}

impl Module for StylePredict {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        if h < 2 || w < 2 {
            candle_core::bail!("style image of {w}×{h} is too small for the style network");
        }
        let mut h = self.stem.forward_relu6(x)?;
        for b in &self.blocks {
            h = b.forward(&h)?;
        }
        let h = self.head.forward_then(&h, Then::Relu6)?;
        // Global average pool, then the linear bottleneck.
        let pooled = h.mean(D::Minus1)?.mean(D::Minus1)?; // [N, 1280]
        pooled.matmul(&self.bottleneck.t()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn depthwise_matches_grouped_conv() {
        let dev = Device::Cpu;
        let c = 5;
        let w = Tensor::randn(0f32, 1.0, (c, 1, 3, 3), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
        let vb = VarBuilder::from_tensors(
            [("weight".to_string(), w.clone()), ("bias".to_string(), b.clone())].into_iter().collect(),
            DType::F32,
            &dev,
        );
        for (stride, h, wd) in [(1, 7, 6), (2, 8, 10), (2, 7, 9)] {
            let x = Tensor::randn(0f32, 1.0, (2, c, h, wd), &dev).unwrap();
            let dw = Depthwise::new(vb.clone(), c, stride).unwrap();
            let got = dw.forward(&x).unwrap();
            let want = tf_same_zero_pad(&x, 3, stride)
                .unwrap()
                .conv2d(&w, 0, stride, 1, c)
                .unwrap()
                .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
                .unwrap();
            assert_eq!(got.dims(), want.dims());
            let d = (got - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
            assert!(d < 1e-5, "stride {stride} {h}×{wd}: {d}");
        }
    }
}
