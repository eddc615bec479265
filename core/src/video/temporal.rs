//! Temporal consistency without video-trained weights: each stylized frame
//! is blended with the previous *output*, warped along the optical flow of
//! the *source* frames, where that flow is trustworthy:
//!
//! `out_t = a·M·warp(out_{t−1}) + (1 − a·M)·stylized_t`
//!
//! `M` is the feathered forward–backward consistency mask, `a` the
//! strength. A scene cut (a large luma change, or most pixels occluded)
//! starts afresh. `Ema` is the plain moving average (ghosts on motion),
//! `None` per-frame stylization.
//!
//! Split in two so a pipeline can run them on different threads: a
//! [`MotionEstimator`] sees only source frames, a [`Blender`] combines its
//! [`Motion`] with the stylized frames. [`Temporal`] chains the two.

use super::flow::{dis, DisParams, Flow, FlowPreset, Gray};
use super::warp::{consistent, feather, warp};
use crate::image::RgbImage;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemporalMode {
    /// Per-frame stylization.
    None,
    /// Exponential moving average of the stylized frames.
    Ema,
    /// Flow-guided, occlusion-masked blend of the warped previous output.
    Flow,
}

impl TemporalMode {
    /// Every mode, in the order error messages list them.
    pub const ALL: [TemporalMode; 3] = [TemporalMode::Flow, TemporalMode::Ema, TemporalMode::None];

    pub fn name(self) -> &'static str {
        match self {
            TemporalMode::None => "none",
            TemporalMode::Ema => "ema",
            TemporalMode::Flow => "flow",
        }
    }
}

impl std::fmt::Display for TemporalMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TemporalMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        // The names live once, in `name`.
        Self::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|m| m.name()).collect();
            Error::InvalidArgument(format!("unknown temporal mode {s:?} ({})", names.join(", ")))
        })
    }
}

/// The largest [`TemporalOptions::feather`] radius accepted.
pub const MAX_FEATHER: usize = 16;

#[derive(Clone, Copy, Debug)]
pub struct TemporalOptions {
    pub mode: TemporalMode,
    /// `a`: the previous output's weight, 0..1.
    pub strength: f32,
    pub flow: DisParams,
    /// The flow is computed on the source scaled to this longest side at
    /// most, then scaled up (it is smooth; this bounds its cost).
    pub flow_size: usize,
    /// Feathering radius of the mask, at the flow's resolution: the mask
    /// is eroded by it, then blurred, so pixels next to an occlusion or a
    /// motion boundary are blended less (less ghosting on moving edges, at
    /// the price of about 10 % of the trackable pixels keeping their
    /// flicker). 0: the hard mask.
    pub feather: usize,
    /// Scene cut: mean absolute luma change (0..1) above this …
    pub cut_luma: f32,
    /// … or less than this fraction of the pixels trackable.
    pub cut_coverage: f32,
    /// A pixel whose warped previous source differs by more than this
    /// (luma, 0..255) is treated as occluded.
    pub photometric: f32,
}

impl Default for TemporalOptions {
    fn default() -> Self {
        TemporalOptions {
            mode: TemporalMode::Flow,
            strength: 0.8,
            flow: FlowPreset::DEFAULT.params(),
            flow_size: 512,
            feather: 2,
            cut_luma: 0.25,
            cut_coverage: 0.3,
            photometric: 24.0,
        }
    }
}

impl TemporalOptions {
    pub fn validate(&self) -> Result<()> {
        if !(0.0..=1.0).contains(&self.strength) {
            return Err(Error::InvalidArgument(format!("temporal strength must be in 0..1, got {}", self.strength)));
        }
        if self.feather > MAX_FEATHER {
            return Err(Error::InvalidArgument(format!("the mask feathering must be 0..{MAX_FEATHER} px, got {}", self.feather)));
        }
        if self.flow_size < 16 {
            return Err(Error::InvalidArgument(format!("the flow size must be at least 16 px, got {}", self.flow_size)));
        }
        Ok(())
    }
}

/// What the source frames say about frame t relative to t−1.
#[derive(Clone, Debug)]
pub enum Motion {
    /// The first frame, or a scene cut: nothing to carry over.
    Reset,
    /// Blend with the previous output as it is (ema).
    Still,
    /// Warp the previous output by `flow` (t → t−1, at the frame's size)
    /// and blend where `mask` (0..1) allows.
    Flow { flow: Flow, mask: Vec<f32> },
}

