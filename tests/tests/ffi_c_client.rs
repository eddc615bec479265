//! The C client (tests/c/client.c), compiled with the system C compiler
//! against ffi/include/restyle.h and linked to the built librestyle:
//! - the header's sizes, offsets and constants equal the Rust definitions
//!   (fails when restyle.h and the crate drift apart);
//! - misuse returns the documented status codes with messages;
//! - a real stylize through C with the arbitrary network and a mask;
//! - optimisation (improved and basic presets) through C with the real VGG16
//!   on a real photo: progress, cancel mid-run, time budget, colour
//!   preservation, a caller with the first (smaller) restyle_params;
//! - AdaIN through C: the PyTorch-written test weights, and the error when
//!   its files are missing.

use restyle as ffi;
use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The folder holding the cdylib cargo built for the restyle-ffi dependency.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let deps = exe.parent().expect("deps folder").to_path_buf();
    for d in [deps.clone(), deps.join("..")] {
        if d.join(libloading::library_filename("restyle")).is_file() {
            return d;
        }
    }
    panic!("librestyle not found next to {} (build restyle-ffi first)", exe.display());
}

fn compile_client(dir: &Path) -> PathBuf {
    let out = dir.join("client");
    let lib = lib_dir();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-std=c99", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-o"])
        .arg(&out)
        .arg(repo().join("tests/c/client.c"))
        .arg("-I")
        .arg(repo().join("ffi/include"))
        .arg("-L")
        .arg(&lib)
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lrestyle")
        .status()
        .unwrap_or_else(|e| panic!("cannot run the C compiler '{cc}': {e}"));
    assert!(status.success(), "compiling tests/c/client.c against restyle.h failed");
    out
}

fn run(client: &Path, args: &[&str]) -> String {
    run_with_cache(client, args, None)
}

/// Runs the client; `cache` (when given) holds its restyle and Hugging Face
/// caches, so that it sees no weights but those of the test.
fn run_with_cache(client: &Path, args: &[&str], cache: Option<&Path>) -> String {
    let mut cmd = Command::new(client);
    // The library cargo just built: cargo's own LD_LIBRARY_PATH also names
    // target/debug, where an older `cargo build` may have left another copy.
    cmd.args(args).env("LD_LIBRARY_PATH", lib_dir());
    if let Some(c) = cache {
        cmd.env("RESTYLE_CACHE_DIR", c).env("HF_HOME", c.join("hf")).env_remove("RESTYLE_WEIGHTS_DIR");
    }
    let out = cmd.output().expect("run C client");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "client {args:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    eprint!("{stdout}");
    stdout.into_owned()
}

