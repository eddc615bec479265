//! `restyle bench WHAT --sizes …`: our timings beside a peer measured in the
//! same run (`../shared/tools/peer_bench.py`), with the ratio (ours / peer;
//! below 1 means faster). Each variant adds its arm: a `BenchWhat` variant
//! and a function.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::device::DeviceChoice;
use restyle_core::nst::gatys::{Gatys, GatysConfig, BASIC_CONTENT_LAYER, BASIC_STYLE_LAYERS};
use restyle_core::image::{self, RgbImage};
use restyle_core::nst::loss;
use restyle_core::progress::{Control, Progress};
use restyle_core::request::StyleImage;
use restyle_core::models::vgg::{Features, Vgg};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchWhat {
    /// One Gatys optimiser step (VGG16 forward to relu5_1, losses, backward to the pixels).
    Gatys,
    /// Coarse-to-fine (--scales, --iterations per scale) vs one scale run to the same style distance (cap --seconds), at --sizes.
    CoarseToFine,
    /// Basic vs improved preset after the same wall time (--seconds) on --pairs at the first of --sizes.
    Quality,
    /// Fast (Johnson) network, one image (the embedded default, or --model); peer: PyTorch on the same weights.
    Fast,
    /// multistyle26, one image; peer: onnxruntime on multistyle26.onnx.
    Multistyle26,
    /// Arbitrary (Magenta): predict 256 + transform at 384/768/1024; peer: onnxruntime (384 only).
    Arbitrary,
    /// 3×3 stride-1 convolution kernels: im2col vs Winograd, forward and input gradient (no peer).
    Conv,
    /// Where one network's time goes (--net fast|multistyle26|arbitrary|gatys|train-fast): ms and GFLOP/s by layer kind and shape.
    Profile,
    /// The optical flow (DIS presets) and the temporal step per frame at --sizes, on bikes.mp4 (needs ffmpeg).
    Flow,
    /// One fast-NST training step (widths 32/64/128, batch 4, at --sizes, default 256) beside
    /// PyTorch running core/models/train_default.py with the same shapes.
    TrainFast,
    /// Every row of the speed table (arbitrary 384, multistyle26 and fast 256/512, Gatys step
    /// 128/256/512), each beside its peer, with GFLOP/s; --json OUT writes them as one JSON file.
    All,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub what: BenchWhat,
    /// profile: the network (fast, multistyle26, arbitrary, gatys, train-fast) [default: fast].
    #[arg(long)]
    pub net: Option<String>,
    /// Comma-separated sizes (square images).
    #[arg(long, value_delimiter = ',', default_value = "256,512")]
    pub sizes: Vec<usize>,
    #[arg(long, default_value_t = 5)]
    pub reps: usize,
    #[arg(long, default_value_t = 1)]
    pub warmup: usize,
    /// Skip the peer (PyTorch) measurement.
    #[arg(long)]
    pub no_peer: bool,
    /// Python with torch for the peer (default: .peer/bin/python if present, else python3).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Folder of shared weights/data/tools (default ../shared).
    #[arg(long, default_value = "../shared")]
    pub shared: PathBuf,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// quality, coarse-to-fine: content:style pairs (names in SHARED/data/content, SHARED/data/style, or paths).
    #[arg(long, value_delimiter = ',', default_value = "tubingen:starry_night,golden_gate:the_scream,chicago:wave")]
    pub pairs: Vec<String>,
    /// quality: wall-clock budget of each run; coarse-to-fine: cap of the single-scale run.
    #[arg(long, default_value_t = 90.0)]
    pub seconds: f64,
    /// coarse-to-fine: scales of the coarse-to-fine run.
    #[arg(long, default_value_t = 3)]
    pub scales: usize,
    /// coarse-to-fine: iterations per scale of the coarse-to-fine run.
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// quality: run NAME:key=value,… instead of the two presets: the improved preset (or preset=basic,
    /// given first) with these overrides (content-weight, style-weight, chain-weight, gram-shift, scales,
    /// keep-detail); repeatable, e.g. --variant basic:preset=basic --variant improved: .
    #[arg(long = "variant")]
    pub variants: Vec<String>,
    /// quality: also write each result to DIR/CONTENT-STYLE-PRESET.jpg; coarse-to-fine: to DIR/CONTENT-STYLE-SIZE-RUN.jpg.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// all, fast, multistyle26, arbitrary, gatys: also write the rows (with the machine and its load) as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One measured row: restyle's median seconds beside its peer's in the same
/// run, and the work's GFLOP (convolutions counted as direct, as the profile
/// counts them).
#[derive(Clone, Debug)]
pub struct Row {
    pub work: String,
    pub size: usize,
    pub restyle_s: f64,
    pub peer: Option<(String, f64)>,
    pub gflop: f64,
}

impl Row {
    pub fn print(&self) {
        let rate = if self.gflop > 0.0 { format!(" ({:.0} GFLOP/s)", self.gflop / self.restyle_s) } else { String::new() };
        match &self.peer {
            Some((name, p)) => println!("{} {} px: restyle {:.3} s{rate}, {name} {p:.3} s, ratio {:.2}", self.work, self.size, self.restyle_s, self.restyle_s / p),
            None => println!("{} {} px: restyle {:.3} s{rate} (no peer figure)", self.work, self.size, self.restyle_s),
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "work": self.work,
            "size": self.size,
            "restyle_s": self.restyle_s,
            "gflop": self.gflop,
            "restyle_gflops": if self.gflop > 0.0 { Some(self.gflop / self.restyle_s) } else { None },
            "peer": self.peer.as_ref().map(|p| p.0.clone()),
            "peer_s": self.peer.as_ref().map(|p| p.1),
            "ratio": self.peer.as_ref().map(|p| self.restyle_s / p.1),
        })
    }
}

