//! The arbitrary (Magenta) networks against onnxruntime on committed
//! fixtures (`tests/fixtures/arbitrary_*.npz`, made by
//! `make_arbitrary_fixtures.py`), and the behaviour around them: any size,
//! tiling, strength, blending. Needs the real ONNX weights.

use candle_core::{DType, Device, Tensor};
use restyle_core::models::arbitrary::{self, Arbitrary, Options};
use restyle_core::image::RgbImage;
use restyle_core::nn::NormStats;
use restyle_core::nn::tiling::Tiling;
use restyle_weights::testing::real_weights;
use std::collections::HashMap;
use std::path::PathBuf;

fn net() -> Option<Arbitrary> {
    let p = real_weights(arbitrary::PREDICT_ONNX)?;
    let t = real_weights(arbitrary::TRANSFORM_ONNX)?;
    Some(restyle_core::method::open::arbitrary_onnx(&p, &t, &Device::Cpu).expect("load the Magenta ONNX files"))
}

fn fixture(i: usize) -> HashMap<String, Tensor> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/arbitrary_{i}.npz"));
    Tensor::read_npz(&p).expect("read fixture").into_iter().collect()
}

/// `(H, W, 3)` uint8 → `[1, 3, H, W]` f32 in 0..1.
fn image_tensor(t: &Tensor) -> Tensor {
    (t.to_dtype(DType::F32).unwrap() / 255.0).unwrap().permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap().contiguous().unwrap()
}

fn diff(a: &Tensor, b: &Tensor) -> (f32, f32) {
    let d = (a.flatten_all().unwrap() - b.flatten_all().unwrap()).unwrap().abs().unwrap();
    (d.mean_all().unwrap().to_scalar().unwrap(), d.max_all().unwrap().to_scalar().unwrap())
}

fn cosine(a: &Tensor, b: &Tensor) -> f32 {
    let dot: f32 = (a * b).unwrap().sum_all().unwrap().to_scalar().unwrap();
    let n = |x: &Tensor| -> f32 { x.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt() };
    dot / (n(a) * n(b))
}

fn params(net: &Arbitrary, v: &Tensor) -> arbitrary::StyleParams {
    net.transfer.style_params(&v.reshape((1, arbitrary::STYLE_DIM)).unwrap()).unwrap()
}

fn photo(w: usize, h: usize) -> RgbImage {
    let img = restyle_core::image::load(restyle_weights::testing::shared_data_dir().join("content/golden_gate.jpg")).unwrap();
    img.rgb.resize(w, h).unwrap()
}

#[test]
fn parity_with_onnxruntime_float_activations() {
    let Some(net) = net() else { return };
    for i in 0..3 {
        let f = fixture(i);
        let content = image_tensor(&f["content"]);
        let style = image_tensor(&f["style"]);
        let v = net.style_vector_of_tensor(&style).unwrap();
        let cos = cosine(&v, &f["bottleneck"]);
        let (vmean, vmax) = diff(&v, &f["bottleneck"]);
        let cos8 = cosine(&v, &f["bottleneck_int8"]);
        // The transfer network alone, fed the reference's style vector.
        let out = net.transfer.stylize(&content, &params(&net, &f["bottleneck"]), &mut NormStats::Own).unwrap();
        let (mean, max) = diff(&out, &f["stylized"]);
        // End to end: our style vector into our transfer network.
        let e2e = net.transfer.stylize(&content, &params(&net, &v), &mut NormStats::Own).unwrap();
        let (emean, emax) = diff(&e2e, &f["stylized"]);
        let (m8, x8) = diff(&e2e, &f["stylized_int8"]);
        eprintln!(
            "pair {i} {:?}: vector cos {cos:.7} (mean {vmean:.2e} max {vmax:.2e}); transfer mean {mean:.2e} max {max:.2e}; \
             end-to-end mean {emean:.2e} max {emax:.2e}; vs int8 original: vector cos {cos8:.5}, stylized mean {m8:.4} max {x8:.3}",
            content.dims()
        );
        assert!(cos >= 0.999, "style vector cosine {cos}");
        assert!(mean <= 2e-3 && max <= 5e-2, "transfer: mean {mean} max {max}");
        assert!(emean <= 2e-3 && emax <= 5e-2, "end to end: mean {emean} max {emax}");
    }
}

#[test]
fn any_size_keeps_the_size_and_agrees_with_the_padded_run() {
    let Some(net) = net() else { return };
    let f = fixture(0);
    let p = params(&net, &f["bottleneck"]);
    // 198×150 is not a multiple of 4: reflect-padded inside to 200×152, cropped back.
    let big = photo(200, 152).to_tensor(&Device::Cpu).unwrap();
    let x = big.narrow(2, 0, 150).unwrap().narrow(3, 0, 198).unwrap();
    let out = net.transfer.stylize(&x, &p, &mut NormStats::Own).unwrap();
    assert_eq!(out.dims(), &[1, 3, 150, 198]);
    // Against the 200×152 original (a multiple of 4, no padding): farther
    // than the receptive field (≈ 54 px) from the padded right/bottom edge,
    // only the slightly different norm statistics remain.
    let ref_out = net.transfer.stylize(&big, &p, &mut NormStats::Own).unwrap();
    let inner = |t: &Tensor| t.narrow(2, 0, 80).unwrap().narrow(3, 0, 120).unwrap();
    let (mean, max) = diff(&inner(&out), &inner(&ref_out));
    eprintln!("198×150 vs the 200×152 run, away from the padded edge: mean {mean:.2e} max {max:.2e}");
    assert!(mean < 1e-2, "{mean}");
    // And the output is a stylization, not the photo.
    let (to_photo, _) = diff(&out, &x);
    assert!(to_photo > 0.05, "{to_photo}");
}

