//! The fast (Johnson) network: loading a state dict written by PyTorch
//! itself (`fixtures/fast_pth_net.pth` + its PyTorch output, made by
//! `fixtures/make_fast_pth.py`), safetensors round trip, tiling, and a short
//! training run that must lower the loss.

use candle_core::{DType, Device, Tensor};
use restyle_core::nn::NormStats;
use restyle_core::nn::tiling::Tiling;
use restyle_core::train::fast::{TrainConfig, Trainer};
use restyle_core::models::transformer_net::{Config, TransformerNet};
use restyle_weights::testing::{real_weights, shared_data_dir};
use std::collections::HashMap;
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn diff(a: &Tensor, b: &Tensor) -> (f32, f32) {
    let d = (a.flatten_all().unwrap() - b.flatten_all().unwrap()).unwrap().abs().unwrap();
    (d.mean_all().unwrap().to_scalar().unwrap(), d.max_all().unwrap().to_scalar().unwrap())
}

#[test]
fn pytorch_state_dict_matches_pytorch_output() {
    let net = restyle_core::method::open::fast(&fixtures().join("fast_pth_net.pth"), &Device::Cpu).expect("load .pth");
    assert_eq!(net.config(), Config { c1: 16, c2: 32, c3: 64, num_res: 5 });
    let f: HashMap<String, Tensor> = Tensor::read_npz(fixtures().join("fast_pth_ref.npz")).unwrap().into_iter().collect();
    let x = f["input"].unsqueeze(0).unwrap();
    let y = net.forward_with(&x, &mut NormStats::Own).unwrap().squeeze(0).unwrap();
    let want = &f["output"];
    assert_eq!(y.dims(), want.dims());
    let (mean, max) = diff(&y, want);
    let scale: f32 = want.abs().unwrap().max_all().unwrap().to_scalar().unwrap();
    eprintln!("pth vs PyTorch: mean abs {mean:.2e}, max {max:.2e} (output max |y| {scale:.2})");
    assert!(max <= 1e-4 * scale.max(1.0) && mean <= 1e-5 * scale.max(1.0), "mean {mean}, max {max}");
}

#[test]
fn rejects_files_that_are_not_transformer_nets() {
    let err = restyle_core::method::open::fast(&fixtures().join("ms26_s0_64.npz"), &Device::Cpu);
    assert!(err.is_err());
}