impl Motion {
    pub fn is_cut(&self) -> bool {
        matches!(self, Motion::Reset)
    }
}

/// Turns consecutive source frames into [`Motion`]s.
pub struct MotionEstimator {
    opts: TemporalOptions,
    prev: Option<(Gray, Vec<f32>)>,
    frames: usize,
}

impl MotionEstimator {
    pub fn new(opts: TemporalOptions) -> Result<Self> {
        opts.validate()?;
        Ok(MotionEstimator { opts, prev: None, frames: 0 })
    }

    pub fn next(&mut self, source: &RgbImage) -> Result<Motion> {
        self.frames += 1;
        if self.opts.mode == TemporalMode::None {
            return Ok(Motion::Reset);
        }
        let small = if source.width.max(source.height) > self.opts.flow_size { source.resize_longest(self.opts.flow_size)? } else { source.clone() };
        let gray = Gray::from_rgb(small.width, small.height, &small.data);
        let luma = source.luma();
        let motion = match &self.prev {
            None => Motion::Reset,
            Some((prev_gray, prev_luma)) => self.compare(prev_gray, prev_luma, &gray, &luma, source.width, source.height)?,
        };
        self.prev = Some((gray, luma));
        Ok(motion)
    }

    fn compare(&self, prev_gray: &Gray, prev_luma: &[f32], gray: &Gray, luma: &[f32], w: usize, h: usize) -> Result<Motion> {
        if prev_luma.len() != luma.len() {
            return Err(Error::InvalidArgument("the frames of a video must all have one size".into()));
        }
        let change = luma.iter().zip(prev_luma).map(|(a, b)| (a - b).abs()).sum::<f32>() / luma.len().max(1) as f32;
        if change > self.opts.cut_luma {
            return Ok(Motion::Reset);
        }
        if self.opts.mode == TemporalMode::Ema {
            return Ok(Motion::Still);
        }
        // Backward flow (t → t−1) to warp; forward to check it.
        let bwd = dis(gray, prev_gray, &self.opts.flow)?;
        let fwd = dis(prev_gray, gray, &self.opts.flow)?;
        let mut hard = consistent(&bwd, &fwd);
        // Where the warped previous source does not look like this one (the
        // flow failed, lighting changed), nothing is carried over either.
        let back = warp(&prev_gray.data, 1, &bwd);
        hard.iter_mut().zip(back.iter().zip(&gray.data)).for_each(|(m, (b, g))| {
            if (b - g).abs() > self.opts.photometric {
                *m = 0.0;
            }
        });
        let coverage = hard.iter().sum::<f32>() / hard.len().max(1) as f32;
        if coverage < self.opts.cut_coverage {
            return Ok(Motion::Reset);
        }
        let soft = feather(&hard, bwd.width, bwd.height, self.opts.feather);
        let mask = if (bwd.width, bwd.height) == (w, h) { soft } else { resize_mask(&soft, bwd.width, bwd.height, w, h) };
        Ok(Motion::Flow { flow: bwd.resize(w, h), mask })
    }
}

/// A mask resampled bilinearly (pixel centres aligned).
fn resize_mask(mask: &[f32], w: usize, h: usize, nw: usize, nh: usize) -> Vec<f32> {
    let (sx, sy) = (w as f32 / nw as f32, h as f32 / nh as f32);
    let mut out = Vec::with_capacity(nw * nh);
    for y in 0..nh {
        for x in 0..nw {
            out.push(super::flow::bilinear(mask, 1, w, h, (x as f32 + 0.5) * sx - 0.5, (y as f32 + 0.5) * sy - 0.5, 0));
        }
    }
    out
}

/// Combines [`Motion`] with the stylized frames; holds the previous output.
pub struct Blender {
    strength: f32,
    prev: Option<RgbImage>,
}

impl Blender {
    pub fn new(opts: &TemporalOptions) -> Self {
        Blender { strength: if opts.mode == TemporalMode::None { 0.0 } else { opts.strength }, prev: None }
    }

