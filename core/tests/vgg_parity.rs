//! VGG16 (Keras ImageNet weights, caffe convention) against onnxruntime.
//! Fixture: `onnx_reference.py vgg16 tubingen.jpg OUT.npz --size 40` (odd pooled sizes: 5 → 2 exercises floor pooling), stored
//! uncompressed (input_rgb H×W×3 in 0..1 and relu1_1 … relu5_3 as C×H×W).

use candle_core::{Device, Tensor};
use restyle_weights::testing::real_weights;
use std::collections::HashMap;
use std::path::PathBuf;

fn fixture() -> HashMap<String, Tensor> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vgg16_tubingen40.npz");
    Tensor::read_npz(&p).expect("read fixture").into_iter().collect()
}

#[test]
fn vgg16_matches_onnxruntime_on_every_layer() {
    let Some(path) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let dev = Device::Cpu;
    let vgg = restyle_core::method::open::vgg(&path, restyle_core::models::vgg::Pooling::Max, &dev).unwrap();
    let fx = fixture();
    let x = fx["input_rgb"].permute((2, 0, 1)).unwrap().unsqueeze(0).unwrap().contiguous().unwrap();
    let layers = vgg.layer_names().iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(layers.len(), 13);
    let refs: Vec<&str> = layers.iter().map(String::as_str).collect();
    let got = vgg.forward(&x, &refs).unwrap();
    assert_eq!(got.len(), 13);
    for (name, t) in got.iter() {
        let want = &fx[name];
        let t = t.squeeze(0).unwrap();
        assert_eq!(t.dims(), want.dims(), "{name} shape");
        let err = (&t - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        let peak = want.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        eprintln!("{name}: max abs err {err:.3e}, layer max {peak:.1}, ratio {:.2e}", err / peak);
        assert!(peak > 1.0, "{name}: degenerate reference");
        assert!(err <= 1e-4 * peak, "{name}: max abs err {err} > 1e-4 × {peak}");
    }
}

#[test]
fn stops_at_deepest_requested_layer_and_rejects_unknown() {
    let Some(path) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let vgg = restyle_core::method::open::vgg(&path, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap();
    let x = Tensor::zeros((1, 3, 32, 32), candle_core::DType::F32, &Device::Cpu).unwrap();
    let f = vgg.forward(&x, &["relu2_1"]).unwrap();
    assert_eq!(f.len(), 1);
    let e = vgg.forward(&x, &["relu9_9"]).err().expect("unknown layer must fail").to_string();
    assert!(e.contains("relu9_9") && e.contains("relu5_3"), "{e}");
}

/// The gradient that optimisation NST follows, against PyTorch autograd:
/// Gram style loss at relu1_1 … relu5_1 and content loss at relu4_2 on a
/// 48×40 image (odd pooled sizes), ∂L/∂pixels. Fixture and loss:
/// `tests/fixtures/make_gatys_grad.py`. (candle's own max-pool backward
/// gives a quarter of this below each pooling; see `ops::pool`.)
#[test]
fn gatys_loss_gradient_matches_pytorch() {
    use restyle_core::nst::loss::{content, gram, style};
    let Some(path) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let dev = Device::Cpu;
    let vgg = restyle_core::method::open::vgg(&path, restyle_core::models::vgg::Pooling::Max, &dev).unwrap();
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gatys_grad_48x40.npz");
    let fx: HashMap<String, Tensor> = Tensor::read_npz(&p).expect("read fixture").into_iter().collect();
    let img = |k: &str| fx[k].unsqueeze(0).unwrap().contiguous().unwrap();
    let scale = vgg.activation_scale();
    let layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1"];
    let feats = |x: &Tensor| vgg.forward(x, &layers).unwrap();
    let (sf, cf) = (feats(&img("style")), feats(&img("content")));
    let x = candle_core::Var::from_tensor(&img("x")).unwrap();
    let f = feats(x.as_tensor());
    let mut loss = Tensor::zeros((), candle_core::DType::F32, &dev).unwrap();
    for l in ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"] {
        let g = gram(&(f.get(l).unwrap() / scale).unwrap(), 0.0).unwrap();
        let gs = gram(&(sf.get(l).unwrap() / scale).unwrap(), 0.0).unwrap();
        loss = (loss + style(&g, &gs).unwrap()).unwrap();
    }
    let c = content(&(f.get("relu4_2").unwrap() / scale).unwrap(), &(cf.get("relu4_2").unwrap() / scale).unwrap()).unwrap();
    loss = (loss + c).unwrap();
    let want_loss = fx["loss"].to_scalar::<f32>().unwrap();
    let got_loss = loss.to_scalar::<f32>().unwrap();
    assert!((got_loss - want_loss).abs() <= 1e-4 * want_loss, "loss {got_loss} vs PyTorch {want_loss}");
    let grad = loss.backward().unwrap().get(&x).unwrap().squeeze(0).unwrap();
    let want = &fx["grad"];
    let err = (&grad - want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    let peak = want.abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
    eprintln!("∂L/∂x: max abs err {err:.3e}, peak {peak:.3e}");
    assert!(peak > 1e-3, "degenerate reference");
    assert!(err <= 1e-3 * peak, "∂L/∂x max abs err {err} > 1e-3 × {peak}");
}
