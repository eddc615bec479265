//! `restyle bench flow`: the optical flow's cost per frame (each preset at
//! --sizes, square), on two consecutive frames of SHARED/data/video/bikes.mp4
//! (fast motion); and the temporal step's whole per-frame cost (flow both
//! ways, consistency mask, feathering), which is what `restyle video` pays.

use super::common::{median, BenchArgs};
use anyhow::{Context, Result};
use restyle_core::video::ffmpeg::{self, Clip, Decoder};
use restyle_core::video::flow::{dis, FlowPreset, Gray};
use restyle_core::video::temporal::{MotionEstimator, TemporalOptions};
use std::time::Instant;

pub fn run(args: &BenchArgs) -> Result<()> {
    let path = args.shared.join("data/video/bikes.mp4");
    let info = ffmpeg::probe(&path).with_context(|| format!("{}", path.display()))?;
    println!("threads: {}", rayon::current_num_threads());
    for &size in &args.sizes {
        let mut dec = Decoder::open(&path, &info, &Clip { start: Some(2.0), duration: None }, size, size)?;
        let (Some(a), Some(b)) = (dec.next_frame()?, dec.next_frame()?) else { anyhow::bail!("bikes.mp4: fewer than two frames") };
        drop(dec);
        let (ga, gb) = (Gray::from_rgb(size, size, &a.data), Gray::from_rgb(size, size, &b.data));
        for preset in [FlowPreset::UltraFast, FlowPreset::Fast, FlowPreset::Medium] {
            let p = preset.params();
            let time = |f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
                for _ in 0..args.warmup {
                    f()?;
                }
                let mut t = Vec::new();
                for _ in 0..args.reps.max(1) {
                    let s = Instant::now();
                    f()?;
                    t.push(s.elapsed().as_secs_f64() * 1e3);
                }
                Ok(median(t))
            };
            let one = time(&mut || {
                dis(&ga, &gb, &p)?;
                Ok(())
            })?;
            let opts = TemporalOptions { flow: p, flow_size: size, ..TemporalOptions::default() };
            // Frames fed alternately: each call compares two frames, as in a video.
            let mut m = MotionEstimator::new(opts)?;
            m.next(&a)?;
            let mut flip = false;
            let step = time(&mut || {
                flip = !flip;
                m.next(if flip { &b } else { &a })?;
                Ok(())
            })?;
            println!("flow {size}×{size} {:<9}: one flow {one:7.1} ms; temporal step per frame (2 flows, mask, feather) {step:7.1} ms", preset.name());
        }
    }
    Ok(())
}
