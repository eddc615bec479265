//! Flicker metrics of a stylized video against its source.
//!
//! - The warping error of Lai et al. 2018 ("Learning Blind Video Temporal
//!   Consistency", their `evaluate_WarpError.py`): for consecutive frames,
//!   `Σ M·(W(O_t) − O_{t−1})² / (3·ΣM)` with RGB in 0..1, `W` the backward
//!   warp along the flow from t−1 to t computed on the *source* frames, `M`
//!   the non-occluded pixels of t−1 (forward–backward check, motion
//!   boundaries excluded); averaged over the pairs.
//! - The mean absolute deviation from a per-frame stylization (×255),
//!   overall and on moving pixels (source flow ≥ 1 px): E_warp alone
//!   rewards blur and ghosting, the deviation says what it cost.

use super::flow::{dis, DisParams, Flow, Gray};
use super::warp::{consistent, warp};
use crate::image::RgbImage;
use crate::{Error, Result};

/// One pair's warping error: `Σ M·(W(O_t) − O_{t−1})² / (3·ΣM)`, where
/// `W(O_t)(x) = O_t(x + flow(x))` and `flow` goes from t−1 to t. With an
/// empty mask, divided by every value's count instead (as Lai et al.).
pub fn warp_error(prev: &RgbImage, cur: &RgbImage, flow: &Flow, mask: &[f32]) -> f64 {
    let warped = warp(&cur.data, 3, flow);
    let mut sum = 0.0f64;
    for ((w, p), m) in warped.chunks_exact(3).zip(prev.data.chunks_exact(3)).zip(mask) {
        let d: f32 = (0..3).map(|c| (w[c] - p[c]).powi(2)).sum();
        sum += (m * d) as f64;
    }
    let n = mask.iter().map(|&m| m as f64).sum::<f64>() * 3.0;
    sum / if n > 0.0 { n } else { prev.data.len() as f64 }
}

/// The figures for one video.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub frames: usize,
    /// Mean warping error of the stylized video.
    pub e_warp: f64,
    /// The same for the reference (per-frame) video, when given.
    pub e_warp_reference: Option<f64>,
    /// Mean |stylized − reference| in 0..255, all pixels.
    pub deviation: Option<f64>,
    /// The same on moving pixels only.
    pub deviation_moving: Option<f64>,
    /// Mean fraction of pixels the warping error counts.
    pub coverage: f64,
}

/// Accumulates the metrics frame by frame (memory: one previous frame each).
pub struct Metrics {
    params: DisParams,
    prev: Option<(Gray, RgbImage, Option<RgbImage>)>,
    frames: usize,
    pairs: usize,
    e_warp: f64,
    e_warp_ref: f64,
    coverage: f64,
    dev: (f64, f64),
    dev_moving: (f64, f64),
}

impl Metrics {
    pub fn new(params: DisParams) -> Self {
        Metrics { params, prev: None, frames: 0, pairs: 0, e_warp: 0.0, e_warp_ref: 0.0, coverage: 0.0, dev: (0.0, 0.0), dev_moving: (0.0, 0.0) }
    }

    /// Frame t of the source, the stylized video and (optionally) the per-frame reference; all one size.
    pub fn push(&mut self, source: &RgbImage, stylized: &RgbImage, reference: Option<&RgbImage>) -> Result<()> {
        let same = |a: &RgbImage| a.width == source.width && a.height == source.height;
        if !same(stylized) || !reference.is_none_or(same) {
            return Err(Error::InvalidArgument("the videos' frames must have one size".into()));
        }
        if self.prev.as_ref().is_some_and(|p| p.2.is_some() != reference.is_some()) {
            return Err(Error::InvalidArgument("a reference for some frames only".into()));
        }
        let gray = Gray::from_rgb(source.width, source.height, &source.data);
        let mut moving: Option<Vec<bool>> = None;
        if let Some((pg, po, pr)) = &self.prev {
            let fwd = dis(pg, &gray, &self.params)?;
            let bwd = dis(&gray, pg, &self.params)?;
            let mask = consistent(&fwd, &bwd);
            self.e_warp += warp_error(po, stylized, &fwd, &mask);
            if let (Some(pr), Some(r)) = (pr, reference) {
                self.e_warp_ref += warp_error(pr, r, &fwd, &mask);
            }
            self.coverage += mask.iter().map(|&m| m as f64).sum::<f64>() / mask.len() as f64;
            self.pairs += 1;
            moving = Some(bwd.data.chunks_exact(2).map(|v| v[0] * v[0] + v[1] * v[1] >= 1.0).collect());
        }
        if let Some(r) = reference {
            for (i, (a, b)) in stylized.data.chunks_exact(3).zip(r.data.chunks_exact(3)).enumerate() {
                let d: f64 = (0..3).map(|c| (a[c] - b[c]).abs() as f64).sum::<f64>() * 255.0 / 3.0;
                self.dev.0 += d;
                self.dev.1 += 1.0;
                if moving.as_ref().is_some_and(|m| m[i]) {
                    self.dev_moving.0 += d;
                    self.dev_moving.1 += 1.0;
                }
            }
        }
        self.frames += 1;
        self.prev = Some((gray, stylized.clone(), reference.cloned()));
        Ok(())
    }

    pub fn summary(&self) -> Summary {
        let pairs = self.pairs.max(1) as f64;
        let has_ref = self.dev.1 > 0.0;
        Summary {
            frames: self.frames,
            e_warp: self.e_warp / pairs,
            e_warp_reference: has_ref.then_some(self.e_warp_ref / pairs),
            deviation: has_ref.then(|| self.dev.0 / self.dev.1),
            deviation_moving: (self.dev_moving.1 > 0.0).then(|| self.dev_moving.0 / self.dev_moving.1),
            coverage: self.coverage / pairs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formula by hand on a 3×1 image: shift by one pixel, last pixel masked out.
    #[test]
    fn warp_error_arithmetic() {
        let prev = RgbImage { width: 3, height: 1, data: vec![0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 1.0, 1.0, 1.0] };
        let cur = RgbImage { width: 3, height: 1, data: vec![9.0, 9.0, 9.0, 0.1, 0.0, 0.0, 0.5, 0.5, 0.8] };
        let mut flow = Flow::zeros(3, 1);
        flow.data = vec![1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let mask = [1.0, 1.0, 0.0];
        // Pixel 0: cur[1] − prev[0] = (0.1, 0, 0); pixel 1: cur[2] − prev[1] = (0, 0, 0.3).
        let want = (0.01 + 0.09) / 6.0;
        assert!((warp_error(&prev, &cur, &flow, &mask) - want).abs() < 1e-7);
        // An empty mask divides by every value.
        let all = warp_error(&prev, &cur, &flow, &[0.0; 3]);
        assert_eq!(all, 0.0);
    }
}
