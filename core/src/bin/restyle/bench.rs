//! `restyle bench WHAT --sizes …`: our timings beside a peer measured in the
//! same run (`../shared/tools/peer_bench.py`), with the ratio (ours / peer;
//! below 1 means faster). Each variant adds its arm: a `BenchWhat` variant
//! and a function.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::device::DeviceChoice;
use restyle_core::gatys::{Gatys, GatysConfig};
use restyle_core::image::{self, RgbImage};
use restyle_core::progress::{Control, Progress};
use restyle_core::stylize::StyleImage;
use restyle_core::vgg::Vgg;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BenchWhat {
    /// One Gatys optimiser step (VGG16 forward to relu5_1, losses, backward to the pixels).
    Gatys,
    /// Coarse-to-fine vs single scale to the same style distance at --sizes (e.g. 1024).
    CoarseToFine,
    /// Fast (Johnson) network, one image (the embedded default, or --model); peer: PyTorch on the same weights.
    Fast,
    /// multistyle26, one image; peer: onnxruntime on multistyle26.onnx.
    Multistyle26,
    /// Arbitrary (Magenta): predict 256 + transform at 384/768/1024; peer: onnxruntime (384 only).
    Arbitrary,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub what: BenchWhat,
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
}

pub fn run(args: BenchArgs) -> Result<()> {
    match args.what {
        BenchWhat::Gatys => gatys_step(&args),
        BenchWhat::CoarseToFine => coarse_to_fine(&args),
        BenchWhat::Fast => feed_forward(&args, "fast"),
        BenchWhat::Multistyle26 => feed_forward(&args, "multistyle26"),
        BenchWhat::Arbitrary => crate::bench_arbitrary::run(&args),
    }
}

fn load_vgg(args: &BenchArgs, dev: &candle_core::Device) -> Result<Vgg> {
    let p = args.shared.join("weights/vgg16-keras-imagenet.onnx");
    Vgg::load_vgg16_keras_onnx(&p, dev).with_context(|| format!("loading {}", p.display()))
}

fn square(path: &Path, size: usize) -> Result<RgbImage> {
    Ok(image::load(path)?.rgb.resize(size, size)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Peer figures (size → median seconds) from peer_bench.py.
fn peer(args: &BenchArgs, what: &str) -> Vec<(usize, f64, String)> {
    if args.no_peer {
        return Vec::new();
    }
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = PathBuf::from(".peer/bin/python");
        if venv.exists() { venv } else { PathBuf::from("python3") }
    });
    let sizes = args.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    let out = std::process::Command::new(&python)
        .arg(args.shared.join("tools/peer_bench.py"))
        .args([what, "--sizes", &sizes, "--reps", &args.reps.to_string(), "--warmup", &args.warmup.to_string()])
        .output();
    match out {
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
            eprintln!("peer not run ({}: {e})", python.display());
            Vec::new()
        }
    }
}

/// Seconds per optimiser evaluation, measured like the peer: Adam steps (one
/// evaluation each) on the peer's loss layers.
fn gatys_step(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let vgg = load_vgg(args, &dev)?;
    let content_p = args.shared.join("data/content/tubingen.jpg");
    let style_p = args.shared.join("data/style/starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.optimizer = restyle_core::gatys::OptimizerKind::Adam;
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
        ours.push((size, m));
    }
    let peers = peer(args, "gatys");
    for (size, m) in ours {
        match peers.iter().find(|p| p.0 == size) {
            Some((_, p, name)) => println!("gatys_step {size} px: restyle {m:.3} s, {name} {p:.3} s, ratio {:.2}", m / p),
            None => println!("gatys_step {size} px: restyle {m:.3} s (no peer figure)"),
        }
    }
    Ok(())
}

