//! Optimisation-based NST: Gatys et al. 2016 ("basic") and the improvements
//! of Novak & Nikulin 2016 plus coarse-to-fine ("improved").
//!
//! The image is optimised directly (L-BFGS or Adam) to minimise
//! α·L_content + β·L_style (+ chained correlations) + γ·TV on VGG features.
//! Features are divided by the weights' [`Vgg::activation_scale`] and Grams by
//! C·H·W (see [`crate::nst::loss`]), so the defaults hold for either input convention.

use crate::image::{fit_longest, RgbImage};
use crate::nst::loss;
use crate::nst::optim::{Adam, AdamConfig, Lbfgs, LbfgsConfig, Optimizer};
use crate::progress::{Control, Progress, ProgressFn};
use crate::request::{PreserveColor, Request, StyleImage};
use crate::models::vgg::Vgg;
use crate::{Error, Result};
use candle_core::{Device, Tensor, Var};
use std::cell::RefCell;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OptimizerKind {
    Lbfgs,
    Adam,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Init {
    Content,
    Noise,
    Style,
}

impl std::str::FromStr for Init {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "content" => Ok(Init::Content),
            "noise" | "random" => Ok(Init::Noise),
            "style" => Ok(Init::Style),
            _ => Err(Error::InvalidArgument(format!("unknown init '{s}' (content, noise, style)"))),
        }
    }
}

impl std::str::FromStr for OptimizerKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "lbfgs" | "l-bfgs" => Ok(OptimizerKind::Lbfgs),
            "adam" => Ok(OptimizerKind::Adam),
            _ => Err(Error::InvalidArgument(format!("unknown optimizer '{s}' (lbfgs, adam)"))),
        }
    }
}

/// Everything a Gatys run needs besides the images.
#[derive(Clone, Debug)]
pub struct GatysConfig {
    /// Content layers with their weights (normalised to sum 1).
    pub content_layers: Vec<(String, f32)>,
    /// Style layers with their weights (normalised to sum 1).
    pub style_layers: Vec<(String, f32)>,
    /// α, β, γ.
    pub content_weight: f32,
    pub style_weight: f32,
    pub tv_weight: f32,
    /// Gram shift s: (F + s)(F + s)ᵀ; 0 basic, −1 improved. In the paper's
    /// units (Caffe VGG activations of a 0..255 image), see [`GatysConfig::feature_shift`].
    pub gram_shift: f32,
    /// Weight of the chained (adjacent-layer) correlations, relative to β; 0 = off.
    pub chain_weight: f32,
    pub optimizer: OptimizerKind,
    /// Adam learning rate (image in 0..1).
    pub learning_rate: f32,
    /// Optimiser iterations per scale.
    pub iterations: usize,
    pub init: Init,
    /// Longest side of the result's working size; None = the content's size.
    pub size: Option<usize>,
    /// Style image size relative to the working size.
    pub style_scale: f32,
    /// Coarse-to-fine scales (1 = single scale; each coarser scale halves the size).
    pub scales: usize,
    /// Between scales, start from the photo at the finer size plus the
    /// coarser scale's change to it (upsampled), instead of from the coarser
    /// result upsampled: the photo's fine detail, which the coarser scale
    /// could not hold, is kept rather than blurred away.
    pub keep_detail: bool,
    /// Wall-clock budget in seconds for the whole run; None = iterations only.
    /// Each scale gets a share ∝ its pixel count (about equal iterations per
    /// scale); a scale stops when its next iteration would likely end past
    /// its share (at least one iteration per scale).
    pub max_seconds: Option<f64>,
    /// Write the current image every N iterations to `{save_prefix}_{scale}_{iter}.png`; 0 = never.
    pub save_every: usize,
    pub save_prefix: Option<PathBuf>,
}

/// VGG16 and VGG19 both have these five.
pub const BASIC_STYLE_LAYERS: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
pub const BASIC_CONTENT_LAYER: &str = "relu4_2";

