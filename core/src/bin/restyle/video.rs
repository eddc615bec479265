//! `restyle video IN -o OUT`: a video through a feed-forward method, frame
//! by frame via the core's `Stylizer`, with temporal consistency and the
//! audio kept (core's `video` module does the work; ffmpeg does the files).
//! `-` as the input or output: raw `rgb24` frames on stdin/stdout, a live
//! stream that drops frames rather than lag (also `--camera /dev/videoN`).

use crate::stylize::{resolve_options, Plan, StyleArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use restyle_core::device::DeviceChoice;
use restyle_core::method;
use restyle_core::progress::Control;
use restyle_core::stylize::Stylizer;
use restyle_core::video::ffmpeg::{self, Clip, Decoder, EncodeOptions, Encoder};
use restyle_core::video::flow::FlowPreset;
use restyle_core::video::ffmpeg::{Camera, Rate, VideoInfo};
use restyle_core::video::live::{self, Latest};
use restyle_core::video::pipeline::{self, FrameProgress, FrameSink};
use restyle_core::video::raw::{self, RawReader, RawSink};
use restyle_core::video::stream::VideoStream;
use restyle_core::video::temporal::{TemporalMode, TemporalOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The video to stylize (anything ffmpeg reads); `-`: raw rgb24 frames on stdin (with --input-size), a live stream.
    #[arg(required_unless_present = "camera", conflicts_with = "camera")]
    pub input: Option<PathBuf>,
    /// Output video (.mp4, .mkv, .mov, .webm; the source's audio is copied); `-`: raw rgb24 frames on stdout.
    #[arg(short, long)]
    pub output: PathBuf,
    /// A V4L2 camera as a live source (ffmpeg -f v4l2), e.g. /dev/video0.
    #[arg(long)]
    pub camera: Option<PathBuf>,
    /// Frame size of a live source, WIDTHxHEIGHT (needed with `-`; a camera's own size if not given).
    #[arg(long)]
    pub input_size: Option<String>,
    /// Frame rate of a live source (e.g. 30 or 30000/1001): asked of a camera; the rate of a file written from a live source (raw frames on stdout carry none).
    #[arg(long)]
    pub fps: Option<String>,
    #[command(flatten)]
    pub style: StyleArgs,
    #[command(flatten)]
    pub video: VideoOptions,
}

/// The video options shared with `bench`-like callers.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Video")]
pub struct VideoOptions {
    /// Temporal consistency: flow (warp the previous output along the source's optical flow), ema (moving average), none.
    #[arg(long, default_value_t = TemporalOptions::default().mode, value_parser = parse_mode)]
    pub temporal: TemporalMode,
    /// 0..1: weight of the previous output (flow: where it is trackable).
    #[arg(long, default_value_t = TemporalOptions::default().strength)]
    pub temporal_strength: f32,
    /// Optical flow preset: ultrafast, fast, medium (about 6, 12, 48 ms per flow at 512², two flows a frame).
    #[arg(long, default_value_t = FlowPreset::DEFAULT, value_parser = parse_preset)]
    pub flow_preset: FlowPreset,
    /// Feathering of the flow mask in pixels (0..16): erodes it, then blurs it; 0 blends right up to occlusions (less flicker, more ghosting on moving edges).
    #[arg(long, default_value_t = TemporalOptions::default().feather)]
    pub temporal_feather: usize,
    /// Scale the video so its longer side is this many pixels (the output's size) [default: the source's].
    #[arg(long)]
    pub resize: Option<usize>,
    /// Start this many seconds into the source.
    #[arg(long)]
    pub start: Option<f64>,
    /// Take at most this many seconds.
    #[arg(long)]
    pub duration: Option<f64>,
    /// Encoder quality (x264/x265/vp9 CRF; lower is better) [default: 18].
    #[arg(long)]
    pub crf: Option<u8>,
    /// An ffmpeg encoder (libx264, libx265, libvpx-vp9, ffv1, …) [default: from the extension].
    #[arg(long)]
    pub codec: Option<String>,
}

fn parse_mode(s: &str) -> Result<TemporalMode, String> {
    s.parse().map_err(|e: restyle_core::Error| e.to_string())
}

fn parse_preset(s: &str) -> Result<FlowPreset, String> {
    s.parse().map_err(|e: restyle_core::Error| e.to_string())
}

/// The frame size: `resize` as the longer side, even where the codec needs it.
pub fn frame_size(w: usize, h: usize, resize: Option<usize>, even: bool) -> (usize, usize) {
    let (w, h) = match resize {
        Some(l) => restyle_core::image::fit_longest(w, h, l),
        None => (w, h),
    };
    if even {
        ((w & !1).max(2), (h & !1).max(2))
    } else {
        (w, h)
    }
}

pub fn run(args: VideoArgs) -> Result<()> {
    let live = args.camera.is_some() || args.input.as_deref() == Some(Path::new("-"));
    if live {
        return run_live(args);
    }
    if args.input_size.is_some() || args.fps.is_some() {
        bail!("--input-size and --fps are for live sources (`-` or --camera); a file's own size and rate are used");
    }
    let input = args.input.clone().context("no input")?;
    let kind = args.style.kind();
    restyle_core::video::stream::check_method(kind)?;
    let device: DeviceChoice = args.style.device.parse().with_context(|| format!("--device {}", args.style.device))?;
    let Plan { kind, spec, request } = args.style.plan(kind, None)?;
    let v = &args.video;
    let temporal = TemporalOptions { mode: v.temporal, strength: v.temporal_strength, flow: v.flow_preset.params(), feather: v.temporal_feather, ..TemporalOptions::default() };
    temporal.validate()?;
    if v.resize == Some(0) {
        bail!("--resize must be positive");
    }
    let clip = Clip { start: v.start, duration: v.duration };
    clip.validate()?;
    if same_file(&input, &args.output) {
        bail!("the output {} is the input", args.output.display());
    }
    let info = ffmpeg::probe(&input)?;
    let encode = EncodeOptions { crf: v.crf, codec: v.codec.clone() };
    let to_stdout = args.output == Path::new("-");
    let (w, h) = frame_size(info.width, info.height, v.resize, !to_stdout && encode.needs_even_size(&args.output));
    let device = device.open()?;
    let weights = resolve_options(args.style.weights_dir.as_deref())?;
    let method = method::load(spec, &weights, &device).with_context(|| format!("loading the {kind} network"))?;
    let stylizer = Stylizer::new(method, device);
    let request = pipeline::per_video_request(&stylizer, &request)?;
    let decoder = Decoder::open(&input, &info, &clip, w, h)?;
    let sink: Box<dyn FrameSink> = if to_stdout {
        Box::new(RawSink::new(std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()), w, h))
    } else {
        Box::new(Encoder::create(&args.output, &input, &info, &clip, w, h, &encode)?)
    };
    let total = info.expected_frames(v.start, v.duration);
    eprintln!(
        "{}: {}×{} at {:.3} fps{}; writing {}×{} with {kind}, temporal {}{}",
        input.display(),
        info.width,
        info.height,
        info.rate.fps(),
        if info.has_audio { ", audio kept" } else { "" },
        w,
        h,
        mode_name(v.temporal),
        if v.temporal == TemporalMode::None { String::new() } else { format!(" {}", v.temporal_strength) },
    );
    // Ctrl-C: stop after the current frame and close the file properly.
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let mut progress = |p: &FrameProgress| {
        let total = p.total.map_or(String::new(), |t| format!("/{t}"));
        let eta = p.eta().map_or(String::new(), |e| format!(", ETA {}", clock(e)));
        eprint!("\rframe {}{total}  {:.2} fps{eta}   ", p.frames, p.fps());
        if stop.load(Ordering::SeqCst) { Control::Cancel } else { Control::Continue }
    };
    let report = pipeline::run(Box::new(decoder), sink, &stylizer, &request, temporal, total, &mut progress);
    eprintln!();
    let report = report?;
    if !report.warnings.is_empty() {
        eprintln!("warning: ffmpeg said while decoding: {}", report.warnings);
    }
    let fps = report.frames as f64 / report.seconds.max(1e-9);
    if report.partial {
        eprintln!("interrupted: {} is PARTIAL, it holds the first {} frames ({:.2} fps)", args.output.display(), report.frames, fps);
        // As `stylize`: 128 + SIGINT, as shells report an interrupted command.
        std::process::exit(130);
    } else {
        let cuts = if report.cuts > 0 { format!(", {} scene cuts", report.cuts) } else { String::new() };
        let to = if to_stdout { "stdout (raw rgb24)".to_string() } else { args.output.display().to_string() };
        eprintln!("wrote {to} ({} frames in {:.1} s, {:.2} fps{cuts})", report.frames, report.seconds, fps);
    }
    Ok(())
}

