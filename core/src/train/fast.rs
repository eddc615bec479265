//! Training a fast (Johnson) transformer network for one style.
//!
//! Objective (Johnson et al. 2016, REFERENCES.md §3), on VGG16 features
//! divided by [`Vgg::activation_scale`] as every restyle loss is:
//! `content_weight · content(relu2_2) + style_weight · Σ style(Gram of
//! relu1_2, relu2_2, relu3_3, relu4_3) + tv_weight · tv(output 0..1)`,
//! Adam (AdamW with no weight decay). Content crops are random
//! `size`×`size` squares (shorter side resized to `size`, random flip).
//!
//! Output folder: `checkpoint.safetensors` (network, pytorch/examples key
//! names, f32) + `checkpoint.json` (step) every `checkpoint_every` steps and
//! at the end, `loss.csv` (one row per step). `resume` continues from the
//! checkpoint, appending to the CSV; Adam's moment estimates are not saved
//! (candle does not expose them) and restart from zero.

use crate::nst::loss;
use crate::nn::NormStats;
use crate::progress::ProgressFn;
use crate::models::transformer_net::{Config as NetConfig, TransformerNet};
use crate::models::vgg::Vgg;
use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::SeedableRng;
use std::path::PathBuf;
use super::{random_crop, read_step, ContentPool, run_loop, StepLoss, TrainLoop, CONTENT_LAYER, STYLE_LAYERS};

/// Everything a training run needs.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub style: PathBuf,
    pub content_dirs: Vec<PathBuf>,
    pub out_dir: PathBuf,
    /// Square crop side of the content images.
    pub size: usize,
    /// Longest side of the style image.
    pub style_size: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    pub net: NetConfig,
    pub checkpoint_every: usize,
    pub resume: bool,
    pub seed: u64,
}

impl Default for TrainConfig {
    /// Loss weights equal to `core/models/train_default.py`'s (1, 10, 1 on raw
    /// caffe features and 0..255 pixels) after dividing features by the
    /// activation scale s ≈ 57.6: style 10·s², tv 255²/s².
    fn default() -> Self {
        TrainConfig {
            style: PathBuf::new(),
            content_dirs: Vec::new(),
            out_dir: PathBuf::from("restyle-train"),
            size: 256,
            style_size: 256,
            batch: 4,
            steps: 2000,
            lr: 1e-3,
            content_weight: 1.0,
            style_weight: 3.3e4,
            tv_weight: 20.0,
            net: NetConfig::default(),
            checkpoint_every: 200,
            resume: false,
            seed: 0,
        }
    }
}

/// The trainer: network variables, optimiser, loss network and targets.
pub struct Trainer {
    pub cfg: TrainConfig,
    pub varmap: VarMap,
    pub net: TransformerNet,
    vgg: Vgg,
    opt: candle_nn::AdamW,
    style_grams: Vec<Tensor>,
    /// Content images (undecodable ones are dropped with a reason, see [`ContentPool`]).
    pub images: ContentPool,
    rng: rand::rngs::StdRng,
    pub step: usize,
    device: Device,
}