impl GatysConfig {
    /// Gatys et al.: style relu1_1…relu5_1 (equal weights), content relu4_2.
    pub fn basic() -> Self {
        GatysConfig {
            content_layers: vec![(BASIC_CONTENT_LAYER.into(), 1.0)],
            style_layers: BASIC_STYLE_LAYERS.iter().map(|l| (l.to_string(), 1.0)).collect(),
            content_weight: 1.0,
            style_weight: DEFAULT_STYLE_WEIGHT,
            tv_weight: DEFAULT_TV_WEIGHT,
            gram_shift: 0.0,
            chain_weight: 0.0,
            optimizer: OptimizerKind::Lbfgs,
            learning_rate: 0.02,
            iterations: 300,
            init: Init::Content,
            size: Some(512),
            style_scale: 1.0,
            scales: 1,
            keep_detail: false,
            max_seconds: None,
            save_every: 0,
            save_prefix: None,
        }
    }

    /// Novak & Nikulin: style from every conv layer with weights ∝ 2^(D−d),
    /// content from relu4_2 and the deeper layers ∝ 2^d, shifted Grams
    /// (s = −1); plus 3-scale coarse-to-fine that keeps the photo's detail
    /// between scales (`keep_detail`). Chained correlations are
    /// available (`chain_weight`) but off: at 256 px they halved the L-BFGS
    /// iterations per wall time (their cross-Grams resize by index_select,
    /// whose backward is a scatter) and lost on both distances (quality.md).
    ///
    /// The paper's 2^(D−d) was set on Gatys' per-layer loss 1/(4N²M²)·Σ(G−A)²,
    /// which is C²/4 times this crate's Gram MSE; the style weights carry that
    /// C² factor so that the layers keep the paper's balance (without it
    /// relu1_1 and relu1_2 alone take 75 % of the style weight).
    pub fn improved(vgg: &Vgg) -> Self {
        let names: Vec<String> = vgg.layer_names().iter().map(|s| s.to_string()).collect();
        let d_max = names.len() as i32;
        let style = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), 2f32.powi(d_max - (i as i32 + 1)) * (vgg_channels(n) as f32 / 64.0).powi(2)))
            .collect();
        let c0 = names.iter().position(|n| n == BASIC_CONTENT_LAYER).unwrap_or(0);
        let content = names.iter().enumerate().skip(c0).take(2).map(|(i, n)| (n.clone(), 2f32.powi(i as i32 + 1))).collect();
        GatysConfig {
            content_layers: content,
            style_layers: style,
            content_weight: IMPROVED_CONTENT_WEIGHT,
            style_weight: IMPROVED_STYLE_WEIGHT,
            gram_shift: -1.0,
            chain_weight: 0.0,
            scales: 3,
            keep_detail: true,
            ..Self::basic()
        }
    }
}

impl GatysConfig {
    /// The shift on the features the losses see (÷ [`Vgg::activation_scale`],
    /// i.e. torchvision units): s ÷ 255·0.226. Applying −1 to those features
    /// directly would be 58× the paper's shift: the Grams are then dominated
    /// by the channel means and the image stylizes visibly slower per iteration.
    pub fn feature_shift(&self) -> f64 {
        self.gram_shift as f64 / (255.0 * 0.226)
    }
}

/// Channels of a VGG16/19 layer `reluB_C`: 64·2^(B−1), at most 512.
fn vgg_channels(layer: &str) -> usize {
    let block = layer.strip_prefix("relu").and_then(|r| r.split('_').next()).and_then(|b| b.parse::<u32>().ok()).unwrap_or(1);
    (64usize << block.saturating_sub(1).min(3)).min(512)
}

/// Default β with α = 1 (features ÷ activation scale, Grams ÷ C·H·W, MSE).
pub const DEFAULT_STYLE_WEIGHT: f32 = 1e4;
/// The improved preset's α and β (docs/quality.md, 60 s at 256 px): its
/// content term puts 2/3 of α on relu4_3, and α = 1 dissolved the photo
/// (3.5× basic's relu4_2 distance at 300 s); α = 6 with β = 3e4 keeps the
/// houses readable while the 13-layer style term stays strong.
pub const IMPROVED_CONTENT_WEIGHT: f32 = 6.0;
pub const IMPROVED_STYLE_WEIGHT: f32 = 3e4;
/// Default γ on the 0..1 image (mean squared neighbour difference).
pub const DEFAULT_TV_WEIGHT: f32 = 1.0;

