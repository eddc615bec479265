//! The feed-forward networks (fast, multistyle26) on one whole image,
//! beside PyTorch / onnxruntime on the same weights.

use super::common::{gflop_of, median, peer, peer_figures, peer_python, square, BenchArgs, Row};
use anyhow::Result;
use restyle_core::device::DeviceChoice;
use std::path::PathBuf;
use std::time::Instant;

/// Seconds per image for a feed-forward network at each size (whole image,
/// no tiling), beside the peer on the same weights.
pub fn feed_forward(args: &BenchArgs, what: &str) -> Result<Vec<Row>> {
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
