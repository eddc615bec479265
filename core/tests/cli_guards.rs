//! `restyle stylize` with hostile input (issue 19): over-large sizes and
//! decompression bombs are refused with the memory they would need, never
//! an abort; truncated images, bad outputs and too-small sizes are clear
//! errors before any work; non-UTF-8 names keep their bytes; Ctrl-C saves a
//! partial result to a separate output and exits 130.

use restyle_core::image::{self, Picture, RgbImage};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn restyle() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_restyle"));
    c.env("RUST_BACKTRACE", "0").env_remove(restyle_core::budget::ENV).env("HF_ENDPOINT", "http://127.0.0.1:9");
    c
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Failed with an error message, not killed by a signal (an abort).
fn assert_clean_failure(o: &Output) {
    assert_eq!(o.status.code(), Some(1), "expected exit status 1, got {:?}: {}", o.status, text(o));
}

/// A small picture file (gradient) of `w × h`.
fn picture(path: &Path, w: usize, h: usize) {
    let data = (0..w * h).flat_map(|i| [(i % w) as f32 / w as f32, (i / w) as f32 / h as f32, 0.5]).collect();
    image::save(&Picture::from_rgb(RgbImage::new(w, h, data).unwrap()), path).unwrap();
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    v
}

#[test]
fn over_large_working_size_is_refused_with_the_estimate_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("photo.png");
    picture(&content, 120, 80);
    let out = tmp.path().join("out.png");
    // The embedded fast network: no weights needed.
    let o = restyle().args(["stylize"]).arg(&content).args(["--size", "100000", "-o"]).arg(&out).output().unwrap();
    assert_clean_failure(&o);
    let t = text(&o);
    assert!(t.contains("100000×66667") && t.contains("GiB") && t.contains("more than the limit") && t.contains("RESTYLE_MAX_MEMORY"), "{t}");
    assert!(!out.exists());
    // The limit is configurable: a 1 MiB budget refuses even a small size.
    let o = restyle().env(restyle_core::budget::ENV, "1M").args(["stylize"]).arg(&content).args(["--size", "64", "-o"]).arg(&out).output().unwrap();
    assert_clean_failure(&o);
    assert!(text(&o).contains("limit of 1.0 MiB"), "{}", text(&o));
    let o = restyle().env(restyle_core::budget::ENV, "lots").args(["stylize"]).arg(&content).arg("-o").arg(&out).output().unwrap();
    assert_clean_failure(&o);
    assert!(text(&o).contains("RESTYLE_MAX_MEMORY=lots"), "{}", text(&o));
}

#[test]
fn over_large_style_size_is_refused_not_an_abort() {
    let Some(predict) = restyle_weights::testing::real_weights("magenta-arbitrary-predict-int8.onnx") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (content, style) = (tmp.path().join("photo.png"), tmp.path().join("style.png"));
    picture(&content, 120, 80);
    picture(&style, 64, 64);
    let out = tmp.path().join("out.png");
    let o = restyle()
        .args(["stylize"])
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .args(["--style-size", "100000", "--weights-dir"])
        .arg(predict.parent().unwrap())
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_clean_failure(&o);
    let t = text(&o);
    assert!(t.contains("style seen at 100000×100000") && t.contains("more than the limit"), "{t}");
    assert!(!out.exists());
    // The same size for a saved style vector.
    let v = tmp.path().join("v.json");
    let o = restyle()
        .arg("style-vector")
        .arg(&style)
        .args(["--style-size", "100000", "--weights-dir"])
        .arg(predict.parent().unwrap())
        .arg("-o")
        .arg(&v)
        .output()
        .unwrap();
    assert_clean_failure(&o);
    assert!(text(&o).contains("seen at 100000×100000") && text(&o).contains("more than the limit"), "{}", text(&o));
    assert!(!v.exists());
}

