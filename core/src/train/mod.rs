//! Training the feed-forward networks: the shared loop (loss log,
//! checkpoints every N steps and on cancel, resume), content images and
//! crops; [`fast`] (Johnson, one network per style) and [`arbitrary`]
//! (Magenta's style prediction + transfer networks) on top of it.

pub mod arbitrary;
pub mod fast;

use crate::image::RgbImage;
use crate::progress::{Control, Progress, ProgressFn};
use crate::{Error, Result};
use candle_core::{DType, Tensor};
use candle_nn::VarMap;
use rand::Rng;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const CONTENT_LAYER: &str = "relu2_2";
pub const STYLE_LAYERS: [&str; 4] = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"];


/// Loss terms of one step (unweighted) and the weighted total.
#[derive(Clone, Copy, Debug, Default)]
pub struct StepLoss {
    pub content: f32,
    pub style: f32,
    pub tv: f32,
    pub total: f32,
}

/// Image files (jpg, jpeg, png) under the content folders, sorted.
pub fn content_images(dirs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    for d in dirs {
        if !d.is_dir() {
            return Err(Error::InvalidArgument(format!("content folder {} does not exist", d.display())));
        }
        for e in walkdir::WalkDir::new(d).follow_links(true).into_iter().filter_map(|e| e.ok()) {
            let ext = e.path().extension().and_then(|s| s.to_str()).map(str::to_ascii_lowercase);
            if e.file_type().is_file() && matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png")) {
                v.push(e.into_path());
            }
        }
    }
    v.sort();
    if v.is_empty() {
        return Err(Error::InvalidArgument("no content images (jpg/png) in the content folders".into()));
    }
    Ok(v)
}

/// The content images of a training run, decoded lazily (a batch at a
/// time). An image that cannot be read or decoded is dropped from the pool
/// with its reason and another one is drawn, so one bad file among many
/// never stops a run partway; training fails only when no image is usable.
/// Files whose header cannot be read are dropped up front (cheap: no decode).
pub struct ContentPool {
    paths: Vec<PathBuf>,
    total: usize,
    /// Images dropped so far, with the reason.
    pub skipped: Vec<(PathBuf, String)>,
}

impl ContentPool {
    /// The images under `dirs` ([`content_images`]) whose header reads.
    pub fn new(dirs: &[PathBuf]) -> Result<Self> {
        let all = content_images(dirs)?;
        let total = all.len();
        let mut paths = Vec::with_capacity(total);
        let mut skipped = Vec::new();
        for p in all {
            match image_header(&p) {
                Ok(()) => paths.push(p),
                Err(reason) => skipped.push((p, reason)),
            }
        }
        let pool = ContentPool { paths, total, skipped };
        pool.check_usable()?;
        Ok(pool)
    }

    /// Images still in the pool.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    fn check_usable(&self) -> Result<()> {
        if self.paths.is_empty() {
            let first = self.skipped.first().map(|(p, r)| format!(" (e.g. {}: {r})", p.display())).unwrap_or_default();
            return Err(Error::InvalidArgument(format!(
                "none of the {} content images can be decoded{first}",
                self.total
            )));
        }
        Ok(())
    }

    /// A random image of the pool, decoded; undecodable ones are dropped.
    pub fn draw(&mut self, rng: &mut impl Rng) -> Result<RgbImage> {
        loop {
            self.check_usable()?;
            let k = rng.gen_range(0..self.paths.len());
            match crate::image::load(&self.paths[k]) {
                Ok(p) => return Ok(p.rgb),
                Err(e) => {
                    let p = self.paths.remove(k);
                    self.skipped.push((p, e.to_string()));
                }
            }
        }
    }
}

/// Reads only an image's header (format and dimensions).
fn image_header(p: &Path) -> std::result::Result<(), String> {
    let r = image::ImageReader::open(p).map_err(|e| format!("cannot open: {e}"))?;
    let r = r.with_guessed_format().map_err(|e| format!("cannot read: {e}"))?;
    let (w, h) = r.into_dimensions().map_err(|e| format!("cannot decode: {e}"))?;
    if w == 0 || h == 0 {
        return Err(format!("empty image ({w}×{h})"));
    }
    Ok(())
}

