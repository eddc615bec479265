//! Fine-tuning the arbitrary (Magenta) networks with the VGG16 loss: a few
//! steps on real photos and paintings must lower the loss on a fixed
//! evaluation batch, and the checkpoint must load back as the same network.

use candle_core::{Device, Module, Tensor};
use restyle_core::models::arbitrary::{Arbitrary, PREDICT_ONNX, TRANSFORM_ONNX};
use restyle_core::progress::{Control, Progress};
use restyle_core::train::arbitrary::{load_tensors, ArbitraryTrainConfig, ArbitraryTrainer};
use restyle_weights::testing::{real_weights, shared_data_dir};

const SIZE: usize = 64;

fn load_at(p: std::path::PathBuf, size: usize) -> Tensor {
    restyle_core::image::load(p).unwrap().rgb.resize(size, size).unwrap().to_tensor(&Device::Cpu).unwrap()
}

#[test]
fn a_few_fine_tuning_steps_lower_the_loss_and_checkpoints_round_trip() {
    let (Some(vgg_path), Some(pp), Some(tp)) =
        (real_weights("vgg16-keras-imagenet.onnx"), real_weights(PREDICT_ONNX), real_weights(TRANSFORM_ONNX))
    else {
        return;
    };
    let dev = Device::Cpu;
    let (contents, styles) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let coco = shared_data_dir().join("coco128/images/train2017");
    for name in ["000000000009.jpg", "000000000025.jpg", "000000000030.jpg"] {
        std::fs::copy(coco.join(name), contents.path().join(name)).unwrap();
    }
    for name in ["starry_night.jpg", "mosaic.jpg"] {
        std::fs::copy(shared_data_dir().join("style").join(name), styles.path().join(name)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let cfg = ArbitraryTrainConfig {
        style_dirs: vec![styles.path().to_path_buf()],
        content_dirs: vec![contents.path().to_path_buf()],
        out_dir: out.path().to_path_buf(),
        size: SIZE,
        style_size: SIZE,
        batch: 2,
        steps: 8,
        lr: 2e-5,
        checkpoint_every: 4,
        ..ArbitraryTrainConfig::default()
    };
    let vgg = restyle_core::method::open::vgg(&vgg_path, restyle_core::models::vgg::Pooling::Max, &dev).unwrap();
    let mut trainer = ArbitraryTrainer::new(cfg.clone(), load_tensors(&pp, &tp).unwrap(), vgg, &dev).unwrap();
    // Fixed evaluation batch: two photos, each with one of the two paintings.
    let ec = Tensor::cat(&[load_at(coco.join("000000000009.jpg"), SIZE), load_at(coco.join("000000000030.jpg"), SIZE)], 0).unwrap();
    let es = Tensor::cat(
        &[load_at(styles.path().join("starry_night.jpg"), SIZE), load_at(styles.path().join("mosaic.jpg"), SIZE)],
        0,
    )
    .unwrap();
    let before = trainer.loss(&ec, &es).unwrap().1;
    let t0 = std::time::Instant::now();
    let mut reports = 0;
    trainer
        .run(&mut |_p: &Progress| {
            reports += 1;
            Control::Continue
        })
        .unwrap();
    let secs = t0.elapsed().as_secs_f32();
    let after = trainer.loss(&ec, &es).unwrap().1;
    eprintln!(
        "8 steps, batch 2 at {SIZE} px: {secs:.1} s ({:.2} s/step); eval loss {:.4e} → {:.4e} ({before:?} → {after:?})",
        secs / 8.0,
        before.total,
        after.total
    );
    assert_eq!(reports, 8);
    assert!(after.total < 0.9 * before.total, "eval loss {} → {}", before.total, after.total);
    assert_eq!(std::fs::read_to_string(out.path().join("loss.csv")).unwrap().lines().count(), 9);

    // The checkpoint is the canonical safetensors pair: the same network.
    let loaded = restyle_core::method::open::arbitrary_dir(out.path(), &dev).unwrap();
    let stylize = |net: &Arbitrary| {
        let p = net.transfer.style_params(&net.predict.forward(&es).unwrap()).unwrap();
        net.transfer.stylize(&ec, &p, &mut restyle_core::nn::NormStats::Own).unwrap()
    };
    let d: f32 = (stylize(&trainer.net) - stylize(&loaded)).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    assert!(d < 1e-5, "checkpoint output differs by {d}");

    // Resume continues from step 8 with the trained weights; with the
    // predictor frozen, one more step changes only the transfer network.
    let vgg = restyle_core::method::open::vgg(&vgg_path, restyle_core::models::vgg::Pooling::Max, &dev).unwrap();
    let cfg2 = ArbitraryTrainConfig { steps: 9, resume: true, freeze_predict: true, ..cfg };
    let mut resumed = ArbitraryTrainer::new(cfg2, load_tensors(&pp, &tp).unwrap(), vgg, &dev).unwrap();
    assert_eq!(resumed.step, 8);
    let r = resumed.loss(&ec, &es).unwrap().1;
    assert!((r.total - after.total).abs() <= 1e-4 * after.total, "resumed weights differ: {} vs {}", r.total, after.total);
    let vector = |t: &ArbitraryTrainer| t.net.predict.forward(&es).unwrap();
    let (v0, y0) = (vector(&resumed), stylize(&resumed.net));
    resumed.run(&mut |_p: &Progress| Control::Continue).unwrap();
    let dv: f32 = (vector(&resumed) - v0).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    let dy: f32 = (stylize(&resumed.net) - y0).unwrap().abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    assert_eq!(dv, 0.0, "a frozen predictor changed");
    assert!(dy > 1e-4, "the transfer network did not change ({dy})");
    assert_eq!(std::fs::read_to_string(out.path().join("loss.csv")).unwrap().lines().count(), 10);
}
