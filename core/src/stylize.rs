//! The single entry point every front end uses (CLI, C ABI, augment,
//! plug-ins): a [`Stylizer`] holds a loaded method on a device and turns a
//! content picture (+ style images) into a stylized picture of the same size,
//! alpha kept untouched.

use crate::image::{Picture, RgbImage};
use crate::progress::ProgressFn;
use crate::Result;
use candle_core::Device;

/// A loaded method. Each variant carries its loaded network(s), so that one
/// `Stylizer` can stylize many images without reloading.
pub enum Method {
    // One variant per NST family, added by its module.
}

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
}

impl Default for Request {
    fn default() -> Self {
        Request { styles: Vec::new(), strength: 1.0, preserve_color: None, working_size: None, seed: 0 }
    }
}

/// The result: a picture the size of the content, and whether the run
/// finished (false when an optimisation was cancelled and returned its best
/// image so far).
pub struct Stylized {
    pub picture: Picture,
    pub completed: bool,
}

pub struct Stylizer {
    pub method: Method,
    pub device: Device,
}

impl Stylizer {
    pub fn new(method: Method, device: Device) -> Self {
        Stylizer { method, device }
    }

    pub fn stylize(&self, content: &Picture, request: &Request, progress: &mut ProgressFn) -> Result<Stylized> {
        let _ = (content, request, progress);
        match self.method {}
    }
}
