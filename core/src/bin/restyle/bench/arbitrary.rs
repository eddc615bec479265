//! `restyle bench arbitrary`: the arbitrary networks (predict 256 + transform
//! at 384/768/1024) beside onnxruntime on the Magenta ONNX files, measured in
//! the same run (`peer_bench.py arbitrary`), with the ratio (ours / peer;
//! below 1 = faster). The Magenta transform ONNX has a fixed 384×384 input:
//! onnxruntime cannot run the other sizes, so those have no ratio.

use super::common::{gflop_of, BenchArgs, Row};
use anyhow::{Context, Result};
use restyle_core::models::arbitrary::{Options, STYLE_DIM};
use restyle_core::device::DeviceChoice;
use restyle_core::image::load;
use std::time::Instant;

/// Median, min, max of `reps` timed runs after `warmup` untimed ones.
fn timed(reps: usize, warmup: usize, mut f: impl FnMut() -> Result<()>) -> Result<(f64, f64, f64)> {
    for _ in 0..warmup {
        f()?;
    }
    let mut ts = Vec::new();
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        f()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    ts.sort_by(|a, b| a.total_cmp(b));
    Ok((ts[ts.len() / 2], ts[0], ts[ts.len() - 1]))
}

/// The peer's JSON lines (`peer_bench.py arbitrary`), or none with a note.
fn peer(args: &BenchArgs) -> Vec<serde_json::Value> {
    let script = args.shared.join("tools/peer_bench.py");
    if args.no_peer || !script.is_file() {
        eprintln!("(peer skipped: {})", if args.no_peer { "--no-peer".to_string() } else { format!("{} not found", script.display()) });
        return Vec::new();
    }
    let python = super::common::peer_python(args);
    match std::process::Command::new(python).arg(&script).arg("arbitrary").output() {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).lines().filter_map(|l| serde_json::from_str(l).ok()).collect(),
        Ok(o) => {
            eprintln!("(peer failed: {})", String::from_utf8_lossy(&o.stderr).lines().last().unwrap_or(""));
            Vec::new()
        }
        Err(e) => {
            eprintln!("(peer not run: {e})");
            Vec::new()
        }
    }
}

/// Measures and prints; returns the rows with a peer (384) and without.
pub fn rows(args: &BenchArgs) -> Result<Vec<Row>> {
    let device = args.device.parse::<DeviceChoice>()?.open()?;
    let net = crate::stylize::load_arbitrary(Some(&args.shared.join("weights")), &device)?;
    let data = args.shared.join("data");
    let content = load(data.join("content/tubingen.jpg")).context("bench content image")?.rgb;
    let style = load(data.join("style/starry_night.jpg")).context("bench style image")?.rgb.resize(256, 256)?;
    // The shared --sizes default (256,512) is Gatys'; this bench's own default is 384,768,1024.
    let sizes = if args.sizes.is_empty() || args.sizes == [256, 512] { vec![384, 768, 1024] } else { args.sizes.clone() };
    println!(
        "restyle bench arbitrary on {}, {} reps, median (min–max):",
        restyle_core::device::describe(&device),
        args.reps
    );
    let style_t = style.to_tensor(&device)?;
    let (pm, pmin, pmax) = timed(args.reps, args.warmup, || {
        net.style_vector_of_tensor(&style_t)?.to_vec1::<f32>()?;
        Ok(())
    })?;
    println!("  predict 256:     {:8.1} ms ({:.1}–{:.1})", pm * 1e3, pmin * 1e3, pmax * 1e3);
    let predict_gflop = gflop_of(|| {
        net.style_vector_of_tensor(&style_t)?.to_vec1::<f32>()?;
        Ok(())
    })?;
    let v = net.style_vector_of_tensor(&style_t)?;
    let params = net.transfer.style_params(&v.reshape((1, STYLE_DIM))?)?;
    let mut ours = Vec::new();
    for &s in &sizes {
        let x = content.resize(s, s)?.to_tensor(&device)?;
        // Untiled: the network's own cost at this size.
        let opts = Options { tiling: restyle_core::nn::tiling::Tiling { tile: s.max(1024), overlap: 64 }, ..Options::default() };
        let (m, lo, hi) = timed(args.reps, args.warmup, || {
            net.stylize_tensor(&x, &params, &opts)?.sum_all()?.to_scalar::<f32>()?; // waits for the device
            Ok(())
        })?;
        println!(
            "  transform {s:4}:  {:8.1} ms ({:.1}–{:.1});  predict + transform {:8.1} ms",
            m * 1e3,
            lo * 1e3,
            hi * 1e3,
            (m + pm) * 1e3
        );
        let gflop = gflop_of(|| {
            net.stylize_tensor(&x, &params, &opts)?.sum_all()?.to_scalar::<f32>()?;
            Ok(())
        })?;
        ours.push((s, m, gflop));
    }
    let mut rows = Vec::new();
    let peers = peer(args);
    let peer_of = |work: &str, size: usize| {
        peers.iter().find(|p| p["work"].as_str() == Some(work) && p["size"].as_u64() == Some(size as u64)).map(|p| (p["peer"].as_str().unwrap_or("?").to_string(), p["median_s"].as_f64().unwrap_or(f64::NAN)))
    };
    for &(s, m, gflop) in &ours {
        rows.push(Row { work: "arbitrary_predict256_transform".into(), size: s, restyle_s: m + pm, peer: peer_of("arbitrary_predict256_transform", s), gflop: gflop + predict_gflop });
        rows.push(Row { work: "arbitrary_transform".into(), size: s, restyle_s: m, peer: peer_of("arbitrary_transform", s), gflop });
    }
    rows.iter().for_each(Row::print);
    for (s, _, _) in ours.iter().filter(|(s, _, _)| *s != 384) {
        println!("  {s}: no peer figure (the Magenta transform ONNX has a fixed 384×384 input; onnxruntime cannot run other sizes)");
    }
    Ok(rows)
}
