//! multistyle26 against onnxruntime on committed fixtures
//! (`tests/fixtures/ms26_*.npz`, made with
//! `../shared/tools/onnx_reference.py multistyle26 IMAGE OUT --style S --size N`):
//! three single styles and one blend, at 64 px and at 98 px (not a multiple
//! of 4: the graph itself then yields 100 px). Then tiling against the whole
//! image. Needs the real `multistyle26.onnx`.

use candle_core::{Device, Tensor};
use restyle_core::models::multistyle::{parse_style_weights, MultiStyle26, NUM_STYLES};
use restyle_core::nn::NormStats;
use restyle_core::nn::tiling::Tiling;
use restyle_weights::testing::real_weights;
use std::collections::HashMap;
use std::path::PathBuf;

fn net() -> Option<MultiStyle26> {
    let p = real_weights("multistyle26.onnx")?;
    Some(restyle_core::method::open::multistyle26(&p, &Device::Cpu).expect("load multistyle26.onnx"))
}

fn fixture(name: &str) -> HashMap<String, Tensor> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    Tensor::read_npz(&p).expect("read fixture").into_iter().collect()
}

fn diff(a: &Tensor, b: &Tensor) -> (f32, f32) {
    let d = (a.flatten_all().unwrap() - b.flatten_all().unwrap()).unwrap().abs().unwrap();
    (d.mean_all().unwrap().to_scalar().unwrap(), d.max_all().unwrap().to_scalar().unwrap())
}

#[test]
fn matches_onnxruntime() {
    let Some(net) = net() else { return };
    let cases = [
        ("ms26_s0_64.npz", "0"),
        ("ms26_s7_98.npz", "7"),
        ("ms26_s25_64.npz", "25"),
        ("ms26_blend_98.npz", "3:0.5,12:0.5"),
    ];
    for (file, spec) in cases {
        let f = fixture(file);
        let weights = parse_style_weights(spec, NUM_STYLES).unwrap();
        let want_w = f["style_weights"].to_vec1::<f32>().unwrap();
        assert_eq!(weights, want_w, "{file}: the fixture was made with style {spec}");
        let x = f["input_rgb"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap().contiguous().unwrap();
        let blend = net.blend_tensor(&weights).unwrap();
        // The raw graph: same size rules as onnxruntime (98 → 100).
        let y = net.forward_with(&x, &blend, &mut NormStats::Own).unwrap().squeeze(0).unwrap();
        let want = &f["stylized"];
        assert_eq!(y.dims(), want.dims(), "{file}");
        let (mean, max) = diff(&y, want);
        eprintln!("{file} style {spec}: mean abs {mean:.2e}, max {max:.2e}");
        assert!(mean <= 1e-3 && max <= 1e-2, "{file}: mean {mean}, max {max}");
        // The public entry point keeps the input size.
        let (_, _, h, w) = x.dims4().unwrap();
        let s = net.stylize_tensor(&x, &weights, Tiling::default(), 1024).unwrap();
        assert_eq!(s.dims(), &[1, 3, h, w]);
    }
}

#[test]
fn styles_differ_and_blends_lie_between() {
    let Some(net) = net() else { return };
    let f = fixture("ms26_s0_64.npz");
    let x = f["input_rgb"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap().contiguous().unwrap();
    let run = |spec: &str| net.stylize_tensor(&x, &parse_style_weights(spec, NUM_STYLES).unwrap(), Tiling::default(), 1024).unwrap();
    let (a, b, ab) = (run("3"), run("12"), run("3:0.5,12:0.5"));
    let (dab, _) = diff(&a, &b);
    assert!(dab > 0.05, "styles 3 and 12 should look different, mean diff {dab}");
    let (da, _) = diff(&ab, &a);
    let (db, _) = diff(&ab, &b);
    assert!(da < dab && db < dab, "a blend lies between its styles: {da} {db} vs {dab}");
}

#[test]
fn tiled_matches_whole_image_away_from_seams() {
    let Some(net) = net() else { return };
    let img = restyle_core::image::load(restyle_weights::testing::shared_data_dir().join("content/chicago.jpg")).unwrap();
    let x = img.rgb.resize(256, 192).unwrap().to_tensor(&Device::Cpu).unwrap();
    let w = parse_style_weights("7", NUM_STYLES).unwrap();
    let whole = net.stylize_tensor(&x, &w, Tiling { tile: 1024, overlap: 0 }, 1024).unwrap();
    let tiled = net.stylize_tensor(&x, &w, Tiling { tile: 160, overlap: 64 }, 1024).unwrap();
    // Tile (0,0) alone covers rows/cols < 96; its far edge is at 160.
    let inner = |t: &Tensor| t.narrow(2, 0, 64).unwrap().narrow(3, 0, 64).unwrap();
    let (m_in, x_in) = diff(&inner(&whole), &inner(&tiled));
    let (m_all, x_all) = diff(&whole, &tiled);
    eprintln!("tiled vs whole: away from seams mean {m_in:.2e} max {x_in:.2e}; everywhere mean {m_all:.2e} max {x_all:.2e}");
    assert!(m_in < 3e-3 && x_in < 5e-2, "away from seams: mean {m_in}, max {x_in}");
    assert!(m_all < 1e-2, "everywhere: mean {m_all}");
}
