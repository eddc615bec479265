//! The single entry point every front end uses (CLI, C ABI, augment,
//! plug-ins): a [`Stylizer`] holds a loaded method on a device and turns a
//! content picture (+ style images) into a stylized picture of the same size,
//! alpha kept untouched.

use crate::budget;
use crate::image::{fit_longest, Picture, RgbImage};
use crate::models::arbitrary::style_input_size;
use crate::method::{Method, MethodKind, ADAIN_WORKING_SIZE};
use crate::request::{PreserveColor, Request, StyleImage, Stylized};
use crate::progress::{Control, Progress, ProgressFn};
use crate::{Error, Result};
use candle_core::Device;

pub struct Stylizer {
    pub method: Method,
    pub device: Device,
    /// The memory limit for one request; `None`: [`budget::limit`]
    /// (`RESTYLE_MAX_MEMORY`, else half the physical memory).
    memory_limit: Option<u64>,
}

impl Stylizer {
    pub fn new(method: Method, device: Device) -> Self {
        Stylizer { method, device, memory_limit: None }
    }

    /// Refuse requests estimated to need more than `bytes` (instead of the
    /// environment's or the default limit, [`budget::limit`]).
    pub fn with_memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// The limit requests are checked against.
    pub fn memory_limit(&self) -> Result<u64> {
        self.memory_limit.map_or_else(budget::limit, Ok)
    }

    /// The sizes `request` works at for a `width × height` content, and the
    /// size each style image is resized to; nothing is allocated.
    pub fn sizes(&self, width: usize, height: usize, request: &Request) -> budget::Sizes {
        let work = match request.working_size.or_else(|| self.default_working_size(width.max(height))) {
            Some(s) => fit_longest(width, height, s),
            None => (width, height),
        };
        let styles = request
            .styles
            .iter()
            .map(|s| {
                let (w, h) = (s.image.width, s.image.height);
                match &self.method {
                    Method::Arbitrary(_, o) => style_input_size(w, h, request.style_size.unwrap_or(o.style_size)),
                    Method::AdaIN(_, o) => style_input_size(w, h, request.style_size.unwrap_or(o.style_size)),
                    Method::Gatys(g) => g.style_size_for(work, (w, h)),
                    _ => (w, h),
                }
            })
            .collect();
        budget::Sizes { content: (width, height), work, styles }
    }

    /// Checks, before anything is allocated, that the request's sizes suit
    /// the method (a minimum working size) and fit the memory limit.
    pub fn check_sizes(&self, width: usize, height: usize, request: &Request) -> Result<budget::Estimate> {
        let sizes = self.sizes(width, height, request);
        if let Method::Gatys(g) = &self.method {
            g.check_sizes(sizes.content, sizes.work, &sizes.styles)?;
        }
        let estimate = budget::estimate(&self.method.footprint(), &sizes);
        let what = || {
            let (w, h) = sizes.work;
            let mut what = format!("the {} method on a {width}×{height} picture at a working size of {w}×{h}", self.kind());
            if let Some(&(sw, sh)) = sizes.styles.iter().max_by_key(|(w, h)| w.saturating_mul(*h)) {
                what += &format!(" with the style seen at {sw}×{sh}");
            }
            what
        };
        budget::check(what, estimate.total(), self.memory_limit()?)?;
        Ok(estimate)
    }

    /// The working size when the request leaves it open (the one place for
    /// every front end): optimisation is slow, so Gatys works at its
    /// config's size at most; AdaIN at [`ADAIN_WORKING_SIZE`] at most (it
    /// runs untiled); the others at the content's own size. A smaller image
    /// is never enlarged.
    pub fn default_working_size(&self, longest: usize) -> Option<usize> {
        match &self.method {
            Method::Gatys(g) => g.config.size.map(|s| s.min(longest)),
            Method::AdaIN(..) => Some(ADAIN_WORKING_SIZE.min(longest)),
            _ => None,
        }
    }

    /// Which method this stylizer runs.
    pub fn kind(&self) -> MethodKind {
        self.method.kind()
    }