#[test]
fn c_client_header_matches_rust_and_misuse_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let client = compile_client(dir.path());

    let layout: HashMap<String, u64> = run(&client, &["layout"])
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(k, v)| (k.to_string(), v.parse().expect("number"))))
        .collect();
    use ffi::pixels::{RestyleImage as I, RestyleMask as M};
    use ffi::RestyleParams as P;
    use ffi::video::RestyleVideoParams as V;
    let rust: Vec<(&str, u64)> = vec![
        ("sizeof.restyle_image", size_of::<I>() as u64),
        ("restyle_image.pixels", offset_of!(I, pixels) as u64),
        ("restyle_image.width", offset_of!(I, width) as u64),
        ("restyle_image.height", offset_of!(I, height) as u64),
        ("restyle_image.stride", offset_of!(I, stride) as u64),
        ("restyle_image.format", offset_of!(I, format) as u64),
        ("sizeof.restyle_mask", size_of::<M>() as u64),
        ("restyle_mask.data", offset_of!(M, data) as u64),
        ("restyle_mask.stride", offset_of!(M, stride) as u64),
        ("sizeof.restyle_params", size_of::<P>() as u64),
        ("restyle_params.struct_size", offset_of!(P, struct_size) as u64),
        ("restyle_params.method", offset_of!(P, method) as u64),
        ("restyle_params.strength", offset_of!(P, strength) as u64),
        ("restyle_params.preserve_color", offset_of!(P, preserve_color) as u64),
        ("restyle_params.working_size", offset_of!(P, working_size) as u64),
        ("restyle_params.iterations", offset_of!(P, iterations) as u64),
        ("restyle_params.seed", offset_of!(P, seed) as u64),
        ("restyle_params.device", offset_of!(P, device) as u64),
        ("restyle_params.style_path", offset_of!(P, style_path) as u64),
        ("restyle_params.style_image", offset_of!(P, style_image) as u64),
        ("restyle_params.style_weights", offset_of!(P, style_weights) as u64),
        ("restyle_params.style_weights_len", offset_of!(P, style_weights_len) as u64),
        ("restyle_params.model_path", offset_of!(P, model_path) as u64),
        ("restyle_params.progress", offset_of!(P, progress) as u64),
        ("restyle_params.progress_user_data", offset_of!(P, progress_user_data) as u64),
        ("restyle_params.max_seconds", offset_of!(P, max_seconds) as u64),
        ("sizeof.restyle_status", size_of::<ffi::Status>() as u64),
        ("sizeof.restyle_video_params", size_of::<V>() as u64),
        ("restyle_video_params.struct_size", offset_of!(V, struct_size) as u64),
        ("restyle_video_params.temporal", offset_of!(V, temporal) as u64),
        ("restyle_video_params.temporal_strength", offset_of!(V, temporal_strength) as u64),
        ("restyle_video_params.flow_preset", offset_of!(V, flow_preset) as u64),
        ("RESTYLE_TEMPORAL_FLOW", ffi::video::RESTYLE_TEMPORAL_FLOW as u64),
        ("RESTYLE_TEMPORAL_EMA", ffi::video::RESTYLE_TEMPORAL_EMA as u64),
        ("RESTYLE_TEMPORAL_NONE", ffi::video::RESTYLE_TEMPORAL_NONE as u64),
        ("RESTYLE_FLOW_DEFAULT", ffi::video::RESTYLE_FLOW_DEFAULT as u64),
        ("RESTYLE_FLOW_ULTRAFAST", ffi::video::RESTYLE_FLOW_ULTRAFAST as u64),
        ("RESTYLE_FLOW_FAST", ffi::video::RESTYLE_FLOW_FAST as u64),
        ("RESTYLE_FLOW_MEDIUM", ffi::video::RESTYLE_FLOW_MEDIUM as u64),
        ("RESTYLE_ABI_VERSION", ffi::RESTYLE_ABI_VERSION as u64),
        ("lib.abi_version", ffi::RESTYLE_ABI_VERSION as u64),
        ("RESTYLE_OK", ffi::RESTYLE_OK as u64),
        ("RESTYLE_ERR_NULL_POINTER", ffi::RESTYLE_ERR_NULL_POINTER as u64),
        ("RESTYLE_ERR_INVALID_ARGUMENT", ffi::RESTYLE_ERR_INVALID_ARGUMENT as u64),
        ("RESTYLE_ERR_UNSUPPORTED_FORMAT", ffi::RESTYLE_ERR_UNSUPPORTED_FORMAT as u64),
        ("RESTYLE_ERR_STRUCT_SIZE", ffi::RESTYLE_ERR_STRUCT_SIZE as u64),
        ("RESTYLE_ERR_IO", ffi::RESTYLE_ERR_IO as u64),
        ("RESTYLE_ERR_WEIGHTS", ffi::RESTYLE_ERR_WEIGHTS as u64),
        ("RESTYLE_ERR_DEVICE", ffi::RESTYLE_ERR_DEVICE as u64),
        ("RESTYLE_ERR_CANCELLED", ffi::RESTYLE_ERR_CANCELLED as u64),
        ("RESTYLE_ERR_UNSUPPORTED_METHOD", ffi::RESTYLE_ERR_UNSUPPORTED_METHOD as u64),
        ("RESTYLE_ERR_INTERNAL", ffi::RESTYLE_ERR_INTERNAL as u64),
        ("RESTYLE_FORMAT_RGBA8", ffi::RESTYLE_FORMAT_RGBA8 as u64),
        ("RESTYLE_FORMAT_BGRA8", ffi::RESTYLE_FORMAT_BGRA8 as u64),
        ("RESTYLE_FORMAT_RGB8", ffi::RESTYLE_FORMAT_RGB8 as u64),
        ("RESTYLE_FORMAT_RGBA16", ffi::RESTYLE_FORMAT_RGBA16 as u64),
        ("RESTYLE_FORMAT_BGRA16", ffi::RESTYLE_FORMAT_BGRA16 as u64),
        ("RESTYLE_FORMAT_RGBAF16", ffi::RESTYLE_FORMAT_RGBAF16 as u64),
        ("RESTYLE_FORMAT_RGBAF32", ffi::RESTYLE_FORMAT_RGBAF32 as u64),
        ("RESTYLE_METHOD_ARBITRARY", ffi::RESTYLE_METHOD_ARBITRARY as u64),
        ("RESTYLE_METHOD_MULTISTYLE26", ffi::RESTYLE_METHOD_MULTISTYLE26 as u64),
        ("RESTYLE_METHOD_FAST", ffi::RESTYLE_METHOD_FAST as u64),
        ("RESTYLE_METHOD_GATYS", ffi::RESTYLE_METHOD_GATYS as u64),
        ("RESTYLE_METHOD_GATYS_IMPROVED", ffi::RESTYLE_METHOD_GATYS_IMPROVED as u64),
        ("RESTYLE_METHOD_ADAIN", ffi::RESTYLE_METHOD_ADAIN as u64),
        ("RESTYLE_PRESERVE_NONE", ffi::RESTYLE_PRESERVE_NONE as u64),
        ("RESTYLE_PRESERVE_LUMINANCE", ffi::RESTYLE_PRESERVE_LUMINANCE as u64),
        ("RESTYLE_PRESERVE_HISTOGRAM", ffi::RESTYLE_PRESERVE_HISTOGRAM as u64),
        ("lib.bytes_per_pixel.1", 4),
        ("lib.bytes_per_pixel.2", 4),
        ("lib.bytes_per_pixel.3", 3),
        ("lib.bytes_per_pixel.4", 8),
        ("lib.bytes_per_pixel.5", 8),
        ("lib.bytes_per_pixel.6", 8),
        ("lib.bytes_per_pixel.7", 16),
    ];
    let mut drift = Vec::new();
    for (name, value) in &rust {
        match layout.get(*name) {
            Some(c) if c == value => {}
            other => drift.push(format!("{name}: restyle.h says {other:?}, Rust says {value}")),
        }
    }
    assert!(drift.is_empty(), "restyle.h and the Rust definitions differ:\n{}", drift.join("\n"));
    assert_eq!(layout.len(), rust.len(), "the C client reports items this test does not check");

    run(&client, &["misuse"]);
}

