//! `restyle bench conv`: the im2col and Winograd kernels of 3×3 stride-1
//! convolutions side by side in one process (forward and input gradient),
//! on the shapes of the style networks and VGG, with GFLOP/s counted as
//! direct convolution (2·O·C·9 per output pixel).

use crate::bench::BenchArgs;
use anyhow::Result;
use candle_core::{Device, Tensor};
use restyle_core::ops::conv::{conv2d_with, input_grad, Kernel};
use std::time::Instant;

/// (C = O, output side): the style networks' and VGG's 3×3 layers, and
/// small channel counts to see where Winograd stops paying.
const SHAPES: [(usize, usize); 9] = [(128, 96), (64, 192), (32, 384), (64, 256), (256, 64), (512, 32), (16, 384), (8, 384), (4, 384)];

/// Median seconds of `reps` runs of `f` after `warmup` runs.
fn median_secs(warmup: usize, reps: usize, mut f: impl FnMut() -> Result<Tensor>) -> Result<f64> {
    for _ in 0..warmup {
        f()?;
    }
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps.max(1) {
        let start = Instant::now();
        std::hint::black_box(f()?);
        t.push(start.elapsed().as_secs_f64());
    }
    t.sort_by(f64::total_cmp);
    Ok(t[t.len() / 2])
}

fn rel_err(a: &Tensor, b: &Tensor) -> Result<f32> {
    let max = |t: &Tensor| -> Result<f32> { Ok(t.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?) };
    Ok(max(&(a - b)?)? / max(b)?)
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let dev = Device::Cpu;
    println!("3x3 stride 1, N = 1, median of {} (ms, GFLOP/s as direct conv); speed-up = im2col / winograd", args.reps);
    println!("| C=O | side | fwd im2col | fwd winograd | speed-up | ∂x im2col | ∂x winograd | speed-up | rel. err fwd / ∂x |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (c, side) in SHAPES {
        let x = Tensor::randn(0f32, 1.0, (1, c, side + 2, side + 2), &dev)?;
        let w = (Tensor::randn(0f32, 1.0, (c, c, 3, 3), &dev)? / (9.0 * c as f64).sqrt())?;
        let gy = Tensor::randn(0f32, 1.0, (1, c, side, side), &dev)?;
        let gflop = 2.0 * (c * c * 9 * side * side) as f64 / 1e9;
        let mut cells = Vec::new();
        let mut errs = Vec::new();
        for grad in [false, true] {
            let run = |k: Kernel| if grad { input_grad(&gy, &w, 1, side + 2, side + 2, k) } else { conv2d_with(&x, &w, 1, k) };
            errs.push(rel_err(&run(Kernel::Winograd)?, &run(Kernel::Im2col)?)?);
            let a = median_secs(args.warmup, args.reps, || Ok(run(Kernel::Im2col)?))?;
            let b = median_secs(args.warmup, args.reps, || Ok(run(Kernel::Winograd)?))?;
            cells.push(format!("{:.1} ms ({:.0})", a * 1e3, gflop / a));
            cells.push(format!("{:.1} ms ({:.0})", b * 1e3, gflop / b));
            cells.push(format!("{:.2}×", a / b));
        }
        println!("| {c} | {side} | {} | {:.1e} / {:.1e} |", cells.join(" | "), errs[0], errs[1]);
    }
    Ok(())
}
