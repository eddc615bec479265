//! Colour preservation (Gatys et al. 2016, "Preserving color in neural
//! artistic style transfer"), shared by every method's `PreserveColor`:
//!
//! - [`luminance_transfer`]: keep the stylized image's luma, take the
//!   content's chroma (BT.601 YCbCr);
//! - [`match_colors`]: recolour an image so its colour mean and covariance
//!   equal another's (`x' = A (x − μ_s) + μ_t`, `A = Σ_t^½ Σ_s^−½`), applied to
//!   the style image before stylizing.

use crate::image::RgbImage;
use crate::{Error, Result};

fn to_ycbcr(p: &[f32]) -> [f32; 3] {
    let (r, g, b) = (p[0], p[1], p[2]);
    let y = 0.299 * r + 0.587 * g + 0.114 * b;
    [y, (b - y) * 0.564 + 0.5, (r - y) * 0.713 + 0.5]
}

fn from_ycbcr(y: f32, cb: f32, cr: f32) -> [f32; 3] {
    let r = y + (cr - 0.5) / 0.713;
    let b = y + (cb - 0.5) / 0.564;
    let g = (y - 0.299 * r - 0.114 * b) / 0.587;
    [r.clamp(0.0, 1.0), g.clamp(0.0, 1.0), b.clamp(0.0, 1.0)]
}

/// The stylized image's luminance with the content's chroma.
pub fn luminance_transfer(content: &RgbImage, stylized: &RgbImage) -> Result<RgbImage> {
    if (content.width, content.height) != (stylized.width, stylized.height) {
        return Err(Error::InvalidArgument(format!(
            "colour transfer needs equal sizes, got {}×{} and {}×{}",
            content.width, content.height, stylized.width, stylized.height
        )));
    }
    let data = content
        .data
        .chunks_exact(3)
        .zip(stylized.data.chunks_exact(3))
        .flat_map(|(c, s)| {
            let [_, cb, cr] = to_ycbcr(c);
            from_ycbcr(to_ycbcr(s)[0], cb, cr)
        })
        .collect();
    RgbImage::new(content.width, content.height, data)
}

type M3 = [[f64; 3]; 3];

fn mean_cov(img: &RgbImage) -> ([f64; 3], M3) {
    let n = (img.width * img.height) as f64;
    let mut mu = [0f64; 3];
    for p in img.data.chunks_exact(3) {
        for c in 0..3 {
            mu[c] += p[c] as f64;
        }
    }
    mu.iter_mut().for_each(|m| *m /= n);
    let mut cov = [[0f64; 3]; 3];
    for p in img.data.chunks_exact(3) {
        let d = [p[0] as f64 - mu[0], p[1] as f64 - mu[1], p[2] as f64 - mu[2]];
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j];
            }
        }
    }
    cov.iter_mut().flatten().for_each(|v| *v /= n);
    (mu, cov)
}

fn mul(a: &M3, b: &M3) -> M3 {
    let mut r = [[0f64; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    r
}

/// `V f(Λ) Vᵀ` for a symmetric 3×3 matrix (cyclic Jacobi eigen-decomposition).
fn sym_fn(m: &M3, f: impl Fn(f64) -> f64) -> M3 {
    let mut a = *m;
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _ in 0..50 {
        let off: f64 = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        if off < 1e-30 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q].abs() < 1e-300 {
                continue;
            }
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
            let mut j: M3 = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
            j[p][p] = c;
            j[q][q] = c;
            j[p][q] = s;
            j[q][p] = -s;
            let jt = [[j[0][0], j[1][0], j[2][0]], [j[0][1], j[1][1], j[2][1]], [j[0][2], j[1][2], j[2][2]]];
            a = mul(&mul(&jt, &a), &j);
            v = mul(&v, &j);
        }
    }
    let mut r = [[0f64; 3]; 3];
    for k in 0..3 {
        let fk = f(a[k][k]);
        for i in 0..3 {
            for jx in 0..3 {
                r[i][jx] += v[i][k] * fk * v[jx][k];
            }
        }
    }
    r
}

