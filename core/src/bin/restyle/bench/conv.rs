//! `restyle bench conv`: the convolution kernels side by side in one
//! process — im2col, Winograd, the portable direct kernel and the AVX-512
//! register-blocked one for the forward; im2col and Winograd for the input
//! gradient — on the shapes of the style networks and VGG, with GFLOP/s
//! counted as direct convolution (2·O·C·k² per output pixel).

use super::common::BenchArgs;
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

/// Forward shapes (C, O, k, output side): every stride-1 layer kind of
/// the fast, multistyle26/arbitrary transform networks at 512 px, and VGG.
const FORWARD: [(usize, usize, usize, usize); 10] = [
    (64, 64, 3, 128),
    (32, 16, 3, 512),
    (64, 32, 3, 256),
    (128, 128, 3, 128),
    (3, 16, 9, 512),
    (16, 3, 9, 512),
    (3, 32, 9, 512),
    (32, 3, 9, 512),
    (256, 256, 3, 64),
    (512, 512, 3, 32),
];

pub fn run(args: &BenchArgs) -> Result<()> {
    let dev = Device::Cpu;
    println!("Forward, stride 1, N = 1, median of {} (ms, GFLOP/s as direct conv); best kernel in bold", args.reps);
    println!("| C→O | k | side | im2col | winograd | direct | blocked | rel. err blocked |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    for (c, o, k, side) in FORWARD {
        let x = Tensor::randn(0f32, 1.0, (1, c, side + k - 1, side + k - 1), &dev)?;
        let w = (Tensor::randn(0f32, 1.0, (o, c, k, k), &dev)? / ((k * k * c) as f64).sqrt())?;
        let gflop = 2.0 * (c * o * k * k * side * side) as f64 / 1e9;
        let mut times = Vec::new();
        for kernel in [Kernel::Im2col, Kernel::Winograd, Kernel::Direct, Kernel::Blocked] {
            let applies = match kernel {
                Kernel::Winograd => k == 3,
                Kernel::Direct => c.min(o) <= 16,
                _ => true,
            };
            times.push(if applies { Some(median_secs(args.warmup, args.reps, || Ok(conv2d_with(&x, &w, 1, kernel)?))?) } else { None });
        }
        let best = times.iter().flatten().copied().fold(f64::INFINITY, f64::min);
        let cells: Vec<String> = times
            .iter()
            .map(|t| match t {
                Some(t) if *t == best => format!("**{:.1} ms ({:.0})**", t * 1e3, gflop / t),
                Some(t) => format!("{:.1} ms ({:.0})", t * 1e3, gflop / t),
                None => "–".into(),
            })
            .collect();
        let err = rel_err(&conv2d_with(&x, &w, 1, Kernel::Blocked)?, &conv2d_with(&x, &w, 1, Kernel::Im2col)?)?;
        println!("| {c}→{o} | {k} | {side} | {} | {err:.1e} |", cells.join(" | "));
    }
    println!();
    println!("3x3 stride 1, N = 1: the input gradient (∂x), im2col vs Winograd");
    println!("| C=O | side | ∂x im2col | ∂x winograd | speed-up | rel. err |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (c, side) in SHAPES {
        let w = (Tensor::randn(0f32, 1.0, (c, c, 3, 3), &dev)? / (9.0 * c as f64).sqrt())?;
        let gy = Tensor::randn(0f32, 1.0, (1, c, side, side), &dev)?;
        let gflop = 2.0 * (c * c * 9 * side * side) as f64 / 1e9;
        let run = |k: Kernel| input_grad(&gy, &w, 1, side + 2, side + 2, k);
        let err = rel_err(&run(Kernel::Winograd)?, &run(Kernel::Im2col)?)?;
        let a = median_secs(args.warmup, args.reps, || Ok(run(Kernel::Im2col)?))?;
        let b = median_secs(args.warmup, args.reps, || Ok(run(Kernel::Winograd)?))?;
        println!("| {c} | {side} | {:.1} ms ({:.0}) | {:.1} ms ({:.0}) | {:.2}× | {err:.1e} |", a * 1e3, gflop / a, b * 1e3, gflop / b, a / b);
    }
    Ok(())
}