#[test]
fn fp16_safetensors_round_trip() {
    let src = restyle_weights::import::fast_pth::import(&fixtures().join("fast_pth_net.pth")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("net.safetensors");
    let half: HashMap<String, Tensor> = src.iter().map(|(k, v)| (k.clone(), v.to_dtype(DType::F16).unwrap())).collect();
    candle_core::safetensors::save(&half, &p).unwrap();
    let a = TransformerNet::from_tensors(src.into_iter().collect(), &Device::Cpu).unwrap();
    let b = restyle_core::method::open::fast(&p, &Device::Cpu).unwrap();
    let x = Tensor::rand(0f32, 1., (1, 3, 48, 40), &Device::Cpu).unwrap();
    let (ya, yb) = (a.stylize_tensor(&x, Tiling::default(), 1024).unwrap(), b.stylize_tensor(&x, Tiling::default(), 1024).unwrap());
    let (mean, _) = diff(&ya, &yb);
    assert!(mean < 2e-3, "fp16 weights change the output by {mean} on average");
}

#[test]
fn tiled_matches_whole_image_away_from_seams() {
    let net = restyle_core::method::open::fast(&fixtures().join("fast_pth_net.pth"), &Device::Cpu).unwrap();
    let img = restyle_core::image::load(shared_data_dir().join("content/tubingen.jpg")).unwrap();
    let x = img.rgb.resize(256, 192).unwrap().to_tensor(&Device::Cpu).unwrap();
    let whole = net.stylize_tensor(&x, Tiling { tile: 1024, overlap: 0 }, 1024).unwrap();
    let tiled = net.stylize_tensor(&x, Tiling { tile: 160, overlap: 64 }, 1024).unwrap();
    let inner = |t: &Tensor| t.narrow(2, 0, 64).unwrap().narrow(3, 0, 64).unwrap();
    let (m_in, x_in) = diff(&inner(&whole), &inner(&tiled));
    let (m_all, _) = diff(&whole, &tiled);
    eprintln!("fast tiled vs whole: away from seams mean {m_in:.2e} max {x_in:.2e}; everywhere mean {m_all:.2e}");
    assert!(m_in < 3e-3 && x_in < 5e-2, "away from seams: mean {m_in}, max {x_in}");
    assert!(m_all < 1e-2, "everywhere: mean {m_all}");
}

#[test]
fn twenty_training_steps_lower_the_loss_and_resume() {
    let Some(vgg_path) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let vgg = restyle_core::method::open::vgg(&vgg_path, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap();
    let data = tempfile::tempdir().unwrap();
    let coco = shared_data_dir().join("coco128/images/train2017");
    for name in ["000000000009.jpg", "000000000025.jpg", "000000000030.jpg", "000000000034.jpg"] {
        std::fs::copy(coco.join(name), data.path().join(name)).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        style: shared_data_dir().join("style/starry_night.jpg"),
        content_dirs: vec![data.path().to_path_buf()],
        out_dir: out.path().to_path_buf(),
        // 32 px (not 64): on the shared 2-core CI machine a 64 px step costs ~4 s of CPU.
        size: 32,
        style_size: 64,
        batch: 2,
        steps: 20,
        lr: 5e-3,
        net: Config { c1: 8, c2: 16, c3: 32, num_res: 2 },
        checkpoint_every: 10,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(cfg.clone(), vgg, &Device::Cpu).unwrap();
    // A fixed evaluation batch: the four photos at 32 px.
    let eval: Vec<Tensor> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| restyle_core::image::load(e.unwrap().path()).unwrap().rgb.resize(32, 32).unwrap().to_tensor(&Device::Cpu).unwrap())
        .collect();
    let eval = Tensor::cat(&eval, 0).unwrap();
    let before = trainer.loss(&eval).unwrap().1;
    let t0 = std::time::Instant::now();
    let mut reports = 0;
    trainer
        .run(&mut |_p: &restyle_core::progress::Progress| {
            reports += 1;
            restyle_core::progress::Control::Continue
        })
        .unwrap();
    let after = trainer.loss(&eval).unwrap().1;
    eprintln!("20 steps at 32 px: {:.2} s; loss {:.4e} → {:.4e} ({before:?} → {after:?})", t0.elapsed().as_secs_f32(), before.total, after.total);
    assert_eq!(reports, 20);
    assert!(after.total < 0.8 * before.total, "loss {} → {}", before.total, after.total);
    // CSV: header + 20 rows; checkpoint at step 20, loadable as a network.
    let csv = std::fs::read_to_string(out.path().join("loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 21);
    let ckpt = out.path().join("checkpoint.safetensors");
    let net = restyle_core::method::open::fast(&ckpt, &Device::Cpu).unwrap();
    assert_eq!(net.config(), cfg.net);
    // Resume continues from step 20 to 22, appending to the log.
    let vgg = restyle_core::method::open::vgg(&vgg_path, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap();
    let mut resumed = Trainer::new(TrainConfig { steps: 22, resume: true, ..cfg }, vgg, &Device::Cpu).unwrap();
    assert_eq!(resumed.step, 20);
    let r = resumed.loss(&eval).unwrap().1;
    assert!((r.total - after.total).abs() <= 1e-3 * after.total, "resumed weights differ: {} vs {}", r.total, after.total);
    resumed.run(&mut |_p: &restyle_core::progress::Progress| restyle_core::progress::Control::Continue).unwrap();
    assert_eq!(std::fs::read_to_string(out.path().join("loss.csv")).unwrap().lines().count(), 23);
}

/// A PNG whose header reads but whose pixel data is corrupt: it passes the
/// up-front header check and fails only when decoded for a batch.
fn png_with_corrupt_pixels(path: &std::path::Path) {
    let img = image::RgbImage::from_fn(40, 40, |x, y| image::Rgb([(x * 6) as u8, (y * 6) as u8, 90]));
    img.save(path).unwrap();
    let mut b = std::fs::read(path).unwrap();
    let idat = b.windows(4).position(|w| w == b"IDAT").unwrap();
    for v in &mut b[idat + 6..idat + 40] {
        *v ^= 0x5a;
    }
    std::fs::write(path, b).unwrap();
}

/// Issue 19 item 7: one undecodable content image among many killed
/// `restyle train fast` at a random step. Undecodable images are dropped
/// (up front when the header is bad, at the draw when the pixels are) with
/// their reason; training fails only when none is usable.
#[test]
fn undecodable_content_images_are_skipped_not_fatal() {
    let data = tempfile::tempdir().unwrap();
    let coco = shared_data_dir().join("coco128/images/train2017");
    for name in ["000000000009.jpg", "000000000025.jpg"] {
        std::fs::copy(coco.join(name), data.path().join(name)).unwrap();
    }
    std::fs::write(data.path().join("empty.jpg"), b"").unwrap();
    std::fs::write(data.path().join("garbage.png"), b"not an image at all").unwrap();
    png_with_corrupt_pixels(&data.path().join("pixels.png"));
    let dirs = vec![data.path().to_path_buf()];
    let mut pool = restyle_core::train::ContentPool::new(&dirs).unwrap();
    assert_eq!(pool.skipped.len(), 2, "empty and garbage dropped up front: {:?}", pool.skipped);
    assert_eq!(pool.len(), 3);
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
    for _ in 0..30 {
        let img = pool.draw(&mut rng).unwrap();
        assert!(img.width > 40, "only the real photos are returned");
    }
    assert_eq!(pool.len(), 2, "the corrupt-pixel PNG was dropped when drawn");
    assert!(pool.skipped.iter().any(|(p, _)| p.ends_with("pixels.png")), "{:?}", pool.skipped);

    // Nothing usable: a clear error, up front.
    let bad = tempfile::tempdir().unwrap();
    std::fs::write(bad.path().join("a.jpg"), b"").unwrap();
    let e = restyle_core::train::ContentPool::new(&[bad.path().to_path_buf()]).err().unwrap().to_string();
    assert!(e.contains("none of the 1 content images"), "{e}");
    // Only a corrupt-pixel file: passes the header check, fails at the first draw with the same message.
    let bad2 = tempfile::tempdir().unwrap();
    png_with_corrupt_pixels(&bad2.path().join("p.png"));
    let mut pool = restyle_core::train::ContentPool::new(&[bad2.path().to_path_buf()]).unwrap();
    let e = pool.draw(&mut rng).err().unwrap().to_string();
    assert!(e.contains("none of the 1 content images"), "{e}");

    // Two training steps at a tiny size over the folder with the bad files.
    let Some(vgg_path) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let vgg = restyle_core::method::open::vgg(&vgg_path, restyle_core::models::vgg::Pooling::Max, &Device::Cpu).unwrap();
    let out = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        style: shared_data_dir().join("style/starry_night.jpg"),
        content_dirs: dirs,
        out_dir: out.path().to_path_buf(),
        size: 16,
        style_size: 32,
        batch: 4,
        steps: 2,
        net: Config { c1: 4, c2: 8, c3: 8, num_res: 1 },
        checkpoint_every: 10,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(cfg, vgg, &Device::Cpu).unwrap();
    trainer.run(&mut |_p: &restyle_core::progress::Progress| restyle_core::progress::Control::Continue).unwrap();
    assert_eq!(trainer.step, 2);
    assert!(trainer.images.skipped.len() >= 2);
    assert!(out.path().join("checkpoint.safetensors").is_file());
}
