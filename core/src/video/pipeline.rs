//! The frame pipeline: decode → motion (flow on the source) → stylize +
//! blend → encode, each stage on its own thread with channels of two
//! frames, so memory stays flat whatever the video's length. Every frame
//! goes through the one [`Stylizer`]. Errors of any stage stop the others
//! and come back to the caller; nothing panics across threads.

use super::ffmpeg::{Decoder, Encoder};
use super::temporal::{Blender, Motion, MotionEstimator, TemporalOptions};
use crate::image::{Picture, RgbImage};
use crate::progress::Control;
use crate::request::Request;
use crate::stylize::Stylizer;
use crate::{Error, Result};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

/// Frames in flight between two stages.
const DEPTH: usize = 2;

/// Where frames come from (a decoder, a test, a raw stream).
pub trait FrameSource: Send {
    /// The next frame, `None` at the end.
    fn next_frame(&mut self) -> Result<Option<RgbImage>>;
    /// After the last frame: the source's warnings, if any.
    fn finish(self: Box<Self>) -> Result<String>;
}

/// Where frames go. Dropping a sink without [`FrameSink::finish`] discards
/// what it wrote.
pub trait FrameSink: Send {
    fn write_frame(&mut self, frame: &RgbImage) -> Result<()>;
    fn finish(self: Box<Self>) -> Result<()>;
    /// After a failed write: the reader went away (a closed pipe), which
    /// ends a live stream normally.
    fn closed(&self) -> bool {
        false
    }
}

impl FrameSource for Decoder {
    fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        Decoder::next_frame(self)
    }
    fn finish(self: Box<Self>) -> Result<String> {
        Decoder::finish(*self)
    }
}

impl FrameSink for Encoder {
    fn write_frame(&mut self, frame: &RgbImage) -> Result<()> {
        Encoder::write_frame(self, frame)
    }
    fn finish(self: Box<Self>) -> Result<()> {
        Encoder::finish(*self).map(|_| ())
    }
}

/// A progress report after each frame.
#[derive(Clone, Copy, Debug)]
pub struct FrameProgress {
    pub frames: usize,
    /// Expected frames, when the container says.
    pub total: Option<usize>,
    pub seconds: f64,
    /// Live sources: frames skipped so far to keep up.
    pub dropped: usize,
}

impl FrameProgress {
    pub fn fps(&self) -> f64 {
        self.frames as f64 / self.seconds.max(1e-9)
    }

