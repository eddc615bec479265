//! A video one frame at a time, for callers without a file: live pipes and
//! cameras (`restyle video -`), the C ABI's `restyle_video_*`. Each frame
//! goes through the one [`Stylizer`] and is blended with the previous
//! output by [`Temporal`]; what depends on the style only is computed once,
//! when the stream is made ([`crate::video::pipeline::per_video_request`]).
//!
//! Frames a caller skips (a live source dropping frames under load) are
//! simply never given: the flow is computed between the frames actually
//! stylized, so the state stays consistent.

use super::pipeline::per_video_request;
use super::temporal::{Temporal, TemporalOptions};
use crate::image::{Picture, RgbImage};
use crate::method::MethodKind;
use crate::request::Request;
use crate::stylize::Stylizer;
use crate::{Error, Result};

/// Whether `kind` can stylize video: the feed-forward methods only (the
/// optimisation methods take minutes per frame). Front ends ask before
/// loading any weights.
pub fn check_method(kind: MethodKind) -> Result<()> {
    if kind.is_optimisation() {
        return Err(Error::InvalidArgument(format!("video takes the feed-forward methods (fast, multistyle26, arbitrary, adain), not {kind}")));
    }
    Ok(())
}

pub struct VideoStream {
    request: Request,
    temporal: Temporal,
    /// The first frame's size; every later frame must have it.
    size: Option<(usize, usize)>,
    frames: usize,
}

impl VideoStream {
    /// A stream for `stylizer`'s method: every later [`VideoStream::frame`]
    /// must be given the same stylizer. The optimisation methods are
    /// refused (minutes per frame, and no state to carry).
    pub fn new(stylizer: &Stylizer, request: &Request, temporal: TemporalOptions) -> Result<Self> {
        check_method(stylizer.kind())?;
        request.validate()?;
        let temporal = Temporal::new(temporal)?;
        Ok(VideoStream { request: per_video_request(stylizer, request)?, temporal, size: None, frames: 0 })
    }

    /// The request each frame gets (style vector or statistics precomputed).
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// The output for the next frame. A frame of another size than the
    /// first is an error, and an error leaves the stream as it was.
    pub fn frame(&mut self, stylizer: &Stylizer, source: &RgbImage) -> Result<RgbImage> {
        let size = (source.width, source.height);
        if let Some((w, h)) = self.size {
            if size != (w, h) {
                return Err(Error::InvalidArgument(format!(
                    "frame {}×{} in a stream of {w}×{h} frames (start a new stream for another size)",
                    size.0, size.1
                )));
            }
        }
        let stylized = stylizer.stylize(&Picture::from_rgb(source.clone()), &self.request, &mut crate::progress::silent())?;
        let out = self.temporal.next(source, stylized.picture.rgb)?;
        self.size = Some(size);
        self.frames += 1;
        Ok(out)
    }

    /// Frames stylized so far.
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Scene cuts seen so far (the temporal state started afresh).
    pub fn cuts(&self) -> usize {
        self.temporal.cuts()
    }
}