    pub fn next(&mut self, stylized: RgbImage, motion: &Motion) -> Result<RgbImage> {
        let a = self.strength;
        let out = match (self.prev.take(), motion) {
            (Some(prev), Motion::Still) if same_size(&prev, &stylized) => {
                let data = prev.data.iter().zip(&stylized.data).map(|(p, s)| a * p + (1.0 - a) * s).collect();
                RgbImage { data, ..stylized }
            }
            (Some(prev), Motion::Flow { flow, mask }) if same_size(&prev, &stylized) => {
                if (flow.width, flow.height) != (stylized.width, stylized.height) || mask.len() != stylized.width * stylized.height {
                    return Err(Error::InvalidArgument("internal: the motion does not match the frame size".into()));
                }
                let warped = warp(&prev.data, 3, flow);
                let mut data = stylized.data;
                data.chunks_exact_mut(3).zip(warped.chunks_exact(3)).zip(mask).for_each(|((s, p), m)| {
                    let k = a * m;
                    for c in 0..3 {
                        s[c] = k * p[c] + (1.0 - k) * s[c];
                    }
                });
                RgbImage { data, ..stylized }
            }
            _ => stylized,
        };
        if a > 0.0 {
            self.prev = Some(out.clone());
        }
        Ok(out)
    }
}

fn same_size(a: &RgbImage, b: &RgbImage) -> bool {
    a.width == b.width && a.height == b.height
}

/// The estimator and the blender in one, for callers that go frame by frame.
pub struct Temporal {
    motion: MotionEstimator,
    blend: Blender,
    cuts: usize,
}

impl Temporal {
    pub fn new(opts: TemporalOptions) -> Result<Self> {
        Ok(Temporal { blend: Blender::new(&opts), motion: MotionEstimator::new(opts)?, cuts: 0 })
    }

    /// The output for one frame, from its source and its stylization.
    pub fn next(&mut self, source: &RgbImage, stylized: RgbImage) -> Result<RgbImage> {
        let m = self.motion.next(source)?;
        if m.is_cut() && self.motion.frames > 1 {
            self.cuts += 1;
        }
        self.blend.next(stylized, &m)
    }