/// GFLOP of one run of `f`, as the profile counts them.
pub fn gflop_of(f: impl FnOnce() -> Result<()>) -> Result<f64> {
    restyle_core::profile::take();
    restyle_core::profile::enable(true);
    let r = f();
    restyle_core::profile::enable(false);
    r?;
    Ok(restyle_core::profile::take().iter().map(|e| e.flops).sum::<u64>() as f64 / 1e9)
}

/// Writes `rows` with the machine, the thread count and the load before and
/// after to `args.json`, when given.
fn write_json(args: &BenchArgs, rows: &[Row], load_before: &str) -> Result<()> {
    let Some(path) = &args.json else { return Ok(()) };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("model name")).and_then(|l| l.split(':').nth(1)).map(|m| m.trim().to_string()))
        .unwrap_or_else(|| "?".into());
    let doc = serde_json::json!({
        "cpu": cpu,
        "threads": rayon::current_num_threads(),
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "unix_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
        "rows": rows.iter().map(Row::json).collect::<Vec<_>>(),
    });
    restyle_core::fsio::write_atomic(path, serde_json::to_string_pretty(&doc)?.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// `restyle bench all`: every row of the table in one run.
fn all(args: &BenchArgs) -> Result<()> {
    let load_before = load_average();
    let with = |sizes: &[usize]| BenchArgs { sizes: sizes.to_vec(), json: None, ..args.clone() };
    let mut rows = Vec::new();
    rows.extend(crate::bench_arbitrary::rows(&with(&[384]))?);
    rows.extend(feed_forward(&with(&[256, 512]), "multistyle26")?);
    rows.extend(feed_forward(&with(&[256, 512]), "fast")?);
    rows.extend(gatys_step(&with(&[128, 256, 512]))?);
    rows.extend(crate::bench_train::rows(&with(&[256]))?);
    println!("\n| work | size | restyle | GFLOP/s | peer | ratio |\n| --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        let (peer, ratio) = match &r.peer {
            Some((n, p)) => (format!("{n} {:.0} ms", p * 1e3), format!("{:.2}", r.restyle_s / p)),
            None => ("–".into(), "–".into()),
        };
        println!("| {} | {} | {:.0} ms | {:.0} | {peer} | {ratio} |", r.work, r.size, r.restyle_s * 1e3, r.gflop / r.restyle_s, );
    }
    write_json(args, &rows, &load_before)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let load_before = load_average();
    let rows = match args.what {
        BenchWhat::Gatys => gatys_step(&args)?,
        BenchWhat::Fast => feed_forward(&args, "fast")?,
        BenchWhat::Multistyle26 => feed_forward(&args, "multistyle26")?,
        BenchWhat::Arbitrary => crate::bench_arbitrary::rows(&args)?,
        BenchWhat::TrainFast => crate::bench_train::rows(&args)?,
        _ => return run_other(args),
    };
    write_json(&args, &rows, &load_before)
}

