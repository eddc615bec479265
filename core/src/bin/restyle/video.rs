//! `restyle video IN -o OUT`: a video through a feed-forward method, frame
//! by frame via the core's `Stylizer`, with temporal consistency and the
//! audio kept (core's `video` module does the work; ffmpeg does the files).

use crate::stylize::{resolve_options, Plan, StyleArgs};
use anyhow::{bail, Context, Result};
use clap::Args;
use restyle_core::device::DeviceChoice;
use restyle_core::method;
use restyle_core::progress::Control;
use restyle_core::stylize::Stylizer;
use restyle_core::video::ffmpeg::{self, Clip, Decoder, EncodeOptions, Encoder};
use restyle_core::video::flow::FlowPreset;
use restyle_core::video::pipeline::{self, FrameProgress};
use restyle_core::video::temporal::{TemporalMode, TemporalOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct VideoArgs {
    /// The video to stylize (anything ffmpeg reads).
    pub input: PathBuf,
    /// Output video (.mp4, .mkv, .mov, .webm); the source's audio is copied.
    #[arg(short, long)]
    pub output: PathBuf,
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
    #[arg(long, default_value = "flow", value_parser = parse_mode)]
    pub temporal: TemporalMode,
    /// 0..1: weight of the previous output (flow: where it is trackable).
    #[arg(long, default_value_t = 0.8)]
    pub temporal_strength: f32,
    /// Optical flow preset: ultrafast, fast, medium (about 6, 12, 48 ms per flow at 512², two flows a frame).
    #[arg(long, default_value = "fast", value_parser = parse_preset)]
    pub flow_preset: FlowPreset,
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
    let kind = args.style.kind();
    if kind.is_optimisation() {
        bail!("restyle video takes the feed-forward methods (fast, multistyle26, arbitrary, adain), not {kind}");
    }
    let device: DeviceChoice = args.style.device.parse().with_context(|| format!("--device {}", args.style.device))?;
    let Plan { kind, spec, request } = args.style.plan(kind, None)?;
    let v = &args.video;
    let temporal = TemporalOptions { mode: v.temporal, strength: v.temporal_strength, flow: v.flow_preset.params(), ..TemporalOptions::default() };
    temporal.validate()?;
    if v.resize == Some(0) {
        bail!("--resize must be positive");
    }
    let clip = Clip { start: v.start, duration: v.duration };
    clip.validate()?;
    if same_file(&args.input, &args.output) {
        bail!("the output {} is the input", args.output.display());
    }
    let info = ffmpeg::probe(&args.input)?;
    let encode = EncodeOptions { crf: v.crf, codec: v.codec.clone() };
    let (w, h) = frame_size(info.width, info.height, v.resize, encode.needs_even_size(&args.output));
    let device = device.open()?;
    let weights = resolve_options(args.style.weights_dir.as_deref())?;
    let method = method::load(spec, &weights, &device).with_context(|| format!("loading the {kind} network"))?;
    let stylizer = Stylizer::new(method, device);
    let request = pipeline::per_video_request(&stylizer, &request)?;
    let decoder = Decoder::open(&args.input, &info, &clip, w, h)?;
    let encoder = Encoder::create(&args.output, &args.input, &info, &clip, w, h, &encode)?;
    let total = info.expected_frames(v.start, v.duration);
    eprintln!(
        "{}: {}×{} at {:.3} fps{}; writing {}×{} with {kind}, temporal {}{}",
        args.input.display(),
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
    let report = pipeline::run(Box::new(decoder), Box::new(encoder), &stylizer, &request, temporal, total, &mut progress);
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
        eprintln!("wrote {} ({} frames in {:.1} s, {:.2} fps{cuts})", args.output.display(), report.frames, report.seconds, fps);
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
