//! Gatys / improved NST end to end with the real VGG16 (Keras ImageNet
//! weights) at 64 px: the loss falls, the style distance drops ≥ 5×, the
//! content distance stays bounded; cancel, error paths, colour preservation.

use candle_core::Device;
use restyle_core::nst::gatys::{Gatys, GatysConfig, BASIC_STYLE_LAYERS};
use restyle_core::image::{self, RgbImage};
use restyle_core::nst::loss;
use restyle_core::progress::{Control, Progress};
use restyle_core::request::{PreserveColor, Request, StyleImage};
use restyle_core::method::{Method};
use restyle_core::stylize::{Stylizer};
use restyle_core::models::vgg::Vgg;
use restyle_weights::testing::{real_weights, shared_data_dir};

const SIZE: usize = 64;

fn load(kind: &str, name: &str) -> RgbImage {
    image::load(shared_data_dir().join(kind).join(name)).unwrap().rgb.resize_longest(SIZE).unwrap()
}

fn vgg() -> Option<Vgg> {
    let p = real_weights("vgg16-keras-imagenet.onnx")?;
    Some(restyle_core::method::open::vgg(&p, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap())
}

/// Standard distances: Gram distance over relu1_1…relu5_1 and content MSE at relu4_2.
fn distances(vgg: &Vgg, a: &RgbImage, style: &RgbImage, content: &RgbImage) -> (f32, f32) {
    let f = |img: &RgbImage| vgg.forward(&img.to_tensor(&Device::Cpu).unwrap(), &BASIC_STYLE_LAYERS).unwrap();
    let s = vgg.activation_scale();
    let style_d = loss::gram_distance(&f(a), &f(style), s).unwrap();
    let c = |img: &RgbImage| (vgg.forward(&img.to_tensor(&Device::Cpu).unwrap(), &["relu4_2"]).unwrap().get("relu4_2").unwrap() / s).unwrap();
    let content_d = loss::content(&c(a), &c(content)).unwrap().to_scalar::<f32>().unwrap();
    (style_d, content_d)
}

fn save_for_inspection(name: &str, img: &RgbImage) {
    if let Some(dir) = std::env::var_os("RESTYLE_TEST_OUT") {
        image::save(&image::Picture::from_rgb(img.clone()), std::path::Path::new(&dir).join(name)).unwrap();
    }
}

#[test]
fn basic_gatys_transfers_style_and_keeps_content() {
    let Some(vgg) = vgg() else { return };
    let content = load("content", "tubingen.jpg");
    let style = load("style", "starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.size = Some(SIZE);
    cfg.iterations = 30;
    let g = Gatys::new(vgg, cfg);
    let mut totals = Vec::new();
    let mut report = |p: &Progress| {
        assert!(p.losses.iter().any(|(n, _)| *n == "style"));
        totals.push(p.losses[0].1);
        Control::Continue
    };
    let out = g.run(&content, &[StyleImage { image: style.clone(), weight: 1.0 }], 0, &mut report).unwrap();
    assert!(out.completed);
    assert_eq!((out.image.width, out.image.height), (content.width, content.height));
    let (first, last) = (totals[0], *totals.last().unwrap());
    eprintln!("total loss {first} → {last} over {} iterations", totals.len());
    assert!(last < 0.5 * first, "loss did not fall enough: {first} → {last}");
    // progress reports the best point so far, never a rejected line-search trial
    assert!(totals.windows(2).all(|w| w[1] <= w[0]), "reported totals rose: {totals:?}");
    save_for_inspection("gatys_basic.png", &out.image);

    let (style_out, content_out) = distances(&g.vgg, &out.image, &style, &content);
    let (style_content, _) = distances(&g.vgg, &content, &style, &content);
    let (_, content_of_style) = distances(&g.vgg, &style.resize(content.width, content.height).unwrap(), &style, &content);
    eprintln!("style distance: content {style_content:.4e}, output {style_out:.4e}; content distance: output {content_out:.4e}, style image {content_of_style:.4e}");
    assert!(style_out * 5.0 <= style_content, "style distance {style_out} not 5x below {style_content}");
    assert!(content_out < 0.5 * content_of_style, "content distance {content_out} not bounded (style image: {content_of_style})");
}

#[test]
fn cancel_returns_best_so_far_and_bad_layers_fail() {
    let Some(vgg) = vgg() else { return };
    let content = load("content", "tubingen.jpg");
    let style = load("style", "starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.size = Some(32);
    cfg.iterations = 50;
    let mut g = Gatys::new(vgg, cfg);
    let styles = [StyleImage { image: style, weight: 1.0 }];
    let mut steps = 0;
    let mut cancel = |_: &Progress| {
        steps += 1;
        if steps >= 3 { Control::Cancel } else { Control::Continue }
    };
    let out = g.run(&content, &styles, 0, &mut cancel).unwrap();
    assert!(!out.completed);
    assert_eq!(steps, 3);
    assert_eq!(out.image.width.max(out.image.height), 32);

    g.config.style_layers.push(("relu7_1".into(), 1.0));
    let e = g.run(&content, &styles, 0, &mut |_: &Progress| Control::Continue).err().expect("unknown layer must fail");
    assert!(e.to_string().contains("relu7_1"), "{e}");
}

#[test]
fn colour_preservation_modes() {
    let Some(vgg) = vgg() else { return };
    // at the working size already, so no resampling touches the chroma
    let content = load("content", "tubingen.jpg").resize_longest(48).unwrap();
    let style = load("style", "starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    cfg.iterations = 8;
    let stylizer = Stylizer::new(Method::Gatys(Box::new(Gatys::new(vgg, cfg))), Device::Cpu);
    let req = Request {
        styles: vec![StyleImage { image: style.clone(), weight: 1.0 }],
        preserve_color: Some(PreserveColor::Luminance),
        ..Default::default()
    };
    let res = stylizer.stylize(&image::Picture::from_rgb(content.clone()), &req, &mut |_: &Progress| Control::Continue).unwrap();
    assert!(res.completed);
    let out = res.picture.rgb;
    assert_eq!((out.width, out.height), (content.width, content.height));
    // chroma (Cb, Cr) of the output equals the content's, except where RGB clipped
    let ycc = |p: &[f32]| {
        let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        (y, (p[2] - y) * 0.564, (p[0] - y) * 0.713)
    };
    let (mut n, mut bad, mut luma_moved) = (0, 0, 0f32);
    for (o, c) in out.data.chunks(3).zip(content.data.chunks(3)) {
        let ((yo, cbo, cro), (yc, cbc, crc)) = (ycc(o), ycc(c));
        luma_moved += (yo - yc).abs();
        if o.iter().all(|&v| v > 0.0 && v < 1.0) {
            n += 1;
            if (cbo - cbc).abs() > 0.01 || (cro - crc).abs() > 0.01 {
                bad += 1;
            }
        }
    }
    assert!(n > content.data.len() / 3 / 2, "too many clipped pixels");
    assert_eq!(bad, 0, "{bad} of {n} unclipped pixels changed chroma");
    assert!(luma_moved / (n as f32) > 0.01, "luminance was not stylized");

    // histogram mode: the recoloured style has the content's colour mean and covariance
    let matched = restyle_core::image::color::match_colors(&style, &content);
    let stats = |img: &RgbImage| {
        let px: Vec<[f64; 3]> = img.data.chunks(3).map(|p| [p[0] as f64, p[1] as f64, p[2] as f64]).collect();
        let n = px.len() as f64;
        let m: Vec<f64> = (0..3).map(|c| px.iter().map(|p| p[c]).sum::<f64>() / n).collect();
        let cov: Vec<f64> =
            (0..9).map(|k| px.iter().map(|p| (p[k / 3] - m[k / 3]) * (p[k % 3] - m[k % 3])).sum::<f64>() / n).collect();
        (m, cov)
    };
    let ((mm, cm), (mc, cc)) = (stats(&matched), stats(&content));
    for i in 0..3 {
        assert!((mm[i] - mc[i]).abs() < 1e-3, "mean {i}: {} vs {}", mm[i], mc[i]);
    }
    for k in 0..9 {
        assert!((cm[k] - cc[k]).abs() < 1e-3, "cov {k}: {} vs {}", cm[k], cc[k]);
    }
}

#[test]
fn improved_preset_runs_coarse_to_fine_and_transfers_style() {
    let Some(vgg) = vgg() else { return };
    let content = load("content", "tubingen.jpg");
    let style = load("style", "starry_night.jpg");
    let mut cfg = GatysConfig::improved(&vgg);
    assert_eq!(cfg.style_layers.len(), 13, "all VGG16 conv layers");
    assert!(cfg.style_layers[0].1 > cfg.style_layers[12].1, "shallow layers weigh more");
    assert_eq!((cfg.gram_shift, cfg.scales), (-1.0, 3));
    cfg.size = Some(SIZE);
    cfg.iterations = 10;
    let g = Gatys::new(vgg, cfg);
    let mut stages = Vec::new();
    let out = g
        .run(&content, &[StyleImage { image: style.clone(), weight: 1.0 }], 0, &mut |p: &Progress| {
            if stages.last() != Some(&p.stage) {
                stages.push(p.stage.clone());
            }
            Control::Continue
        })
        .unwrap();
    assert!(out.completed);
    // 64 px with 3 scales: 16 px is below the 32 px floor, so 32 → 64
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!((out.image.width, out.image.height), (content.width, content.height));
    save_for_inspection("gatys_improved.png", &out.image);
    let (style_out, _) = distances(&g.vgg, &out.image, &style, &content);
    let (style_content, _) = distances(&g.vgg, &content, &style, &content);
    eprintln!("improved: style distance {style_content:.4e} → {style_out:.4e}");
    assert!(style_out * 2.0 <= style_content, "style distance {style_out} vs content's {style_content}");
}

/// With no style and no TV term the photo is already optimal at every scale,
/// so the coarse scale changes nothing. `keep_detail` must then hand the fine
/// scale the photo itself (its result is the photo); plain upsampling hands it
/// the blurred coarse image, which the content loss on relu4_2 does not sharpen.
#[test]
fn keep_detail_keeps_the_photos_detail_between_scales() {
    let Some(vgg) = vgg() else { return };
    let content = load("content", "tubingen.jpg");
    let style = load("style", "starry_night.jpg");
    let mut cfg = GatysConfig::basic();
    (cfg.size, cfg.scales, cfg.iterations, cfg.style_weight, cfg.tv_weight) = (Some(SIZE), 2, 5, 0.0, 0.0);
    let g = Gatys::new(vgg, cfg.clone());
    let styles = [StyleImage { image: style, weight: 1.0 }];
    let mean_abs_diff = |keep_detail: bool| {
        let cfg = GatysConfig { keep_detail, ..cfg.clone() };
        let out = g.run_with(&cfg, &content, &styles, 0, &mut |_: &Progress| Control::Continue).unwrap();
        assert_eq!((out.image.width, out.image.height), (content.width, content.height));
        out.image.data.iter().zip(&content.data).map(|(a, b)| (a - b).abs()).sum::<f32>() / content.data.len() as f32
    };
    let (kept, blurred) = (mean_abs_diff(true), mean_abs_diff(false));
    eprintln!("mean |result − photo|: keep_detail {kept:.2e}, plain upsampling {blurred:.2e}");
    assert!(kept < 1e-3, "keep_detail lost the photo's detail: {kept}");
    assert!(blurred > 10.0 * kept.max(1e-4), "plain upsampling should blur: {blurred}");
}