fn run_other(args: BenchArgs) -> Result<()> {
    match args.what {
        BenchWhat::All => all(&args),
        BenchWhat::Gatys | BenchWhat::Fast | BenchWhat::Multistyle26 | BenchWhat::Arbitrary | BenchWhat::TrainFast => unreachable!("handled by run"),
        BenchWhat::CoarseToFine => coarse_to_fine(&args),
        BenchWhat::Quality => quality(&args),
        BenchWhat::Conv => crate::bench_conv::run(&args),
        BenchWhat::Profile => crate::bench_profile::run(&args),
        BenchWhat::Flow => crate::bench_flow::run(&args),
    }
}

fn load_vgg(args: &BenchArgs, dev: &candle_core::Device) -> Result<Vgg> {
    let p = args.shared.join("weights/vgg16-keras-imagenet.onnx");
    restyle_core::method::open::vgg(&p, restyle_core::models::vgg::Pooling::Max, dev).with_context(|| format!("loading {}", p.display()))
}

pub fn square(path: &Path, size: usize) -> Result<RgbImage> {
    Ok(image::load(path)?.rgb.resize(size, size)?)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Peer figures (size → median seconds) from peer_bench.py.
fn peer(args: &BenchArgs, what: &str) -> Vec<(usize, f64, String)> {
    let mut cmd = std::process::Command::new(peer_python(args));
    cmd.arg(args.shared.join("tools/peer_bench.py")).arg(what);
    peer_figures(args, cmd)
}

/// Python with torch for the peers: --python, else .peer/bin/python if present, else python3.
pub fn peer_python(args: &BenchArgs) -> PathBuf {
    args.python.clone().unwrap_or_else(|| {
        let venv = PathBuf::from(".peer/bin/python");
        if venv.exists() { venv } else { PathBuf::from("python3") }
    })
}

/// Runs a peer script (given --sizes/--reps/--warmup) and reads its JSON lines
/// `{"size", "median_s", "peer"}`; nothing when --no-peer or on failure.
fn peer_figures(args: &BenchArgs, mut cmd: std::process::Command) -> Vec<(usize, f64, String)> {
    if args.no_peer {
        return Vec::new();
    }
    let sizes = args.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    cmd.args(["--sizes", &sizes, "--reps", &args.reps.to_string(), "--warmup", &args.warmup.to_string()]);
    match cmd.output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| Some((v["size"].as_u64()? as usize, v["median_s"].as_f64()?, v["peer"].as_str()?.to_string())))
            .collect(),
        Ok(o) => {
            eprintln!("peer failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
            Vec::new()
        }
        Err(e) => {
            eprintln!("peer not run ({:?}: {e})", cmd.get_program());
            Vec::new()
        }
    }
}

/// Seconds per optimiser evaluation, measured like the peer: Adam steps (one
/// evaluation each) on the peer's loss layers.
fn gatys_step(args: &BenchArgs) -> Result<Vec<Row>> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let vgg = load_vgg(args, &dev)?;
    let content_p = args.shared.join("data/content/tubingen.jpg");
    let style_p = args.shared.join("data/style/starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.optimizer = restyle_core::nst::gatys::OptimizerKind::Adam;
    let mut g = Gatys::new(vgg, cfg);
    let mut ours = Vec::new();
    for &size in &args.sizes {
        let content = square(&content_p, size)?;
        let style = StyleImage { image: square(&style_p, size)?, weight: 1.0 };
        g.config.size = Some(size);
        g.config.iterations = args.warmup + args.reps;
        let mut times = Vec::new();
        let mut last = Instant::now();
        let mut step = 0;
        let mut tick = |_: &Progress| {
            let now = Instant::now();
            step += 1;
            if step > args.warmup {
                times.push((now - last).as_secs_f64());
            }
            last = now;
            Control::Continue
        };
        g.run(&content, std::slice::from_ref(&style), 0, &mut tick)?;
        let m = median(times);
        println!("restyle gatys_step size {size}: median {m:.3} s");
        // One more step with the profile on, for the GFLOP count (its
        // first-step setup is not counted: only convolutions are).
        g.config.iterations = 1;
        let gflop = gflop_of(|| Ok(g.run(&content, std::slice::from_ref(&style), 0, &mut restyle_core::progress::silent()).map(|_| ())?))?;
        ours.push((size, m, gflop));
    }
    let peers = peer(args, "gatys");
    let rows: Vec<Row> = ours
        .into_iter()
        .map(|(size, m, gflop)| Row { work: "gatys_step".into(), size, restyle_s: m, peer: peers.iter().find(|p| p.0 == size).map(|p| (p.2.clone(), p.1)), gflop })
        .collect();
    rows.iter().for_each(Row::print);
    Ok(rows)
}

