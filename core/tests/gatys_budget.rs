//! `GatysConfig::max_seconds`: a run with a wall-clock budget ends around it
//! (at most one iteration ends past it), every coarse-to-fine scale gets a
//! share, and the result is a changed, complete image.

use candle_core::Device;
use restyle_core::nst::gatys::{Gatys, GatysConfig};
use restyle_core::image;
use restyle_core::progress::{Control, Progress};
use restyle_core::request::StyleImage;
use restyle_weights::testing::{real_weights, shared_data_dir};
use std::time::Instant;

#[test]
fn time_budget_ends_the_run_at_most_one_iteration_late() {
    let Some(p) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let vgg = restyle_core::method::open::vgg(&p, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap();
    let load = |kind: &str, name: &str| image::load(shared_data_dir().join(kind).join(name)).unwrap().rgb.resize_longest(64).unwrap();
    let (content, style) = (load("content", "tubingen.jpg"), load("style", "starry_night.jpg"));
    let budget = 5.0;
    let cfg = GatysConfig { size: Some(64), scales: 2, iterations: 100_000, max_seconds: Some(budget), ..GatysConfig::basic() };
    let g = Gatys::new(vgg, cfg);
    let start = Instant::now();
    // (stage, seconds since start) of every iteration
    let mut reports: Vec<(String, f64)> = Vec::new();
    let out = g
        .run(&content, &[StyleImage { image: style, weight: 1.0 }], 0, &mut |p: &Progress| {
            reports.push((p.stage.clone(), start.elapsed().as_secs_f64()));
            Control::Continue
        })
        .unwrap();
    assert!(out.completed, "a spent budget is a normal end, not a cancel");
    let stages: Vec<&str> = reports.iter().map(|(s, _)| s.as_str()).fold(Vec::new(), |mut v, s| {
        if v.last() != Some(&s) {
            v.push(s);
        }
        v
    });
    assert_eq!(stages.len(), 2, "both scales ran: {stages:?}");
    // only the last iteration may end past the budget
    let late = reports.iter().filter(|(_, t)| *t >= budget).count();
    assert!(late <= 1, "{late} iterations ended after the {budget} s budget: {reports:?}");
    assert!(reports.len() >= 2);
    let mad = out.image.data.iter().zip(content.data.iter()).map(|(a, b)| (a - b).abs()).sum::<f32>() / content.data.len() as f32;
    assert!(mad > 0.01, "the result is still the photo (mean abs difference {mad})");
}