#[test]
fn c_client_stylizes_with_the_arbitrary_network() {
    let Some(predict) = restyle_weights::testing::real_weights("magenta-arbitrary-predict-int8.onnx") else { return };
    restyle_weights::testing::real_weights("magenta-arbitrary-transform-int8.onnx");
    let weights = predict.parent().unwrap().to_str().unwrap().to_string();
    let style = restyle_weights::testing::shared_data_dir().join("style/starry_night.jpg");
    let dir = tempfile::tempdir().unwrap();
    let client = compile_client(dir.path());
    let out = run(&client, &["stylize", &weights, style.to_str().unwrap()]);
    assert!(out.contains("all checks passed"), "{out}");
}

/// RESTYLE_WEIGHTS_DIR is a list of folders in the C ABI as on the command
/// line (one parser, in restyle-weights): `empty:real` finds the weights in
/// the second folder; a missing folder in the list is refused, named.
#[test]
fn c_client_reads_restyle_weights_dir_as_a_list() {
    let Some(predict) = restyle_weights::testing::real_weights("magenta-arbitrary-predict-int8.onnx") else { return };
    let style = restyle_weights::testing::shared_data_dir().join("style/starry_night.jpg");
    let dir = tempfile::tempdir().unwrap();
    let client = compile_client(dir.path());
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let list = std::env::join_paths([empty.as_path(), predict.parent().unwrap()]).unwrap();
    let out = Command::new(&client)
        .args(["stylize", "-", style.to_str().unwrap()])
        .env("LD_LIBRARY_PATH", lib_dir())
        .env("RESTYLE_WEIGHTS_DIR", &list)
        .env("RESTYLE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("all checks passed"), "RESTYLE_WEIGHTS_DIR={list:?}:\n{text}");
    let missing = std::env::join_paths([predict.parent().unwrap(), dir.path().join("nope").as_path()]).unwrap();
    let out = Command::new(&client)
        .args(["stylize", "-", style.to_str().unwrap()])
        .env("LD_LIBRARY_PATH", lib_dir())
        .env("RESTYLE_WEIGHTS_DIR", &missing)
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success() && text.contains("nope") && text.contains("RESTYLE_WEIGHTS_DIR"), "{text}");
}