/// The optimised image's range (0..1 RGB).
const PIXEL_BOUNDS: Option<(f32, f32)> = Some((0.0, 1.0));

/// A loaded optimisation NST: the loss network plus settings.
pub struct Gatys {
    pub vgg: Vgg,
    pub config: GatysConfig,
}

/// Targets at one working size.
struct Targets {
    content: Vec<(String, f32, Tensor)>,
    style: Vec<(String, f32, Tensor)>,
    /// (shallow, deep, weight, target cross-Gram)
    chain: Vec<(String, String, f32, Tensor)>,
    layers: Vec<String>,
}

fn normalised(v: &[(String, f32)], what: &str) -> Result<Vec<(String, f32)>> {
    let sum: f32 = v.iter().map(|(_, w)| *w).sum();
    if v.is_empty() || !(sum > 0.0) || v.iter().any(|(_, w)| !(*w >= 0.0)) {
        return Err(Error::InvalidArgument(format!("{what} layer weights must be non-negative with a positive sum")));
    }
    Ok(v.iter().map(|(n, w)| (n.clone(), w / sum)).collect())
}

/// One scale of a run: its progress label, index and time limit.
struct Stage {
    label: String,
    index: usize,
    deadline: Option<Instant>,
}

/// Outcome of an optimisation.
pub struct GatysOutput {
    /// At the working size.
    pub image: RgbImage,
    pub completed: bool,
    /// Final loss terms.
    pub losses: Vec<(&'static str, f32)>,
}

impl Gatys {
    pub fn new(vgg: Vgg, config: GatysConfig) -> Self {
        Gatys { vgg, config }
    }

    fn device(&self) -> &Device {
        self.vgg.device()
    }

    fn features(&self, x: &Tensor, layers: &[&str]) -> Result<crate::models::vgg::Features> {
        let f = self.vgg.forward(x, layers)?;
        let s = self.vgg.activation_scale();
        Ok(crate::models::vgg::Features(f.0.into_iter().map(|(n, t)| Ok((n, (t / s)?))).collect::<Result<_>>()?))
    }

    fn targets(&self, cfg: &GatysConfig, content: &Tensor, styles: &[(Tensor, f32)]) -> Result<Targets> {
        let content_layers = normalised(&cfg.content_layers, "content")?;
        let style_layers = normalised(&cfg.style_layers, "style")?;
        for (n, _) in content_layers.iter().chain(style_layers.iter()) {
            self.vgg.depth(n)?;
        }
        let mut layers: Vec<String> = content_layers.iter().chain(style_layers.iter()).map(|(n, _)| n.clone()).collect();
        layers.sort_by_key(|n| self.vgg.depth(n).unwrap_or(0));
        layers.dedup();
        let refs: Vec<&str> = layers.iter().map(String::as_str).collect();
        let fc = self.features(content, &refs)?;
        let content_t = content_layers
            .iter()
            .map(|(n, w)| Ok((n.clone(), *w, fc.get(n).expect("requested").detach())))
            .collect::<Result<Vec<_>>>()?;
        // style layers in network order, for chaining adjacent ones
        let mut sl = style_layers.clone();
        sl.sort_by_key(|(n, _)| self.vgg.depth(n).unwrap_or(0));
        let shift = cfg.feature_shift();
        let mut style_t: Vec<(String, f32, Tensor)> = Vec::new();
        let mut chain_t: Vec<(String, String, f32, Tensor)> = Vec::new();
        for (k, (img, bw)) in styles.iter().enumerate() {
            let fs = self.features(img, &refs)?;
            for (i, (n, w)) in sl.iter().enumerate() {
                let g = (loss::gram(fs.get(n).expect("requested"), shift)?.detach() * *bw as f64)?;
                if k == 0 {
                    style_t.push((n.clone(), *w, g));
                } else {
                    style_t[i].2 = (&style_t[i].2 + g)?;
                }
            }
            if cfg.chain_weight > 0.0 {
                for (i, pair) in sl.windows(2).enumerate() {
                    let (a, b) = (&pair[0].0, &pair[1].0);
                    let g = (loss::gram_cross(fs.get(a).expect("requested"), fs.get(b).expect("requested"), shift)?.detach()
                        * *bw as f64)?;
                    let w = cfg.chain_weight * 0.5 * (pair[0].1 + pair[1].1);
                    if k == 0 {
                        chain_t.push((a.clone(), b.clone(), w, g));
                    } else {
                        chain_t[i].3 = (&chain_t[i].3 + g)?;
                    }
                }
            }
        }
        Ok(Targets { content: content_t, style: style_t, chain: chain_t, layers })
    }