/// The standard distances every Gatys comparison reports, whatever loss made
/// the image: style = Σ over relu1_1…relu5_1 of the mean squared difference of
/// plain Grams (equal weights), content = mean squared difference of relu4_2
/// features (both on features ÷ the activation scale, as in `loss`).
struct Distances<'a> {
    vgg: &'a Vgg,
    device: candle_core::Device,
    style: Features,
    content: Features,
}

impl<'a> Distances<'a> {
    /// Targets for a result the size of `content`; the style is scaled to the
    /// same longest side, as the runs do with style scale 1.
    fn new(vgg: &'a Vgg, content: &RgbImage, style: &RgbImage) -> Result<Self> {
        let device = vgg.device().clone();
        let style = style.resize_longest(content.width.max(content.height))?;
        let (s, _) = Self::split(vgg, &device, &style)?;
        let (_, c) = Self::split(vgg, &device, content)?;
        Ok(Distances { vgg, device, style: s, content: c })
    }

    /// (style layers, content layer) of `img` in one forward pass.
    fn split(vgg: &Vgg, device: &candle_core::Device, img: &RgbImage) -> Result<(Features, Features)> {
        let mut layers = BASIC_STYLE_LAYERS.to_vec();
        layers.push(BASIC_CONTENT_LAYER);
        let f = vgg.forward(&img.to_tensor(device)?, &layers)?;
        let (c, s): (Vec<_>, Vec<_>) = f.0.into_iter().partition(|(n, _)| n == BASIC_CONTENT_LAYER);
        Ok((Features(s), Features(c)))
    }

    /// (style distance, content distance) of `img`.
    fn measure(&self, img: &RgbImage) -> Result<(f32, f32)> {
        let scale = self.vgg.activation_scale();
        let (s, c) = Self::split(self.vgg, &self.device, img)?;
        let style = loss::gram_distance(&s, &self.style, scale)?;
        let (fc, tc) = (&c.0[0].1, &self.content.0[0].1);
        let content = loss::content(&(fc / scale)?, &(tc / scale)?)?.to_scalar::<f32>()?;
        Ok((style, content))
    }
}

/// `NAME:key=value,…`: the improved preset (or `preset=basic`) with overrides, for tuning runs.
fn variant(spec: &str, vgg: &Vgg) -> Result<(String, GatysConfig)> {
    let (name, overrides) = spec.split_once(':').with_context(|| format!("variant '{spec}': expected NAME:key=value,…"))?;
    let mut c = GatysConfig::improved(vgg);
    for item in overrides.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = item.split_once('=').with_context(|| format!("variant '{spec}': '{item}' is not key=value"))?;
        if k == "preset" {
            // first, as it resets the others
            c = match v {
                "basic" => GatysConfig::basic(),
                "improved" => GatysConfig::improved(vgg),
                _ => anyhow::bail!("variant '{spec}': preset '{v}' (basic, improved)"),
            };
            continue;
        }
        let num = || v.parse::<f32>().with_context(|| format!("variant '{spec}': '{v}' is not a number"));
        match k {
            "content-weight" => c.content_weight = num()?,
            "style-weight" => c.style_weight = num()?,
            "chain-weight" => c.chain_weight = num()?,
            "gram-shift" => c.gram_shift = num()?,
            "scales" => c.scales = v.parse().with_context(|| format!("variant '{spec}': scales '{v}'"))?,
            "keep-detail" => c.keep_detail = v.parse().with_context(|| format!("variant '{spec}': keep-detail '{v}' (true/false)"))?,
            _ => anyhow::bail!("variant '{spec}': unknown key '{k}'"),
        }
    }
    Ok((name.to_string(), c))
}

/// `content:style` names (files in `data/content`, `data/style`, any extension) or paths.
fn pair_images(args: &BenchArgs, pair: &str) -> Result<(String, RgbImage, RgbImage)> {
    let (c, s) = pair.split_once(':').with_context(|| format!("pair '{pair}': expected content:style"))?;
    let find = |folder: &str, name: &str| -> Result<(String, RgbImage)> {
        let p = Path::new(name);
        let path = if p.is_file() {
            p.to_path_buf()
        } else {
            let dir = args.shared.join("data").join(folder);
            ["jpg", "png", "jpeg"]
                .iter()
                .map(|e| dir.join(format!("{name}.{e}")))
                .find(|p| p.is_file())
                .with_context(|| format!("no {folder} image '{name}' in {}", dir.display()))?
        };
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Ok((stem, image::load(&path).with_context(|| format!("loading {}", path.display()))?.rgb))
    };
    let (cn, ci) = find("content", c)?;
    let (sn, si) = find("style", s)?;
    Ok((format!("{cn}-{sn}"), ci, si))
}

