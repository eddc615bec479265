//! `restyle stylize CONTENT --style PAINTING … -o out.png`: one image through
//! any method, via the core's `Stylizer` (the same path as the C ABI).

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::arbitrary::{self, Arbitrary};
use restyle_core::device::DeviceChoice;
use restyle_core::image;
use restyle_core::progress::{Control, Progress};
use restyle_core::methods::{self, MethodSpec};
use restyle_core::stylize::{PreserveColor, Request, StyleImage, Stylizer};
use restyle_core::tiling::Tiling;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum MethodName {
    /// Arbitrary fast style transfer (Magenta): any painting, one pass.
    Arbitrary,
    /// Fast NST (Johnson): a trained network per style (--model; default: the embedded starry_night).
    Fast,
    /// The 26-style network (--style-id 7 or 3:0.5,12:0.5).
    Multistyle26,
    /// Optimisation NST (Gatys; --preset improved for Novak & Nikulin + coarse-to-fine): slow, best quality.
    Gatys,
    /// AdaIN (Huang & Belongie): any painting, one pass; --adain-vgg/--adain-decoder or --weights-dir.
    Adain,
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
    /// Style image(s); repeat to blend several.
    #[arg(long = "style")]
    pub styles: Vec<PathBuf>,
    /// Blend weights for the styles, comma-separated (normalised to sum 1).
    #[arg(long, value_delimiter = ',')]
    pub style_weights: Vec<f32>,
    /// A saved style vector (.json/.safetensors from `restyle style-vector`) instead of style images.
    #[arg(long)]
    pub style_vector: Option<PathBuf>,
    /// Default: arbitrary when a style is given, else fast with the embedded model.
    #[arg(long, value_enum)]
    pub method: Option<MethodName>,
    /// fast: a built-in network name (starry_night) or a .pth/.safetensors file.
    #[arg(long)]
    pub model: Option<String>,
    /// adain: vgg_normalised.pth of naoto0804/pytorch-AdaIN (default: found by name in the weights folder, or the cache).
    #[arg(long)]
    pub adain_vgg: Option<PathBuf>,
    /// adain: its decoder.pth (default: as for --adain-vgg).
    #[arg(long)]
    pub adain_decoder: Option<PathBuf>,
    /// multistyle26: a style 0..25 or a blend like 3:0.5,12:0.5.
    #[arg(long, default_value = "0")]
    pub style_id: String,
    /// 0..1: how strongly to apply the style.
    #[arg(long, default_value_t = 1.0)]
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
    /// Images larger than this (either side) run in overlapping tiles.
    #[arg(long, default_value_t = 1024)]
    pub tile: usize,
    #[arg(long, default_value_t = 64)]
    pub tile_overlap: usize,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Folder with the weights (else RESTYLE_WEIGHTS_DIR, the cache, the hub).
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.png, .jpg, .webp, .tif); default CONTENT-stylized.png beside the content.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub gatys: crate::gatys_args::GatysArgs,
}

/// Resolve options honouring `--weights-dir`.
pub fn resolve_options(weights_dir: Option<&Path>) -> restyle_weights::ResolveOptions {
    restyle_weights::ResolveOptions { weights_dir: weights_dir.map(Path::to_path_buf), ..Default::default() }
}

pub fn load_arbitrary(weights_dir: Option<&Path>, device: &candle_core::Device) -> Result<Arbitrary> {
    Arbitrary::load(&resolve_options(weights_dir), device).context("loading the arbitrary style networks")
}

fn default_output(content: &Path) -> PathBuf {
    let stem = content.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    content.with_file_name(format!("{stem}-stylized.png"))
}

