//! Fuzz harnesses for the parsers that read user files (issue 19, "What to
//! build" 5). Each target takes arbitrary bytes and feeds them through
//! restyle's own entry point for that kind of file; errors are the expected
//! outcome, a panic or an abort is a bug. The same functions are driven by
//! the fuzzer (`tests/fuzz/`, libFuzzer, a separate crate outside the workspace) and
//! replayed over the committed corpus by `tests/tests/fuzz_replay.rs` in CI.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The fuzz targets, by name (also the corpus folder names).
pub const TARGETS: &[&str] = &["onnx", "pytorch", "safetensors", "wheel", "style_vector", "labels", "image", "capi"];

/// A scratch folder per thread for harnesses that need a file path.
fn scratch() -> PathBuf {
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().expect("scratch folder");
    }
    DIR.with(|d| d.path().to_path_buf())
}

fn file(name: &str, data: &[u8]) -> PathBuf {
    let p = scratch().join(name);
    let mut f = std::fs::File::create(&p).expect("scratch file");
    f.write_all(data).expect("scratch write");
    p
}

/// Runs `target` on `data`. Returns whether the input was accepted (for
/// statistics only); panics only where restyle itself panics.
/// Whether a panic now is one restyle turns into an error (candle's pickle
/// reader, see `restyle_weights::import::pickle_guard`): the fuzzer's
/// aborting panic hook must let it unwind.
pub fn panic_is_guarded() -> bool {
    restyle_weights::import::pickle_guard::inside()
}

pub fn run(target: &str, data: &[u8]) -> bool {
    match target {
        "onnx" => onnx(data),
        "pytorch" => pytorch(data),
        "safetensors" => safetensors(data),
        "wheel" => wheel(data),
        "style_vector" => style_vector(data),
        "labels" => labels(data),
        "image" => image(data),
        "capi" => capi(data),
        other => panic!("unknown fuzz target {other}"),
    }
}

/// The ONNX reader (hand-declared protobuf messages) and the importers that
/// read initializers from it.
pub fn onnx(data: &[u8]) -> bool {
    use restyle_weights::import::{magenta, multistyle26};
    let Ok(model) = restyle_weights::onnx::OnnxModel::from_bytes(data) else { return false };
    let names: Vec<String> = model.initializer_names().map(str::to_string).collect();
    for n in names.iter().take(64) {
        let _ = model.tensor(n);
        let _ = model.dequantized(n);
    }
    let _ = magenta::detect(&model);
    let _ = multistyle26::import_model(&model);
    let _ = magenta::import_predict(&model);
    let _ = magenta::import_transform(&model);
    true
}

fn import(name: &str, data: &[u8]) -> bool {
    let p = file(name, data);
    let models = scratch().join("models");
    let _ = std::fs::create_dir_all(&models);
    let ok = restyle_weights::import::import_file(&p, &restyle_weights::catalog::Catalog::builtin(), &models, Some("fuzz")).is_ok();
    let _ = std::fs::remove_dir_all(&models);
    ok
}

/// PyTorch files: the zip + pickle reader and the legacy (tar / raw pickle)
/// reader, through the import entry point (`restyle weights import`), and the
/// fast-network importer directly.
pub fn pytorch(data: &[u8]) -> bool {
    let a = import("w.pth", data);
    let p = file("w2.pth", data);
    let b = restyle_weights::import::run_importer("fast", &p).is_ok();
    if restyle_weights::import::torch_legacy::is_legacy(data) {
        let _ = restyle_weights::import::torch_legacy::read(&p);
    }
    a || b
}

/// safetensors as restyle loads them (candle's reader; the canonical importer).
pub fn safetensors(data: &[u8]) -> bool {
    let a = candle_core::safetensors::load_buffer(data, &candle_core::Device::Cpu).is_ok();
    let b = import("w.safetensors", data);
    a || b
}

/// Python wheels (zip archives holding weights).
pub fn wheel(data: &[u8]) -> bool {
    import("restyle_fuzz-1.0-py3-none-any.whl", data)
}

/// Style vectors, as JSON and as safetensors.
pub fn style_vector(data: &[u8]) -> bool {
    let a = restyle_core::models::arbitrary::load_style_vector(&file("v.json", data)).is_ok();
    let b = restyle_core::models::arbitrary::load_style_vector(&file("v.safetensors", data)).is_ok();
    a || b
}

