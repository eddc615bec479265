//! `restyle bench profile NET --sizes N`: where a network's time goes, by
//! layer kind and shape, with GFLOP/s (restyle_core::profile). The work is
//! the same as `restyle bench NET` times; the remainder no span covers
//! (activations, pooling, copies, allocation) is reported as `other`.

use super::common::{median, square, BenchArgs};
use anyhow::{bail, Result};
use candle_core::Tensor;
use restyle_core::device::DeviceChoice;
use restyle_core::nn::tiling::Tiling;
use restyle_core::profile::{self, Entry};
use std::collections::BTreeMap;
use std::time::Instant;

/// One run of the network on a square image of `size`.
type Work = Box<dyn Fn(usize) -> Result<()>>;

fn work(args: &BenchArgs, net: &str, dev: &candle_core::Device) -> Result<Work> {
    let content = args.shared.join("data/content/tubingen.jpg");
    let style = args.shared.join("data/style/starry_night.jpg");
    let whole = Tiling { tile: 1 << 20, overlap: 0 };
    let input = {
        let (content, dev) = (content.clone(), dev.clone());
        move |size: usize| -> Result<Tensor> { Ok(square(&content, size)?.to_tensor(&dev)?) }
    };
    let sync = |y: &Tensor| -> Result<()> {
        y.sum_all()?.to_scalar::<f32>()?; // waits for the device
        Ok(())
    };
    Ok(match net {
        "fast" => {
            let net = restyle_core::method::open::default_fast(dev)?;
            Box::new(move |size| sync(&net.stylize_tensor(&input(size)?, whole, 1 << 20)?))
        }
        "multistyle26" => {
            let net = restyle_core::method::open::multistyle26(&args.shared.join("weights/multistyle26.onnx"), dev)?;
            let mut w = vec![0f32; 26];
            w[7] = 1.0;
            Box::new(move |size| sync(&net.stylize_tensor(&input(size)?, &w, whole, 1 << 20)?))
        }
        "arbitrary" => {
            let net = restyle_core::method::open::arbitrary_dir(&args.shared.join("weights"), dev)?;
            let painting = restyle_core::image::load(&style)?.rgb;
            let opts = restyle_core::models::arbitrary::Options { tiling: whole, stats_max_side: 1 << 20, ..Default::default() };
            // The style vector is part of the work (predict at 256, as `bench arbitrary`).
            Box::new(move |size| {
                let v = net.style_vector(&painting, opts.style_size)?;
                let params = net.transfer.style_params(&v.reshape((1, v.elem_count()))?)?;
                sync(&net.stylize_tensor(&input(size)?, &params, &opts)?)
            })
        }
        "gatys" => {
            // One optimiser step: VGG16 forward to relu5_1, the losses, the backward to the pixels.
            let vgg = restyle_core::method::open::vgg(
                &args.shared.join("weights/vgg16-keras-imagenet.onnx"),
                restyle_core::models::vgg::Pooling::Max,
                dev,
            )?;
            let mut cfg = restyle_core::nst::gatys::GatysConfig::basic();
            cfg.optimizer = restyle_core::nst::gatys::OptimizerKind::Adam;
            let g = std::cell::RefCell::new(restyle_core::nst::gatys::Gatys::new(vgg, cfg));
            let style_p = style.clone();
            Box::new(move |size| {
                let content = square(&content, size)?;
                let style = restyle_core::request::StyleImage { image: square(&style_p, size)?, weight: 1.0 };
                let mut g = g.borrow_mut();
                g.config.size = Some(size);
                g.config.iterations = 1;
                g.run(&content, std::slice::from_ref(&style), 0, &mut restyle_core::progress::silent())?;
                Ok(())
            })
        }
        "train-fast" => {
            // One training step of `bench train-fast` (its trainer, at the profiled size).
            let scratch = tempfile::tempdir()?;
            let (args, dev) = (args.clone(), dev.clone());
            let trainers = std::cell::RefCell::new(std::collections::HashMap::new());
            Box::new(move |size| {
                let mut trainers = trainers.borrow_mut();
                if !trainers.contains_key(&size) {
                    let t = super::train::trainer(&args, &dev, size, &scratch.path().join(size.to_string()))?;
                    trainers.insert(size, t);
                }
                trainers.get_mut(&size).expect("inserted above").train_step()?;
                Ok(())
            })
        }
        other => bail!("bench profile: unknown network '{other}' (fast, multistyle26, arbitrary, gatys, train-fast)"),
    })
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let net = args.net.as_deref().unwrap_or("fast");
    let dev = args.device.parse::<DeviceChoice>()?.open()?;
    let run = work(args, net, &dev)?;
    for &size in &args.sizes {
        for _ in 0..args.warmup {
            run(size)?;
        }
        profile::take();
        profile::enable(true);
        let mut totals = Vec::new();
        for _ in 0..args.reps.max(1) {
            let t = Instant::now();
            run(size)?;
            totals.push(t.elapsed().as_secs_f64());
        }
        profile::enable(false);
        let reps = args.reps.max(1) as f64;
        let total: f64 = totals.iter().sum::<f64>() / reps;
        let entries = profile::take();
        print_profile(net, size, median(totals), total, reps, &entries);
    }
    Ok(())
}

fn print_profile(net: &str, size: usize, median_s: f64, mean_s: f64, reps: f64, entries: &[Entry]) {
    println!("\n## {net} at {size} px: median {:.1} ms per run (mean {:.1} ms)\n", median_s * 1e3, mean_s * 1e3);
    let mut kinds: BTreeMap<&str, (f64, u64, u64)> = BTreeMap::new();
    for e in entries {
        let k = kinds.entry(e.kind).or_default();
        k.0 += e.seconds / reps;
        k.1 += e.flops / reps as u64;
        k.2 += e.calls / reps as u64;
    }
    let covered: f64 = kinds.values().map(|k| k.0).sum();
    println!("| kind | calls | ms | share | GFLOP/s |");
    println!("| --- | --- | --- | --- | --- |");
    let mut rows: Vec<_> = kinds.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0));
    let gflops = |flops: u64, s: f64| if flops > 0 && s > 0.0 { format!("{:.1}", flops as f64 / s / 1e9) } else { "–".into() };
    for (kind, (s, flops, calls)) in rows {
        println!("| {kind} | {calls} | {:.1} | {:.0} % | {} |", s * 1e3, 100.0 * s / mean_s, gflops(flops, s));
    }
    let other = (mean_s - covered).max(0.0);
    println!("| other (activations, pooling, copies, allocation) | – | {:.1} | {:.0} % | – |", other * 1e3, 100.0 * other / mean_s);
    println!("\n| kind | shape | calls | ms | GFLOP/s |");
    println!("| --- | --- | --- | --- | --- |");
    for e in entries.iter().take(25) {
        let s = e.seconds / reps;
        println!("| {} | {} | {} | {:.2} | {} |", e.kind, e.label, e.calls / reps as u64, s * 1e3, gflops(e.flops / reps as u64, s));
    }
}