/// `source` recoloured so that its colour mean and covariance match
/// `target`'s (per-pixel affine map, clamped to 0..1).
pub fn match_colors(source: &RgbImage, target: &RgbImage) -> RgbImage {
    let (ms, cs) = mean_cov(source);
    let (mt, ct) = mean_cov(target);
    // A tiny ridge keeps flat (rank-deficient) colour distributions finite.
    let ridge = |m: M3| {
        let mut m = m;
        (0..3).for_each(|i| m[i][i] += 1e-5);
        m
    };
    let a = mul(&sym_fn(&ridge(ct), |l| l.max(0.0).sqrt()), &sym_fn(&ridge(cs), |l| 1.0 / l.max(1e-12).sqrt()));
    let data = source
        .data
        .chunks_exact(3)
        .flat_map(|p| {
            let d = [p[0] as f64 - ms[0], p[1] as f64 - ms[1], p[2] as f64 - ms[2]];
            let mut o = [0f32; 3];
            for i in 0..3 {
                o[i] = ((0..3).map(|k| a[i][k] * d[k]).sum::<f64>() + mt[i]).clamp(0.0, 1.0) as f32;
            }
            o
        })
        .collect();
    RgbImage { width: source.width, height: source.height, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(w: usize, h: usize, seed: u32, tint: [f32; 3], spread: f32) -> RgbImage {
        let mut s = seed.wrapping_mul(2654435761).max(1);
        let mut rnd = || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) - 0.5
        };
        let data = (0..w * h)
            .flat_map(|_| {
                let common = rnd();
                [0, 1, 2].map(|c| (tint[c] + spread * (common * 0.7 + rnd() * 0.3 * (c as f32 + 1.0))).clamp(0.0, 1.0))
            })
            .collect();
        RgbImage::new(w, h, data).unwrap()
    }

    #[test]
    fn luminance_transfer_keeps_content_chroma_and_stylized_luma() {
        let content = noise(16, 8, 1, [0.7, 0.3, 0.2], 0.2);
        let stylized = noise(16, 8, 2, [0.3, 0.5, 0.7], 0.4);
        let out = luminance_transfer(&content, &stylized).unwrap();
        for ((o, c), s) in out.data.chunks(3).zip(content.data.chunks(3)).zip(stylized.data.chunks(3)) {
            let (yo, yc, ys) = (to_ycbcr(o), to_ycbcr(c), to_ycbcr(s));
            let clipped = o.iter().any(|&v| v <= 0.0 || v >= 1.0);
            if !clipped {
                assert!((yo[0] - ys[0]).abs() < 1e-4);
                assert!((yo[1] - yc[1]).abs() < 1e-4 && (yo[2] - yc[2]).abs() < 1e-4);
            }
        }
        assert!(luminance_transfer(&content, &noise(8, 8, 3, [0.5; 3], 0.1)).is_err());
    }

    #[test]
    fn matched_colors_have_the_target_statistics() {
        let src = noise(64, 64, 5, [0.3, 0.4, 0.6], 0.3);
        let tgt = noise(48, 40, 9, [0.6, 0.45, 0.3], 0.25);
        let out = match_colors(&src, &tgt);
        let (mo, co) = mean_cov(&out);
        let (mt, ct) = mean_cov(&tgt);
        let (ms, _) = mean_cov(&src);
        for i in 0..3 {
            assert!((mo[i] - mt[i]).abs() < 5e-3, "mean {i}: {} vs {}", mo[i], mt[i]);
            for j in 0..3 {
                assert!((co[i][j] - ct[i][j]).abs() < 2e-3, "cov {i}{j}: {} vs {}", co[i][j], ct[i][j]);
            }
        }
        assert!((ms[0] - mt[0]).abs() > 0.2, "the test must move the colours");
    }

    #[test]
    fn matrix_square_roots_are_inverse_pairs() {
        let m = [[0.04, 0.01, 0.005], [0.01, 0.03, 0.002], [0.005, 0.002, 0.02]];
        let r = mul(&sym_fn(&m, f64::sqrt), &sym_fn(&m, |l| 1.0 / l.sqrt()));
        for i in 0..3 {
            for j in 0..3 {
                assert!((r[i][j] - if i == j { 1.0 } else { 0.0 }).abs() < 1e-9);
            }
        }
    }
}