/// Label files of restyle-augment: a YOLO label file, a CSV label table and
/// a COCO JSON, each in a one-image dataset, through layout detection and
/// the report's class counter.
pub fn labels(data: &[u8]) -> bool {
    let _ = restyle_augment::classes::yolo_classes(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = restyle_augment::layout::split_records(text);
    }
    let mut any = false;
    for (kind, label) in [("yolo", "labels/a.txt"), ("csv", "labels.csv"), ("coco", "annotations.json")] {
        let root = scratch().join(format!("ds-{kind}"));
        let _ = std::fs::remove_dir_all(&root);
        let img = if kind == "yolo" { "images/a.png" } else { "a.png" };
        for (rel, bytes) in [(img, &b"x"[..]), (label, data)] {
            let p = root.join(rel);
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(Path::new(".")));
            let _ = std::fs::write(p, bytes);
        }
        if let Ok(ds) = restyle_augment::layout::open(&root, None) {
            any = true;
            let mut counter = restyle_augment::classes::Counter::new(&ds);
            for item in &ds.items {
                let _ = counter.add(item, 1);
            }
            let _ = counter.finish();
        }
    }
    any
}

/// Image decoding through restyle's wrapper, with a small pixel limit (so
/// that a header bomb is refused, never allocated).
pub fn image(data: &[u8]) -> bool {
    restyle_core::image::decode(data, 4 * 1024 * 1024).is_ok()
}

/// The C ABI's argument checking: the bytes choose the parameter fields
/// (method, strength, preserve colour, working size, iterations, struct
/// size, weights, max_seconds) and the image (size up to 16×16, format,
/// stride); `restyle_stylize` runs with an empty weights folder (so only the
/// embedded fast network can run). On any status but OK the pixels must be
/// unchanged, and the call must return.
pub fn capi(data: &[u8]) -> bool {
    use restyle as ffi;
    thread_local! {
        static CTX: usize = {
            let dir = scratch().join("no-weights");
            let _ = std::fs::create_dir_all(&dir);
            let c = std::ffi::CString::new(dir.to_string_lossy().as_bytes()).unwrap_or_default();
            let mut ctx: *mut ffi::context::Context = std::ptr::null_mut();
            // SAFETY: valid string and out pointer.
            unsafe { ffi::restyle_context_new(c.as_ptr(), &mut ctx) };
            ctx as usize
        };
    }
    let ctx = CTX.with(|c| *c) as *mut ffi::context::Context;
    if ctx.is_null() {
        return false;
    }
    let mut b = data.iter().copied().chain(std::iter::repeat(0));
    let mut byte = || b.next().unwrap_or(0);
    let mut u32_ = |n: u8| (0..4).fold(0u32, |a, _| (a << 8) | byte() as u32) % (n as u32).max(1);
    let mut params = std::mem::MaybeUninit::<ffi::RestyleParams>::zeroed();
    // SAFETY: room for a RestyleParams.
    if unsafe { ffi::restyle_params_init(params.as_mut_ptr(), std::mem::size_of::<ffi::RestyleParams>()) } != ffi::RESTYLE_OK {
        return false;
    }
    // SAFETY: initialised above.
    let mut p = unsafe { params.assume_init() };
    p.method = u32_(8);
    p.strength = [1.0, 0.5, 0.0, -0.1, 1.5, f32::NAN, f32::INFINITY][u32_(7) as usize];
    p.preserve_color = u32_(4);
    p.working_size = [0, 1, 15, 16, 24, 100_000, u32::MAX][u32_(7) as usize];
    p.iterations = u32_(3);
    p.seed = u32_(255) as u64;
    p.max_seconds = [0.0, 0.01, -1.0, f64::NAN, f64::INFINITY][u32_(5) as usize];
    p.struct_size = [std::mem::size_of::<ffi::RestyleParams>(), ffi::RESTYLE_PARAMS_SIZE_V1, 0, 7, 4096][u32_(5) as usize];
    let weights: Vec<f32> = (0..u32_(30)).map(|i| if i == 3 { f32::NAN } else { i as f32 }).collect();
    if u32_(2) == 1 {
        p.style_weights = weights.as_ptr();
        p.style_weights_len = weights.len() as u32;
    }
    let (w, h) = (u32_(17), u32_(17));
    let format = u32_(9);
    let bpp = ffi::restyle_format_bytes_per_pixel(format).max(1) as usize;
    let stride = (w as usize * bpp).saturating_sub(u32_(3) as usize * bpp / 2) + u32_(4) as usize;
    let len = stride * h as usize + w as usize * bpp;
    let mut pixels: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
    let before = pixels.clone();
    let img = ffi::pixels::RestyleImage { pixels: pixels.as_mut_ptr().cast(), width: w, height: h, stride, format };
    // SAFETY: the buffer holds stride * h + w * bpp bytes, more than restyle reads for a valid image.
    let status = unsafe { ffi::restyle_stylize(ctx, &img, std::ptr::null(), &p) };
    drop(weights);
    if status != ffi::RESTYLE_OK {
        assert_eq!(pixels, before, "status {status}: the caller's image was changed");
    }
    status == ffi::RESTYLE_OK
}

