//! The single entry point every front end uses (CLI, C ABI, augment,
//! plug-ins): a [`Stylizer`] holds a loaded method on a device and turns a
//! content picture (+ style images) into a stylized picture of the same size,
//! alpha kept untouched.

use crate::image::{Picture, RgbImage};
use crate::progress::{Control, Progress, ProgressFn};
use crate::{Error, Result};
use candle_core::Device;

/// A loaded method. Each variant carries its loaded network(s), so that one
/// `Stylizer` can stylize many images without reloading.
pub enum Method {
    // One variant per NST family, added by its module.
    /// Arbitrary fast style transfer (Magenta): any style image, one pass.
    Arbitrary(crate::arbitrary::Arbitrary, crate::arbitrary::Options),
    /// Optimisation NST (Gatys basic / improved presets), VGG loss network.
    Gatys(Box<crate::gatys::Gatys>),
    /// Fast NST (Johnson): one trained network per style; tiles large images.
    Fast(Box<crate::transformer_net::TransformerNet>, crate::tiling::Tiling),
    /// The 26-style CIN network with a style blend (weights sum to 1).
    MultiStyle26(Box<crate::multistyle::MultiStyle26>, Vec<f32>, crate::tiling::Tiling),
    /// AdaIN (Huang & Belongie): any style image(s); strength = α.
    AdaIN(Box<crate::adain::AdaIN>, crate::adain::Options),
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
    /// Methods driven by a style vector (arbitrary): use this one instead of
    /// the style images' (e.g. read with `--style-vector`, or sampled).
    /// multistyle26: a blend over its styles, used instead of the method's.
    pub style_vector: Option<Vec<f32>>,
    /// The size (shorter side) style images are seen at; method default if `None`.
    pub style_size: Option<usize>,
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
            style_size: None,
        }
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

    /// The working size when the request leaves it open: optimisation is
    /// slow, so Gatys works at its config's size at most (a smaller image is
    /// not enlarged); the other methods at the content's own size.
    fn default_working_size(&self, longest: usize) -> Option<usize> {
        match &self.method {
            Method::Gatys(g) => g.config.size.map(|s| s.min(longest)),
            _ => None,
        }
    }

    /// The generic part shared by every method: working size, colour
    /// preservation, strength for methods without a native one, scaling
    /// back to the content size, alpha kept.
    pub fn stylize(&self, content: &Picture, request: &Request, progress: &mut ProgressFn) -> Result<Stylized> {
        if !(0.0..=1.0).contains(&request.strength) {
            return Err(Error::InvalidArgument(format!("strength must be in 0..1, got {}", request.strength)));
        }
        let (cw, ch) = (content.width(), content.height());
        let work = match request.working_size.or_else(|| self.default_working_size(cw.max(ch))) {
            Some(0) => return Err(Error::InvalidArgument("working size must be positive".into())),
            Some(s) if s != cw.max(ch) => content.rgb.resize_longest(s)?,
            _ => content.rgb.clone(),
        };
        let mut styles = request.styles.clone();
        if request.preserve_color == Some(PreserveColor::Histogram) {
            for s in &mut styles {
                s.image = crate::color::match_colors(&s.image, &work);
            }
        }
        let run = self.run_method(&work, &styles, request, progress)?;
        let mut out = run.image;
        if !run.native_strength && request.strength < 1.0 {
            let a = request.strength;
            out.data.iter_mut().zip(&work.data).for_each(|(o, c)| *o = a * *o + (1.0 - a) * c);
        }
        if request.preserve_color == Some(PreserveColor::Luminance) {
            out = crate::color::luminance_transfer(&work, &out)?;
        }
        let out = out.resize(cw, ch)?;
        Ok(Stylized { picture: content.with_rgb(out)?, completed: run.completed })
    }

    /// One method on the working image.
    fn run_method(&self, work: &RgbImage, styles: &[StyleImage], request: &Request, progress: &mut ProgressFn) -> Result<MethodOutput> {
        match &self.method {
            Method::Arbitrary(net, opts) => {
                let total = 1 + styles.len();
                let report = |progress: &mut ProgressFn, step: usize| {
                    let p = Progress { stage: "arbitrary".into(), step, total, ..Progress::default() };
                    if progress(&p) == Control::Cancel {
                        return Err(Error::Cancelled);
                    }
                    Ok(())
                };
                let style_size = request.style_size.unwrap_or(opts.style_size);
                let vector = match (&request.style_vector, styles.is_empty()) {
                    (Some(v), _) => candle_core::Tensor::from_slice(v, v.len(), &self.device)?,
                    (None, true) => return Err(Error::InvalidArgument("the arbitrary method needs a style image or a style vector".into())),
                    (None, false) => {
                        let mut vs = Vec::new();
                        for (i, s) in styles.iter().enumerate() {
                            report(progress, i)?;
                            vs.push((net.style_vector(&s.image, style_size)?, s.weight));
                        }
                        crate::arbitrary::blend(&vs)?
                    }
                };
                report(progress, styles.len())?;
                let o = crate::arbitrary::Options { strength: request.strength, style_size, ..*opts };
                let image = net.stylize(work, &vector, &o)?;
                report(progress, total)?;
                Ok(MethodOutput { image, completed: true, native_strength: true })
            }
            Method::Gatys(g) => {
                let out = g.stylize_work(work, styles, request, progress)?;
                Ok(MethodOutput { image: out.image, completed: out.completed, native_strength: false })
            }
            Method::Fast(net, tiling) => {
                let image = one_pass(progress, "fast", || net.stylize(work, *tiling))?;
                Ok(MethodOutput { image, completed: true, native_strength: false })
            }
            Method::AdaIN(net, opts) => {
                if request.style_vector.is_some() {
                    return Err(Error::InvalidArgument("AdaIN takes style images, not a style vector".into()));
                }
                let opts = crate::adain::Options { style_size: request.style_size.unwrap_or(opts.style_size), ..*opts };
                let image = net.stylize(work, styles, request.strength, &opts, progress)?;
                Ok(MethodOutput { image, completed: true, native_strength: true })
            }
            Method::MultiStyle26(net, weights, tiling) => {
                // A request's style vector is a per-image blend (e.g. restyle-augment).
                let weights = request.style_vector.as_deref().unwrap_or(weights);
                let image = one_pass(progress, "multistyle26", || net.stylize(work, weights, *tiling))?;
                Ok(MethodOutput { image, completed: true, native_strength: false })
            }
        }
    }

    /// The style vector of an image (methods driven by one; arbitrary).
    pub fn style_vector(&self, image: &RgbImage, style_size: Option<usize>) -> Result<Vec<f32>> {
        match &self.method {
            Method::Arbitrary(net, opts) => Ok(net.style_vector(image, style_size.unwrap_or(opts.style_size))?.to_vec1::<f32>()?),
            #[allow(unreachable_patterns)]
            _ => Err(Error::InvalidArgument("this method has no style vectors (use the arbitrary method)".into())),
        }
    }
}

/// A single feed-forward pass with a start and an end report.
fn one_pass(progress: &mut ProgressFn, stage: &str, f: impl FnOnce() -> Result<RgbImage>) -> Result<RgbImage> {
    let mut report = |step| {
        if progress(&Progress { stage: stage.into(), step, total: 1, ..Progress::default() }) == Control::Cancel {
            return Err(Error::Cancelled);
        }
        Ok(())
    };
    report(0)?;
    let out = f()?;
    report(1)?;
    Ok(out)
}

/// What a method returns to the generic part of [`Stylizer::stylize`].
struct MethodOutput {
    image: RgbImage,
    completed: bool,
    /// The method applied `strength` itself (else: blend with the content).
    native_strength: bool,
}