/// One Gatys run: (seconds, optimiser iterations over all scales, output).
/// `stop` may end it early from the progress reports.
fn timed_run(g: &Gatys, cfg: &GatysConfig, content: &RgbImage, style: &RgbImage, stop: &dyn Fn(&Progress) -> bool) -> Result<(f64, usize, RgbImage)> {
    let style = StyleImage { image: style.clone(), weight: 1.0 };
    let mut iterations = 0;
    let t = Instant::now();
    let out = g.run_with(cfg, content, std::slice::from_ref(&style), 0, &mut |p: &Progress| {
        iterations += 1;
        if stop(p) { Control::Cancel } else { Control::Continue }
    })?;
    Ok((t.elapsed().as_secs_f64(), iterations, out.image))
}

/// Basic vs improved preset after the same wall time (`--seconds` each) on
/// each pair at the first of `--sizes`, scored by [`Distances`].
fn quality(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let g = Gatys::new(load_vgg(args, &dev)?, GatysConfig::basic());
    let size = args.sizes[0];
    let budget = args.seconds;
    println!("quality: {size} px, {budget} s per run, load average {}", load_average());
    println!("| pair | preset | iterations | seconds | style distance | content distance |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for pair in &args.pairs {
        let (name, content, style) = pair_images(args, pair)?;
        let content = content.resize_longest(size)?;
        let d = Distances::new(&g.vgg, &content, &style)?;
        let (s0, c0) = d.measure(&content)?;
        println!("| {name} | (the photo) | 0 | 0 | {s0:.4e} | {c0:.4e} |");
        let presets = if args.variants.is_empty() {
            vec![("basic".to_string(), GatysConfig::basic()), ("improved".to_string(), GatysConfig::improved(&g.vgg))]
        } else {
            args.variants.iter().map(|v| variant(v, &g.vgg)).collect::<Result<Vec<_>>>()?
        };
        for (preset, cfg) in presets {
            let cfg = GatysConfig { size: Some(size), iterations: usize::MAX, max_seconds: Some(budget), ..cfg };
            let (t, it, img) = timed_run(&g, &cfg, &content, &style, &|_| false)?;
            let (sd, cd) = d.measure(&img)?;
            println!("| {name} | {preset} | {it} | {t:.1} | {sd:.4e} | {cd:.4e} |");
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir)?;
                image::save(&image::Picture::from_rgb(img), dir.join(format!("{name}-{preset}.jpg")))?;
            }
        }
    }
    println!("load average after: {}", load_average());
    Ok(())
}