#[test]
fn c_client_runs_optimisation_with_the_real_vgg16() {
    let Some(vgg) = restyle_weights::testing::real_weights("vgg16-keras-imagenet.onnx") else { return };
    let weights = vgg.parent().unwrap().to_str().unwrap().to_string();
    let data = restyle_weights::testing::shared_data_dir();
    let photo = restyle_core::image::load(data.join("content/tubingen.jpg")).unwrap().rgb.resize_longest(64).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("photo.rgba");
    let bytes: Vec<u8> = photo.data.chunks_exact(3).flat_map(|p| [p[0], p[1], p[2], 1.0].map(|v| (v * 255.0).round() as u8)).collect();
    std::fs::write(&raw, bytes).unwrap();
    let client = compile_client(dir.path());
    let style = data.join("style/starry_night.jpg");
    let (w, h) = (photo.width.to_string(), photo.height.to_string());
    // A fresh cache: the default VGG choice sees only the weights folder (vgg16).
    let args = ["gatys", &weights, style.to_str().unwrap(), raw.to_str().unwrap(), &w, &h];
    let out = run_with_cache(&client, &args, Some(&dir.path().join("cache")));
    assert!(out.contains("all checks passed"), "{out}");
}

#[test]
fn c_client_runs_adain_and_names_its_missing_files() {
    let fixtures = repo().join("core/tests/fixtures/adain");
    let style = restyle_weights::testing::shared_data_dir().join("style/starry_night.jpg");
    let dir = tempfile::tempdir().unwrap();
    let client = compile_client(dir.path());
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let cache = dir.path().join("cache");
    let out = run_with_cache(&client, &["adain-missing", empty.to_str().unwrap(), style.to_str().unwrap()], Some(&cache));
    assert!(out.contains("all checks passed"), "{out}");
    // The test network (PyTorch-written, widths /16) under its upstream file names.
    let out = run_with_cache(&client, &["adain", fixtures.to_str().unwrap(), style.to_str().unwrap()], Some(&cache));
    assert!(out.contains("all checks passed"), "{out}");
}

/// A video stream through C with the embedded fast network (no weight
/// files): sensor-noise flicker damped against per-frame stylization, the
/// first frame and RESTYLE_TEMPORAL_NONE equal to per-frame, misuse (NULLs,
/// a Gatys method, bad codes, a size change mid-stream, an unknown format)
/// returns statuses with the frame and the stream's state unchanged.
#[test]
fn c_client_runs_a_video_stream() {
    let dir = tempfile::tempdir().unwrap();
    let client = compile_client(dir.path());
    let out = run(&client, &["video", dir.path().to_str().unwrap()]);
    assert!(out.contains("all checks passed"), "{out}");
}
