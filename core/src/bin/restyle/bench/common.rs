//! What every bench shares: the arguments, a measured row beside its peer,
//! the peer scripts' figures, and the JSON record of a run.

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use restyle_core::image::{self, RgbImage};
use restyle_core::models::vgg::Vgg;
use std::path::{Path, PathBuf};

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

    pub fn json(&self) -> serde_json::Value {
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
pub fn write_json(args: &BenchArgs, rows: &[Row], load_before: &str) -> Result<()> {
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

/// The 1-minute load average (the machine may be shared), or "?".
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_string)).unwrap_or_else(|| "?".into())
}

pub fn load_vgg(args: &BenchArgs, dev: &candle_core::Device) -> Result<Vgg> {
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
pub fn peer(args: &BenchArgs, what: &str) -> Vec<(usize, f64, String)> {
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
pub fn peer_figures(args: &BenchArgs, mut cmd: std::process::Command) -> Vec<(usize, f64, String)> {
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