/// A random `size`² crop (shorter side resized to `size`), randomly mirrored,
/// CHW 0..1.
pub fn random_crop(img: &RgbImage, size: usize, rng: &mut impl Rng) -> Result<Vec<f32>> {
    let s = size as f64 / img.width.min(img.height) as f64;
    let (w, h) = (((img.width as f64 * s).round() as usize).max(size), ((img.height as f64 * s).round() as usize).max(size));
    let r = img.resize(w, h)?;
    let (x0, y0) = (rng.gen_range(0..=w - size), rng.gen_range(0..=h - size));
    let flip = rng.gen_bool(0.5);
    let mut out = vec![0f32; 3 * size * size];
    for c in 0..3 {
        for y in 0..size {
            for x in 0..size {
                let sx = if flip { x0 + size - 1 - x } else { x0 + x };
                out[(c * size + y) * size + x] = r.data[((y0 + y) * w + sx) * 3 + c];
            }
        }
    }
    Ok(out)
}


/// What the shared training loop needs from a trainer (fast or arbitrary).
pub trait TrainLoop {
    /// Steps done so far, counting resumed ones.
    fn step(&self) -> usize;
    fn train_step(&mut self) -> Result<StepLoss>;
    fn save_checkpoint(&self) -> Result<()>;
}

/// Trains up to `steps` (counting resumed steps), logging every step to
/// `out_dir/loss.csv` (appended to on resume), checkpointing every
/// `checkpoint_every` steps and at the end, and reporting progress; a cancel
/// saves a checkpoint and returns [`Error::Cancelled`].
pub fn run_loop(t: &mut impl TrainLoop, out_dir: &Path, steps: usize, checkpoint_every: usize, progress: &mut ProgressFn) -> Result<StepLoss> {
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(format!("create {}", out_dir.display()), e))?;
    let csv_path = out_dir.join("loss.csv");
    let fresh = t.step() == 0 || !csv_path.is_file();
    let mut csv = std::fs::OpenOptions::new()
        .create(true)
        .append(!fresh)
        .write(true)
        .truncate(fresh)
        .open(&csv_path)
        .map_err(|e| Error::io(format!("open {}", csv_path.display()), e))?;
    let io = |e| Error::io("write loss.csv", e);
    if fresh {
        writeln!(csv, "step,content,style,tv,total,seconds").map_err(io)?;
    }
    let t0 = std::time::Instant::now();
    let mut last = StepLoss::default();
    while t.step() < steps {
        last = t.train_step()?;
        let step = t.step();
        let el = t0.elapsed().as_secs_f32();
        writeln!(csv, "{},{},{},{},{},{:.2}", step, last.content, last.style, last.tv, last.total, el).map_err(io)?;
        let report = Progress {
            stage: "train".into(),
            step,
            total: steps,
            losses: vec![("content", last.content), ("style", last.style), ("tv", last.tv), ("total", last.total)],
        };
        let cancel = progress(&report) == Control::Cancel;
        if step % checkpoint_every.max(1) == 0 || step == steps || cancel {
            csv.flush().map_err(io)?;
            t.save_checkpoint()?;
        }
        if cancel {
            return Err(Error::Cancelled);
        }
    }
    csv.flush().map_err(io)?;
    Ok(last)
}

/// The `step` of a `checkpoint.json`.
pub fn read_step(path: &Path) -> Result<usize> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(format!("read {}", path.display()), e))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))?;
    v["step"].as_u64().map(|s| s as usize).ok_or_else(|| Error::InvalidArgument(format!("{}: no step", path.display())))
}

/// Converts a trained network to fp16 safetensors (what `core/models/` holds).
pub fn export_fp16(net_tensors: &VarMap, path: &Path) -> Result<()> {
    let data = net_tensors.data().lock().map_err(|_| Error::InvalidArgument("poisoned variable map".into()))?;
    let map: std::collections::HashMap<String, Tensor> =
        data.iter().map(|(k, v)| Ok((k.clone(), v.as_tensor().to_dtype(DType::F16)?))).collect::<Result<_>>()?;
    candle_core::safetensors::save(&map, path)?;
    Ok(())
}
