//! AdaIN against PyTorch: `fixtures/adain/{vgg_normalised,decoder}.pth` are
//! state dicts written by `torch.save` in naoto0804/pytorch-AdaIN's layout
//! (widths /16, random weights; the encoder in PyTorch's legacy format, the
//! decoder in the zip format) and `ref.npz` holds PyTorch's outputs, all
//! made by `fixtures/adain/make_fixture.py`. Also: importing the files into
//! the cache and finding them by name in a weights folder, clear errors for
//! wrong files, and the CLI.

use candle_core::{Device, Tensor};
use restyle_core::models::adain::{adaptive_instance_norm, AdaIN, Config, MeanStd};
use restyle_core::image::{Picture, RgbImage};
use restyle_core::progress::silent;
use restyle_core::request::{Request, StyleImage};
use restyle_core::method::{Method};
use restyle_core::stylize::{Stylizer};
use restyle_weights::catalog::Catalog;
use restyle_weights::ResolveOptions;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adain")
}

fn fixture_net() -> AdaIN {
    restyle_core::method::open::adain_files(&fixtures().join("vgg_normalised.pth"), &fixtures().join("decoder.pth"), &Device::Cpu)
        .expect("load the PyTorch-written files")
}

fn reference() -> HashMap<String, Tensor> {
    Tensor::read_npz(fixtures().join("ref.npz")).unwrap().into_iter().map(|(k, v)| (k, v.unsqueeze(0).unwrap())).collect()
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap()
}

/// The top-left `like`-sized corner of `t`.
fn crop_like(t: &Tensor, like: &Tensor) -> Tensor {
    t.narrow(2, 0, like.dim(2).unwrap()).unwrap().narrow(3, 0, like.dim(3).unwrap()).unwrap()
}

/// Options that see only `dir`: its weights folder and cache, never the network.
fn isolated(dir: &Path, weights: &Path) -> ResolveOptions {
    ResolveOptions { weights_dir: Some(weights.to_path_buf()), cache_dir: Some(dir.join("cache")), ..Default::default() }
        .offline(true)
}

#[test]
fn pytorch_files_match_pytorch_outputs() {
    // The encoder file is in PyTorch's legacy format (as the 2018 release), the decoder in the zip format.
    use restyle_weights::import::{detect_kind, FileKind};
    assert_eq!(detect_kind(&fixtures().join("vgg_normalised.pth")).unwrap(), FileKind::TorchLegacy);
    assert_eq!(detect_kind(&fixtures().join("decoder.pth")).unwrap(), FileKind::TorchZip);
    let net = fixture_net();
    assert_eq!(net.config(), Config { widths: [4, 8, 16, 32] });
    let r = reference();
    let (content, a, b) = (&r["content"], &r["style_a"], &r["style_b"]);
    let fc = net.encode(content).unwrap();
    let d_feat = max_abs(&fc, &r["content_features"]);
    // The decoder's own output before cropping (8·⌈H/8⌉ × 8·⌈W/8⌉, as PyTorch's).
    let sa = net.style_stats(a).unwrap();
    let full = net.decoder.forward(&adaptive_instance_norm(&fc, &sa).unwrap()).unwrap();
    let d_full = max_abs(&full, &r["out_alpha1"]);
    let want = |k: &str| crop_like(&r[k], content);
    let d1 = max_abs(&net.transfer(content, &sa, 1.0).unwrap(), &want("out_alpha1"));
    let d06 = max_abs(&net.transfer(content, &sa, 0.6).unwrap(), &want("out_alpha06"));
    let mix = MeanStd::mix(&[(sa, 3.0), (net.style_stats(b).unwrap(), 1.0)]).unwrap();
    let dmix = max_abs(&net.transfer(content, &mix, 0.8).unwrap(), &want("out_mix_3_1_alpha08"));
    let range: f32 = r["out_alpha1"].abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    eprintln!(
        "AdaIN vs PyTorch (max abs; outputs up to {range:.2}): relu4_1 {d_feat:.1e}, uncropped α=1 {d_full:.1e}, \
         α=1 {d1:.1e}, α=0.6 {d06:.1e}, 2-style 3:1 α=0.8 {dmix:.1e}"
    );
    for (what, d) in [("relu4_1", d_feat), ("uncropped", d_full), ("α=1", d1), ("α=0.6", d06), ("mix", dmix)] {
        assert!(d <= 1e-4, "{what}: max abs {d}");
    }
    // Strength 0 reconstructs from the content's own features: not the α=1 result.
    let d0 = max_abs(&net.transfer(content, &net.style_stats(a).unwrap(), 0.0).unwrap(), &want("out_alpha1"));
    assert!(d0 > 0.05, "α=0 should differ from α=1 ({d0})");
}

