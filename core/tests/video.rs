//! Video: the occlusion mask on a synthetic occluder, and end-to-end runs
//! of `restyle video` through ffmpeg (round trips with frame count, size,
//! rate and audio checked by ffprobe; a cancelled run; a file that is not a
//! video; no ffmpeg on PATH). Small frames, the embedded fast network:
//! nothing downloaded. Tests that need ffmpeg skip without it, except with
//! RESTYLE_REQUIRE_REAL_WEIGHTS=1 (CI), where they fail.

use restyle_core::image::RgbImage;
use restyle_core::method::{self, MethodKind, MethodOptions, MethodSpec};
use restyle_core::progress::Control;
use restyle_core::request::Request;
use restyle_core::stylize::Stylizer;
use restyle_core::video::ffmpeg::{self, Clip, Decoder, EncodeOptions, Encoder};
use restyle_core::video::flow::{dis, FlowPreset, Gray};
use restyle_core::video::pipeline;
use restyle_core::video::temporal::TemporalOptions;
use restyle_core::video::warp::consistent;
use std::path::{Path, PathBuf};
use std::process::Command;

const CARPHONE: &str = "../../shared/data/video/carphone_pristine.mp4";

fn has_ffmpeg() -> bool {
    let ok = |t: &str| Command::new(t).arg("-version").output().is_ok_and(|o| o.status.success());
    if ok("ffmpeg") && ok("ffprobe") {
        return true;
    }
    if std::env::var("RESTYLE_REQUIRE_REAL_WEIGHTS").is_ok_and(|v| v == "1") {
        panic!("ffmpeg/ffprobe not on PATH (RESTYLE_REQUIRE_REAL_WEIGHTS=1: .ci/run installs them)");
    }
    eprintln!("skipped: ffmpeg not on PATH");
    false
}

fn restyle(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_restyle")).args(args).output().expect("run restyle")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// ffprobe's view of a file: (video frames, width, height, rate, has audio, audio duration).
fn probe(p: &Path) -> (u64, u64, u64, String, bool) {
    let o = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-print_format", "json", "-show_streams"])
        .arg(p)
        .output()
        .expect("ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("ffprobe json");
    let streams = v["streams"].as_array().expect("streams");
    let video = streams.iter().find(|s| s["codec_type"] == "video").expect("a video stream");
    let n = |x: &serde_json::Value| x.as_u64().or_else(|| x.as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
    (
        n(&video["nb_read_frames"]),
        n(&video["width"]),
        n(&video["height"]),
        video["r_frame_rate"].as_str().unwrap_or("").to_string(),
        streams.iter().any(|s| s["codec_type"] == "audio"),
    )
}

/// A 1 s test clip made by ffmpeg: testsrc2 at 25 fps with a sine tone.
fn test_clip(dir: &Path, w: usize, h: usize) -> PathBuf {
    let p = dir.join("clip.mp4");
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-y", "-f", "lavfi", "-i", &format!("testsrc2=size={w}x{h}:rate=25:duration=1")])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest"])
        .arg(&p)
        .status()
        .expect("ffmpeg");
    assert!(st.success());
    p
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// A square of its own texture moves over a still background: the
/// background it uncovers has no match in the previous frame and is masked
/// out; the still background far from it is kept.
#[test]
fn occlusion_mask_on_a_moving_occluder() {
    let (w, h, side, step) = (160usize, 120usize, 40usize, 8usize);
    let bg = |x: f32, y: f32| 127.0 + 50.0 * ((0.21 * x).sin() * (0.17 * y).cos() + 0.5 * (0.07 * x + 0.11 * y).sin());
    let fg = |x: f32, y: f32| 127.0 + 60.0 * (0.5 * x).cos() * (0.45 * y).sin();
    let frame = |x0: usize| {
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                let inside = x >= x0 && x < x0 + side && y >= 40 && y < 40 + side;
                data.push(if inside { fg((x - x0) as f32, y as f32) } else { bg(x as f32, y as f32) });
            }
        }
        Gray { width: w, height: h, data }
    };
    let (f0, f1) = (frame(50), frame(50 + step));
    let p = FlowPreset::Medium.params();
    let (bwd, fwd) = (dis(&f1, &f0, &p).unwrap(), dis(&f0, &f1, &p).unwrap());
    let mask = consistent(&bwd, &fwd); // on frame 1
    let mean = |xs: std::ops::Range<usize>, ys: std::ops::Range<usize>| {
        let n = xs.len() * ys.len();
        ys.flat_map(|y| xs.clone().map(move |x| (x, y))).map(|(x, y)| mask[y * w + x]).sum::<f32>() / n as f32
    };
    let uncovered = mean(50..50 + step, 44..76);
    let far = mean(4..30, 4..30);
    assert!(uncovered < 0.5, "uncovered background kept: {uncovered}");
    assert!(far > 0.9, "still background masked: {far}");
}

