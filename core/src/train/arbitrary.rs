//! Fine-tuning the arbitrary (Magenta, Ghiasi et al. 2017) networks with the
//! VGG16 loss restyle uses everywhere.
//!
//! Each step samples a batch of content crops and of style crops (one style
//! per item, seeded), predicts each style's vector, stylizes the content with
//! it and scores the result as [`crate::train`] does: `content_weight ·
//! content(relu2_2) + style_weight · Σ style(Gram of relu1_2 … relu4_3 vs
//! the item's own style crop) + tv_weight · tv`. Adam updates the transfer
//! network and, unless frozen, the style prediction network.
//!
//! The pretrained tensors are copied into two [`VarMap`]s under their
//! canonical names (`restyle_weights::import::magenta`), so a checkpoint is
//! the pair `magenta-arbitrary-{predict,transform}.safetensors` that
//! [`Arbitrary::load_dir`] reads, plus `checkpoint.json` (step) and
//! `loss.csv`. Adam's moments are not saved (as in [`crate::train`]).

use crate::models::arbitrary::{Arbitrary, PREDICT_ONNX, PREDICT_SAFETENSORS, TRANSFORM_ONNX, TRANSFORM_SAFETENSORS};
use crate::image::RgbImage;
use crate::nst::loss;
use crate::nn::NormStats;
use crate::progress::ProgressFn;
use crate::train::{content_images, random_crop, ContentPool, read_step, run_loop, StepLoss, TrainLoop, CONTENT_LAYER, STYLE_LAYERS};
use crate::models::vgg::Vgg;
use crate::{Error, Result};
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use restyle_weights::import::magenta;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Everything a fine-tuning run needs.
#[derive(Clone, Debug)]
pub struct ArbitraryTrainConfig {
    pub style_dirs: Vec<PathBuf>,
    pub content_dirs: Vec<PathBuf>,
    pub out_dir: PathBuf,
    /// Square crop side of the content images (a multiple of 4).
    pub size: usize,
    /// Square crop side of the style images (256 as Magenta trained).
    pub style_size: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    pub content_weight: f64,
    pub style_weight: f64,
    pub tv_weight: f64,
    /// Train only the transfer network.
    pub freeze_predict: bool,
    pub checkpoint_every: usize,
    pub resume: bool,
    pub seed: u64,
}

impl Default for ArbitraryTrainConfig {
    /// Loss weights as [`crate::train::TrainConfig`]'s; a small learning rate
    /// because this fine-tunes a trained network (at 64 px, 2e-4 already
    /// makes the predictor's vectors, and the style loss, jump).
    fn default() -> Self {
        let t = crate::train::fast::TrainConfig::default();
        ArbitraryTrainConfig {
            style_dirs: Vec::new(),
            content_dirs: Vec::new(),
            out_dir: PathBuf::from("restyle-train-arbitrary"),
            size: 256,
            style_size: 256,
            batch: 4,
            steps: 2000,
            lr: 2e-5,
            content_weight: t.content_weight,
            style_weight: t.style_weight,
            tv_weight: t.tv_weight,
            freeze_predict: false,
            checkpoint_every: 200,
            resume: false,
            seed: 0,
        }
    }
}

/// Canonical tensors of both networks from `.onnx` (Magenta release,
/// dequantized) or canonical `.safetensors` files, by extension.
pub fn load_tensors(predict: &Path, transform: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, Tensor>)> {
    let read = |p: &Path, part: magenta::Part| -> Result<HashMap<String, Tensor>> {
        if p.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("onnx")) {
            let m = restyle_weights::onnx::OnnxModel::load(p)?;
            if magenta::detect(&m) != Some(part) {
                return Err(Error::InvalidArgument(format!("{}: not the Magenta {part:?} network", p.display())));
            }
            let v = if part == magenta::Part::Predict { magenta::import_predict(&m)? } else { magenta::import_transform(&m)? };
            Ok(v.into_iter().collect())
        } else {
            Ok(candle_core::safetensors::load(p, &Device::Cpu)?)
        }
    };
    Ok((read(predict, magenta::Part::Predict)?, read(transform, magenta::Part::Transform)?))
}

/// Canonical tensors from a folder holding the canonical safetensors or the
/// two Magenta ONNX files.
pub fn load_tensors_dir(dir: &Path) -> Result<(HashMap<String, Tensor>, HashMap<String, Tensor>)> {
    for (p, t) in [(PREDICT_SAFETENSORS, TRANSFORM_SAFETENSORS), (PREDICT_ONNX, TRANSFORM_ONNX)] {
        if dir.join(p).is_file() && dir.join(t).is_file() {
            return load_tensors(&dir.join(p), &dir.join(t));
        }
    }
    Err(Error::InvalidArgument(format!("{}: no Magenta arbitrary weights (safetensors or ONNX pair)", dir.display())))
}

