//! Dense optical flow, DIS (Kroeger et al., "Fast Optical Flow using Dense
//! Inverse Search", ECCV 2016), in pure Rust: a coarse-to-fine pyramid; on
//! each level a grid of overlapping patches, each found in the second frame
//! by inverse-compositional gradient descent; the patches are then
//! densified by a photometric-error-weighted average. The variational
//! refinement of the paper is left out (see docs/video.md).
//!
//! Convention: `dis(i0, i1)` returns `u` with `i0(x) ≈ i1(x + u(x))`.

use rayon::prelude::*;

/// A grayscale frame, intensities in 0..255 (the scale the DIS thresholds
/// are defined in).
#[derive(Clone, Debug)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Gray {
    /// From RGB 0..1 interleaved pixels (BT.601 luma).
    pub fn from_rgb(width: usize, height: usize, rgb: &[f32]) -> Gray {
        let data = rgb.chunks_exact(3).map(|p| 255.0 * (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2])).collect();
        Gray { width, height, data }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.width + x]
    }

    /// Bilinear sample with the border clamped.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        bilinear(&self.data, 1, self.width, self.height, x, y, 0)
    }

    /// Half size by 2×2 averaging (odd edges dropped).
    fn half(&self) -> Gray {
        let (w, h) = ((self.width / 2).max(1), (self.height / 2).max(1));
        let mut data = vec![0.0; w * h];
        for y in 0..h {
            let (y0, y1) = ((2 * y).min(self.height - 1), (2 * y + 1).min(self.height - 1));
            for x in 0..w {
                let (x0, x1) = ((2 * x).min(self.width - 1), (2 * x + 1).min(self.width - 1));
                data[y * w + x] = 0.25 * (self.at(x0, y0) + self.at(x1, y0) + self.at(x0, y1) + self.at(x1, y1));
            }
        }
        Gray { width: w, height: h, data }
    }

    /// Central-difference gradients (one-sided at the border).
    fn gradients(&self) -> (Vec<f32>, Vec<f32>) {
        let (w, h) = (self.width, self.height);
        let mut gx = vec![0.0; w * h];
        let mut gy = vec![0.0; w * h];
        for y in 0..h {
            for x in 0..w {
                let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
                let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
                gx[y * w + x] = (self.at(xr, y) - self.at(xl, y)) / ((xr - xl).max(1) as f32);
                gy[y * w + x] = (self.at(x, yd) - self.at(x, yu)) / ((yd - yu).max(1) as f32);
            }
        }
        (gx, gy)
    }
}

/// Bilinear sample of channel `c` of an interleaved image, border clamped.
#[inline]
pub fn bilinear(data: &[f32], channels: usize, w: usize, h: usize, x: f32, y: f32, c: usize) -> f32 {
    let x = x.clamp(0.0, (w - 1) as f32);
    let y = y.clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let p = |xx: usize, yy: usize| data[(yy * w + xx) * channels + c];
    let top = p(x0, y0) + fx * (p(x1, y0) - p(x0, y0));
    let bottom = p(x0, y1) + fx * (p(x1, y1) - p(x0, y1));
    top + fy * (bottom - top)
}

/// A dense flow field: `(u, v)` per pixel, interleaved, in pixels.
#[derive(Clone, Debug)]
pub struct Flow {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl Flow {
    pub fn zeros(width: usize, height: usize) -> Flow {
        Flow { width, height, data: vec![0.0; width * height * 2] }
    }

    #[inline]
    pub fn at(&self, x: usize, y: usize) -> (f32, f32) {
        let i = 2 * (y * self.width + x);
        (self.data[i], self.data[i + 1])
    }

    /// Bilinear sample, border clamped.
    #[inline]
    pub fn sample(&self, x: f32, y: f32) -> (f32, f32) {
        (bilinear(&self.data, 2, self.width, self.height, x, y, 0), bilinear(&self.data, 2, self.width, self.height, x, y, 1))
    }

    /// Resampled to `width × height` (pixel centres aligned), vectors scaled with the size.
    pub fn resize(&self, width: usize, height: usize) -> Flow {
        if width == self.width && height == self.height {
            return self.clone();
        }
        let (sx, sy) = (self.width as f32 / width as f32, self.height as f32 / height as f32);
        let mut data = vec![0.0; width * height * 2];
        data.par_chunks_mut(width * 2).enumerate().for_each(|(y, row)| {
            let yy = (y as f32 + 0.5) * sy - 0.5;
            for x in 0..width {
                let (u, v) = self.sample((x as f32 + 0.5) * sx - 0.5, yy);
                row[2 * x] = u / sx;
                row[2 * x + 1] = v / sy;
            }
        });
        Flow { width, height, data }
    }
}

/// DIS parameters (the names of the paper / OpenCV's `DISOpticalFlow`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DisParams {
    /// The finest pyramid level computed (0 = full resolution); the flow is
    /// upsampled from there.
    pub finest_scale: usize,
    pub patch_size: usize,
    pub patch_stride: usize,
    /// Gradient-descent iterations per patch.
    pub iterations: usize,
}