/// Small valid inputs to start each target from (the corpus's `seed-*` files;
/// `RESTYLE_WRITE_SEEDS=1 cargo test -p restyle-tests --test fuzz_replay
/// seeds_are_accepted` rewrites them; the real torch files come from
/// `tests/fuzz/make_seeds.py`).
pub fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
    let png = |w, h| {
        let img = ::image::RgbImage::from_fn(w, h, |x, y| ::image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
        let mut v = Vec::new();
        ::image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut v), ::image::ImageFormat::Png).expect("png");
        v
    };
    let enc = |f: ::image::ImageFormat| {
        let img = ::image::RgbImage::from_fn(8, 6, |x, y| ::image::Rgb([x as u8 * 20, y as u8 * 30, 7]));
        let mut v = Vec::new();
        ::image::DynamicImage::ImageRgb8(img).write_to(&mut std::io::Cursor::new(&mut v), f).expect("encode");
        v
    };
    let st = |names: &[(&str, Vec<f32>)]| {
        let map: std::collections::HashMap<String, candle_core::Tensor> = names
            .iter()
            .map(|(n, v)| (n.to_string(), candle_core::Tensor::from_vec(v.clone(), v.len(), &candle_core::Device::Cpu).expect("tensor")))
            .collect();
        let p = scratch().join("seed.safetensors");
        candle_core::safetensors::save(&map, &p).expect("save");
        std::fs::read(&p).expect("read")
    };
    let vec100: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
    match target {
        "image" => vec![
            ("a.png".into(), png(8, 6)),
            ("a.jpg".into(), enc(::image::ImageFormat::Jpeg)),
            ("a.gif".into(), enc(::image::ImageFormat::Gif)),
            ("a.tif".into(), enc(::image::ImageFormat::Tiff)),
            ("a.bmp".into(), enc(::image::ImageFormat::Bmp)),
            ("a.webp".into(), enc(::image::ImageFormat::WebP)),
        ],
        "safetensors" => vec![("a.safetensors".into(), st(&[("conv.weight", vec![0.5; 12]), ("conv.bias", vec![1.0, 2.0])]))],
        "style_vector" => vec![
            ("v.json".into(), serde_json::json!({"model": "magenta-arbitrary", "style_vector": vec100}).to_string().into_bytes()),
            ("v.safetensors".into(), st(&[("style_vector", vec100.clone())])),
        ],
        "labels" => vec![
            ("yolo.txt".into(), b"0 0.5 0.5 0.2 0.2\n3 0.1 0.1 0.05 0.05\n".to_vec()),
            ("labels.csv".into(), b"path,label\na.png,cat\n\"a.png\",\"d,og\"\n".to_vec()),
            (
                "coco.json".into(),
                br#"{"images":[{"id":1,"file_name":"a.png"}],"annotations":[{"id":1,"image_id":1,"category_id":1}],"categories":[{"id":1,"name":"cat"}]}"#.to_vec(),
            ),
        ],
        "onnx" => {
            use prost::Message;
            use restyle_weights::onnx::{GraphProto, ModelProto, TensorProto};
            let t = |name: &str, dims: Vec<i64>, n: usize| TensorProto {
                name: name.into(),
                dims,
                data_type: 1,
                float_data: (0..n).map(|i| i as f32).collect(),
                ..Default::default()
            };
            let m = ModelProto {
                graph: Some(GraphProto { initializer: vec![t("w", vec![2, 3], 6), t("b", vec![2], 2)], ..Default::default() }),
                ..Default::default()
            };
            vec![("tiny.onnx".into(), m.encode_to_vec())]
        }
        "pytorch" | "wheel" => {
            // A zip archive like a torch.save file (archive/data.pkl) and a
            // wheel (a .dist-info folder and a weights file).
            let zip = |files: &[(&str, &[u8])]| {
                let mut buf = std::io::Cursor::new(Vec::new());
                {
                    let mut z = zip::ZipWriter::new(&mut buf);
                    for (n, b) in files {
                        z.start_file(*n, zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored))
                            .expect("zip");
                        z.write_all(b).expect("zip");
                    }
                    z.finish().expect("zip");
                }
                buf.into_inner()
            };
            // pickle protocol 2: {} (EMPTY_DICT, STOP)
            let pkl: &[u8] = b"\x80\x02}q\x00.";
            if target == "pytorch" {
                vec![("dict.pth".into(), zip(&[("archive/data.pkl", pkl), ("archive/version", b"3\n")])), ("raw.pkl".into(), pkl.to_vec())]
            } else {
                let st = st(&[("w", vec![1.0, 2.0])]);
                vec![("a.whl".into(), zip(&[("pkg/model.safetensors", &st), ("pkg-1.0.dist-info/METADATA", b"Name: pkg\n")]))]
            }
        }
        // fast method (3), strength 1, no preservation, default size, RGBA8 16×16
        "capi" => vec![(
            "fast-rgba8.bin".into(),
            [[0, 0, 0, 3], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 16], [0, 0, 0, 16], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]].concat(),
        )],
        _ => Vec::new(),
    }
}

/// The corpus folder of a target in this repository.
pub fn corpus_dir(target: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus").join(target)
}