/// Trainable copies of `tensors` (f32, on `device`).
fn varmap_of(tensors: HashMap<String, Tensor>, device: &Device) -> Result<VarMap> {
    let vm = VarMap::new();
    {
        let mut data = vm.data().lock().map_err(|_| Error::InvalidArgument("poisoned variable map".into()))?;
        for (k, t) in tensors {
            data.insert(k, Var::from_tensor(&t.to_dtype(DType::F32)?.to_device(device)?)?);
        }
    }
    Ok(vm)
}

/// Saves `vm` as f32 safetensors tagged `restyle_model = magenta-arbitrary`
/// and `restyle_part`, so a weights folder holding it is found like the
/// imported files (`--weights-dir`).
fn save_canonical(vm: &VarMap, part: &str, path: &Path) -> Result<()> {
    let data = vm.data().lock().map_err(|_| Error::InvalidArgument("poisoned variable map".into()))?;
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    // candle's safetensors View impl is for another safetensors version: go through bytes.
    let mut raw = Vec::with_capacity(names.len());
    for n in names {
        let t = data[n].as_tensor();
        let bytes: Vec<u8> = t.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect();
        raw.push((n.clone(), t.dims().to_vec(), bytes));
    }
    let views = raw
        .iter()
        .map(|(n, shape, bytes)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), bytes)
                .map(|v| (n.clone(), v))
                .map_err(|e| Error::InvalidArgument(format!("{n}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    let meta: HashMap<String, String> =
        [("restyle_model", "magenta-arbitrary"), ("restyle_part", part), ("trained_by", "restyle train arbitrary")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    safetensors::serialize_to_file(views, &Some(meta), path)
        .map_err(|e| Error::InvalidArgument(format!("cannot write {}: {e}", path.display())))
}

/// Both networks on the variables' current values.
fn build(predict: &VarMap, transform: &VarMap, device: &Device) -> Result<Arbitrary> {
    Ok(Arbitrary {
        predict: crate::models::arbitrary::StylePredict::new(VarBuilder::from_varmap(predict, DType::F32, device))?,
        transfer: crate::models::arbitrary::Transfer::new(VarBuilder::from_varmap(transform, DType::F32, device))?,
        device: device.clone(),
    })
}

/// The trainer: both networks' variables, the optimiser and the data.
pub struct ArbitraryTrainer {
    pub cfg: ArbitraryTrainConfig,
    pub predict_vars: VarMap,
    pub transform_vars: VarMap,
    pub net: Arbitrary,
    vgg: Vgg,
    opt: candle_nn::AdamW,
    /// Content images (undecodable ones are dropped with a reason, see [`ContentPool`]).
    pub contents: ContentPool,
    /// Style images, decoded once (few and reused every step).
    styles: Vec<RgbImage>,
    rng: rand::rngs::StdRng,
    pub step: usize,
    device: Device,
}

impl ArbitraryTrainer {
    /// Starts from `init` (canonical predict, transform tensors), or from the
    /// checkpoint in `out_dir` when `resume` and one exists.
    pub fn new(
        cfg: ArbitraryTrainConfig,
        init: (HashMap<String, Tensor>, HashMap<String, Tensor>),
        vgg: Vgg,
        device: &Device,
    ) -> Result<Self> {
        if cfg.size < 16 || !cfg.size.is_multiple_of(4) || cfg.style_size < 32 || cfg.batch == 0 || cfg.steps == 0 {
            return Err(Error::InvalidArgument(
                "training needs size ≥ 16 and a multiple of 4, style size ≥ 32, batch ≥ 1, steps ≥ 1".into(),
            ));
        }
        let contents = ContentPool::new(&cfg.content_dirs)?;
        let styles = content_images(&cfg.style_dirs)
            .map_err(|e| Error::InvalidArgument(format!("style folders: {e}")))?
            .iter()
            .map(|p| Ok(crate::image::load(p)?.rgb))
            .collect::<Result<Vec<_>>>()?;
        let mut step = 0;
        let (ps, ts) = (cfg.out_dir.join(PREDICT_SAFETENSORS), cfg.out_dir.join(TRANSFORM_SAFETENSORS));
        let (p, t) = if cfg.resume && ps.is_file() && ts.is_file() {
            step = read_step(&cfg.out_dir.join("checkpoint.json"))?;
            load_tensors(&ps, &ts)?
        } else {
            init
        };
        let (predict_vars, transform_vars) = (varmap_of(p, device)?, varmap_of(t, device)?);
        let net = build(&predict_vars, &transform_vars, device)?;
        let mut vars = transform_vars.all_vars();
        if !cfg.freeze_predict {
            vars.extend(predict_vars.all_vars());
        }
        let opt = candle_nn::AdamW::new(vars, ParamsAdamW { lr: cfg.lr, weight_decay: 0.0, ..Default::default() })?;
        let rng = rand::rngs::StdRng::seed_from_u64(cfg.seed.wrapping_add(step as u64));
        Ok(ArbitraryTrainer { cfg, predict_vars, transform_vars, net, vgg, opt, contents, styles, rng, step, device: device.clone() })
    }

    /// A batch: content crops `[B,3,S,S]` and style crops `[B,3,s,s]`, 0..1.
    pub fn sample(&mut self) -> Result<(Tensor, Tensor)> {
        let (b, s, ss) = (self.cfg.batch, self.cfg.size, self.cfg.style_size);
        let (mut c, mut st) = (Vec::with_capacity(b * 3 * s * s), Vec::with_capacity(b * 3 * ss * ss));
        for _ in 0..b {
            let img = self.contents.draw(&mut self.rng)?;
            c.extend(random_crop(&img, s, &mut self.rng)?);
            let k = self.rng.gen_range(0..self.styles.len());
            st.extend(random_crop(&self.styles[k], ss, &mut self.rng)?);
        }
        Ok((Tensor::from_vec(c, (b, 3, s, s), &self.device)?, Tensor::from_vec(st, (b, 3, ss, ss), &self.device)?))
    }

    /// The loss of stylizing `content` (`[B,3,S,S]`, S a multiple of 4) with
    /// the predicted vectors of `style` (`[B,3,s,s]`), as a graph.
    pub fn loss(&self, content: &Tensor, style: &Tensor) -> Result<(Tensor, StepLoss)> {
        let scale = self.vgg.activation_scale();
        let v = self.net.predict.forward(style)?;
        let v = if self.cfg.freeze_predict { v.detach() } else { v };
        let params = self.net.transfer.style_params(&v)?;
        let y = self.net.transfer.forward_with(content, &params, &mut NormStats::Own)?;
        let target = self.vgg.forward(content, &[CONTENT_LAYER])?;
        let target = (target.get(CONTENT_LAYER).expect("requested layer").detach() / scale)?;
        let fs = self.vgg.forward(style, &STYLE_LAYERS)?;
        let fy = self.vgg.forward(&y, &STYLE_LAYERS)?;
        let content_l = loss::content(&(fy.get(CONTENT_LAYER).expect("requested layer") / scale)?, &target)?;
        let mut style_l = Tensor::zeros((), DType::F32, &self.device)?;
        for ((_, f), (_, g)) in fy.iter().zip(fs.iter()) {
            let gy = loss::gram(&(f / scale)?, 0.0)?;
            let gs = loss::gram(&(g.detach() / scale)?, 0.0)?;
            style_l = (style_l + loss::style(&gy, &gs)?)?;
        }
        let tv = loss::tv(&y)?;
        let total =
            ((&content_l * self.cfg.content_weight)? + (&style_l * self.cfg.style_weight)? + (&tv * self.cfg.tv_weight)?)?;
        let terms = StepLoss {
            content: content_l.to_scalar()?,
            style: style_l.to_scalar()?,
            tv: tv.to_scalar()?,
            total: total.to_scalar()?,
        };
        Ok((total, terms))
    }

    /// One optimisation step on a fresh batch.
    pub fn train_step(&mut self) -> Result<StepLoss> {
        let (c, s) = self.sample()?;
        let (total, terms) = self.loss(&c, &s)?;
        self.opt.backward_step(&total)?;
        // The networks hold some tensors derived from the variables (the
        // stacked style maps, the depthwise taps): copies, so rebuild them.
        self.net = build(&self.predict_vars, &self.transform_vars, &self.device)?;
        self.step += 1;
        Ok(terms)
    }

    /// Writes both safetensors and `checkpoint.json` atomically.
    pub fn save_checkpoint(&self) -> Result<()> {
        let dir = &self.cfg.out_dir;
        std::fs::create_dir_all(dir).map_err(|e| Error::io(format!("create {}", dir.display()), e))?;
        for (vm, name, part) in
            [(&self.predict_vars, PREDICT_SAFETENSORS, "predict"), (&self.transform_vars, TRANSFORM_SAFETENSORS, "transform")]
        {
            crate::fsio::write_atomic_via_path(&dir.join(name), |tmp| save_canonical(vm, part, tmp))?;
        }
        let json = format!(
            "{{\"step\": {}, \"size\": {}, \"style_size\": {}, \"batch\": {}}}\n",
            self.step, self.cfg.size, self.cfg.style_size, self.cfg.batch
        );
        crate::fsio::write_atomic(&dir.join("checkpoint.json"), json.as_bytes())
    }

    /// Trains up to `cfg.steps` (counting resumed steps) with the shared
    /// loop of [`crate::train::run_loop`] (same `loss.csv` columns).
    pub fn run(&mut self, progress: &mut ProgressFn) -> Result<StepLoss> {
        let (out, steps, every) = (self.cfg.out_dir.clone(), self.cfg.steps, self.cfg.checkpoint_every);
        run_loop(self, &out, steps, every, progress)
    }
}

impl TrainLoop for ArbitraryTrainer {
    fn step(&self) -> usize {
        self.step
    }
    fn train_step(&mut self) -> Result<StepLoss> {
        ArbitraryTrainer::train_step(self)
    }
    fn save_checkpoint(&self) -> Result<()> {
        ArbitraryTrainer::save_checkpoint(self)
    }
}