    /// The generic part shared by every method: working size, colour
    /// preservation, strength for methods without a native one, scaling
    /// back to the content size, alpha kept.
    pub fn stylize(&self, content: &Picture, request: &Request, progress: &mut ProgressFn) -> Result<Stylized> {
        request.validate()?;
        self.kind().check_request(request)?;
        let (cw, ch) = (content.width(), content.height());
        // Before any resizing: a size too small for the method or too large
        // for memory is an error here, never an abort below.
        self.check_sizes(cw, ch, request)?;
        let sizes = self.sizes(cw, ch, request);
        let work = match sizes.work {
            (w, h) if (w, h) != (cw, ch) => content.rgb.resize(w, h)?,
            _ => content.rgb.clone(),
        };
        let mut styles = request.styles.clone();
        if request.preserve_color == Some(PreserveColor::Histogram) {
            for s in &mut styles {
                s.image = crate::image::color::match_colors(&s.image, &work);
            }
        }
        let run = self.run_method(&work, &styles, request, progress)?;
        let mut out = run.image;
        if !run.native_strength && request.strength < 1.0 {
            let a = request.strength;
            out.data.iter_mut().zip(&work.data).for_each(|(o, c)| *o = a * *o + (1.0 - a) * c);
        }
        if request.preserve_color == Some(PreserveColor::Luminance) {
            out = crate::image::color::luminance_transfer(&work, &out)?;
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
                        crate::models::arbitrary::blend(&vs)?
                    }
                };
                report(progress, styles.len())?;
                let o = crate::models::arbitrary::Options { strength: request.strength, style_size, ..*opts };
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
                let opts = crate::models::adain::Options { style_size: request.style_size.unwrap_or(opts.style_size), ..*opts };
                let image = match &request.style_stats {
                    Some(stats) => net.stylize_with_stats(work, stats, request.strength, &opts, progress)?,
                    None => net.stylize(work, styles, request.strength, &opts, progress)?,
                };
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

    /// AdaIN: the weighted mix of the styles' feature statistics, for
    /// [`Request::style_stats`] (so a video encodes its style once).
    pub fn style_statistics(&self, styles: &[StyleImage], style_size: Option<usize>) -> Result<Vec<f32>> {
        match &self.method {
            Method::AdaIN(net, opts) => {
                let opts = crate::models::adain::Options { style_size: style_size.unwrap_or(opts.style_size), ..*opts };
                let seen = styles.iter().map(|s| style_input_size(s.image.width, s.image.height, opts.style_size)).collect();
                let sizes = budget::Sizes { content: (0, 0), work: (0, 0), styles: seen };
                let what = || format!("the statistics of {} style image(s) at style size {}", styles.len(), opts.style_size);
                budget::check(what, budget::estimate(&self.method.footprint(), &sizes).total(), self.memory_limit()?)?;
                net.mixed_style_stats(styles, &opts)
            }
            _ => Err(Error::InvalidArgument("only AdaIN has style statistics".into())),
        }
    }

    /// The style vector of an image (methods driven by one; arbitrary).
    pub fn style_vector(&self, image: &RgbImage, style_size: Option<usize>) -> Result<Vec<f32>> {
        match &self.method {
            Method::Arbitrary(net, opts) => {
                let size = style_size.unwrap_or(opts.style_size);
                let (w, h) = style_input_size(image.width, image.height, size);
                let sizes = budget::Sizes { content: (0, 0), work: (0, 0), styles: vec![(w, h)] };
                let what = || format!("the style vector of a {}×{} painting seen at {w}×{h} (style size {size})", image.width, image.height);
                budget::check(what, budget::estimate(&self.method.footprint(), &sizes).total(), self.memory_limit()?)?;
                Ok(net.style_vector(image, size)?.to_vec1::<f32>()?)
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::method::{MethodOptions, MethodSpec};
    use crate::progress::Control;

    /// The embedded fast network (no weight files needed).
    fn fast() -> Stylizer {
        let spec = MethodSpec::new(MethodKind::Fast, &MethodOptions::default()).unwrap();
        let weights = restyle_weights::ResolveOptions::default().offline(true);
        Stylizer::new(crate::method::load(spec, &weights, &Device::Cpu).unwrap(), Device::Cpu)
    }

    #[test]
    fn requests_over_the_memory_limit_are_refused_before_allocating() {
        let content = Picture::from_rgb(RgbImage::filled(60, 40, [0.2, 0.5, 0.7]));
        let mut go = |_: &Progress| Control::Continue;
        // 100000 px wide at 12 B per pixel alone would be ~80 GB.
        let big = Request { working_size: Some(100_000), ..Request::default() };
        let e = fast().stylize(&content, &big, &mut go).err().expect("refused").to_string();
        assert!(e.contains("100000×66667") && e.contains("more than the limit"), "{e}");
        // The Stylizer's own limit wins over the default.
        let small = Request { working_size: Some(32), ..Request::default() };
        let estimate = fast().check_sizes(60, 40, &small).unwrap().total();
        let tight = fast().with_memory_limit(estimate - 1);
        let e = tight.stylize(&content, &small, &mut go).err().expect("refused").to_string();
        assert!(e.contains("32×21") && e.contains(&budget::format_bytes(estimate - 1)), "{e}");
        let out = fast().with_memory_limit(estimate).stylize(&content, &small, &mut go).unwrap();
        assert_eq!((out.picture.width(), out.picture.height()), (60, 40));
    }
}
