//! `restyle bench train-fast`: one fast-NST training step (the
//! pytorch/examples widths 32/64/128, batch 4, at --sizes, default 256) in
//! restyle beside the same step in PyTorch (`core/models/train_default.py`:
//! same network, VGG16 loss layers and Adam), in the same run, as a
//! ratio. Content crops come from coco128, the style is starry_night.

use super::common::{gflop_of, median, BenchArgs, Row};
use anyhow::{Context, Result};
use restyle_core::device::DeviceChoice;
use restyle_core::models::transformer_net::Config as NetConfig;
use restyle_core::train::fast::{TrainConfig, Trainer};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Batch and widths of the training row (pytorch/examples).
const BATCH: usize = 4;
const WIDTHS: (usize, usize, usize) = (32, 64, 128);

pub fn rows(args: &BenchArgs) -> Result<Vec<Row>> {
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let sizes = if args.sizes == [256, 512] { vec![256] } else { args.sizes.clone() };
    let scratch = tempfile::tempdir().context("a scratch folder for the training runs")?;
    let mut rows = Vec::new();
    for &size in &sizes {
        let mut t = trainer(args, &dev, size, &scratch.path().join(format!("restyle-{size}")))?;
        for _ in 0..args.warmup {
            t.train_step()?;
        }
        let mut times = Vec::new();
        for _ in 0..args.reps.max(1) {
            let s = Instant::now();
            t.train_step()?;
            times.push(s.elapsed().as_secs_f64());
        }
        let gflop = gflop_of(|| Ok(t.train_step().map(|_| ())?))?;
        let peer = if args.no_peer { None } else { peer_step(args, size, scratch.path()) };
        let row = Row { work: "train_fast_step_b4".into(), size, restyle_s: median(times), peer, gflop };
        row.print();
        rows.push(row);
    }
    Ok(rows)
}

/// The benchmarked trainer: starry_night on coco128 crops of `size`,
/// batch 4, widths 32/64/128, checkpoints into `out_dir` (also used by
/// `bench profile --net train-fast`).
pub fn trainer(args: &BenchArgs, dev: &candle_core::Device, size: usize, out_dir: &Path) -> Result<Trainer> {
    let vgg = restyle_core::method::open::vgg(&args.shared.join("weights/vgg16-keras-imagenet.onnx"), restyle_core::models::vgg::Pooling::Max, dev)?;
    let cfg = TrainConfig {
        style: args.shared.join("data/style/starry_night.jpg"),
        content_dirs: vec![args.shared.join("data/coco128/images/train2017")],
        out_dir: out_dir.to_path_buf(),
        size,
        batch: BATCH,
        net: NetConfig { c1: WIDTHS.0, c2: WIDTHS.1, c3: WIDTHS.2, num_res: 5 },
        ..TrainConfig::default()
    };
    Ok(Trainer::new(cfg, vgg, dev)?)
}

/// PyTorch's median seconds per step of `train_default.py` with the same
/// shapes (it reads VGG16 from an .npz extracted from the same ONNX file).
fn peer_step(args: &BenchArgs, size: usize, scratch: &Path) -> Option<(String, f64)> {
    let python = super::common::peer_python(args);
    let npz = scratch.join("vgg16_caffe.npz");
    let extract = format!(
        "import onnx,re,numpy as np; from onnx import numpy_helper as h; m=onnx.load({onnx:?}); np.savez({npz:?}, **{{'conv%s_%s.%s'%(r.group(1),r.group(2),'weight' if 'conv' in r.group(3) else 'bias'): h.to_array(t) for t in m.graph.initializer for r in [re.search(r'block(\\d)_conv(\\d)_1/(convolution/ReadVariableOp|Squeeze):0', t.name)] if r}})",
        onnx = args.shared.join("weights/vgg16-keras-imagenet.onnx").display().to_string(),
        npz = npz.display().to_string()
    );
    let run = |cmd: &mut std::process::Command| -> Option<()> {
        match cmd.output() {
            Ok(o) if o.status.success() => Some(()),
            Ok(o) => {
                eprintln!("peer failed: {}", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
                None
            }
            Err(e) => {
                eprintln!("peer not run ({:?}: {e})", cmd.get_program());
                None
            }
        }
    };
    if !npz.is_file() {
        run(std::process::Command::new(&python).args(["-c", &extract]))?;
    }
    let out = scratch.join(format!("pytorch-{size}"));
    let steps = args.warmup + args.reps.max(1);
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/train_default.py");
    let (c1, c2, c3) = WIDTHS;
    run(std::process::Command::new(&python)
        .arg(&script)
        .arg("--style")
        .arg(args.shared.join("data/style/starry_night.jpg"))
        .arg("--content-dir")
        .arg(args.shared.join("data/coco128/images/train2017"))
        .arg("--vgg")
        .arg(&npz)
        .args(["--size", &size.to_string(), "--batch", &BATCH.to_string(), "--steps", &steps.to_string()])
        .args(["--widths", &format!("{c1},{c2},{c3}"), "--checkpoint-every", "1000000", "--threads", &rayon::current_num_threads().to_string()])
        .arg("--out")
        .arg(&out))?;
    // loss.csv: step, …, seconds since the start (cumulative).
    let csv = std::fs::read_to_string(out.join("loss.csv")).ok()?;
    let cumulative: Vec<f64> = csv.lines().skip(1).filter_map(|l| l.rsplit(',').next()?.trim().parse().ok()).collect();
    let per_step: Vec<f64> = cumulative.windows(2).map(|w| w[1] - w[0]).skip(args.warmup.saturating_sub(1)).collect();
    if per_step.is_empty() {
        eprintln!("peer wrote too few steps to time");
        return None;
    }
    let torch = std::process::Command::new(&python).args(["-c", "import torch; print(torch.__version__)"]).output().ok();
    let version = torch.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    Some((format!("pytorch {version}"), median(per_step)))
}