#[test]
fn imported_into_the_cache_or_found_by_name_in_a_weights_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let catalog = Catalog::builtin();
    let models = tmp.path().join("cache/models");
    let mut parts = Vec::new();
    for f in ["vgg_normalised.pth", "decoder.pth"] {
        for i in restyle_weights::import::import_file(&fixtures().join(f), &catalog, &models, None).unwrap() {
            parts.push((i.model, i.part));
        }
    }
    assert_eq!(parts, vec![("adain".to_string(), "vgg".to_string()), ("adain".to_string(), "decoder".to_string())]);
    // The canonical encoder keeps only the layers up to conv4_1.
    let canon = candle_core::safetensors::load(models.join("adain-vgg.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(canon.len(), 20);
    assert!(canon.contains_key("29.weight") && !canon.contains_key("32.weight"));

    let r = reference();
    let want = crop_like(&r["out_alpha1"], &r["content"]);
    let run = |net: &AdaIN| net.transfer(&r["content"], &net.style_stats(&r["style_a"]).unwrap(), 1.0).unwrap();
    let from_cache = restyle_core::method::open::adain(None, None, &isolated(tmp.path(), &tmp.path().join("none")), &Device::Cpu).unwrap();
    assert!(max_abs(&run(&from_cache), &want) <= 1e-4);

    // A weights folder with the upstream file names (fresh cache).
    let other = tempfile::tempdir().unwrap();
    let wdir = other.path().join("weights");
    std::fs::create_dir_all(&wdir).unwrap();
    for f in ["vgg_normalised.pth", "decoder.pth"] {
        std::fs::copy(fixtures().join(f), wdir.join(f)).unwrap();
    }
    let opts = isolated(other.path(), &wdir);
    let from_dir = restyle_core::method::open::adain(None, None, &opts, &Device::Cpu).unwrap();
    assert!(max_abs(&run(&from_dir), &want) <= 1e-4);

    // Nothing anywhere: the message says which files to bring.
    let empty = tempfile::tempdir().unwrap();
    let e = restyle_core::method::open::adain(None, None, &isolated(empty.path(), &empty.path().join("w")), &Device::Cpu).unwrap_err().to_string();
    assert!(e.contains("adain") && e.contains("vgg_normalised.pth"), "{e}");
}

#[test]
fn wrong_files_give_clear_errors() {
    let (vgg, dec) = (fixtures().join("vgg_normalised.pth"), fixtures().join("decoder.pth"));
    let err = |v: &Path, d: &Path| restyle_core::method::open::adain_files(v, d, &Device::Cpu).expect_err("must fail").to_string();
    let e = err(&dec, &dec);
    assert!(e.contains("is the AdaIN decoder") && e.contains("not the AdaIN vgg"), "{e}");
    let e = err(&vgg, &vgg);
    assert!(e.contains("is the AdaIN vgg") && e.contains("not the AdaIN decoder"), "{e}");
    let fast = fixtures().join("../fast_pth_net.pth");
    let e = err(&vgg, &fast);
    assert!(e.contains("fast_pth_net.pth: not the AdaIN decoder") && e.contains("conv1.conv2d.weight"), "{e}");
    let e = err(&fixtures().join("ref.npz"), &dec);
    assert!(e.contains("ref.npz: a zip that is neither"), "{e}");

    // A legacy-format file cut short.
    let tmp0 = tempfile::tempdir().unwrap();
    let cut = tmp0.path().join("vgg_normalised.pth");
    let bytes = std::fs::read(&vgg).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = err(&cut, &dec);
    assert!(e.contains("legacy PyTorch file") && e.contains("truncated"), "{e}");

    // Edited copies (as safetensors): a missing layer, a wrong shape, and an
    // encoder and decoder of different widths.
    let tmp = tempfile::tempdir().unwrap();
    let load = |p: &Path, part| restyle_weights::import::adain::import_part(p, part).unwrap();
    let save = |name: &str, t: Vec<(String, Tensor)>| {
        let p = tmp.path().join(name);
        candle_core::safetensors::save(&t.into_iter().collect::<HashMap<_, _>>(), &p).unwrap();
        p
    };
    use restyle_weights::import::adain::Part;
    let v = load(&vgg, Part::Vgg);
    let missing = save("missing.safetensors", v.iter().filter(|(k, _)| k != "16.weight").cloned().collect());
    let e = err(&missing, &dec);
    assert!(e.contains("lacks tensor '16.weight'"), "{e}");
    let reshaped = v
        .iter()
        .map(|(k, t)| if k == "5.weight" { (k.clone(), Tensor::zeros((4, 3, 3, 3), t.dtype(), &Device::Cpu).unwrap()) } else { (k.clone(), t.clone()) })
        .collect();
    let e = err(&save("shape.safetensors", reshaped), &dec);
    assert!(e.contains("'5.weight'") && e.contains("[4, 3, 3, 3]") && e.contains("in-channels"), "{e}");
    let d = load(&dec, Part::Decoder);
    let wide = d
        .iter()
        .map(|(k, t)| if k == "1.weight" { (k.clone(), Tensor::zeros((16, 64, 3, 3), t.dtype(), &Device::Cpu).unwrap()) } else { (k.clone(), t.clone()) })
        .collect();
    let e = err(&vgg, &save("wide.safetensors", wide));
    assert!(e.contains("do not fit together") && e.contains("decoder.1.weight"), "{e}");
}

#[test]
fn stylizer_blends_styles_and_keeps_the_size() {
    let r = reference();
    let img = |k: &str| RgbImage::from_tensor(&r[k]).unwrap();
    let content = Picture::from_rgb(img("content"));
    let styles = vec![StyleImage { image: img("style_a"), weight: 3.0 }, StyleImage { image: img("style_b"), weight: 1.0 }];
    let opts = restyle_core::models::adain::Options { style_size: 40, ..Default::default() };
    let stylizer = Stylizer::new(Method::AdaIN(Box::new(fixture_net()), opts), Device::Cpu);
    let request = Request { styles: styles.clone(), strength: 0.8, ..Default::default() };
    let out = stylizer.stylize(&content, &request, &mut silent()).unwrap();
    assert_eq!((out.picture.width(), out.picture.height()), (61, 45));
    // Same as the network called directly with the same resized styles.
    let net = fixture_net();
    let stats: Vec<_> = styles
        .iter()
        .map(|s| {
            let x = restyle_core::models::arbitrary::style_input(&s.image, 40).unwrap().to_tensor(&Device::Cpu).unwrap();
            (net.style_stats(&x).unwrap(), s.weight)
        })
        .collect();
    let direct = net.transfer(&r["content"], &MeanStd::mix(&stats).unwrap(), 0.8).unwrap().clamp(0f32, 1f32).unwrap();
    let got = out.picture.rgb.to_tensor(&Device::Cpu).unwrap();
    assert!(max_abs(&got, &direct) < 1e-5);
    let changed = max_abs(&got, &r["content"]);
    assert!(changed > 0.1, "the style changed nothing ({changed})");
    let no_style = Request { strength: 1.0, ..Default::default() };
    assert!(stylizer.stylize(&content, &no_style, &mut silent()).is_err());
}

#[test]
fn tiles_share_the_whole_image_statistics() {
    let net = fixture_net();
    let r = reference();
    let img = RgbImage::from_tensor(&r["content"]).unwrap().resize(160, 120).unwrap();
    // A dark right part: tiles there have other statistics than the whole.
    let dim = Tensor::cat(&[Tensor::ones((1, 1, 120, 80), candle_core::DType::F32, &Device::Cpu).unwrap(), Tensor::full(0.2f32, (1, 1, 120, 80), &Device::Cpu).unwrap()], 3).unwrap();
    let x = img.to_tensor(&Device::Cpu).unwrap().broadcast_mul(&dim).unwrap();
    let target = net.style_stats(&r["style_a"]).unwrap();
    let whole = net.transfer(&x, &target, 1.0).unwrap();
    let tiling = restyle_core::nn::tiling::Tiling { tile: 96, overlap: 32 };
    let opts = restyle_core::models::adain::Options { tiling, stats_max_side: 1024, ..Default::default() };
    let tiled = net.transfer_tiled(&x, &target, 1.0, &opts).unwrap();
    // Each tile normalised on its own features instead: what sharing avoids.
    let naive = restyle_core::nn::tiling::run_tiled(&x, tiling, |t| {
        net.transfer(t, &target, 1.0).map_err(|e| candle_core::Error::Msg(e.to_string()))
    })
    .unwrap();
    let mean = |a: &Tensor| -> f32 { (a - &whole).unwrap().abs().unwrap().mean_all().unwrap().to_scalar().unwrap() };
    let (m_shared, m_naive) = (mean(&tiled), mean(&naive));
    eprintln!("AdaIN tiled 160×120 in 96-px tiles vs whole: mean abs {m_shared:.2e} (per-tile statistics: {m_naive:.2e})");
    assert_eq!(tiled.dims(), whole.dims());
    // Outputs have std 0.25: the seams cost about 1% of that.
    assert!(m_shared < m_naive && m_shared < 0.01, "shared {m_shared}, per-tile {m_naive}");
}

#[test]
fn cli_imports_both_files_and_stylizes() {
    let tmp = tempfile::tempdir().unwrap();
    let r = reference();
    let save_png = |k: &str| {
        let p = tmp.path().join(format!("{k}.png"));
        restyle_core::image::save(&Picture::from_rgb(RgbImage::from_tensor(&r[k]).unwrap()), &p).unwrap();
        p
    };
    let (content, style) = (save_png("content"), save_png("style_a"));
    let restyle = |args: &[&str]| {
        // An empty weights folder (a missing one is refused as a mistake).
        let _ = std::fs::create_dir_all(tmp.path().join("no-weights"));
        std::process::Command::new(env!("CARGO_BIN_EXE_restyle"))
            .args(args)
            .env("RESTYLE_CACHE_DIR", tmp.path().join("cache"))
            .env("RESTYLE_WEIGHTS_DIR", tmp.path().join("no-weights"))
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap()
    };
    let text = |o: &std::process::Output| format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (vgg, dec) = (s(&fixtures().join("vgg_normalised.pth")), s(&fixtures().join("decoder.pth")));
    // Explicit files.
    let out1 = tmp.path().join("a.png");
    let o = restyle(&["stylize", &s(&content), "--method", "adain", "--style", &s(&style), "--adain-vgg", &vgg, "--adain-decoder", &dec, "-o", &s(&out1)]);
    assert!(o.status.success(), "{}", text(&o));
    // Imported once, then found in the cache.
    let o = restyle(&["weights", "import", &vgg, &dec]);
    assert!(o.status.success() && text(&o).contains("adain (vgg)") && text(&o).contains("adain (decoder)"), "{}", text(&o));
    let out2 = tmp.path().join("b.png");
    let o = restyle(&["stylize", &s(&content), "--method", "adain", "--style", &s(&style), "-o", &s(&out2)]);
    assert!(o.status.success(), "{}", text(&o));
    let (a, b) = (restyle_core::image::load(&out1).unwrap(), restyle_core::image::load(&out2).unwrap());
    assert_eq!((a.width(), a.height()), (61, 45));
    assert_eq!(a.rgb.data, b.rgb.data);
    let o = restyle(&["stylize", &s(&content), "--method", "adain", "--style", &s(&style), "--adain-vgg", &dec, "-o", &s(&out2)]);
    assert!(!o.status.success() && text(&o).contains("not the AdaIN vgg"), "{}", text(&o));
}