#[test]
fn tiled_matches_untiled_away_from_seams() {
    let Some(net) = net() else { return };
    let f = fixture(1);
    let p = params(&net, &f["bottleneck"]);
    let img = photo(232, 176);
    let x = img.to_tensor(&Device::Cpu).unwrap();
    let whole = net.transfer.stylize(&x, &p, &mut NormStats::Own).unwrap();
    let tiling = Tiling { tile: 128, overlap: 48 };
    // Statistics of the full image shared by every tile: only the tile
    // borders differ (receptive field), and the feathering hides them.
    let opts = Options { tiling, stats_max_side: 4096, ..Options::default() };
    let tiled = net.stylize_tensor(&x, &p, &opts).unwrap();
    let (mean, max) = diff(&tiled, &whole);
    // Per-tile statistics (the naive approach) for comparison.
    let naive = restyle_core::nn::tiling::run_tiled(&x, tiling, |t| net.transfer.stylize(t, &p, &mut NormStats::Own)).unwrap();
    let (nmean, nmax) = diff(&naive, &whole);
    // Downscaled statistics (what huge images use).
    let small = Options { tiling, stats_max_side: 128, ..Options::default() };
    let (smean, smax) = diff(&net.stylize_tensor(&x, &p, &small).unwrap(), &whole);
    // Away from seams: rows 8..40, columns 8..64 lie in the first tile only
    // (the next ones start at x = 80, y = 48) and ≥ 64 px (more than the
    // ≈ 54 px receptive field) from its inner edges: same pixels, same
    // statistics as the untiled run.
    let region = |t: &Tensor| t.narrow(2, 8, 32).unwrap().narrow(3, 8, 56).unwrap();
    let (_, rmax) = diff(&region(&tiled), &region(&whole));
    eprintln!(
        "tiled (shared stats) mean {mean:.2e} max {max:.2e}, first-tile interior max {rmax:.2e}; \
         downscaled stats mean {smean:.2e} max {smax:.2e}; per-tile stats mean {nmean:.2e} max {nmax:.2e}"
    );
    assert!(rmax < 1e-4, "interior {rmax}");
    assert!(mean < 5e-3, "tiled mean {mean}");
    assert!(smean < nmean, "downscaled statistics must beat per-tile ones ({smean} vs {nmean})");
    assert!(nmean > mean, "shared statistics must beat per-tile ones ({nmean} vs {mean})");
}

#[test]
fn strength_and_blending_interpolate_the_style() {
    let Some(net) = net() else { return };
    let (a, b) = (fixture(0), fixture(2));
    let content = photo(96, 64);
    let va = net.style_vector_of_tensor(&image_tensor(&a["style"])).unwrap();
    let vb = net.style_vector_of_tensor(&image_tensor(&b["style"])).unwrap();
    let run = |v: &Tensor, strength: f32| {
        let opts = Options { strength, ..Options::default() };
        net.stylize(&content, v, &opts).unwrap().to_tensor(&Device::Cpu).unwrap()
    };
    let full = run(&va, 1.0);
    let photo_t = content.to_tensor(&Device::Cpu).unwrap();
    let d: Vec<f32> = [0.0, 0.5, 1.0].iter().map(|&s| diff(&run(&va, s), &full).0).collect();
    eprintln!("distance to the full-strength result at strength 0, 0.5, 1: {d:?}");
    assert!(d[0] > d[1] && d[1] > d[2], "{d:?}");
    assert!(d[2] < 1e-6);
    // Strength 0 is the content's own style: closer to the photo than full strength.
    assert!(diff(&run(&va, 0.0), &photo_t).0 < diff(&full, &photo_t).0);
    // Blending: weights normalised; a one-sided blend is that style.
    let half = arbitrary::blend(&[(va.clone(), 1.0), (vb.clone(), 1.0)]).unwrap();
    let mid = ((&va + &vb).unwrap() * 0.5).unwrap();
    assert!(diff(&half, &mid).1 < 1e-6);
    let only_a = arbitrary::blend(&[(va.clone(), 2.0), (vb.clone(), 0.0)]).unwrap();
    assert!(diff(&run(&only_a, 1.0), &full).1 < 1e-5);
    let (ob, oh) = (run(&vb, 1.0), run(&half, 1.0));
    assert!(diff(&oh, &full).0 > 0.01 && diff(&oh, &ob).0 > 0.01);
}

#[test]
fn style_size_changes_the_vector() {
    let Some(net) = net() else { return };
    let painting = restyle_core::image::load(restyle_weights::testing::shared_data_dir().join("style/starry_night.jpg")).unwrap();
    let v256 = net.style_vector(&painting.rgb, 256).unwrap();
    let v128 = net.style_vector(&painting.rgb, 128).unwrap();
    let c = cosine(&v256, &v128);
    eprintln!("starry_night style vector at 256 vs 128: cosine {c:.4}, L2 {:.3}", v256.sqr().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap().sqrt());
    assert!(c < 0.999 && c > 0.5, "{c}");
}
