//! `restyle stylize --method gatys|improved` flags (flattened into the
//! stylize arguments) and the loaded method they describe.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::nst::gatys::{Gatys, Init, OptimizerKind};
use restyle_core::method::GatysPreset;
use restyle_core::method::Method;
use restyle_core::models::vgg::Vgg;
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Gatys et al. 2016: style relu1_1…relu5_1, content relu4_2, plain Grams, one scale.
    Basic,
    /// Novak & Nikulin: all conv layers, depth-weighted, shifted Grams (s=−1), 3 scales (chained correlations: --chain-weight).
    Improved,
}

#[derive(Args, Debug)]
#[command(next_help_heading = "Optimisation NST (--method gatys)")]
pub struct GatysArgs {
    /// Settings preset (--method gatys-improved = --method gatys --preset improved); the flags below override it [default: basic].
    #[arg(long, value_enum)]
    pub preset: Option<Preset>,
    /// VGG weights: a catalog name (vgg19-tv, vgg16-tv, vgg16) or a file; default vgg19-tv when present, else vgg16.
    #[arg(long)]
    pub vgg: Option<String>,
    /// Pooling in the VGG: max or avg (Gatys et al. used avg).
    #[arg(long, default_value = "max")]
    pub pooling: String,
    /// Optimiser iterations (per scale) [default: 300].
    #[arg(long)]
    pub iterations: Option<usize>,
    /// lbfgs or adam [default: lbfgs].
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Adam learning rate on the 0..1 image [default: 0.02].
    #[arg(long)]
    pub learning_rate: Option<f32>,
    /// α: content weight [default: 1; improved: 6].
    #[arg(long)]
    pub content_weight: Option<f32>,
    /// β: style weight [default: 1e4; improved: 3e4].
    #[arg(long)]
    pub style_weight: Option<f32>,
    /// γ: total variation weight [default: 1].
    #[arg(long)]
    pub tv_weight: Option<f32>,
    /// Content layers, `relu4_2` or `relu4_2:1,relu5_1:0.5` [default: relu4_2; improved: relu4_2, relu4_3 by 2^depth].
    #[arg(long)]
    pub content_layers: Option<String>,
    /// Style layers, `relu1_1,relu2_1:0.5,…` or `all` [default: relu1_1…relu5_1; improved: all, by 2^(D−depth)].
    #[arg(long)]
    pub style_layers: Option<String>,
    /// Gram shift s in (F+s)(F+s)ᵀ [default: 0; improved: −1].
    #[arg(long, allow_hyphen_values = true)]
    pub gram_shift: Option<f32>,
    /// Chained adjacent-layer correlations weight, 0 = off [default: 0].
    #[arg(long)]
    pub chain_weight: Option<f32>,
    /// content, noise or style [default: content].
    #[arg(long)]
    pub init: Option<String>,
    /// Style image size relative to the output's [default: 1].
    #[arg(long)]
    pub style_scale: Option<f32>,
    /// Coarse-to-fine scales, each half the next [default: 1; improved: 3].
    #[arg(long)]
    pub scales: Option<usize>,
    /// Between scales, keep the photo's fine detail and add the coarser scale's change to it
    /// (false: start from the coarser result, upsampled) [default: false; improved: true].
    #[arg(long)]
    pub keep_detail: Option<bool>,
    /// Wall-clock budget in seconds: stop before the iteration that would end past it and keep the
    /// best image (shared between scales ∝ their pixel counts) [default: none].
    #[arg(long)]
    pub max_seconds: Option<f64>,
    /// Save the image every N iterations (beside the output, `OUT_scale_iter.png`).
    #[arg(long, default_value_t = 0)]
    pub save_every: usize,
}

/// `relu4_2` / `relu4_2:1,relu5_1:0.5` / `all`.
fn layers(spec: &str, vgg: &Vgg) -> Result<Vec<(String, f32)>> {
    if spec == "all" {
        return Ok(vgg.layer_names().iter().map(|n| (n.to_string(), 1.0)).collect());
    }
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|item| {
            let (name, w) = match item.split_once(':') {
                Some((n, w)) => (n.trim(), w.trim().parse::<f32>().with_context(|| format!("layer weight in '{item}'"))?),
                None => (item.trim(), 1.0),
            };
            vgg.depth(name)?;
            Ok((name.to_string(), w))
        })
        .collect()
}

/// The Gatys method for these flags. `output` names the save-every images.
pub fn method(a: &GatysArgs, preset: GatysPreset, opts: &restyle_weights::ResolveOptions, dev: &candle_core::Device, output: &Path) -> Result<Method> {
    // The VGG choice and the preset are the core's, as for the C ABI.
    let path = restyle_core::method::open::gatys_vgg_file(a.vgg.as_deref(), opts)?;
    let vgg = restyle_core::method::open::vgg(&path, a.pooling.parse()?, dev).with_context(|| format!("loading VGG weights {}", path.display()))?;
    eprintln!("loss network: {} ({}) from {}", vgg.config().arch.name(), vgg.config().convention.name(), path.display());
    // --iterations and --max-seconds travel in the request, as for every front end.
    let mut cfg = preset.config(&vgg);
    if let Some(v) = &a.optimizer {
        cfg.optimizer = v.parse::<OptimizerKind>()?;
    }
    if let Some(v) = a.learning_rate {
        cfg.learning_rate = v;
    }
    if let Some(v) = a.content_weight {
        cfg.content_weight = v;
    }
    if let Some(v) = a.style_weight {
        cfg.style_weight = v;
    }
    if let Some(v) = a.tv_weight {
        cfg.tv_weight = v;
    }
    if let Some(v) = &a.content_layers {
        cfg.content_layers = layers(v, &vgg)?;
    }
    if let Some(v) = &a.style_layers {
        cfg.style_layers = layers(v, &vgg)?;
    }
    if let Some(v) = a.gram_shift {
        cfg.gram_shift = v;
    }
    if let Some(v) = a.chain_weight {
        cfg.chain_weight = v;
    }
    if let Some(v) = &a.init {
        cfg.init = v.parse::<Init>()?;
    }
    if let Some(v) = a.style_scale {
        cfg.style_scale = v;
    }
    if let Some(v) = a.scales {
        cfg.scales = v.max(1);
    }
    if let Some(v) = a.keep_detail {
        cfg.keep_detail = v;
    }
    cfg.save_every = a.save_every;
    cfg.save_prefix = Some(output.with_extension(""));
    Ok(Method::Gatys(Box::new(Gatys::new(vgg, cfg))))
}
