//! `restyle train arbitrary --styles DIR --content-dir DIR [--size 256
//! --batch 4 --steps N --lr 2e-5 --resume]`: fine-tunes the Magenta
//! arbitrary networks with the VGG16 loss (see `restyle_core::train::arbitrary`).

use anyhow::{Context, Result};
use clap::Args;
use restyle_core::device::DeviceChoice;
use restyle_core::train::arbitrary::{load_tensors_dir, ArbitraryTrainConfig, ArbitraryTrainer};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ArbitraryArgs {
    /// Folder(s) of style paintings (searched recursively for jpg/png); repeatable.
    #[arg(long = "styles", required = true)]
    pub style_dirs: Vec<PathBuf>,
    /// Folder(s) of content photos (searched recursively for jpg/png); repeatable.
    #[arg(long = "content-dir", required = true)]
    pub content_dirs: Vec<PathBuf>,
    /// Output folder: magenta-arbitrary-{predict,transform}.safetensors (load with
    /// `--weights-dir OUT`), checkpoint.json, loss.csv.
    #[arg(long, default_value_os_t = ArbitraryTrainConfig::default().out_dir)]
    pub out: PathBuf,
    /// Content crop side (a multiple of 4).
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().size)]
    pub size: usize,
    /// Style crop side.
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().style_size)]
    pub style_size: usize,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().batch)]
    pub batch: usize,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().steps)]
    pub steps: usize,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().lr)]
    pub lr: f64,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().content_weight)]
    pub content_weight: f64,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().style_weight)]
    pub style_weight: f64,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().tv_weight)]
    pub tv_weight: f64,
    /// Train only the transfer network.
    #[arg(long)]
    pub freeze_predict: bool,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().checkpoint_every)]
    pub checkpoint_every: usize,
    /// Continue from the checkpoint in OUT.
    #[arg(long)]
    pub resume: bool,
    /// Start from the networks in this folder (canonical safetensors or the
    /// Magenta ONNX pair) instead of the catalog's magenta-arbitrary.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// VGG16 weights (any file `restyle weights` reads); default: the catalog's vgg16.
    #[arg(long)]
    pub vgg: Option<PathBuf>,
    #[arg(long)]
    pub weights_dir: Option<PathBuf>,
    #[arg(long, default_value = "auto")]
    pub device: String,
    #[arg(long, default_value_t = ArbitraryTrainConfig::default().seed)]
    pub seed: u64,
}

pub fn run(a: ArbitraryArgs) -> Result<()> {
    let device = a.device.parse::<DeviceChoice>().with_context(|| format!("--device {}", a.device))?.open()?;
    let opts = crate::stylize::resolve_options(a.weights_dir.as_deref())?;
    let vgg = restyle_core::method::open::vgg_loss_network(a.vgg.as_deref(), &opts, &device).context("loading the VGG16 loss network")?;
    let init = match &a.init {
        Some(dir) => load_tensors_dir(dir)?,
        None => {
            let p = restyle_weights::resolve_part("magenta-arbitrary", "predict", &opts)
                .context("locating the arbitrary style networks")?;
            let t = restyle_weights::resolve_part("magenta-arbitrary", "transform", &opts)?;
            restyle_core::train::arbitrary::load_tensors(&p, &t)?
        }
    };
    let cfg = ArbitraryTrainConfig {
        style_dirs: a.style_dirs,
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
        freeze_predict: a.freeze_predict,
        checkpoint_every: a.checkpoint_every,
        resume: a.resume,
        seed: a.seed,
    };
    let mut trainer = ArbitraryTrainer::new(cfg, init, vgg, &device)?;
    let warned = crate::train_bar::warn_skipped(&trainer.contents, 0);
    let trained = crate::train_bar::train_with_bar(&mut trainer, &a.out, a.steps, a.checkpoint_every);
    let skipped = crate::train_bar::warn_skipped(&trainer.contents, warned);
    trained?;
    if skipped > 0 {
        eprintln!("{skipped} content image(s) could not be decoded and were left out; {} used", trainer.contents.len());
    }
    eprintln!(
        "checkpoint in {} (use: restyle stylize PHOTO --method arbitrary --weights-dir {})",
        a.out.display(),
        a.out.display()
    );
    Ok(())
}
