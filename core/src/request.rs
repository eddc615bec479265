//! What to do for one image, independent of the method: the style images,
//! strength, colour, working size, seed; and what comes back. Plain data,
//! imported by the methods and by every front end.

use crate::image::{Picture, RgbImage};
use crate::{Error, Result};

/// A style image with its blend weight (weights are normalised to sum 1).
#[derive(Clone, Debug)]
pub struct StyleImage {
    pub image: RgbImage,
    pub weight: f32,
}

/// How to keep the content's colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreserveColor {
    /// Stylize luminance only; keep the content's chroma (YCbCr).
    Luminance,
    /// Match the style image's colour mean/covariance to the content first.
    Histogram,
}

/// What to do for one image, independent of the method.
#[derive(Clone, Debug)]
pub struct Request {
    /// Style images; empty for methods with built-in styles.
    pub styles: Vec<StyleImage>,
    /// 0..1: how strongly to apply the style (1 = fully).
    pub strength: f32,
    pub preserve_color: Option<PreserveColor>,
    /// Work at this longest side, then scale the result back to the content size.
    pub working_size: Option<usize>,
    /// Seed for anything random (noise init, sampling).
    pub seed: u64,
    /// Methods driven by a style vector (arbitrary): use this one instead of
    /// the style images' (e.g. read with `--style-vector`, or sampled).
    /// multistyle26: a blend over its styles, used instead of the method's.
    pub style_vector: Option<Vec<f32>>,
    /// AdaIN: the styles' feature statistics, precomputed (mean then std
    /// per channel, `Stylizer::style_statistics`), instead of the style
    /// images': a video computes them once, not per frame.
    pub style_stats: Option<Vec<f32>>,
    /// The size (shorter side) style images are seen at; method default if `None`.
    pub style_size: Option<usize>,
    /// Optimisation methods: iterations per scale, instead of the preset's.
    pub iterations: Option<usize>,
    /// Optimisation methods: a wall-clock budget in seconds (the best image
    /// when it runs out is the result).
    pub max_seconds: Option<f64>,
}

impl Default for Request {
    fn default() -> Self {
        Request {
            styles: Vec::new(),
            strength: 1.0,
            preserve_color: None,
            working_size: None,
            seed: 0,
            style_vector: None,
            style_stats: None,
            style_size: None,
            iterations: None,
            max_seconds: None,
        }
    }
}

impl Request {
    /// Checks every value a front end may pass; [`crate::stylize::Stylizer`]
    /// calls it first, front ends may call it early to fail before loading.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidArgument(m));
        if !(0.0..=1.0).contains(&self.strength) {
            return bad(format!("strength must be in 0..1, got {}", self.strength));
        }
        if self.working_size == Some(0) {
            return bad("working size must be positive".into());
        }
        if self.style_size == Some(0) {
            return bad("style size must be positive".into());
        }
        if self.iterations == Some(0) {
            return bad("iterations must be at least 1".into());
        }
        if let Some(s) = self.max_seconds {
            if !(s > 0.0 && s.is_finite()) {
                return bad(format!("max seconds must be a positive number, got {s}"));
            }
        }
        if self.styles.iter().any(|s| !(s.weight.is_finite() && s.weight >= 0.0)) || (!self.styles.is_empty() && !(self.styles.iter().map(|s| s.weight).sum::<f32>() > 0.0)) {
            return bad("style weights must be non-negative with a positive sum".into());
        }
        if self.style_stats.as_ref().is_some_and(|v| v.iter().any(|x| !x.is_finite())) {
            return bad("the style statistics are not all finite numbers".into());
        }
        if let Some(v) = &self.style_vector {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return bad(format!("the style vector's value {i} is not a finite number ({})", v[i]));
            }
        }
        Ok(())
    }
}

/// The result: a picture the size of the content, and whether the run
/// finished (false when an optimisation was cancelled and returned its best
/// image so far).
pub struct Stylized {
    pub picture: Picture,
    pub completed: bool,
}