/// Speed/quality presets, after OpenCV's (without variational refinement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowPreset {
    UltraFast,
    Fast,
    Medium,
}

impl FlowPreset {
    /// The preset of [`crate::video::TemporalOptions::default`].
    pub const DEFAULT: FlowPreset = FlowPreset::Fast;
    /// Every preset, fastest first.
    pub const ALL: [FlowPreset; 3] = [FlowPreset::UltraFast, FlowPreset::Fast, FlowPreset::Medium];

    pub fn params(self) -> DisParams {
        match self {
            FlowPreset::UltraFast => DisParams { finest_scale: 2, patch_size: 8, patch_stride: 5, iterations: 12 },
            FlowPreset::Fast => DisParams { finest_scale: 2, patch_size: 8, patch_stride: 4, iterations: 16 },
            FlowPreset::Medium => DisParams { finest_scale: 1, patch_size: 12, patch_stride: 4, iterations: 16 },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FlowPreset::UltraFast => "ultrafast",
            FlowPreset::Fast => "fast",
            FlowPreset::Medium => "medium",
        }
    }
}

impl std::fmt::Display for FlowPreset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for FlowPreset {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        // The names live once, in `name`.
        Self::ALL.into_iter().find(|p| p.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.name()).collect();
            crate::Error::InvalidArgument(format!("unknown flow preset {s:?} ({})", names.join(", ")))
        })
    }
}

/// The flow from `i0` to `i1`: `i0(x) ≈ i1(x + u(x))`. Both frames must have
/// the same size.
pub fn dis(i0: &Gray, i1: &Gray, params: &DisParams) -> crate::Result<Flow> {
    if i0.width != i1.width || i0.height != i1.height || i0.data.len() != i0.width * i0.height || i1.data.len() != i1.width * i1.height {
        return Err(crate::Error::InvalidArgument(format!(
            "optical flow needs two frames of one size, got {}×{} and {}×{}",
            i0.width, i0.height, i1.width, i1.height
        )));
    }
    if i0.width == 0 || i0.height == 0 {
        return Err(crate::Error::InvalidArgument("optical flow of an empty frame".into()));
    }
    let longest = i0.width.max(i0.height) as f32;
    // Coarsest level: about four patches across (as OpenCV).
    let coarsest = ((longest / (4.0 * params.patch_size as f32)).log2() + 0.5).max(0.0) as usize;
    let finest = params.finest_scale.min(coarsest);
    let mut p0 = vec![i0.clone()];
    let mut p1 = vec![i1.clone()];
    for s in 0..coarsest {
        p0.push(p0[s].half());
        p1.push(p1[s].half());
    }
    let mut flow = Flow::zeros(p0[coarsest].width, p0[coarsest].height);
    for s in (finest..=coarsest).rev() {
        let (a, b) = (&p0[s], &p1[s]);
        flow = flow.resize(a.width, a.height);
        flow = level(a, b, &flow, params);
    }
    Ok(flow.resize(i0.width, i0.height))
}

/// One pyramid level: inverse search for every patch, then densification.
fn level(i0: &Gray, i1: &Gray, init: &Flow, params: &DisParams) -> Flow {
    let (w, h) = (i0.width, i0.height);
    let ps = params.patch_size.min(w).min(h).max(1);
    let stride = params.patch_stride.clamp(1, ps);
    let positions = |n: usize| -> Vec<usize> {
        let mut v: Vec<usize> = (0..=n - ps).step_by(stride).collect();
        if *v.last().unwrap_or(&0) != n - ps {
            v.push(n - ps); // the last patch touches the border
        }
        v
    };
    let (xs, ys) = (positions(w), positions(h));
    let (gx, gy) = i0.gradients();
    let patches: Vec<(f32, f32)> = ys
        .par_iter()
        .flat_map_iter(|&py| xs.iter().map(move |&px| (px, py)).collect::<Vec<_>>())
        .map(|(px, py)| search(i0, i1, &gx, &gy, init, px, py, ps, params.iterations))
        .collect();
    densify(i0, i1, &xs, &ys, ps, &patches)
}

