//! Live streams: `restyle video - -o -` with raw rgb24 frames through real
//! pipes (the embedded fast network, synthetic moving frames: nothing
//! downloaded), and the core's one-frame-at-a-time `VideoStream` that the
//! CLI's live mode and the C ABI share.
//!
//! Dropping frames is asserted without timing: a producer that writes all
//! its frames and closes stdin *before the test reads one byte of output*
//! can only finish if restyle keeps reading its input while its output
//! waits (nothing queues behind a slow reader), and then at most the
//! frames that fit in the stdout pipe plus the newest frame come out.

use restyle_core::image::RgbImage;
use restyle_core::method::{self, MethodKind, MethodOptions, MethodSpec};
use restyle_core::request::Request;
use restyle_core::stylize::Stylizer;
use restyle_core::video::raw;
use restyle_core::video::stream::VideoStream;
use restyle_core::video::temporal::{TemporalMode, TemporalOptions};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A textured pattern moved `i` px to the right (a panning camera).
fn frame_bytes(w: usize, h: usize, i: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * 3);
    for y in 0..h {
        for x in 0..w {
            let xf = x as f32 - i as f32;
            let v = 0.5 + 0.35 * (0.31 * xf).sin() * (0.23 * y as f32).cos();
            for c in [v, 0.7 * v + 0.2, 1.0 - v] {
                out.push((c * 255.0).round() as u8);
            }
        }
    }
    out
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_restyle"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run restyle")
}

fn stderr_of(child: &mut Child) -> std::thread::JoinHandle<String> {
    let mut err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    })
}

/// `live: R frames read, W written, D dropped` from restyle's last words.
fn summary(stderr: &str) -> (usize, usize, usize) {
    let line = stderr.lines().rev().find_map(|l| l.trim_start_matches('\r').split("live: ").nth(1)).unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    let n: Vec<usize> = line.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect();
    (n[0], n[1], n[2])
}

/// Lock step (a frame in, wait for its output, the next frame in): never
/// overloaded, so every frame comes out, at the input's size.
#[test]
fn a_stream_round_trip_through_pipes_returns_every_frame() {
    let (w, h, n) = (40, 30, 6);
    let mut child = spawn(&["video", "-", "--input-size", "40x30", "-o", "-"]);
    let err = stderr_of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut outs = Vec::new();
    for i in 0..n {
        stdin.write_all(&frame_bytes(w, h, i)).unwrap();
        stdin.flush().unwrap();
        let mut out = vec![0u8; w * h * 3];
        stdout.read_exact(&mut out).unwrap_or_else(|e| panic!("frame {i} did not come back: {e}"));
        outs.push(out);
    }
    drop(stdin);
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    assert!(child.wait().unwrap().success());
    let err = err.join().unwrap();
    assert!(rest.is_empty(), "{} bytes more than {n} frames", rest.len());
    assert_eq!(summary(&err), (n, n, 0), "{err}");
    // Stylized, not passed through, and not all the same frame.
    assert!(outs.iter().enumerate().all(|(i, o)| *o != frame_bytes(w, h, i)));
    assert!(outs.windows(2).all(|p| p[0] != p[1]));
}

/// A fast producer and a consumer that reads nothing until the producer is
/// done: frames are dropped, the producer never blocks, and what comes out
/// is bounded by the stdout pipe, the newest frame last.
#[test]
fn a_slow_consumer_makes_restyle_drop_frames_not_queue_them() {
    let (w, h, n) = (96, 64, 80); // 18 KiB frames: ~3.5 fit in a 64 KiB pipe
    let frame = w * h * 3;
    // Per frame (temporal none), so the last output can be compared with a
    // run on the last frame alone.
    let mut child = spawn(&["video", "-", "--input-size", "96x64", "--temporal", "none", "-o", "-"]);
    let err = stderr_of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let producer = std::thread::spawn(move || {
        for i in 0..n {
            stdin.write_all(&frame_bytes(w, h, i)).unwrap();
        }
        // stdin closes here: the end of the stream.
    });
    // A deadlock guard, not a speed check: 1.4 MB into a pipe restyle drains.
    let start = Instant::now();
    while !producer.is_finished() {
        assert!(start.elapsed() < Duration::from_secs(120), "the producer is blocked: restyle queues instead of dropping");
        std::thread::sleep(Duration::from_millis(20));
    }
    producer.join().unwrap();
    let mut out = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut out).unwrap();
    assert!(child.wait().unwrap().success());
    let err = err.join().unwrap();
    let (read, written, dropped) = summary(&err);
    assert_eq!(out.len(), written * frame, "whole frames only");
    assert_eq!((read, written + dropped), (n, n), "{err}");
    // While nothing was read, only what fits in the pipe (64 KiB on Linux)
    // plus the frame being written, the frame in work and the newest one.
    let bound = 65536 / frame + 3;
    // (At least one: all 80 may have arrived before the first was taken.)
    assert!(written >= 1 && written <= bound && dropped > 0, "{written} frames written (bound {bound}), {dropped} dropped");
    assert!(err.contains("dropped)"), "the progress line shows the drops:\n{err}");
    // The newest frame is always stylized: the last output is frame n−1's.
    let mut alone = spawn(&["video", "-", "--input-size", "96x64", "--temporal", "none", "-o", "-"]);
    let alone_err = stderr_of(&mut alone);
    alone.stdin.take().unwrap().write_all(&frame_bytes(w, h, n - 1)).unwrap();
    let mut last = Vec::new();
    alone.stdout.take().unwrap().read_to_end(&mut last).unwrap();
    assert!(alone.wait().unwrap().success(), "{}", alone_err.join().unwrap());
    assert_eq!(&out[out.len() - frame..], &last[..], "the last frame out is not the stylized last frame in");
}