impl Trainer {
    pub fn new(cfg: TrainConfig, vgg: Vgg, device: &Device) -> Result<Self> {
        if cfg.size < 16 || cfg.batch == 0 || cfg.steps == 0 {
            return Err(Error::InvalidArgument("training needs size ≥ 16, batch ≥ 1, steps ≥ 1".into()));
        }
        let images = ContentPool::new(&cfg.content_dirs)?;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let net = TransformerNet::new(cfg.net, vb)?;
        let ckpt = cfg.out_dir.join("checkpoint.safetensors");
        let mut step = 0;
        if cfg.resume && ckpt.is_file() {
            varmap.load(&ckpt)?;
            step = read_step(&cfg.out_dir.join("checkpoint.json"))?;
        }
        let params = ParamsAdamW { lr: cfg.lr, weight_decay: 0.0, ..Default::default() };
        let opt = candle_nn::AdamW::new(varmap.all_vars(), params)?;
        let style = crate::image::load(&cfg.style)?.rgb.resize_longest(cfg.style_size)?;
        let sx = style.to_tensor(device)?;
        let scale = vgg.activation_scale();
        let sf = vgg.forward(&sx, &STYLE_LAYERS)?;
        let style_grams = sf.iter().map(|(_, f)| loss::gram(&(f / scale)?, 0.0)).collect::<Result<Vec<_>>>()?;
        let rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(step as u64));
        Ok(Trainer { cfg, varmap, net, vgg, opt, style_grams, images, rng, step, device: device.clone() })
    }

    /// A batch `[B,3,S,S]` of random content crops, 0..1.
    fn batch(&mut self) -> Result<Tensor> {
        let s = self.cfg.size;
        let mut data = Vec::with_capacity(self.cfg.batch * 3 * s * s);
        for _ in 0..self.cfg.batch {
            let img = self.images.draw(&mut self.rng)?;
            data.extend(random_crop(&img, s, &mut self.rng)?);
        }
        Ok(Tensor::from_vec(data, (self.cfg.batch, 3, s, s), &self.device)?)
    }

    /// The loss of the network on `x` (`[B,3,S,S]` 0..1), as a graph.
    pub fn loss(&self, x: &Tensor) -> Result<(Tensor, StepLoss)> {
        let scale = self.vgg.activation_scale();
        let y = (self.net.forward_with(&(x * 255.0)?, &mut NormStats::Own)? / 255.0)?;
        let target = self.vgg.forward(x, &[CONTENT_LAYER])?;
        let target = (target.get(CONTENT_LAYER).expect("requested layer").detach() / scale)?;
        let fy = self.vgg.forward(&y, &STYLE_LAYERS)?;
        let content = loss::content(&(fy.get(CONTENT_LAYER).expect("requested layer") / scale)?, &target)?;
        let mut style = Tensor::zeros((), DType::F32, &self.device)?;
        for ((_, f), g) in fy.iter().zip(&self.style_grams) {
            let gy = loss::gram(&(f / scale)?, 0.0)?;
            style = (style + loss::style(&gy, &g.broadcast_as(gy.shape())?)?)?;
        }
        let tv = loss::tv(&y)?;
        let total = ((&content * self.cfg.content_weight)? + (&style * self.cfg.style_weight)? + (&tv * self.cfg.tv_weight)?)?;
        let terms = StepLoss {
            content: content.to_scalar()?,
            style: style.to_scalar()?,
            tv: tv.to_scalar()?,
            total: total.to_scalar()?,
        };
        Ok((total, terms))
    }

    /// One optimisation step on a fresh batch.
    pub fn train_step(&mut self) -> Result<StepLoss> {
        let x = {
            let _span = crate::profile::span("data", || "decode + crop".into(), 0);
            self.batch()?
        };
        let (total, terms) = self.loss(&x)?;
        let grads = total.backward()?;
        let _span = crate::profile::span("optimizer", || "AdamW step".into(), 0);
        self.opt.step(&grads)?;
        self.step += 1;
        Ok(terms)
    }

    /// Writes `checkpoint.safetensors` + `checkpoint.json` atomically.
    pub fn save_checkpoint(&self) -> Result<()> {
        std::fs::create_dir_all(&self.cfg.out_dir).map_err(|e| Error::io(format!("create {}", self.cfg.out_dir.display()), e))?;
        crate::fsio::write_atomic_via_path(&self.cfg.out_dir.join("checkpoint.safetensors"), |tmp| Ok(self.varmap.save(tmp)?))?;
        let json = format!("{{\"step\": {}, \"size\": {}, \"batch\": {}}}\n", self.step, self.cfg.size, self.cfg.batch);
        crate::fsio::write_atomic(&self.cfg.out_dir.join("checkpoint.json"), json.as_bytes())
    }

    /// Trains up to `cfg.steps` (counting resumed steps); see [`run_loop`].
    pub fn run(&mut self, progress: &mut ProgressFn) -> Result<StepLoss> {
        let (out, steps, every) = (self.cfg.out_dir.clone(), self.cfg.steps, self.cfg.checkpoint_every);
        run_loop(self, &out, steps, every, progress)
    }
}

impl TrainLoop for Trainer {
    fn step(&self) -> usize {
        self.step
    }
    fn train_step(&mut self) -> Result<StepLoss> {
        Trainer::train_step(self)
    }
    fn save_checkpoint(&self) -> Result<()> {
        Trainer::save_checkpoint(self)
    }
}