/// Inverse-compositional search of one patch (translation only), with the
/// patches' means removed (robust to brightness changes).
#[allow(clippy::too_many_arguments)]
fn search(i0: &Gray, i1: &Gray, gx: &[f32], gy: &[f32], init: &Flow, px: usize, py: usize, ps: usize, iterations: usize) -> (f32, f32) {
    let w = i0.width;
    let n = ps * ps;
    let c = (px as f32 + (ps as f32 - 1.0) / 2.0, py as f32 + (ps as f32 - 1.0) / 2.0);
    let start = init.sample(c.0, c.1);
    let mut t = Vec::with_capacity(n);
    let (mut hxx, mut hxy, mut hyy) = (0.0f32, 0.0f32, 0.0f32);
    for y in py..py + ps {
        for x in px..px + ps {
            let i = y * w + x;
            t.push(i0.data[i]);
            hxx += gx[i] * gx[i];
            hxy += gx[i] * gy[i];
            hyy += gy[i] * gy[i];
        }
    }
    let tmean = t.iter().sum::<f32>() / n as f32;
    t.iter_mut().for_each(|v| *v -= tmean);
    // Regularised so flat patches do not blow up (they keep their start).
    let reg = 1e-2 * n as f32;
    let (hxx, hyy) = (hxx + reg, hyy + reg);
    let det = hxx * hyy - hxy * hxy;
    // Residual I1(x + u) − T(x) with the means removed, and its SSD.
    let ssd = |u: f32, v: f32, warped: &mut Vec<f32>| -> f32 {
        sample_patch(i1, px, py, ps, u, v, warped);
        let m = warped.iter().sum::<f32>() / n as f32;
        warped.iter_mut().zip(&t).map(|(a, b)| { *a -= m + b; *a * *a }).sum()
    };
    let mut warped = Vec::with_capacity(n);
    let first = ssd(start.0, start.1, &mut warped);
    let (mut u, mut v) = start;
    let mut err = first;
    for _ in 0..iterations {
        // `warped` now holds the residual I1(x + u) − T(x), means removed.
        let (mut bx, mut by) = (0.0f32, 0.0f32);
        let mut k = 0;
        for y in py..py + ps {
            for x in px..px + ps {
                let i = y * w + x;
                bx += gx[i] * warped[k];
                by += gy[i] * warped[k];
                k += 1;
            }
        }
        let du = (hyy * bx - hxy * by) / det;
        let dv = (hxx * by - hxy * bx) / det;
        u -= du;
        v -= dv;
        err = ssd(u, v, &mut warped);
        if du * du + dv * dv < 1e-4 {
            break;
        }
    }
    // A patch that got worse or ran away keeps its start (as OpenCV).
    let moved = (u - start.0).powi(2) + (v - start.1).powi(2);
    if !(err <= first) || moved > (ps * ps) as f32 {
        return start;
    }
    (u, v)
}

/// The `ps × ps` patch of `img` at `(px + u, py + v)`, bilinear. A patch
/// moves by one vector, so the four weights are shared by all its pixels;
/// rows are read directly when the patch lies inside the image.
fn sample_patch(img: &Gray, px: usize, py: usize, ps: usize, u: f32, v: f32, out: &mut Vec<f32>) {
    out.clear();
    let (x, y) = (px as f32 + u, py as f32 + v);
    let (fx0, fy0) = (x.floor(), y.floor());
    let (fx, fy) = (x - fx0, y - fy0);
    let (ix, iy) = (fx0 as isize, fy0 as isize);
    let (w, h) = (img.width as isize, img.height as isize);
    if ix >= 0 && iy >= 0 && ix + (ps as isize) < w && iy + (ps as isize) < h {
        let (w00, w01, w10, w11) = ((1.0 - fx) * (1.0 - fy), fx * (1.0 - fy), (1.0 - fx) * fy, fx * fy);
        let w = img.width;
        for r in 0..ps {
            let i = (iy as usize + r) * w + ix as usize;
            let (top, bottom) = (&img.data[i..i + ps + 1], &img.data[i + w..i + w + ps + 1]);
            for c in 0..ps {
                out.push(w00 * top[c] + w01 * top[c + 1] + w10 * bottom[c] + w11 * bottom[c + 1]);
            }
        }
    } else {
        for r in 0..ps {
            for c in 0..ps {
                out.push(img.sample(x + c as f32, y + r as f32));
            }
        }
    }
}

