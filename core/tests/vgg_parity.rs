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
