//! `restyle stylize CONTENT --style PAINTING … -o out.png`: one image through
//! any method, via the core's `Stylizer` (the same path as the C ABI).

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::models::arbitrary::{self, Arbitrary};
use restyle_core::method::{self, MethodKind, MethodOptions, MethodSpec};
use restyle_core::device::DeviceChoice;
use restyle_core::image;
use restyle_core::progress::{Control, Progress};
use restyle_core::request::{PreserveColor, Request, StyleImage};
use restyle_core::stylize::Stylizer;
use restyle_core::nn::tiling::Tiling;
use std::path::{Path, PathBuf};

/// `--method NAME`: the core's method names (`restyle_core::method::MethodKind`).
fn parse_method(s: &str) -> Result<MethodKind, String> {
    s.parse::<MethodKind>().map_err(|e| e.to_string())
}

fn method_help() -> String {
    let lines: Vec<String> = MethodKind::ALL.iter().map(|k| format!("{}: {}", k.name(), k.summary())).collect();
    format!("Default: arbitrary when a style is given, else fast with the embedded model. {}", lines.join("; "))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PreserveArg {
    /// Keep the content's chroma, stylize the luminance.
    Luminance,
    /// Recolour the style image to the content's colour statistics first.
    Histogram,
}

#[derive(Args, Debug)]
pub struct StylizeArgs {
    /// The photo to stylize.
    pub content: PathBuf,
    #[command(flatten)]
    pub style: StyleArgs,
    /// Output file (.png, .jpg, .webp, .tif); default CONTENT-stylized.png beside the content.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub gatys: crate::gatys_args::GatysArgs,
}

/// The method and style options shared by `stylize` and `video`.
#[derive(Args, Debug)]
pub struct StyleArgs {
    /// Style image(s); repeat to blend several.
    #[arg(long = "style")]
    pub styles: Vec<PathBuf>,
    /// Blend weights for the styles, comma-separated (normalised to sum 1).
    #[arg(long, value_delimiter = ',')]
    pub style_weights: Vec<f32>,
    /// A saved style vector (.json/.safetensors from `restyle style-vector`) instead of style images.
    #[arg(long)]
    pub style_vector: Option<PathBuf>,
    #[arg(long, value_parser = parse_method, long_help = method_help())]
    pub method: Option<MethodKind>,
    /// fast: a built-in network name (starry_night) or a .pth/.safetensors file.
    #[arg(long)]
    pub model: Option<String>,
    /// adain: vgg_normalised.pth of naoto0804/pytorch-AdaIN (default: found by name in the weights folder, or the cache).
    #[arg(long)]
    pub adain_vgg: Option<PathBuf>,
    /// adain: its decoder.pth (default: as for --adain-vgg).
    #[arg(long)]
    pub adain_decoder: Option<PathBuf>,
    /// multistyle26: a style 0..25 or its name (`restyle info` lists them), or a blend like 3:0.5,crimson:0.5 [default: 0].
    #[arg(long)]
    pub style_id: Option<String>,
    /// 0..1: how strongly to apply the style.
    #[arg(long, default_value_t = Request::default().strength)]
    pub strength: f32,
    /// Shorter side the style image is seen at (brush scale); default 256 for arbitrary.
    #[arg(long)]
    pub style_size: Option<usize>,
    #[arg(long, value_enum)]
    pub preserve_color: Option<PreserveArg>,
    /// Work at this longest side (the result is scaled back to the content's size)
    /// [default: the content's; gatys: the content's, at most 512; adain: 1024].
    #[arg(long)]
    pub size: Option<usize>,
    /// Images larger than this (either side) run in overlapping tiles [default: 1024].
    #[arg(long)]
    pub tile: Option<usize>,
    /// Overlap of neighbouring tiles [default: 64].
    #[arg(long)]
    pub tile_overlap: Option<usize>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Folder with the weights (else RESTYLE_WEIGHTS_DIR, the cache, the hub).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    #[arg(long, default_value_t = Request::default().seed)]
    pub seed: u64,
}

/// What the style options describe, before anything is loaded.
pub struct Plan {
    pub kind: MethodKind,
    pub spec: MethodSpec,
    pub request: Request,
}

impl StyleArgs {
    /// Checks the options against the method and builds its spec and the
    /// request (style images read, style vector loaded); `vgg` is the
    /// optimisation methods' network choice. The per-method policy is core's.
    pub fn plan(&self, kind: MethodKind, vgg: Option<String>) -> Result<Plan> {
        let args = self;
        let has_style = !args.styles.is_empty() || args.style_vector.is_some();
        if kind.needs_style() && !has_style {
            bail!("the {kind} method needs a style: --style PAINTING (repeatable){}", if kind.takes_style_vector() { " or --style-vector FILE" } else { "" });
        }
        if args.style_vector.is_some() && !args.styles.is_empty() {
            bail!("give either --style or --style-vector, not both");
        }
        if !args.style_weights.is_empty() && args.style_weights.len() != args.styles.len() {
            bail!("--style-weights has {} values for {} --style images", args.style_weights.len(), args.styles.len());
        }
        let defaults = method::DEFAULT_TILING;
        let tiling = (args.tile.is_some() || args.tile_overlap.is_some())
            .then(|| Tiling { tile: args.tile.unwrap_or(defaults.tile), overlap: args.tile_overlap.unwrap_or(defaults.overlap) });
        // One spec builder for every front end: options that do not apply to
        // the method are refused there, not ignored.
        let options = MethodOptions {
            model: if kind.is_optimisation() { vgg } else { args.model.clone() },
            style_blend: args.style_id.clone(),
            adain_vgg: args.adain_vgg.clone(),
            adain_decoder: args.adain_decoder.clone(),
            tiling,
            ..MethodOptions::default()
        };
        if kind.is_optimisation() && args.model.is_some() {
            bail!("--model is for --method fast; the optimisation methods take --vgg");
        }
        let spec = MethodSpec::new(kind, &options)?;
        let style_vector = match &args.style_vector {
            Some(p) => Some(arbitrary::load_style_vector(p)?),
            None => None,
        };
        let mut styles = Vec::new();
        for (i, p) in args.styles.iter().enumerate() {
            let weight = args.style_weights.get(i).copied().unwrap_or(1.0);
            styles.push(StyleImage { image: image::load(p)?.rgb, weight });
        }
        let request = Request {
            styles,
            strength: args.strength,
            preserve_color: args.preserve_color.map(|p| match p {
                PreserveArg::Luminance => PreserveColor::Luminance,
                PreserveArg::Histogram => PreserveColor::Histogram,
            }),
            // Per-method defaults (Gatys' preset size, AdaIN's cap) are the Stylizer's.
            working_size: args.size,
            seed: args.seed,
            style_vector,
            style_size: args.style_size,
            ..Request::default()
        };
        // Checked before the (slow) loading; the Stylizer checks it again.
        request.validate()?;
        Ok(Plan { kind, spec, request })
    }

    /// The method asked for, or the default for the styles given.
    pub fn kind(&self) -> MethodKind {
        self.method.unwrap_or(MethodKind::default_for(!self.styles.is_empty() || self.style_vector.is_some()))
    }
}

/// Resolve options honouring `--weights-dir`; a folder that does not exist
/// (given, or in RESTYLE_WEIGHTS_DIR) is an error, never silently skipped.
pub fn resolve_options(weights_dir: Option<&Path>) -> Result<restyle_weights::ResolveOptions> {
    let opts = restyle_weights::ResolveOptions { weights_dir: weights_dir.map(Path::to_path_buf), ..Default::default() };
    opts.check().context("--weights-dir")?;
    Ok(opts)
}

pub fn load_arbitrary(weights_dir: Option<&Path>, device: &candle_core::Device) -> Result<Arbitrary> {
    restyle_core::method::open::arbitrary(&resolve_options(weights_dir)?, device).context("loading the arbitrary style networks")
}

pub fn run(args: StylizeArgs) -> Result<()> {
    let device: DeviceChoice = args.style.device.parse().with_context(|| format!("--device {}", args.style.device))?;
    let mut kind = args.style.kind();
    if kind == MethodKind::Gatys && args.gatys.preset == Some(crate::gatys_args::Preset::Improved) {
        kind = MethodKind::GatysImproved;
    }
    // The output is checked before anything is loaded or run: its format,
    // its folder, and that it is none of the inputs (an interrupted run
    // saves its partial result there too).
    let out_path = args.output.clone().unwrap_or_else(|| image::default_output_path(&args.content));
    let mut inputs: Vec<&Path> = vec![&args.content];
    inputs.extend(args.style.styles.iter().map(PathBuf::as_path));
    inputs.extend(args.style.style_vector.as_deref());
    image::check_output(&out_path, &inputs)?;
    let Plan { spec, mut request, .. } = args.style.plan(kind, args.gatys.vgg.clone())?;
    request.iterations = args.gatys.iterations;
    request.max_seconds = args.gatys.max_seconds;
    request.validate()?;
    let content = image::load(&args.content)?;
    let device = device.open()?;
    let weights = resolve_options(args.style.weights_dir.as_deref())?;
    let method = match spec {
        MethodSpec::Gatys { preset, .. } => crate::gatys_args::method(&args.gatys, preset, &weights, &device, &out_path)?,
        spec => method::load(spec, &weights, &device).with_context(|| format!("loading the {kind} network"))?,
    };
    let stylizer = Stylizer::new(method, device);
    let start = std::time::Instant::now();
    // Ctrl-C stops an optimisation at the next step; the best image so far is saved.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    // Iterations done, over every scale: the steps of the stages before the
    // current one, and the current stage's.
    let (mut done_before, mut stage, mut step) = (0usize, String::new(), 0usize);
    let mut report = |p: &Progress| {
        if !p.losses.is_empty() && (p.step % 10 == 0 || p.step == p.total) {
            let terms: Vec<String> = p.losses.iter().map(|(n, v)| format!("{n} {v:.4e}")).collect();
            eprintln!("{} {}/{}: {}", p.stage, p.step, p.total, terms.join(", "));
        }
        if p.stage != stage {
            done_before += step;
            stage = p.stage.clone();
        }
        step = p.step;
        if stop.load(std::sync::atomic::Ordering::SeqCst) { Control::Cancel } else { Control::Continue }
    };
    let interrupted = || stop.load(std::sync::atomic::Ordering::SeqCst);
    let out = match stylizer.stylize(&content, &request, &mut report) {
        Err(restyle_core::Error::Cancelled) if interrupted() => {
            eprintln!("interrupted: nothing written");
            std::process::exit(EXIT_INTERRUPTED);
        }
        other => other?,
    };
    image::save(&out.picture, &out_path)?;
    let (w, h) = (out.picture.width(), out.picture.height());
    if !out.completed {
        // Only an interruption stops an optimisation early without an error.
        let n = done_before + step;
        eprintln!(
            "interrupted after {n} iteration{}: wrote partial result {} ({w}×{h}, the best image so far) in {:.2} s",
            if n == 1 { "" } else { "s" },
            out_path.display(),
            start.elapsed().as_secs_f64()
        );
        std::process::exit(EXIT_INTERRUPTED);
    }
    eprintln!("wrote {} ({w}×{h}) in {:.2} s", out_path.display(), start.elapsed().as_secs_f64());
    Ok(())
}

/// Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: i32 = 130;