    /// Scene cuts seen so far (the first frame not counted).
    pub fn cuts(&self) -> usize {
        self.cuts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured(w: usize, h: usize, shift: f32) -> RgbImage {
        let mut data = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let xf = x as f32 - shift;
                let v = 0.5 + 0.3 * (0.3 * xf).sin() * (0.2 * y as f32).cos();
                data.extend([v, 0.8 * v, 1.0 - v]);
            }
        }
        RgbImage { width: w, height: h, data }
    }

    /// A static scene whose per-frame stylization flickers around a mean:
    /// the output converges to the mean and does not drift.
    #[test]
    fn static_scene_converges_without_drift() {
        let (w, h) = (64, 48);
        let src = textured(w, h, 0.0);
        let target = textured(w, h, 5.0);
        for mode in [TemporalMode::Flow, TemporalMode::Ema] {
            let mut t = Temporal::new(TemporalOptions { mode, ..Default::default() }).unwrap();
            let mut last = None;
            for i in 0..60 {
                // ±0.05 flicker, alternating.
                let s = if i % 2 == 0 { 0.05 } else { -0.05 };
                let stylized = RgbImage { data: target.data.iter().map(|v| v + s).collect(), ..target.clone() };
                last = Some(t.next(&src, stylized).unwrap());
            }
            let out = last.unwrap();
            let err = out.data.iter().zip(&target.data).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            // The alternating flicker is damped by (1−a)/(1+a) ≈ 0.11 → 0.0056.
            assert!(err < 0.01, "{mode:?}: max deviation from the mean {err}");
            assert_eq!(t.cuts(), 0);
        }
    }

    #[test]
    fn a_scene_cut_resets_and_none_passes_frames_through() {
        let (w, h) = (48, 32);
        let a = textured(w, h, 0.0);
        let b = RgbImage { data: a.data.iter().map(|v| 1.0 - v).collect(), ..a.clone() };
        let mut t = Temporal::new(TemporalOptions::default()).unwrap();
        t.next(&a, a.clone()).unwrap();
        let out = t.next(&b, b.clone()).unwrap();
        assert!(out.data == b.data);
        assert_eq!(t.cuts(), 1);
        let mut none = Temporal::new(TemporalOptions { mode: TemporalMode::None, ..Default::default() }).unwrap();
        none.next(&a, a.clone()).unwrap();
        assert!(none.next(&a, b.clone()).unwrap().data == b.data);
        assert!(Temporal::new(TemporalOptions { strength: 1.5, ..Default::default() }).is_err());
    }

    /// A moving scene: the previous output is carried along the motion.
    #[test]
    fn flow_follows_a_moving_scene() {
        let (w, h) = (96, 64);
        // Medium: the default (fast) works at 1/4 size, too coarse for 96×64.
        let mut t = Temporal::new(TemporalOptions { strength: 1.0, flow: FlowPreset::Medium.params(), ..Default::default() }).unwrap();
        let f0 = textured(w, h, 0.0);
        t.next(&f0, f0.clone()).unwrap();
        let f1 = textured(w, h, 2.0);
        // Stylized frame 1 is garbage (all 0): with a = 1 the output is the
        // warped previous output, i.e. f1 itself where the mask is full.
        let out = t.next(&f1, RgbImage { data: vec![0.0; w * h * 3], ..f1.clone() }).unwrap();
        let mut err = 0.0f32;
        for y in 10..h - 10 {
            for x in 10..w - 10 {
                let i = (y * w + x) * 3;
                err = err.max((out.data[i] - f1.data[i]).abs());
            }
        }
        assert!(err < 0.03, "max error inside {err}");
    }

    /// The mask's feathering: 0 keeps the hard mask (blending right up to
    /// the pixels that left the frame), 2 erodes and blurs it away from
    /// them; a radius above the limit is refused.
    #[test]
    fn feather_zero_keeps_the_hard_mask() {
        let (w, h) = (96, 64);
        let (f0, f1) = (textured(w, h, 0.0), textured(w, h, 2.0));
        let mask = |feather| {
            let mut m = MotionEstimator::new(TemporalOptions { feather, flow: FlowPreset::Medium.params(), ..Default::default() }).unwrap();
            m.next(&f0).unwrap();
            match m.next(&f1).unwrap() {
                Motion::Flow { mask, .. } => mask,
                other => panic!("expected a flow, got {other:?}"),
            }
        };
        let (hard, soft) = (mask(0), mask(2));
        assert!(hard.iter().all(|&v| v == 0.0 || v == 1.0));
        // Column 4, inside rows: 2 px from the strip that came into view
        // (x < 2 has no past), trackable; feathering fades it.
        let col = |m: &[f32]| (8..h - 8).map(|y| m[y * w + 4]).sum::<f32>() / (h - 16) as f32;
        assert!(col(&hard) > 0.9 && col(&soft) < 0.5, "column 4: hard {} soft {}", col(&hard), col(&soft));
        let mean = |m: &[f32]| m.iter().sum::<f32>() / m.len() as f32;
        assert!(mean(&hard) > mean(&soft) + 0.05, "coverage hard {} soft {}", mean(&hard), mean(&soft));
        assert!(MotionEstimator::new(TemporalOptions { feather: MAX_FEATHER + 1, ..Default::default() }).is_err());
    }

    /// A live source that dropped frames: the blend sees frame 0 and then
    /// frame 5 (a 5 px pan), and the flow spans the gap (the state holds
    /// the last frame *given*, not the last one the source had).
    #[test]
    fn flow_spans_dropped_frames() {
        let (w, h) = (96, 64);
        let mut t = Temporal::new(TemporalOptions { strength: 1.0, flow: FlowPreset::Medium.params(), ..Default::default() }).unwrap();
        let f0 = textured(w, h, 0.0);
        t.next(&f0, f0.clone()).unwrap();
        let f5 = textured(w, h, 5.0);
        let out = t.next(&f5, RgbImage { data: vec![0.0; w * h * 3], ..f5.clone() }).unwrap();
        let (mut err, mut unwarped) = (0.0f32, 0.0f32);
        for y in 12..h - 12 {
            for x in 12..w - 12 {
                let i = (y * w + x) * 3;
                err = err.max((out.data[i] - f5.data[i]).abs());
                unwarped = unwarped.max((f0.data[i] - f5.data[i]).abs());
            }
        }
        assert!(err < 0.05 && unwarped > 0.3, "max error inside {err} (frame 0 as it was: {unwarped})");
    }

    #[test]
    fn modes_and_presets_parse_from_their_names() {
        for m in TemporalMode::ALL {
            assert_eq!(m.to_string().parse::<TemporalMode>().ok(), Some(m));
        }
        for p in FlowPreset::ALL {
            assert_eq!(p.to_string().parse::<FlowPreset>().ok(), Some(p));
        }
        let e = "fastest".parse::<FlowPreset>().expect_err("unknown");
        assert!(e.to_string().contains("(ultrafast, fast, medium)"), "{e}");
        assert!("off".parse::<TemporalMode>().is_err());
    }
}