/// Time to a result at each of `--sizes` (basic losses): `--scales`
/// coarse-to-fine with `--iterations` per scale first, then one scale until
/// its style distance reaches the coarse-to-fine result's (or `--seconds`).
fn coarse_to_fine(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let g = Gatys::new(load_vgg(args, &dev)?, GatysConfig::basic());
    let (name, content0, style) = pair_images(args, &args.pairs[0])?;
    println!("coarse_to_fine {name}, load average {}", load_average());
    for &size in &args.sizes {
        let content = content0.resize_longest(size)?;
        let d = Distances::new(&g.vgg, &content, &style)?;
        // The same distances with result and painting both at 256 px: how
        // much of the painting's large-scale structure the result carries,
        // which full-size Grams (small receptive fields at 1024 px) do not see.
        let coarse = Distances::new(&g.vgg, &content.resize_longest(COARSE_SIDE)?, &style)?;
        let large_scale = |img: &RgbImage| -> Result<f32> { Ok(coarse.measure(&img.resize_longest(COARSE_SIDE)?)?.0) };
        let save = |img: &RgbImage, what: &str| -> Result<()> {
            if let Some(dir) = &args.out {
                std::fs::create_dir_all(dir)?;
                image::save(&image::Picture::from_rgb(img.clone()), dir.join(format!("{name}-{size}-{what}.jpg")))?;
            }
            Ok(())
        };
        let base = GatysConfig { size: Some(size), ..GatysConfig::basic() };
        let multi = GatysConfig { scales: args.scales, iterations: args.iterations, ..base.clone() };
        let (tm, im, img) = timed_run(&g, &multi, &content, &style, &|_| false)?;
        let (target, cm) = d.measure(&img)?;
        println!(
            "{size} px, {} scales × {} it: {tm:.1} s, {im} iterations, style distance {target:.4e}, content {cm:.4e}, style distance at {COARSE_SIDE} px {:.4e}",
            args.scales,
            args.iterations,
            large_scale(&img)?
        );
        save(&img, "coarse-to-fine")?;
        // The basic style term is β·mean over its layers of the same Gram MSEs
        // as the distance, so the run can stop when it crosses the target.
        let per_unit = base.style_weight as f64 / base.style_layers.len() as f64;
        let by_loss = std::cell::Cell::new(f64::NAN);
        let reached = |p: &Progress| {
            p.losses.iter().filter(|(n, _)| *n == "style").any(|(_, v)| {
                by_loss.set(*v as f64 / per_unit);
                by_loss.get() <= target as f64
            })
        };
        let single = GatysConfig { iterations: usize::MAX, max_seconds: Some(args.seconds), ..base };
        let (ts, is, img) = timed_run(&g, &single, &content, &style, &reached)?;
        let (ds, cs) = d.measure(&img)?;
        let ls = large_scale(&img)?;
        save(&img, "one-scale")?;
        // not reached within the cap: the speed-up is only a lower bound
        let (verdict, bound) = if ds <= target * 1.01 { ("reached", "") } else { ("NOT reached (cap)", "> ") };
        println!(
            "{size} px, 1 scale: {ts:.1} s, {is} iterations, style distance {ds:.4e} ({verdict}; by its loss {:.4e}), content {cs:.4e}, style distance at {COARSE_SIDE} px {ls:.4e}; speed-up {bound}{:.2}",
            by_loss.get(),
            ts / tm
        );
    }
    println!("load average after: {}", load_average());
    Ok(())
}

/// Side at which bench coarse-to-fine also measures large-scale style.
const COARSE_SIDE: usize = 256;

/// The 1-minute load average (the machine may be shared), or "?".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_string)).unwrap_or_else(|| "?".into())
}

/// Seconds per image for a feed-forward network at each size (whole image,
/// no tiling), beside the peer on the same weights.
fn feed_forward(args: &BenchArgs, what: &str) -> Result<Vec<Row>> {
    use restyle_core::nn::tiling::Tiling;
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let content = args.shared.join("data/content/tubingen.jpg");
    let whole = Tiling { tile: 1 << 20, overlap: 0 };
    let run: Box<dyn Fn(&candle_core::Tensor) -> Result<candle_core::Tensor>> = if what == "fast" {
        let net = restyle_core::method::open::default_fast(&dev)?;
        Box::new(move |x| Ok(net.stylize_tensor(x, whole, 1 << 20)?))
    } else {
        let net = restyle_core::method::open::multistyle26(&args.shared.join("weights/multistyle26.onnx"), &dev)?;
        let mut w = vec![0f32; 26];
        w[7] = 1.0;
        Box::new(move |x| Ok(net.stylize_tensor(x, &w, whole, 1 << 20)?))
    };
    let peers = if what == "fast" { fast_peer(args) } else { peer(args, "multistyle26") };
    let mut rows = Vec::new();
    for &size in &args.sizes {
        let x = square(&content, size)?.to_tensor(&dev)?;
        let mut times = Vec::new();
        for i in 0..args.warmup + args.reps {
            let t = Instant::now();
            let y = run(&x)?;
            y.sum_all()?.to_scalar::<f32>()?; // waits for the device
            if i >= args.warmup {
                times.push(t.elapsed().as_secs_f64());
            }
        }
        let m = median(times);
        let gflop = gflop_of(|| Ok(run(&x).map(|_| ())?))?;
        let row = Row { work: what.into(), size, restyle_s: m, peer: peers.iter().find(|p| p.0 == size).map(|p| (p.2.clone(), p.1)), gflop };
        row.print();
        rows.push(row);
    }
    Ok(rows)
}

/// PyTorch running the embedded fast network (core/models/peer_fast.py).
fn fast_peer(args: &BenchArgs) -> Vec<(usize, f64, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let mut cmd = std::process::Command::new(peer_python(args));
    cmd.arg(root.join("peer_fast.py"))
        .arg(root.join("starry_night.safetensors"))
        .arg(args.shared.join("data/content/tubingen.jpg"));
    peer_figures(args, cmd)
}