#[test]
fn a_bad_input_size_is_refused_before_reading() {
    for (size, why) in [("64", "no 'x'"), ("0x48", "positive"), ("wide", "no 'x'"), ("64xq", "not a whole number"), ("99999x10", "above")] {
        let out = Command::new(env!("CARGO_BIN_EXE_restyle"))
            .args(["video", "-", "--input-size", size, "-o", "-"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{size}: {err}");
        assert!(err.contains("--input-size") && err.contains(why) && err.contains("WIDTHxHEIGHT"), "{size}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_restyle")).args(["video", "-", "-o", "-"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("--input-size WIDTHxHEIGHT"));
}

/// A stream cut inside a frame (or a wrong --input-size): the whole frames
/// before it are stylized and written, then restyle exits 1 saying how many
/// bytes of the last frame came.
#[test]
fn a_stream_cut_inside_a_frame_writes_the_whole_frames_then_fails() {
    let (w, h) = (40, 30);
    let mut child = spawn(&["video", "-", "--input-size", "40x30", "-o", "-"]);
    let err = stderr_of(&mut child);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = Vec::new();
    // Lock step for the two whole frames (so none is dropped), then half a frame.
    for i in 0..2 {
        stdin.write_all(&frame_bytes(w, h, i)).unwrap();
        let mut out = vec![0u8; w * h * 3];
        stdout.read_exact(&mut out).unwrap();
        got.extend(out);
    }
    stdin.write_all(&frame_bytes(w, h, 2)[..1000]).unwrap();
    drop(stdin);
    stdout.read_to_end(&mut got).unwrap();
    let status = child.wait().unwrap();
    let err = err.join().unwrap();
    assert_eq!(status.code(), Some(1), "{err}");
    assert_eq!(got.len(), 2 * w * h * 3);
    assert!(err.contains("stdin ended inside a frame: 1000 of the 3600 bytes of a 40×30 rgb24 frame"), "{err}");
}

#[test]
fn a_missing_camera_is_a_clear_error() {
    if !Command::new("ffprobe").arg("-version").output().is_ok_and(|o| o.status.success()) {
        assert!(std::env::var("RESTYLE_REQUIRE_REAL_WEIGHTS").map_or(true, |v| v != "1"), "ffprobe not on PATH");
        eprintln!("skipped: ffmpeg not on PATH");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_restyle")).args(["video", "--camera", "/dev/restyle-no-camera", "-o", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("cannot open the camera /dev/restyle-no-camera"), "{err}");
    assert!(out.stdout.is_empty());
}

fn fast() -> Stylizer {
    let spec = MethodSpec::new(MethodKind::Fast, &MethodOptions::default()).unwrap();
    let device = candle_core::Device::Cpu;
    Stylizer::new(method::load(spec, &Default::default(), &device).unwrap(), device)
}

fn image(w: usize, h: usize, i: usize) -> RgbImage {
    raw::to_image(&frame_bytes(w, h, i), w, h)
}

fn mean_abs(a: &RgbImage, b: &RgbImage) -> f32 {
    a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.data.len() as f32
}

/// The core's stream: a static scene converges (each output changes less
/// than the last), the outputs move away from per-frame stylization
/// towards the running blend; a frame of another size is refused and the
/// stream goes on as before.
#[test]
fn the_core_stream_keeps_temporal_state_and_refuses_a_size_change() {
    let stylizer = fast();
    let (w, h) = (48, 36);
    let src = image(w, h, 0);
    let per_frame = stylizer.stylize(&restyle_core::image::Picture::from_rgb(src.clone()), &Request::default(), &mut restyle_core::progress::silent()).unwrap().picture.rgb;
    let mut s = VideoStream::new(&stylizer, &Request::default(), TemporalOptions::default()).unwrap();
    let first = s.frame(&stylizer, &src).unwrap();
    // The first frame has no history: per-frame stylization itself.
    assert_eq!(first.data, per_frame.data);
    let e = s.frame(&stylizer, &image(w + 2, h, 1)).err().map(|e| e.to_string()).expect("size change refused");
    assert!(e.contains("50×36") && e.contains("48×36"), "{e}");
    assert_eq!(s.frames(), 1);
    // The same frame again: the network is deterministic, so the blend of
    // equal frames stays equal (no drift).
    let again = s.frame(&stylizer, &src).unwrap();
    assert!(mean_abs(&again, &per_frame) < 1e-4, "a static scene drifts: {}", mean_abs(&again, &per_frame));
    // A moving scene: the blended output differs from per-frame stylization
    // of the same frame (the warped history is mixed in) …
    let moved = image(w, h, 1);
    let moved_alone = stylizer.stylize(&restyle_core::image::Picture::from_rgb(moved.clone()), &Request::default(), &mut restyle_core::progress::silent()).unwrap().picture.rgb;
    let out = s.frame(&stylizer, &moved).unwrap();
    let blended = mean_abs(&out, &moved_alone);
    assert!(blended > 1e-3, "no temporal blending: {blended}");
    // … and `none` is per-frame stylization exactly.
    let mut none = VideoStream::new(&stylizer, &Request::default(), TemporalOptions { mode: TemporalMode::None, ..Default::default() }).unwrap();
    none.frame(&stylizer, &src).unwrap();
    assert_eq!(none.frame(&stylizer, &moved).unwrap().data, moved_alone.data);
    assert_eq!(s.frames(), 3);
}

fn adain_fixture() -> Stylizer {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/adain");
    let net = restyle_core::method::open::adain_files(&dir.join("vgg_normalised.pth"), &dir.join("decoder.pth"), &candle_core::Device::Cpu)
        .expect("the PyTorch-written AdaIN test network");
    let opts = restyle_core::models::adain::Options { style_size: 40, ..Default::default() };
    Stylizer::new(restyle_core::method::Method::AdaIN(Box::new(net), opts), candle_core::Device::Cpu)
}

/// AdaIN in a video: the style statistics are computed once, when the
/// stream is made — the request every frame gets holds them and no style
/// image, so no frame can encode a style — and the frames equal the image
/// path (style images, statistics computed per call) exactly, for a blend
/// of two styles.
#[test]
fn adain_style_statistics_are_computed_once_per_video_with_image_parity() {
    use restyle_core::image::Picture;
    use restyle_core::request::StyleImage;
    let stylizer = adain_fixture();
    let styles = vec![StyleImage { image: image(52, 44, 3), weight: 3.0 }, StyleImage { image: image(40, 60, 17), weight: 1.0 }];
    let styles: Vec<StyleImage> = styles
        .into_iter()
        .map(|mut s| {
            // Distinct colours per style (the textures differ only by shift).
            s.image.data.iter_mut().enumerate().for_each(|(i, v)| *v = (*v * if i % 3 == 0 { 0.4 } else { 1.0 }).min(1.0));
            s
        })
        .collect();
    let request = Request { styles: styles.clone(), strength: 0.8, ..Default::default() };
    let none = TemporalOptions { mode: TemporalMode::None, ..Default::default() };
    let mut stream = VideoStream::new(&stylizer, &request, none).unwrap();
    let per_frame = stream.request();
    assert!(per_frame.styles.is_empty(), "the per-frame request still carries style images");
    let stats = per_frame.style_stats.clone().expect("precomputed statistics");
    assert_eq!(stats.len(), 2 * 32, "mean and std of the test network's 32 relu4_1 channels");
    for i in 0..3 {
        let frame = image(44, 36, 2 * i);
        let streamed = stream.frame(&stylizer, &frame).unwrap();
        let alone = stylizer.stylize(&Picture::from_rgb(frame), &request, &mut restyle_core::progress::silent()).unwrap().picture.rgb;
        assert_eq!(streamed.data, alone.data, "frame {i}: the precomputed statistics differ from the image path");
    }
    // The statistics path is AdaIN's only; a wrong length is a clear error.
    let e = fast().stylize(&Picture::from_rgb(image(32, 32, 0)), &Request { style_stats: Some(stats.clone()), ..Default::default() }, &mut restyle_core::progress::silent());
    assert!(e.err().unwrap().to_string().contains("statistics"));
    let short = Request { style_stats: Some(stats[..10].to_vec()), ..Default::default() };
    let e = stylizer.stylize(&Picture::from_rgb(image(32, 32, 0)), &short, &mut restyle_core::progress::silent()).err().unwrap().to_string();
    assert!(e.contains("need 64 values") && e.contains("got 10"), "{e}");
}