/// A PNG declaring `w × h` grey pixels, all zero, as tightly compressed as
/// zlib allows.
fn png_bomb(w: u32, h: u32) -> Vec<u8> {
    use std::io::Write;
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend((data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend(kind);
        out.extend(data);
        let mut crc = flate2::Crc::new();
        crc.update(&out[start..]);
        out.extend(crc.sum().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr: Vec<u8> = w.to_be_bytes().into_iter().chain(h.to_be_bytes()).chain([8, 0, 0, 0, 0]).collect();
    chunk(&mut out, b"IHDR", &ihdr);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let row = vec![0u8; w as usize + 1];
    for _ in 0..h {
        z.write_all(&row).unwrap();
    }
    chunk(&mut out, b"IDAT", &z.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn png_bomb_is_refused_from_its_header() {
    let tmp = tempfile::tempdir().unwrap();
    let bomb = tmp.path().join("bomb.png");
    let bytes = png_bomb(16000, 16000);
    assert!(bytes.len() < 400_000);
    std::fs::write(&bomb, &bytes).unwrap();
    let out = tmp.path().join("out.png");
    // Under the 256 Mpx cap; 16000² px × 48 B ≈ 11.4 GiB in the pipeline.
    let o = restyle().env(restyle_core::budget::ENV, "4G").arg("stylize").arg(&bomb).arg("-o").arg(&out).output().unwrap();
    assert_clean_failure(&o);
    let t = text(&o);
    assert!(t.contains("bomb.png") && t.contains("16000×16000") && t.contains("11.4 GiB") && t.contains("limit of 4.0 GiB"), "{t}");
    assert!(!out.exists());
}

#[test]
fn truncated_jpeg_is_refused() {
    let photo = restyle_weights::testing::shared_data_dir().join("content/chicago.jpg");
    let Ok(bytes) = std::fs::read(&photo) else {
        eprintln!("SKIPPED: {} not found", photo.display());
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.jpg");
    std::fs::write(&cut, &bytes[..bytes.len() * 4 / 10]).unwrap();
    let o = restyle().arg("stylize").arg(&cut).output().unwrap();
    assert_clean_failure(&o);
    assert!(text(&o).contains("cut.jpg") && text(&o).contains("truncated"), "{}", text(&o));
    assert_eq!(files_in(tmp.path()), vec![cut]);
}

#[test]
fn the_output_is_checked_before_anything_is_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let (content, style) = (tmp.path().join("photo.png"), tmp.path().join("style.png"));
    picture(&content, 64, 48);
    picture(&style, 64, 64);
    let before = std::fs::read(&content).unwrap();
    // Gatys would load VGG ("loss network: …") and optimise for minutes
    // before finding out; the weights folder does not even exist.
    let run = |out: &Path| {
        restyle()
            .arg("stylize")
            .arg(&content)
            .arg("--style")
            .arg(&style)
            .args(["--method", "gatys", "--weights-dir", "/nonexistent/weights", "-o"])
            .arg(out)
            .output()
            .unwrap()
    };
    let cases: [(PathBuf, &str); 5] = [
        (tmp.path().join("out.xyz"), "unknown output format '.xyz'"),
        (tmp.path().to_path_buf(), "is an existing folder"),
        (tmp.path().join("missing/out.png"), "does not exist"),
        (tmp.path().join("sub/../photo.png"), "never writes over its inputs"),
        (tmp.path().join("style.png"), "never writes over its inputs"),
    ];
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    for (out, expected) in cases {
        let o = run(&out);
        assert_clean_failure(&o);
        let t = text(&o);
        assert!(t.contains(expected) && !t.contains("loss network") && !t.contains("weights"), "{}: {t}", out.display());
        assert!(!t.contains("unknown output format") || expected.contains("unknown output format"), "{t}");
    }
    assert_eq!(std::fs::read(&content).unwrap(), before);
    assert_eq!(files_in(tmp.path()), vec![content, tmp.path().join("style.png"), tmp.path().join("sub")]);
}

#[cfg(unix)]
#[test]
fn non_utf8_names_get_lossless_default_outputs() {
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let tmp = tempfile::tempdir().unwrap();
    let names = [b"caf\xe9.png".to_vec(), b"caf\xe8.png".to_vec()];
    for name in &names {
        let content = tmp.path().join(std::ffi::OsString::from_vec(name.clone()));
        if std::fs::write(&content, b"").is_err() {
            eprintln!("SKIPPED: this file system refuses non-UTF-8 names");
            return;
        }
        picture(&content, 32, 24);
        let o = restyle().arg("stylize").arg(&content).output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let mut outputs: Vec<Vec<u8>> = files_in(tmp.path())
        .iter()
        .map(|p| p.file_name().unwrap().as_bytes().to_vec())
        .filter(|n| n.ends_with(b"-stylized.png"))
        .collect();
    outputs.sort();
    assert_eq!(outputs, vec![b"caf\xe8-stylized.png".to_vec(), b"caf\xe9-stylized.png".to_vec()]);
}

/// The VGG16 loss network's folder, when the real weights are at hand.
fn vgg_dir() -> Option<PathBuf> {
    Some(restyle_weights::testing::real_weights("vgg16-keras-imagenet.onnx")?.parent()?.to_path_buf())
}

#[test]
fn gatys_working_size_below_its_minimum_says_the_minimum() {
    let Some(weights) = vgg_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (content, style) = (tmp.path().join("photo.png"), tmp.path().join("style.png"));
    picture(&content, 60, 40);
    picture(&style, 64, 64);
    let o = restyle()
        .arg("stylize")
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .args(["--method", "gatys", "--size", "1", "--iterations", "1", "--weights-dir"])
        .arg(&weights)
        .arg("-o")
        .arg(tmp.path().join("out.png"))
        .output()
        .unwrap();
    assert_clean_failure(&o);
    let t = text(&o);
    assert!(t.contains("too small") && t.contains("at least 16 px") && t.contains("--size) of at least 24"), "{t}");
    assert!(!t.contains("kernel-size"), "{t}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_gatys_saves_a_partial_result_and_exits_130() {
    use std::io::{BufRead, BufReader};
    let Some(weights) = vgg_dir() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (content, style) = (tmp.path().join("photo.png"), tmp.path().join("style.png"));
    picture(&content, 48, 32);
    picture(&style, 48, 48);
    let before = std::fs::read(&content).unwrap();
    let out = tmp.path().join("out.png");
    let mut child = restyle()
        .arg("stylize")
        .arg(&content)
        .arg("--style")
        .arg(&style)
        .args(["--method", "gatys", "--iterations", "100000", "--weights-dir"])
        .arg(&weights)
        .arg("-o")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    // The first progress line comes after the Ctrl-C handler is installed.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let started = line.starts_with("optimise ");
        seen.push(line);
        if started {
            break;
        }
    }
    assert!(seen.last().is_some_and(|l| l.starts_with("optimise ")), "{seen:?}");
    // The real signal, as the terminal sends it.
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    seen.extend(lines.map(|l| l.unwrap()));
    let status = child.wait().unwrap();
    let t = seen.join("\n");
    assert_eq!(status.code(), Some(130), "{t}");
    assert!(t.contains("interrupted after") && t.contains("iterations: wrote partial result") && t.contains("out.png"), "{t}");
    assert!(!t.lines().any(|l| l.starts_with("wrote ")), "{t}");
    assert!(image::load(&out).is_ok());
    assert_eq!(std::fs::read(&content).unwrap(), before);
}

#[test]
fn absurd_sizes_are_errors_not_overflows() {
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("photo.png");
    picture(&content, 64, 48);
    for size in ["18446744073709551615", "4294967295"] {
        for flag in ["--size", "--tile"] {
            let o = restyle().arg("stylize").arg(&content).args([flag, size, "-o"]).arg(tmp.path().join("out.png")).output().unwrap();
            if flag == "--size" {
                assert_clean_failure(&o);
                assert!(text(&o).contains("more than the limit"), "{}", text(&o));
            } else {
                // A tile larger than the picture: it runs in one piece.
                assert!(o.status.success(), "{flag} {size}: {}", text(&o));
            }
        }
    }
}