    /// Loss terms and gradient at `x`.
    fn eval(&self, cfg: &GatysConfig, t: &Targets, x: &Tensor) -> Result<(Vec<(&'static str, f32)>, Tensor)> {
        let var = Var::from_tensor(x)?;
        let xv = var.as_tensor();
        let refs: Vec<&str> = t.layers.iter().map(String::as_str).collect();
        let f = self.features(xv, &refs)?;
        let shift = cfg.feature_shift();
        let mut lc = Tensor::zeros((), candle_core::DType::F32, self.device())?;
        for (n, w, p) in &t.content {
            lc = (lc + (loss::content(f.get(n).expect("requested"), p)? * *w as f64)?)?;
        }
        let mut ls = Tensor::zeros((), candle_core::DType::F32, self.device())?;
        for (n, w, a) in &t.style {
            ls = (ls + (loss::style(&loss::gram(f.get(n).expect("requested"), shift)?, a)? * *w as f64)?)?;
        }
        for (a, b, w, target) in &t.chain {
            let g = loss::gram_cross(f.get(a).expect("requested"), f.get(b).expect("requested"), shift)?;
            ls = (ls + (loss::style(&g, target)? * *w as f64)?)?;
        }
        let ltv = loss::tv(xv)?;
        let total = ((&lc * cfg.content_weight as f64)? + (&ls * cfg.style_weight as f64)? + (&ltv * cfg.tv_weight as f64)?)?;
        let grads = total.backward()?;
        let g = grads.get(xv).ok_or_else(|| Error::InvalidArgument("no gradient reached the image".into()))?.clone();
        let terms = vec![
            ("total", total.to_scalar::<f32>()?),
            ("content", lc.to_scalar::<f32>()? * cfg.content_weight),
            ("style", ls.to_scalar::<f32>()? * cfg.style_weight),
            ("tv", ltv.to_scalar::<f32>()? * cfg.tv_weight),
        ];
        Ok((terms, g))
    }

    /// The smallest side VGG takes: 4 poolings of 2 before conv5.
    pub const MIN_SIDE: usize = 16;

    /// The size a `style` image is resized to for a `work`-sized result
    /// (finest scale), without resizing anything.
    pub fn style_size_for(&self, work: (usize, usize), style: (usize, usize)) -> (usize, usize) {
        let long = ((work.0.max(work.1) as f32 * self.config.style_scale).round() as usize).max(16);
        fit_longest(style.0, style.1, long)
    }

    /// Refuses a working size too small for VGG at any of the scales (and the
    /// style images resized for them) with a message naming the smallest
    /// working size that works, instead of candle's pooling error.
    /// `content` gives the aspect ratio for that suggestion.
    pub fn check_sizes(&self, content: (usize, usize), work: (usize, usize), styles: &[(usize, usize)]) -> Result<()> {
        let fits = |w: usize, h: usize| {
            Self::scale_sizes(&self.config, w, h).iter().all(|&(sw, sh)| {
                sw.min(sh) >= Self::MIN_SIDE && styles.iter().all(|&s| {
                    let (a, b) = self.style_size_for((sw, sh), s);
                    a.min(b) >= Self::MIN_SIDE
                })
            })
        };
        if fits(work.0, work.1) {
            return Ok(());
        }
        let long = work.0.max(work.1);
        // A bounded search: an extreme aspect ratio may need no size at all.
        let needed = (long.saturating_add(1)..=long.saturating_mul(64).clamp(4096, 1 << 16)).find(|&l| {
            let (w, h) = fit_longest(content.0, content.1, l);
            fits(w, h)
        });
        let scales = if self.config.scales > 1 { format!(" at each of its {} scales", self.config.scales) } else { String::new() };
        Err(Error::InvalidArgument(format!(
            "a {}×{} working image is too small for optimisation NST: VGG needs at least {} px on the shorter side{scales}, \
             of the photo and of the style image{}",
            work.0,
            work.1,
            Self::MIN_SIDE,
            needed.map_or(String::new(), |n| format!("; use a working size (--size) of at least {n}"))
        )))
    }

    /// Working sizes from coarse to fine. No scale is below MIN_SCALE_SIDE
    /// px unless the target is small (then half the target, so that scales > 1
    /// still means two scales): a 64 px pass for a 256 px result kept only a
    /// blurred photo (content distance 4.4 → 20.7 at equal time, gallery run).
    fn scale_sizes(cfg: &GatysConfig, w: usize, h: usize) -> Vec<(usize, usize)> {
        const MIN_SCALE_SIDE: usize = 256;
        let n = cfg.scales.max(1);
        let longest = w.max(h);
        let floor = MIN_SCALE_SIDE.min(longest / 2).max(1);
        let mut v: Vec<(usize, usize)> = (0..n)
            .map(|i| {
                let l = (longest >> (n - 1 - i)).max(floor);
                fit_longest(w, h, l)
            })
            .collect();
        v.dedup();
        v
    }

    /// Stylizes `content` with blended `styles`. The result has the working size
    /// (`config.size` or the content's); cancelling returns the best image so far.
    pub fn run(&self, content: &RgbImage, styles: &[StyleImage], seed: u64, progress: &mut ProgressFn) -> Result<GatysOutput> {
        self.run_with(&self.config, content, styles, seed, progress)
    }

    /// [`Gatys::run`] with other settings on the same loaded network.
    pub fn run_with(&self, cfg: &GatysConfig, content: &RgbImage, styles: &[StyleImage], seed: u64, progress: &mut ProgressFn) -> Result<GatysOutput> {
        if styles.is_empty() {
            return Err(Error::InvalidArgument("Gatys needs at least one style image".into()));
        }
        let wsum: f32 = styles.iter().map(|s| s.weight).sum();
        if !(wsum > 0.0) || styles.iter().any(|s| !(s.weight >= 0.0)) {
            return Err(Error::InvalidArgument("style blend weights must be non-negative with a positive sum".into()));
        }
        if cfg.iterations == 0 {
            return Err(Error::InvalidArgument("iterations must be at least 1".into()));
        }
        if cfg.max_seconds.is_some_and(|s| !(s > 0.0)) {
            return Err(Error::InvalidArgument("max seconds must be positive".into()));
        }
        if !(cfg.style_scale > 0.0) {
            return Err(Error::InvalidArgument("style scale must be positive".into()));
        }
        let (tw, th) = match cfg.size {
            Some(s) if s > 0 => fit_longest(content.width, content.height, s),
            Some(_) => return Err(Error::InvalidArgument("size must be positive".into())),
            None => (content.width, content.height),
        };
        let dev = self.device().clone();
        let sizes = Self::scale_sizes(cfg, tw, th);
        let start = Instant::now();
        let mut x: Option<Tensor> = None;
        let mut prev_content: Option<RgbImage> = None;
        let mut last_terms = Vec::new();
        for (si, &(w, h)) in sizes.iter().enumerate() {
            let content_here = content.resize(w, h)?;
            let c = content_here.to_tensor(&dev)?;
            let style_long = ((w.max(h) as f32 * cfg.style_scale).round() as usize).max(16);
            let st = styles
                .iter()
                .map(|s| Ok((s.image.resize_longest(style_long)?.to_tensor(&dev)?, s.weight / wsum)))
                .collect::<Result<Vec<_>>>()?;
            let targets = self.targets(cfg, &c, &st)?;
            let x0 = match x.take() {
                // refined from the coarser scale, upsampled smoothly (nearest
                // upsampling leaves blocks that the next scale keeps as texture)
                Some(prev) => {
                    let up = RgbImage::from_tensor(&prev)?.resize(w, h)?.to_tensor(&dev)?;
                    match prev_content.take() {
                        // c + up(prev − prev_content), as up() is linear
                        Some(pc) if cfg.keep_detail => ((&c + up)? - pc.resize(w, h)?.to_tensor(&dev)?)?.clamp(0f32, 1f32)?,
                        _ => up,
                    }
                }
                None => match cfg.init {
                    Init::Content => c.clone(),
                    Init::Style => styles[0].image.resize(w, h)?.to_tensor(&dev)?,
                    Init::Noise => noise(w, h, seed, &dev)?,
                },
            };
            let stage = if sizes.len() > 1 { format!("scale {}/{} ({}×{})", si + 1, sizes.len(), w, h) } else { "optimise".to_string() };
            let deadline = cfg.max_seconds.map(|budget| {
                let px = |s: &[(usize, usize)]| s.iter().map(|(w, h)| (w * h) as f64).sum::<f64>();
                let left = (budget - start.elapsed().as_secs_f64()).max(0.0);
                Instant::now() + Duration::from_secs_f64(left * px(&sizes[si..=si]) / px(&sizes[si..]))
            });
            let out = self.optimise(cfg, &targets, x0, &Stage { label: stage, index: si, deadline }, progress)?;
            last_terms = out.2;
            prev_content = Some(content_here);
            if !out.1 {
                return Ok(GatysOutput { image: finish(&out.0, tw, th)?, completed: false, losses: last_terms });
            }
            x = Some(out.0);
        }
        let x = x.expect("at least one scale");
        Ok(GatysOutput { image: finish(&x, tw, th)?, completed: true, losses: last_terms })
    }

    /// Runs the optimiser at one size: (best x, completed, final terms).
    fn optimise(
        &self,
        cfg: &GatysConfig,
        t: &Targets,
        x0: Tensor,
        stage: &Stage,
        progress: &mut ProgressFn,
    ) -> Result<(Tensor, bool, Vec<(&'static str, f32)>)> {
        let mut opt: Box<dyn Optimizer> = match cfg.optimizer {
            // The image stays within 0..1 while it is optimised: the losses are
            // then those of the image that is saved. Unbounded, L-BFGS pushed
            // pixels past 0..1: at 1024 px a run whose style loss said it had
            // reached a style distance gave a saved image ≥ 20 % further away.
            OptimizerKind::Lbfgs => Box::new(Lbfgs::new(x0.clone(), LbfgsConfig { bounds: PIXEL_BOUNDS, ..Default::default() })),
            OptimizerKind::Adam => {
                Box::new(Adam::new(x0.clone(), AdamConfig { lr: cfg.learning_rate as f64, bounds: PIXEL_BOUNDS, ..Default::default() })?)
            }
        };
        // The objective records the best point seen and its terms; the loop
        // reports those between steps. (Not the latest evaluation's: a line
        // search's rejected trial can have a lower style term at a higher
        // total, and a caller stopping on the style term would stop early.)
        let best: RefCell<(f32, Tensor, Vec<(&'static str, f32)>)> = RefCell::new((f32::INFINITY, x0, Vec::new()));
        let mut f = |x: &Tensor| -> Result<(f32, Tensor)> {
            let (terms, g) = self.eval(cfg, t, x)?;
            let total = terms[0].1;
            let mut b = best.borrow_mut();
            if total < b.0 {
                *b = (total, x.clone(), terms);
            }
            Ok((total, g))
        };
        let mut stalled = 0;
        let mut completed = true;
        let mut last_step = Duration::ZERO;
        for it in 1..=cfg.iterations {
            let t0 = Instant::now();
            let info = opt.step(&mut f)?;
            last_step = last_step.max(t0.elapsed());
            stalled = if info.moved { 0 } else { stalled + 1 };
            let report = Progress { stage: stage.label.clone(), step: it, total: cfg.iterations, losses: best.borrow().2.clone() };
            if cfg.save_every > 0 && it % cfg.save_every == 0 {
                if let Some(prefix) = &cfg.save_prefix {
                    let p = PathBuf::from(format!("{}_{}_{:05}.png", prefix.display(), stage.index + 1, it));
                    crate::image::save(&crate::image::Picture::from_rgb(RgbImage::from_tensor(opt.x())?), &p)?;
                }
            }
            if progress(&report) == Control::Cancel {
                completed = false;
                break;
            }
            if stalled >= 3 {
                break; // converged: no decrease found three times in a row
            }
            // time budget: stop when another step as long as the longest so
            // far (line searches vary) would end past it; the best image so far is the result
            if stage.deadline.is_some_and(|d| Instant::now() + last_step >= d) {
                break;
            }
        }
        let (_, x, terms) = best.into_inner();
        Ok((x, completed, terms))
    }

    /// The [`crate::stylize::Stylizer`] arm: `work` is already at the working
    /// size and histogram-matched styles are already recoloured; in luminance
    /// mode the luma is stylized (with the style's luma matched to the
    /// content's mean/std) and the Stylizer puts the content's chroma back.
    pub fn stylize_work(&self, work: &RgbImage, styles: &[StyleImage], request: &Request, progress: &mut ProgressFn) -> Result<GatysOutput> {
        let mut cfg = GatysConfig { size: None, ..self.config.clone() };
        // The request's iteration count and budget (checked by Request::validate).
        if let Some(n) = request.iterations {
            cfg.iterations = n;
        }
        if request.max_seconds.is_some() {
            cfg.max_seconds = request.max_seconds;
        }
        let (content, styles) = match request.preserve_color {
            Some(PreserveColor::Luminance) => {
                (luma_image(work), styles.iter().map(|s| StyleImage { image: luma_matched(&s.image, work), weight: s.weight }).collect())
            }
            _ => (work.clone(), styles.to_vec()),
        };
        if request.preserve_color.is_some() && !request.styles.is_empty() {
            // Without its colours the painting is much closer to the photo, so
            // the style loss starts lower against the same α and the result is
            // faintly stylized; β is raised so that the photo's style loss is
            // what it would be in colour (the style's strength is kept).
            let colour = self.style_loss_of(&cfg, work, &request.styles)?;
            let stripped = self.style_loss_of(&cfg, &content, &styles)?;
            let gain = (colour / stripped.max(f32::MIN_POSITIVE)).clamp(1.0, 1e3);
            cfg.style_weight *= gain;
        }
        self.run_with(&cfg, &content, &styles, request.seed, progress)
    }

    /// The style loss (β·L_style) of `content` itself against `styles`, at
    /// most 256 px: how far the photo starts from the style.
    fn style_loss_of(&self, cfg: &GatysConfig, content: &RgbImage, styles: &[StyleImage]) -> Result<f32> {
        let (w, h) = fit_longest(content.width, content.height, content.width.max(content.height).min(256));
        let dev = self.device().clone();
        let c = content.resize(w, h)?.to_tensor(&dev)?;
        let wsum: f32 = styles.iter().map(|s| s.weight).sum();
        let st = styles
            .iter()
            .map(|s| Ok((s.image.resize_longest(((w.max(h) as f32 * cfg.style_scale).round() as usize).max(16))?.to_tensor(&dev)?, s.weight / wsum)))
            .collect::<Result<Vec<_>>>()?;
        let t = self.targets(cfg, &c, &st)?;
        let (terms, _) = self.eval(cfg, &t, &c)?;
        Ok(terms[2].1)
    }
}

/// Grey image of the BT.601 luma.
fn luma_image(img: &RgbImage) -> RgbImage {
    let data = img.luma().into_iter().flat_map(|y| [y; 3]).collect();
    RgbImage { width: img.width, height: img.height, data }
}

/// The style's luma, affinely matched to the content's luma mean and standard
/// deviation (Gatys et al. 2016, colour preservation), as a grey image.
fn luma_matched(style: &RgbImage, content: &RgbImage) -> RgbImage {
    let stats = |v: &[f32]| {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        (m, var.sqrt().max(1e-6))
    };
    let ys = style.luma();
    let (ms, ss) = stats(&ys);
    let (mc, sc) = stats(&content.luma());
    let data = ys.into_iter().flat_map(|y| [(((y as f64 - ms) * sc / ss + mc) as f32).clamp(0.0, 1.0); 3]).collect();
    RgbImage { width: style.width, height: style.height, data }
}

fn finish(x: &Tensor, w: usize, h: usize) -> Result<RgbImage> {
    RgbImage::from_tensor(x)?.resize(w, h)
}

/// Seeded uniform noise image around mid-grey.
fn noise(w: usize, h: usize, seed: u64, dev: &Device) -> Result<Tensor> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let v: Vec<f32> = (0..3 * w * h).map(|_| rng.gen_range(0.25f32..0.75)).collect();
    Ok(Tensor::from_vec(v, (1, 3, h, w), dev)?)
}