/// Time to a result at the target size: single scale vs coarse-to-fine
/// (3 scales), both run until the style distance reaches the one the
/// single-scale run has after its iterations.
fn coarse_to_fine(args: &BenchArgs) -> Result<()> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let vgg = load_vgg(args, &dev)?;
    let content_p = args.shared.join("data/content/tubingen.jpg");
    let style_p = args.shared.join("data/style/starry_night.jpg");
    let mut g = Gatys::new(vgg, GatysConfig::basic());
    for &size in &args.sizes {
        let content = image::load(&content_p)?.rgb.resize_longest(size)?;
        let style = StyleImage { image: image::load(&style_p)?.rgb, weight: 1.0 };
        let run = |g: &mut Gatys, scales: usize, iterations: usize| -> Result<(f64, RgbImage)> {
            g.config.size = Some(size);
            g.config.scales = scales;
            g.config.iterations = iterations;
            let t = Instant::now();
            let out = g.run(&content, std::slice::from_ref(&style), 0, &mut |_: &Progress| Control::Continue)?;
            Ok((t.elapsed().as_secs_f64(), out.image))
        };
        let dist = |img: &RgbImage, g: &Gatys| -> Result<f32> {
            let layers = restyle_core::gatys::BASIC_STYLE_LAYERS;
            let f = |i: &RgbImage| g.vgg.forward(&i.to_tensor(&dev)?, &layers);
            let s = style.image.resize_longest(size)?;
            Ok(restyle_core::loss::gram_distance(&f(img)?, &f(&s)?, g.vgg.activation_scale())?)
        };
        let iters = args.reps.max(1) * 10;
        let (t1, img1) = run(&mut g, 1, iters)?;
        let d1 = dist(&img1, &g)?;
        let (t3, img3) = run(&mut g, 3, iters / 2)?;
        let d3 = dist(&img3, &g)?;
        println!("coarse_to_fine {size} px: single scale {iters} it {t1:.1} s (style dist {d1:.3e}); 3 scales {} it/scale {t3:.1} s (style dist {d3:.3e})", iters / 2);
    }
    Ok(())
}

/// Seconds per image for a feed-forward network at each size (whole image,
/// no tiling), beside the peer on the same weights.
fn feed_forward(args: &BenchArgs, what: &str) -> Result<()> {
    use restyle_core::tiling::Tiling;
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let content = args.shared.join("data/content/tubingen.jpg");
    let whole = Tiling { tile: 1 << 20, overlap: 0 };
    let run: Box<dyn Fn(&candle_core::Tensor) -> Result<candle_core::Tensor>> = if what == "fast" {
        let net = restyle_core::transformer_net::default_model(&dev)?;
        Box::new(move |x| Ok(net.stylize_tensor(x, whole, 1 << 20)?))
    } else {
        let net = restyle_core::multistyle::MultiStyle26::load(&args.shared.join("weights/multistyle26.onnx"), &dev)?;
        let mut w = vec![0f32; 26];
        w[7] = 1.0;
        Box::new(move |x| Ok(net.stylize_tensor(x, &w, whole, 1 << 20)?))
    };
    let peers = if what == "fast" { fast_peer(args) } else { peer(args, "multistyle26") };
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
        match peers.iter().find(|(s, _, _)| *s == size) {
            Some((_, p, name)) => println!("{what} {size} px: restyle {m:.3} s, {name} {p:.3} s, ratio {:.2}", m / p),
            None => println!("{what} {size} px: restyle {m:.3} s (no peer)"),
        }
    }
    Ok(())
}

/// PyTorch running the embedded fast network (core/models/peer_fast.py).
fn fast_peer(args: &BenchArgs) -> Vec<(usize, f64, String)> {
    if args.no_peer {
        return Vec::new();
    }
    let python = args.python.clone().unwrap_or_else(|| {
        let venv = PathBuf::from(".peer/bin/python");
        if venv.exists() { venv } else { PathBuf::from("python3") }
    });
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models");
    let sizes = args.sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(",");
    let out = std::process::Command::new(&python)
        .arg(root.join("peer_fast.py"))
        .arg(root.join("starry_night.safetensors"))
        .arg(args.shared.join("data/content/tubingen.jpg"))
        .args(["--sizes", &sizes, "--reps", &args.reps.to_string(), "--warmup", &args.warmup.to_string()])
        .output();
    match out {
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
            eprintln!("peer not run ({}: {e})", python.display());
            Vec::new()
        }
    }
}