#[test]
fn round_trip_keeps_frames_size_rate_and_audio() {
    if !has_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = test_clip(dir.path(), 96, 64);
    let out = dir.path().join("out.mp4");
    let o = restyle(&["video", s(&clip), "--method", "fast", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(probe(&out), (25, 96, 64, "25/1".into(), true));
    // ema and a webm container (opus audio: the AAC is re-encoded).
    let webm = dir.path().join("out.webm");
    let o = restyle(&["video", s(&clip), "--method", "fast", "--temporal", "ema", "--temporal-strength", "0.5", "--duration", "0.4", "-o", s(&webm)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(probe(&webm), (10, 96, 64, "25/1".into(), true));
    assert_eq!(files_in(dir.path()), ["clip.mp4", "out.mp4", "out.webm"]);
}

/// `--start` with audio into Matroska: a copied audio stream would begin
/// at a packet before the start (Matroska keeps that preroll) and push the
/// video 0.4 s late; the frames and the audio must both start at 0.
#[test]
fn a_clip_from_the_middle_starts_at_zero_with_its_audio() {
    if !has_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = test_clip(dir.path(), 96, 64);
    let out = dir.path().join("mid.mkv");
    let o = restyle(&["video", s(&clip), "--method", "fast", "--start", "0.4", "--duration", "0.4", "--codec", "ffv1", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(probe(&out), (10, 96, 64, "25/1".into(), true));
    let o = Command::new("ffprobe").args(["-v", "error", "-print_format", "json", "-show_streams", "-show_format"]).arg(&out).output().expect("ffprobe");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("ffprobe json");
    let secs = |x: &serde_json::Value| x.as_str().and_then(|s| s.parse::<f64>().ok()).expect("a time");
    for st in v["streams"].as_array().expect("streams") {
        assert!(secs(&st["start_time"]).abs() < 0.05, "{} starts at {}", st["codec_type"], st["start_time"]);
    }
    let d = secs(&v["format"]["duration"]);
    assert!((d - 0.4).abs() < 0.1, "duration {d} s for --duration 0.4");
}

#[test]
fn carphone_round_trip_at_an_odd_size() {
    if !has_ffmpeg() {
        return;
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join(CARPHONE);
    if !src.is_file() {
        assert!(std::env::var("RESTYLE_REQUIRE_REAL_WEIGHTS").map_or(true, |v| v != "1"), "{} missing", src.display());
        eprintln!("skipped: {} missing", src.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("car.mkv");
    // 176×144 → 63×52 → 62×52 (4:2:0 needs even sizes).
    let o = restyle(&["video", s(&src), "--method", "fast", "--resize", "63", "--flow-preset", "fast", "-o", s(&out)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(probe(&out), (120, 62, 52, "30000/1001".into(), false));
}

/// Cancelled after 5 frames: the file is finished properly and playable.
#[test]
fn a_cancelled_run_leaves_a_playable_partial_file() {
    if !has_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let clip = test_clip(dir.path(), 64, 48);
    let out = dir.path().join("partial.mp4");
    let info = ffmpeg::probe(&clip).unwrap();
    assert!(info.has_audio && (info.width, info.height) == (64, 48) && (info.rate.fps() - 25.0).abs() < 1e-9);
    let spec = MethodSpec::new(MethodKind::Fast, &MethodOptions::default()).unwrap();
    let device = candle_core::Device::Cpu;
    let stylizer = Stylizer::new(method::load(spec, &Default::default(), &device).unwrap(), device);
    let dec = Decoder::open(&clip, &info, &Clip::default(), 64, 48).unwrap();
    let enc = Encoder::create(&out, &clip, &info, &Clip::default(), 64, 48, &EncodeOptions::default()).unwrap();
    let mut cancel = |p: &pipeline::FrameProgress| if p.frames >= 5 { Control::Cancel } else { Control::Continue };
    let r = pipeline::run(Box::new(dec), Box::new(enc), &stylizer, &Request::default(), TemporalOptions::default(), Some(25), &mut cancel).unwrap();
    assert!(r.partial && r.frames == 5, "{r:?}");
    let (frames, w, h, _, audio) = probe(&out);
    assert_eq!((frames, w, h, audio), (5, 64, 48, true));
    assert_eq!(files_in(dir.path()), ["clip.mp4", "partial.mp4"]);
    // A failing stage (frames of the wrong size) leaves nothing behind.
    struct Wrong;
    impl pipeline::FrameSource for Wrong {
        fn next_frame(&mut self) -> restyle_core::Result<Option<RgbImage>> {
            Ok(Some(RgbImage { width: 10, height: 10, data: vec![0.5; 300] }))
        }
        fn finish(self: Box<Self>) -> restyle_core::Result<String> {
            Ok(String::new())
        }
    }
    let bad = dir.path().join("bad.mp4");
    let enc = Encoder::create(&bad, &clip, &info, &Clip::default(), 64, 48, &EncodeOptions::default()).unwrap();
    let e = pipeline::run(Box::new(Wrong), Box::new(enc), &stylizer, &Request::default(), TemporalOptions::default(), None, &mut |_| Control::Continue);
    assert!(e.unwrap_err().to_string().contains("10×10"));
    assert_eq!(files_in(dir.path()), ["clip.mp4", "partial.mp4"]);
}

#[test]
fn a_file_that_is_not_a_video_or_is_truncated_is_a_clear_error() {
    if !has_ffmpeg() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("fake.mp4");
    std::fs::write(&fake, b"this is not a video").unwrap();
    let out = dir.path().join("out.mp4");
    let o = restyle(&["video", s(&fake), "--method", "fast", "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is not a video"), "{err}");
    // A still image is not a video either.
    let png = dir.path().join("still.png");
    restyle_core::image::save(&restyle_core::image::Picture::from_rgb(RgbImage { width: 8, height: 8, data: vec![0.5; 192] }), &png).unwrap();
    let o = restyle(&["video", s(&png), "--method", "fast", "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("still image"), "{err}");
    // A truncated video (its index, at the end, cut off).
    let clip = test_clip(dir.path(), 64, 48);
    let bytes = std::fs::read(&clip).unwrap();
    let cut = dir.path().join("cut.mp4");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    std::fs::remove_file(&clip).unwrap();
    let o = restyle(&["video", s(&cut), "--method", "fast", "-o", s(&out)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("is not a video"), "{err}");
    assert_eq!(files_in(dir.path()), ["cut.mp4", "fake.mp4", "still.png"]);
}

#[test]
fn no_ffmpeg_on_path_says_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mp4");
    std::fs::write(&clip, b"whatever").unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_restyle"))
        .args(["video", s(&clip), "--method", "fast", "-o", s(&dir.path().join("out.mp4"))])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("not found") && err.contains("apt-get install ffmpeg"), "{err}");
    assert!(!dir.path().join("out.mp4").exists());
}