    /// Seconds left at the current speed.
    pub fn eta(&self) -> Option<f64> {
        self.total.map(|t| t.saturating_sub(self.frames) as f64 / self.fps().max(1e-9))
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct VideoReport {
    pub frames: usize,
    /// Stopped by the progress callback: the output holds the frames so far.
    pub partial: bool,
    /// Scene cuts (the temporal state was reset).
    pub cuts: usize,
    pub seconds: f64,
    /// The decoder's messages (e.g. damaged packets it skipped).
    pub warnings: String,
}

/// Runs the whole video. `progress` is called after every frame; returning
/// [`Control::Cancel`] stops cleanly: the sink is finished with the frames
/// so far (`partial` in the report).
pub fn run(
    source: Box<dyn FrameSource>,
    sink: Box<dyn FrameSink>,
    stylizer: &Stylizer,
    request: &Request,
    temporal: TemporalOptions,
    total: Option<usize>,
    progress: &mut dyn FnMut(&FrameProgress) -> Control,
) -> Result<VideoReport> {
    request.validate()?;
    let mut motion = MotionEstimator::new(temporal)?;
    let mut blender = Blender::new(&temporal);
    let start = Instant::now();
    let (tx_src, rx_src) = sync_channel::<RgbImage>(DEPTH);
    let (tx_mot, rx_mot) = sync_channel::<(RgbImage, Motion)>(DEPTH);
    let (tx_out, rx_out) = sync_channel::<RgbImage>(DEPTH);
    std::thread::scope(|s| {
        let decode = s.spawn(move || -> Result<Option<String>> {
            let mut source = source;
            while let Some(frame) = source.next_frame()? {
                if tx_src.send(frame).is_err() {
                    return Ok(None); // stopped downstream; the source is dropped (killed)
                }
            }
            drop(tx_src);
            source.finish().map(Some)
        });
        let track = s.spawn(move || -> Result<()> {
            for frame in rx_src {
                let m = motion.next(&frame)?;
                if tx_mot.send((frame, m)).is_err() {
                    break;
                }
            }
            Ok(())
        });
        let encode = s.spawn(move || -> Result<Box<dyn FrameSink>> {
            let mut sink = sink;
            for frame in rx_out {
                sink.write_frame(&frame)?;
            }
            Ok(sink)
        });

        let mut frames = 0;
        let mut cuts = 0;
        let mut partial = false;
        let mut main = || -> Result<()> {
            for (src, m) in rx_mot.iter() {
                if m.is_cut() && frames > 0 {
                    cuts += 1;
                }
                let stylized = stylizer.stylize(&Picture::from_rgb(src), request, &mut crate::progress::silent())?;
                let out = blender.next(stylized.picture.rgb, &m)?;
                if tx_out.send(out).is_err() {
                    break; // the encoder failed; its error comes from its thread
                }
                frames += 1;
                let p = FrameProgress { frames, total, seconds: start.elapsed().as_secs_f64(), dropped: 0 };
                if progress(&p) == Control::Cancel {
                    partial = true;
                    break;
                }
            }
            Ok(())
        };
        let main_result = main();
        // Unblock and stop the other stages before joining them.
        drop(rx_mot);
        drop(tx_out);
        let decoded = decode.join().unwrap_or_else(|_| Err(panicked("decoder")));
        let tracked = track.join().unwrap_or_else(|_| Err(panicked("flow")));
        let encoded = encode.join().unwrap_or_else(|_| Err(panicked("encoder")));
        // The first error wins; a sink not finished is dropped (discarded).
        main_result?;
        let warnings = decoded?;
        tracked?;
        let sink = encoded?;
        if warnings.is_none() && !partial {
            return Err(Error::Video("internal: the decoder stopped early".into()));
        }
        sink.finish()?;
        Ok(VideoReport { frames, partial, cuts, seconds: start.elapsed().as_secs_f64(), warnings: warnings.unwrap_or_default() })
    })
}

fn panicked(stage: &str) -> Error {
    Error::Video(format!("internal: the {stage} thread panicked"))
}

/// The request every frame gets: what depends on the style only is
/// computed once here, not per frame (the arbitrary network's style vector,
/// blended over the style images by their weights; AdaIN's style feature
/// statistics, mixed the same way). Not with histogram colour
/// preservation, which recolours the style to each frame.
pub fn per_video_request(stylizer: &Stylizer, request: &Request) -> Result<Request> {
    let mut r = request.clone();
    let per_frame_style = r.preserve_color == Some(crate::request::PreserveColor::Histogram);
    if stylizer.kind() == crate::method::MethodKind::Arbitrary && r.style_vector.is_none() && !r.styles.is_empty() && !per_frame_style {
        let total: f32 = r.styles.iter().map(|s| s.weight).sum();
        let mut blend: Vec<f32> = Vec::new();
        for s in &r.styles {
            let v = stylizer.style_vector(&s.image, r.style_size)?;
            blend.resize(v.len(), 0.0);
            blend.iter_mut().zip(&v).for_each(|(b, x)| *b += x * s.weight / total);
        }
        r.style_vector = Some(blend);
        r.styles.clear();
    }
    // AdaIN: the mixed statistics of the styles' VGG features.
    if stylizer.kind() == crate::method::MethodKind::AdaIN && r.style_stats.is_none() && !r.styles.is_empty() && !per_frame_style {
        r.style_stats = Some(stylizer.style_statistics(&r.styles, r.style_size)?);
        r.styles.clear();
    }
    Ok(r)
}