/// A live source (stdin or a camera): frames are dropped, not queued, when
/// stylizing is slower than the source; the output is raw frames on stdout
/// or a file at `--fps`.
fn run_live(args: VideoArgs) -> Result<()> {
    let v = &args.video;
    if v.resize.is_some() || v.start.is_some() || v.duration.is_some() {
        bail!("--resize, --start and --duration are for video files, not live sources (scale the frames where they are made)");
    }
    let size = args.input_size.as_deref().map(raw::parse_size).transpose().context("--input-size")?;
    let fps = match args.fps.as_deref() {
        Some(f) => Some(Rate::parse(f).with_context(|| format!("--fps {f:?}: give a positive rate such as 30 or 30000/1001"))?),
        None => None,
    };
    if args.camera.is_none() && size.is_none() {
        bail!("raw frames on stdin need their size: --input-size WIDTHxHEIGHT (e.g. 640x480)");
    }
    let to_stdout = args.output == Path::new("-");
    if !to_stdout && fps.is_none() {
        bail!("writing a file from a live source needs its frame rate: --fps N");
    }
    if to_stdout && (v.crf.is_some() || v.codec.is_some()) {
        bail!("--crf and --codec are for video files; on stdout restyle writes raw rgb24 frames");
    }
    let kind = args.style.kind();
    restyle_core::video::stream::check_method(kind)?;
    let device: DeviceChoice = args.style.device.parse().with_context(|| format!("--device {}", args.style.device))?;
    let Plan { kind, spec, request } = args.style.plan(kind, None)?;
    let temporal = TemporalOptions { mode: v.temporal, strength: v.temporal_strength, flow: v.flow_preset.params(), feather: v.temporal_feather, ..TemporalOptions::default() };
    temporal.validate()?;
    let device = device.open()?;
    let weights = resolve_options(args.style.weights_dir.as_deref())?;
    let method = method::load(spec, &weights, &device).with_context(|| format!("loading the {kind} network"))?;
    let stylizer = Stylizer::new(method, device);
    let mut stream = VideoStream::new(&stylizer, &request, temporal)?;
    // The network is loaded before the source opens: a camera starts
    // streaming only when restyle can keep up with its first frames.
    let (latest, (w, h), what) = match &args.camera {
        Some(dev) => {
            let cam = Camera::open(dev, size, fps)?;
            let (w, h) = (cam.width, cam.height);
            (Latest::spawn(RawReader::new(cam, w, h, &format!("the camera {}", dev.display()))), (w, h), dev.display().to_string())
        }
        None => {
            let (w, h) = size.context("no size")?;
            (Latest::spawn(RawReader::new(std::io::stdin(), w, h, "stdin")), (w, h), "stdin".to_string())
        }
    };
    let sink: Box<dyn FrameSink> = if to_stdout {
        Box::new(RawSink::new(std::io::BufWriter::with_capacity(1 << 20, std::io::stdout()), w, h))
    } else {
        let rate = fps.context("no rate")?;
        let info = VideoInfo { width: w, height: h, rate, duration: None, rotation: 0, has_audio: false, codec: "rawvideo".into() };
        let encode = EncodeOptions { crf: v.crf, codec: v.codec.clone() };
        Box::new(Encoder::create(&args.output, Path::new("-"), &info, &Clip::default(), w, h, &encode)?)
    };
    eprintln!("{what}: live {w}×{h} rgb24 with {kind}, temporal {}; frames are dropped when stylizing is slower than the source", mode_name(v.temporal));
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
    let mut progress = |p: &FrameProgress| {
        eprint!("\rframe {} ({} dropped)  {:.2} fps   ", p.frames, p.dropped, p.fps());
        if stop.load(Ordering::SeqCst) { Control::Cancel } else { Control::Continue }
    };
    let report = live::run(&latest, sink, &stylizer, &mut stream, &mut progress);
    eprintln!();
    let report = report?;
    let fps = report.written as f64 / report.seconds.max(1e-9);
    // One line a script can read (the tests do).
    eprintln!("live: {} frames read, {} written, {} dropped ({fps:.2} fps)", report.read, report.written, report.dropped);
    if args.camera.is_some() && report.read == 0 {
        bail!("the camera {what} gave no frames (ffmpeg's message above says why)");
    }
    if report.output_closed {
        eprintln!("the output was closed by its reader; stopped");
    }
    if report.partial {
        std::process::exit(130);
    }
    Ok(())
}

fn mode_name(m: TemporalMode) -> &'static str {
    match m {
        TemporalMode::Flow => "flow",
        TemporalMode::Ema => "ema",
        TemporalMode::None => "none",
    }
}

fn clock(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 { format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60) } else { format!("{}:{:02}", s / 60, s % 60) }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}
