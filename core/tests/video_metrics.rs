//! The warping error's arithmetic (`restyle video-metrics`, Lai et al.
//! 2018) against a numpy reference on saved flows:
//! `fixtures/video_metrics/ref.npz` from `make_fixture.py` (two 24×18
//! frames, a forward and a backward flow with a rotation, a shift and an
//! occluding block moving the other way). The flows are given, so this
//! checks the warp, the non-occlusion mask and E_warp, not DIS.

use candle_core::Tensor;
use restyle_core::image::RgbImage;
use restyle_core::video::flow::Flow;
use restyle_core::video::metrics::warp_error;
use restyle_core::video::warp::{consistent, warp};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture() -> HashMap<String, Tensor> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/video_metrics/ref.npz");
    Tensor::read_npz(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).into_iter().collect()
}

fn values(t: &HashMap<String, Tensor>, k: &str) -> Vec<f32> {
    t[k].flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn warping_error_matches_the_numpy_reference_on_saved_flows() {
    let t = fixture();
    let (h, w) = (t["o_prev"].dims()[0], t["o_prev"].dims()[1]);
    let img = |k: &str| RgbImage { width: w, height: h, data: values(&t, k) };
    let flow = |k: &str| Flow { width: w, height: h, data: values(&t, k) };
    let (prev, cur, fwd, bwd) = (img("o_prev"), img("o_cur"), flow("fwd"), flow("bwd"));

    let warped = warp(&cur.data, 3, &fwd);
    let max = warped.iter().zip(values(&t, "warped")).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-5, "warp differs from numpy by {max}");

    let mask = consistent(&fwd, &bwd);
    let reference = values(&t, "mask");
    let covered = reference.iter().sum::<f32>() / reference.len() as f32;
    // Not trivial: part of the frame is occluded or leaves it, most is not.
    assert!((0.5..0.95).contains(&covered), "the fixture's mask covers {covered}");
    let differ: Vec<usize> = (0..mask.len()).filter(|&i| mask[i] != reference[i]).collect();
    assert!(differ.is_empty(), "mask differs from numpy at pixels {differ:?}");

    let e = warp_error(&prev, &cur, &fwd, &mask);
    let expected = values(&t, "e_warp")[0] as f64;
    assert!(((e - expected) / expected).abs() < 1e-5, "E_warp {e} vs numpy {expected}");
    // An empty mask counts nothing: 0, not a division by zero.
    let none = warp_error(&prev, &cur, &fwd, &vec![0.0; w * h]);
    assert!(none == 0.0, "an empty mask: {none}");
}
