//! `restyle train fast --style PAINTING --content-dir DIR --size 256 --batch 4
//! --steps N [--resume]`: trains a Johnson transformer network (see
//! `restyle_core::train`); the same command runs on CPU and CUDA (`--device`).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use restyle_core::device::DeviceChoice;
use restyle_core::train::fast::{TrainConfig, Trainer};
use restyle_core::models::transformer_net::Config as NetConfig;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct TrainArgs {
    #[command(subcommand)]
    pub what: TrainWhat,
}

#[derive(Subcommand, Debug)]
pub enum TrainWhat {
    /// A fast (Johnson) network for one style.
    Fast(FastArgs),
    /// Fine-tune the arbitrary (Magenta) networks on style and content folders.
    Arbitrary(crate::train_arbitrary::ArbitraryArgs),
}

#[derive(Args, Debug)]
pub struct FastArgs {
    /// The style painting.
    #[arg(long)]
    pub style: PathBuf,
    /// Folder(s) of content photos (searched recursively for jpg/png); repeatable.
    #[arg(long = "content-dir", required = true)]
    pub content_dirs: Vec<PathBuf>,
    /// Output folder: checkpoint.safetensors, checkpoint.json, loss.csv, model-fp16.safetensors.
    #[arg(long, default_value_os_t = TrainConfig::default().out_dir)]
    pub out: PathBuf,
    #[arg(long, default_value_t = TrainConfig::default().size)]
    pub size: usize,
    /// Longest side of the style image.
    #[arg(long, default_value_t = TrainConfig::default().style_size)]
    pub style_size: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch)]
    pub batch: usize,
    #[arg(long, default_value_t = TrainConfig::default().steps)]
    pub steps: usize,
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = TrainConfig::default().content_weight)]
    pub content_weight: f64,
    #[arg(long, default_value_t = TrainConfig::default().style_weight)]
    pub style_weight: f64,
    #[arg(long, default_value_t = TrainConfig::default().tv_weight)]
    pub tv_weight: f64,
    /// Channel widths c1,c2,c3 (pytorch/examples: 32,64,128).
    #[arg(long, default_values_t = default_widths(), value_delimiter = ',')]
    pub widths: Vec<usize>,
    #[arg(long, default_value_t = TrainConfig::default().net.num_res)]
    pub res_blocks: usize,
    #[arg(long, default_value_t = TrainConfig::default().checkpoint_every)]
    pub checkpoint_every: usize,
    /// Continue from OUT/checkpoint.safetensors.
    #[arg(long)]
    pub resume: bool,
    /// VGG16 weights (any file `restyle weights` reads); default: the catalog's vgg16.
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
}

/// The transformer's default widths, from core.
fn default_widths() -> Vec<usize> {
    let n = NetConfig::default();
    vec![n.c1, n.c2, n.c3]
}

pub fn run(args: TrainArgs) -> Result<()> {
    match args.what {
        TrainWhat::Fast(a) => fast(a),
        TrainWhat::Arbitrary(a) => crate::train_arbitrary::run(a),
    }
}

fn fast(a: FastArgs) -> Result<()> {
    let device = a.device.parse::<DeviceChoice>().with_context(|| format!("--device {}", a.device))?.open()?;
    let [c1, c2, c3] = a.widths[..] else { anyhow::bail!("--widths takes three numbers, e.g. 32,64,128") };
    let opts = crate::stylize::resolve_options(a.weights_dir.as_deref())?;
    let vgg = restyle_core::method::open::vgg_loss_network(a.vgg.as_deref(), &opts, &device).context("loading the VGG16 loss network")?;
    let cfg = TrainConfig {
        style: a.style,
        content_dirs: a.content_dirs,
        out_dir: a.out.clone(),
        size: a.size,
        style_size: a.style_size,
        batch: a.batch,
        steps: a.steps,
        lr: a.lr,
        content_weight: a.content_weight,
        style_weight: a.style_weight,
        tv_weight: a.tv_weight,
        net: NetConfig { c1, c2, c3, num_res: a.res_blocks },
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        seed: a.seed,
    };
    let mut trainer = Trainer::new(cfg, vgg, &device)?;
    let warned = crate::train_bar::warn_skipped(&trainer.images, 0);
    let trained = crate::train_bar::train_with_bar(&mut trainer, &a.out, a.steps, a.checkpoint_every);
    let skipped = crate::train_bar::warn_skipped(&trainer.images, warned);
    trained?;
    if skipped > 0 {
        eprintln!("{skipped} content image(s) could not be decoded and were left out; {} used", trainer.images.len());
    }
    let fp16 = a.out.join("model-fp16.safetensors");
    restyle_core::train::export_fp16(&trainer.varmap, &fp16)?;
    eprintln!("checkpoint {}; fp16 model {} (use: restyle stylize PHOTO --method fast --model {})",
        a.out.join("checkpoint.safetensors").display(), fp16.display(), fp16.display());
    Ok(())
}