/// Each pixel: the average of the patches covering it, weighted by
/// 1 / max(1, |I1(x + u_i) − I0(x)|).
fn densify(i0: &Gray, i1: &Gray, xs: &[usize], ys: &[usize], ps: usize, patches: &[(f32, f32)]) -> Flow {
    let (w, h) = (i0.width, i0.height);
    let nx = xs.len();
    let mut data = vec![0.0; w * h * 2];
    data.par_chunks_mut(w * 2).enumerate().for_each(|(y, row)| {
        let rows: Vec<usize> = (0..ys.len()).filter(|&j| ys[j] <= y && y < ys[j] + ps).collect();
        let mut col_start = 0;
        for x in 0..w {
            while col_start < nx && xs[col_start] + ps <= x {
                col_start += 1;
            }
            let (mut su, mut sv, mut sw) = (0.0f32, 0.0f32, 0.0f32);
            let i0v = i0.data[y * w + x];
            for &j in &rows {
                for i in col_start..nx {
                    if xs[i] > x {
                        break;
                    }
                    let (u, v) = patches[j * nx + i];
                    let d = (i1.sample(x as f32 + u, y as f32 + v) - i0v).abs();
                    let wgt = 1.0 / d.max(1.0);
                    su += wgt * u;
                    sv += wgt * v;
                    sw += wgt;
                }
            }
            if sw > 0.0 {
                row[2 * x] = su / sw;
                row[2 * x + 1] = sv / sw;
            }
        }
    });
    Flow { width: w, height: h, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth texture, evaluated anywhere (so shifts are exact).
    pub(crate) fn texture(x: f32, y: f32) -> f32 {
        let s = (0.21 * x).sin() * (0.17 * y).cos() + 0.6 * (0.071 * x + 0.113 * y).sin() + 0.4 * (0.29 * x - 0.05 * y).cos() * (0.09 * y).sin();
        127.5 + 60.0 * s
    }

    fn frame(w: usize, h: usize, f: impl Fn(f32, f32) -> f32) -> Gray {
        let mut data = Vec::with_capacity(w * h);
        for y in 0..h {
            for x in 0..w {
                data.push(f(x as f32, y as f32));
            }
        }
        Gray { width: w, height: h, data }
    }

    /// Mean end-point error against `truth` away from a `margin`-pixel border.
    fn epe(flow: &Flow, truth: impl Fn(f32, f32) -> (f32, f32), margin: usize) -> f32 {
        let (mut s, mut n) = (0.0, 0);
        for y in margin..flow.height - margin {
            for x in margin..flow.width - margin {
                let (u, v) = flow.at(x, y);
                let (tu, tv) = truth(x as f32, y as f32);
                s += ((u - tu).powi(2) + (v - tv).powi(2)).sqrt();
                n += 1;
            }
        }
        s / n as f32
    }

    #[test]
    fn subpixel_shift_is_found_by_every_preset() {
        let (w, h) = (160, 120);
        let (du, dv) = (2.3f32, -1.6f32);
        let i0 = frame(w, h, texture);
        // i0(x) = i1(x + d)  ⇔  i1(x) = texture(x − d)
        let i1 = frame(w, h, |x, y| texture(x - du, y - dv));
        for preset in [FlowPreset::UltraFast, FlowPreset::Fast, FlowPreset::Medium] {
            let f = dis(&i0, &i1, &preset.params()).unwrap();
            let e = epe(&f, |_, _| (du, dv), 12);
            assert!(e < 0.15, "{}: mean end-point error {e}", preset.name());
        }
    }

    #[test]
    fn rotation_is_found() {
        let (w, h) = (160, 160);
        let (cx, cy, a) = (80.0f32, 80.0f32, 0.03f32);
        let i0 = frame(w, h, texture);
        // i1 is i0 rotated by a about the centre: i0(x) = i1(R(x − c) + c).
        let rot = |x: f32, y: f32, a: f32| (cx + a.cos() * (x - cx) - a.sin() * (y - cy), cy + a.sin() * (x - cx) + a.cos() * (y - cy));
        let i1 = frame(w, h, |x, y| {
            let (sx, sy) = rot(x, y, -a);
            texture(sx, sy)
        });
        let f = dis(&i0, &i1, &FlowPreset::Medium.params()).unwrap();
        let e = epe(&f, |x, y| {
            let (rx, ry) = rot(x, y, a);
            (rx - x, ry - y)
        }, 16);
        assert!(e < 0.25, "rotation: mean end-point error {e}");
    }

    #[test]
    fn identical_frames_give_zero_flow_and_sizes_are_checked() {
        let i0 = frame(37, 23, texture); // odd, smaller than a few patches
        let f = dis(&i0, &i0, &FlowPreset::Medium.params()).unwrap();
        assert!(f.data.iter().all(|v| v.abs() < 1e-3));
        let other = frame(36, 23, texture);
        assert!(dis(&i0, &other, &FlowPreset::Fast.params()).is_err());
    }
}
