//! Backward warping by a flow field and the occlusion mask of a flow pair
//! (forward–backward consistency, as Sundaram et al. 2010 / Ruder et al.
//! 2016, which Lai et al. 2018 also use for their warping error).

use super::flow::{bilinear, Flow};
use rayon::prelude::*;

/// `out(x) = image(x + flow(x))`, bilinear, border clamped. `image` is
/// interleaved with `channels` values per pixel, the flow's size.
pub fn warp(image: &[f32], channels: usize, flow: &Flow) -> Vec<f32> {
    let (w, h) = (flow.width, flow.height);
    let mut out = vec![0.0; w * h * channels];
    out.par_chunks_mut(w * channels).enumerate().for_each(|(y, row)| {
        for x in 0..w {
            let (u, v) = flow.at(x, y);
            for c in 0..channels {
                row[x * channels + c] = bilinear(image, channels, w, h, x as f32 + u, y as f32 + v, c);
            }
        }
    });
    out
}

/// Where `ab` (the flow from frame A to frame B, defined on A) is
/// trustworthy: 1 where following `ab` and then `ba` (B to A, defined on B)
/// comes back to the start, the target is inside B, and `ab` is not at a
/// motion boundary; 0 elsewhere. Binary, on A's pixels.
pub fn consistent(ab: &Flow, ba: &Flow) -> Vec<f32> {
    let (w, h) = (ab.width, ab.height);
    let mut mask = vec![0.0; w * h];
    mask.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
        for (x, m) in row.iter_mut().enumerate() {
            let (u, v) = ab.at(x, y);
            let (tx, ty) = (x as f32 + u, y as f32 + v);
            if tx < 0.0 || ty < 0.0 || tx > (w - 1) as f32 || ty > (h - 1) as f32 {
                continue;
            }
            let (bu, bv) = ba.sample(tx, ty);
            let (su, sv) = (u + bu, v + bv);
            if su * su + sv * sv > 0.01 * (u * u + v * v + bu * bu + bv * bv) + 0.5 {
                continue;
            }
            // Motion boundary: a large flow gradient.
            let (xl, xr) = (x.saturating_sub(1), (x + 1).min(w - 1));
            let (yu, yd) = (y.saturating_sub(1), (y + 1).min(h - 1));
            let d = |a: (f32, f32), b: (f32, f32), n: usize| ((a.0 - b.0) / n.max(1) as f32, (a.1 - b.1) / n.max(1) as f32);
            let (ux, vx) = d(ab.at(xr, y), ab.at(xl, y), xr - xl);
            let (uy, vy) = d(ab.at(x, yd), ab.at(x, yu), yd - yu);
            if ux * ux + vx * vx + uy * uy + vy * vy > 0.01 * (u * u + v * v) + 0.002 {
                continue;
            }
            *m = 1.0;
        }
    });
    mask
}

/// A feathered version of a binary mask: eroded by `radius` (so the soft
/// edge lies inside the valid region and occluded pixels stay 0), then box
/// blurred by `radius`.
pub fn feather(mask: &[f32], w: usize, h: usize, radius: usize) -> Vec<f32> {
    if radius == 0 {
        return mask.to_vec();
    }
    let eroded = separable(mask, w, h, radius, |a, b| a.min(b), 1.0, false);
    separable(&eroded, w, h, radius, |a, b| a + b, 0.0, true)
}

/// A separable window filter (min or box mean) with the border clamped.
fn separable(src: &[f32], w: usize, h: usize, r: usize, f: impl Fn(f32, f32) -> f32 + Sync, init: f32, mean: bool) -> Vec<f32> {
    let n = (2 * r + 1) as f32;
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0.0; w * h];
        out.par_chunks_mut(w).enumerate().for_each(|(y, row)| {
            for (x, o) in row.iter_mut().enumerate() {
                let mut acc = init;
                for k in -(r as isize)..=r as isize {
                    let (xx, yy) = if horizontal { ((x as isize + k).clamp(0, w as isize - 1) as usize, y) } else { (x, (y as isize + k).clamp(0, h as isize - 1) as usize) };
                    acc = f(acc, src[yy * w + xx]);
                }
                *o = if mean { acc / n } else { acc };
            }
        });
        out
    };
    pass(&pass(src, true), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uniform(w: usize, h: usize, u: f32, v: f32) -> Flow {
        let mut f = Flow::zeros(w, h);
        f.data.chunks_exact_mut(2).for_each(|p| {
            p[0] = u;
            p[1] = v;
        });
        f
    }

    #[test]
    fn warp_by_an_integer_shift_moves_pixels() {
        let (w, h) = (6, 5);
        let img: Vec<f32> = (0..w * h).map(|i| i as f32).collect();
        let out = warp(&img, 1, &uniform(w, h, 1.0, 0.0));
        assert_eq!(out[0], 1.0);
        assert_eq!(out[w - 1], (w - 1) as f32); // clamped at the border
        let half = warp(&img, 1, &uniform(w, h, 0.5, 1.0));
        assert!((half[0] - (w as f32 + 0.5)).abs() < 1e-6);
    }

    #[test]
    fn consistent_flows_pass_and_a_contradiction_fails() {
        let (w, h) = (20, 10);
        let m = consistent(&uniform(w, h, 2.0, 0.0), &uniform(w, h, -2.0, 0.0));
        // The last two columns leave the frame.
        assert!(m[5 * w + 5] == 1.0 && m[5 * w + w - 1] == 0.0);
        let bad = consistent(&uniform(w, h, 2.0, 0.0), &uniform(w, h, 2.0, 0.0));
        assert!(bad.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn feathering_keeps_zeros_and_softens_edges() {
        let (w, h) = (16, 1);
        let mask: Vec<f32> = (0..w).map(|x| if x < 8 { 1.0 } else { 0.0 }).collect();
        let f = feather(&mask, w, h, 2);
        assert!(f[8..].iter().all(|&v| v == 0.0));
        assert!(f[0] == 1.0 && f[6] > 0.0 && f[6] < 1.0);
    }
}