pub fn run(args: StylizeArgs) -> Result<()> {
    let device: DeviceChoice = args.device.parse().with_context(|| format!("--device {}", args.device))?;
    let device = device.open()?;
    if !(0.0..=1.0).contains(&args.strength) {
        bail!("--strength must be in 0..1, got {}", args.strength);
    }
    let method_name = args.method.unwrap_or(if args.styles.is_empty() && args.style_vector.is_none() {
        MethodName::Fast
    } else {
        MethodName::Arbitrary
    });
    let needs_style = !matches!(method_name, MethodName::Fast | MethodName::Multistyle26);
    if needs_style && args.styles.is_empty() && args.style_vector.is_none() {
        bail!("give a style: --style PAINTING (repeatable) or --style-vector FILE");
    }
    if (args.adain_vgg.is_some() || args.adain_decoder.is_some()) && method_name != MethodName::Adain {
        bail!("--adain-vgg / --adain-decoder go with --method adain");
    }
    if args.style_vector.is_some() && !args.styles.is_empty() {
        bail!("give either --style or --style-vector, not both");
    }
    if !args.style_weights.is_empty() && args.style_weights.len() != args.styles.len() {
        bail!("--style-weights has {} values for {} --style images", args.style_weights.len(), args.styles.len());
    }
    if args.tile < 64 || args.tile_overlap >= args.tile / 2 {
        bail!("--tile must be at least 64 and --tile-overlap below half of it");
    }
    let content = image::load(&args.content)?;
    let mut styles = Vec::new();
    for (i, p) in args.styles.iter().enumerate() {
        let weight = args.style_weights.get(i).copied().unwrap_or(1.0);
        styles.push(StyleImage { image: image::load(p)?.rgb, weight });
    }
    let style_vector = match &args.style_vector {
        Some(p) => Some(arbitrary::load_style_vector(p)?),
        None => None,
    };
    let tiling = Tiling { tile: args.tile, overlap: args.tile_overlap };
    let weights = resolve_options(args.weights_dir.as_deref());
    let spec = match method_name {
        MethodName::Fast => Some(MethodSpec::Fast { model: args.model.clone(), tiling }),
        MethodName::Multistyle26 => Some(MethodSpec::multistyle26(&args.style_id, tiling)?),
        MethodName::Arbitrary => Some(MethodSpec::Arbitrary(arbitrary::Options { tiling, stats_max_side: args.tile, ..Default::default() })),
        MethodName::Adain => Some(MethodSpec::AdaIN {
            vgg: args.adain_vgg.clone(),
            decoder: args.adain_decoder.clone(),
            options: restyle_core::adain::Options { tiling, stats_max_side: args.tile, ..Default::default() },
        }),
        // Optimisation has its own many knobs (gatys_args).
        MethodName::Gatys => None,
    };
    let method = match spec {
        Some(spec) => {
            let what = spec.name();
            methods::load(spec, &weights, &device).with_context(|| format!("loading the {what} network"))?
        }
        None => {
            let out = args.output.clone().unwrap_or_else(|| default_output(&args.content));
            crate::gatys_args::method(&args.gatys, &weights, &device, &out)?
        }
    };
    let request = Request {
        styles,
        strength: args.strength,
        preserve_color: args.preserve_color.map(|p| match p {
            PreserveArg::Luminance => PreserveColor::Luminance,
            PreserveArg::Histogram => PreserveColor::Histogram,
        }),
        // Gatys' default (its preset's size at most) is the Stylizer's; AdaIN
        // (untiled, full VGG widths) at 1024 px keeps CPU memory to a few GB
        working_size: args.size.or(match method_name {
            MethodName::Adain => Some(1024),
            _ => None,
        }),
        seed: args.seed,
        style_vector,
        style_size: args.style_size,
    };
    let stylizer = Stylizer::new(method, device);
    let start = std::time::Instant::now();
    // Ctrl-C stops an optimisation at the next step; the best image so far is saved.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst));
    let mut report = |p: &Progress| {
        if !p.losses.is_empty() && (p.step % 10 == 0 || p.step == p.total) {
            let terms: Vec<String> = p.losses.iter().map(|(n, v)| format!("{n} {v:.4e}")).collect();
            eprintln!("{} {}/{}: {}", p.stage, p.step, p.total, terms.join(", "));
        }
        if stop.load(std::sync::atomic::Ordering::SeqCst) { Control::Cancel } else { Control::Continue }
    };
    let out = stylizer.stylize(&content, &request, &mut report)?;
    let path = args.output.unwrap_or_else(|| default_output(&args.content));
    image::save(&out.picture, &path)?;
    eprintln!(
        "wrote {} ({}×{}) in {:.2} s",
        path.display(),
        out.picture.width(),
        out.picture.height(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
