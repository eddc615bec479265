//! The Magenta arbitrary style transfer network ("alpha 0.25" widths
//! 8/16/32): three contracting convs (BatchNorm folded, no norm), five
//! residual blocks and three expanding convs, each of the last 13 convs
//! followed by a conditional instance norm whose γ/β are affine in the
//! 100-d style vector. Spec: `docs/network-specs.md` §3.
//!
//! Input RGB 0..1 `[N, 3, H, W]` with H, W multiples of 4 ([`Transfer::stylize`]
//! pads any size); output RGB in (0, 1) (sigmoid).

use crate::nn::{norm_then, NormStats, ReflectConv, Then, IN_EPS};
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use restyle_weights::import::magenta::{transform_convs, STYLE_DIM};

/// γ and β of every conditional instance norm for a batch of style vectors,
/// each `[N, C_L]`, in layer order.
#[derive(Clone, Debug)]
pub struct StyleParams {
    pub gamma: Vec<Tensor>,
    pub beta: Vec<Tensor>,
}

#[derive(Clone, Debug)]
pub struct Transfer {
    contract: Vec<ReflectConv>,
    /// 10 residual convs then 3 expanding convs: the CIN layers in order.
    cin_convs: Vec<ReflectConv>,
    /// All 26 affine style maps stacked: `[Σ 2·C_L, 100]` and `[Σ 2·C_L]`,
    /// rows γ_0, β_0, γ_1, β_1, …
    style_w: Tensor,
    style_b: Tensor,
    channels: Vec<usize>,
}

impl Transfer {
    pub fn new(vb: VarBuilder) -> Result<Self> {
        let mut contract = Vec::new();
        let mut cin_convs = Vec::new();
        let (mut ws, mut bs, mut channels) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (key, _, c_out, c_in, k)) in transform_convs().into_iter().enumerate() {
            let vb = vb.pp(&key);
            let w = vb.get((c_out, c_in, k, k), "weight")?;
            if i < 3 {
                let b = vb.get(c_out, "bias")?;
                contract.push(ReflectConv::new(w, Some(b), if i == 0 { 1 } else { 2 })?);
            } else {
                cin_convs.push(ReflectConv::new(w, None, 1)?);
                for p in ["gamma", "beta"] {
                    ws.push(vb.get((c_out, STYLE_DIM), &format!("norm.{p}.weight"))?);
                    bs.push(vb.get(c_out, &format!("norm.{p}.bias"))?);
                }
                channels.push(c_out);
            }
        }
        Ok(Transfer { contract, cin_convs, style_w: Tensor::cat(&ws, 0)?, style_b: Tensor::cat(&bs, 0)?, channels })
    }

    /// γ/β of every norm layer for style vectors `[N, 100]` (one matmul).
    pub fn style_params(&self, style: &Tensor) -> Result<StyleParams> {
        let all = style.matmul(&self.style_w.t()?)?.broadcast_add(&self.style_b)?;
        let (mut gamma, mut beta, mut off) = (Vec::new(), Vec::new(), 0);
        for &c in &self.channels {
            gamma.push(all.narrow(1, off, c)?);
            beta.push(all.narrow(1, off + c, c)?);
            off += 2 * c;
        }
        Ok(StyleParams { gamma, beta })
    }

    /// The network on `x` (`[N, 3, H, W]`, H and W multiples of 4), norm
    /// statistics taken as `stats` says (own, recorded or replayed).
    pub fn forward_with(&self, x: &Tensor, p: &StyleParams, stats: &mut NormStats) -> Result<Tensor> {
        let mut h = x.clone();
        for c in &self.contract {
            h = c.forward_with(&h, false, true)?;
        }
        // Conv, conditional norm, then `then` (fused into the norm's pass).
        // (`up`: upsampled ×2 first, inside the convolution's indexing.)
        let mut cin = |i: usize, x: &Tensor, up: bool, then: Then| -> Result<Tensor> {
            let y = self.cin_convs[i].forward_with(x, up, false)?;
            Ok(norm_then(&y, stats, &p.gamma[i], &p.beta[i], IN_EPS, then)?)
        };
        for k in 0..5 {
            let r = cin(2 * k, &h, false, Then::Relu)?;
            h = cin(2 * k + 1, &r, false, Then::Add(&h))?;
        }
        h = cin(10, &h, true, Then::Relu)?;
        h = cin(11, &h, true, Then::Relu)?;
        candle_nn::ops::sigmoid(&cin(12, &h, false, Then::Nothing)?)
    }

    /// Stylizes any size: reflect-pads bottom/right to a multiple of 4,
    /// runs, crops back.
    pub fn stylize(&self, x: &Tensor, p: &StyleParams, stats: &mut NormStats) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (ph, pw) = (h.next_multiple_of(4) - h, w.next_multiple_of(4) - w);
        let padded = crate::nn::reflect_pad(x, 0, ph, 0, pw)?;
        self.forward_with(&padded, p, stats)?.narrow(2, 0, h)?.narrow(3, 0, w)
    }
}
