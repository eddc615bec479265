//! Winograd F(2×2, 3×3) convolution on the CPU (Lavin & Gray 2016).
//!
//! A 3×3 stride-1 cross-correlation computes each 2×2 block of outputs from
//! a 4×4 input tile with 16 multiplications instead of 36: the tile is
//! transformed (V = Bᵀ d B), multiplied element-wise by the transformed
//! filter (U = G g Gᵀ) and transformed back (Y = Aᵀ M A). Summed over input
//! channels the element-wise products become 16 matrix products
//! M[ξ] = U[ξ]·V[ξ] `[O, C]·[C, tiles]`, done with the same gemm as the
//! im2col path. The multiplications drop 2.25×; the transforms are cheap
//! additions over all tiles of a channel at once.
//!
//! Layouts (chosen so every parallel task owns one contiguous chunk and the
//! gemms read them through strides): U `[rows][16][cols]`, V
//! `[C][16][tiles]`, M `[O][16][tiles]`. Tiles are processed one band of
//! tile rows at a time so V and M stay bounded on large images.

use crate::conv::{matmul, View, BAND_ELEMS};
use rayon::prelude::*;

/// Transformed filters U = G g Gᵀ, `[rows][16][cols]`: the correlation maps
/// `cols` input channels to `rows` output channels. `w` is `[O, C, 3, 3]`.
/// With `transpose_flip` the filters are those of the input gradient:
/// rows = C, cols = O, g = w[col][row] rotated by 180°.
pub(crate) fn filters(w: &[f32], o: usize, c: usize, transpose_flip: bool) -> Vec<f32> {
    let (rows, cols) = if transpose_flip { (c, o) } else { (o, c) };
    let mut u = vec![0f32; rows * 16 * cols];
    u.par_chunks_mut(16 * cols).enumerate().for_each(|(r, ur)| {
        for col in 0..cols {
            let k = if transpose_flip { &w[(col * c + r) * 9..][..9] } else { &w[(r * c + col) * 9..][..9] };
            let tap = |y: usize, x: usize| if transpose_flip { k[(2 - y) * 3 + 2 - x] } else { k[y * 3 + x] };
            // G g: 4×3, one row of G per output row.
            let mut gg = [[0f32; 3]; 4];
            for x in 0..3 {
                let (a, b, d) = (tap(0, x), tap(1, x), tap(2, x));
                gg[0][x] = a;
                gg[1][x] = 0.5 * (a + b + d);
                gg[2][x] = 0.5 * (a - b + d);
                gg[3][x] = d;
            }
            // (G g) Gᵀ: 4×4.
            for (i, [a, b, d]) in gg.into_iter().enumerate() {
                let row = [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d];
                for (j, v) in row.into_iter().enumerate() {
                    ur[(i * 4 + j) * cols + col] = v;
                }
            }
        }
    });
    u
}

/// Stride-1 3×3 cross-correlation of `x` `[N, C, H, W]`, zero-padded by
/// `pad` on every side, with filters `u` from [`filters`] (`o` output
/// channels). Returns `[N, O, H + 2·pad − 2, W + 2·pad − 2]`.
pub(crate) fn correlate(x: &[f32], n: usize, c: usize, h: usize, w: usize, pad: usize, u: &[f32], o: usize) -> Vec<f32> {
    let (ho, wo) = (h + 2 * pad - 2, w + 2 * pad - 2);
    let (th, tw) = (ho.div_ceil(2), wo.div_ceil(2));
    let band = (BAND_ELEMS / (16 * (c + o) * tw).max(1)).clamp(1, th);
    let mut out = vec![0f32; n * o * ho * wo];
    let (mut v, mut m) = (Vec::new(), Vec::new());
    for (xs, ys) in x.chunks(c * h * w).zip(out.chunks_mut(o * ho * wo)) {
        for ty0 in (0..th).step_by(band) {
            let ty1 = (ty0 + band).min(th);
            let nt = (ty1 - ty0) * tw;
            v.resize(c * 16 * nt, 0.0);
            v.par_chunks_mut(16 * nt).zip(xs.par_chunks(h * w)).for_each(|(vc, plane)| {
                input_tiles(plane, h, w, pad, tw, ty0, ty1, vc);
            });
            m.resize(o * 16 * nt, 0.0);
            for xi in 0..16 {
                let a = View { data: &u[xi * c..], row_stride: 16 * c, col_stride: 1 };
                let b = View { data: &v[xi * nt..], row_stride: 16 * nt, col_stride: 1 };
                matmul(o, nt, c, a, b, &mut m[xi * nt..], 16 * nt, false);
            }
            ys.par_chunks_mut(ho * wo).zip(m.par_chunks(16 * nt)).for_each(|(plane, mo)| {
                output_tiles(mo, nt, ho, wo, tw, ty0, ty1, plane);
            });
        }
    }
    out
}

/// V = Bᵀ d B for tile rows `ty0..ty1` of one channel plane, into `vc`
/// `[16][tiles]`. Four padded input rows are staged per tile row so edge
/// tiles (padding, odd sizes) need no special case.
#[allow(clippy::too_many_arguments)]
fn input_tiles(plane: &[f32], h: usize, w: usize, pad: usize, tw: usize, ty0: usize, ty1: usize, vc: &mut [f32]) {
    let nt = (ty1 - ty0) * tw;
    let width = 2 * tw + 2; // ≥ w + 2·pad
    let mut rows = vec![0f32; 4 * width];
    let (mut e0, mut e1, mut e2, mut e3) = (vec![[0f32; 4]; tw], vec![[0f32; 4]; tw], vec![[0f32; 4]; tw], vec![[0f32; 4]; tw]);
    for ty in ty0..ty1 {
        for (i, row) in rows.chunks_exact_mut(width).enumerate() {
            row.fill(0.0);
            let r = (2 * ty + i).wrapping_sub(pad);
            if r < h {
                row[pad..pad + w].copy_from_slice(&plane[r * w..(r + 1) * w]);
            }
        }
        // d B along each row (per tile), then Bᵀ (·) across the four rows.
        for (e, row) in [&mut e0, &mut e1, &mut e2, &mut e3].into_iter().zip(rows.chunks_exact(width)) {
            for (tx, et) in e.iter_mut().enumerate() {
                let d = &row[2 * tx..2 * tx + 4];
                *et = [d[0] - d[2], d[1] + d[2], d[2] - d[1], d[1] - d[3]];
            }
        }
        let t0 = (ty - ty0) * tw;
        for j in 0..4 {
            for tx in 0..tw {
                let (a, b, cc, d) = (e0[tx][j], e1[tx][j], e2[tx][j], e3[tx][j]);
                vc[j * nt + t0 + tx] = a - cc;
                vc[(4 + j) * nt + t0 + tx] = b + cc;
                vc[(8 + j) * nt + t0 + tx] = cc - b;
                vc[(12 + j) * nt + t0 + tx] = b - d;
            }
        }
    }
}

/// Y = Aᵀ M A for tile rows `ty0..ty1` of one output channel: `mo`
/// `[16][tiles]` into the output plane `[ho, wo]`, cropping the last tile.
#[allow(clippy::too_many_arguments)]
fn output_tiles(mo: &[f32], nt: usize, ho: usize, wo: usize, tw: usize, ty0: usize, ty1: usize, plane: &mut [f32]) {
    for ty in ty0..ty1 {
        let t0 = (ty - ty0) * tw;
        let m = |k: usize| &mo[k * nt + t0..k * nt + t0 + tw];
        let ms: [&[f32]; 16] = std::array::from_fn(m);
        let (top, rest) = plane[2 * ty * wo..].split_at_mut(wo);
        let bottom = if 2 * ty + 1 < ho { Some(&mut rest[..wo]) } else { None };
        let mut y1 = vec![0f32; 2 * tw];
        let mut y0 = vec![0f32; 2 * tw];
        for tx in 0..tw {
            // Aᵀ M: two rows of four.
            let s0: [f32; 4] = std::array::from_fn(|j| ms[j][tx] + ms[4 + j][tx] + ms[8 + j][tx]);
            let s1: [f32; 4] = std::array::from_fn(|j| ms[4 + j][tx] - ms[8 + j][tx] - ms[12 + j][tx]);
            y0[2 * tx] = s0[0] + s0[1] + s0[2];
            y0[2 * tx + 1] = s0[1] - s0[2] - s0[3];
            y1[2 * tx] = s1[0] + s1[1] + s1[2];
            y1[2 * tx + 1] = s1[1] - s1[2] - s1[3];
        }
        top.copy_from_slice(&y0[..wo]);
        if let Some(b) = bottom {
            b.copy_from_slice(&y1[..wo]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::conv2d;
    use candle_core::{Device, Tensor, Var};

    /// max |a − b| / max |b|.
    fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
        let m = |t: Tensor| t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap();
        m((a - b).unwrap()) / m(b.clone())
    }

    /// Forward (through conv::conv2d's dispatch, C, O ≥ 16) and the
    /// correlate kernel with zero padding, against candle's im2col conv2d,
    /// on odd and even sizes with N = 2 and C ≠ O.
    #[test]
    fn forward_matches_im2col() {
        let dev = Device::Cpu;
        for (c, o, h, w) in [(16, 24, 10, 13), (20, 16, 9, 8), (17, 32, 3, 3), (16, 16, 4, 7)] {
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (o, c, 3, 3), &dev).unwrap();
            let want = x.conv2d(&wt, 0, 1, 1, 1).unwrap();
            let got = conv2d(&x, &wt, 1).unwrap();
            assert_eq!(got.dims(), want.dims());
            let e = rel_err(&got, &want);
            eprintln!("forward {c}->{o} {h}x{w}: relative error {e:.2e}");
            assert!(e < 1e-4, "forward {c}->{o} {h}x{w}: {e}");
            // The kernel's own zero padding equals padding the input.
            let (xs, ws) = (x.flatten_all().unwrap().to_vec1::<f32>().unwrap(), wt.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            let padded = correlate(&xs, 2, c, h, w, 1, &filters(&ws, o, c, false), o);
            let padded = Tensor::from_vec(padded, (2, o, h, w), &dev).unwrap();
            let e = rel_err(&padded, &x.conv2d(&wt, 1, 1, 1, 1).unwrap());
            assert!(e < 1e-4, "padded {c}->{o} {h}x{w}: {e}");
        }
    }

    /// The input gradient (full correlation with transposed, flipped filters)
    /// against candle's backward of its own conv2d; the weight gradient
    /// (im2col) must be unaffected.
    #[test]
    fn input_gradient_matches_im2col() {
        let dev = Device::Cpu;
        for (c, o, h, w) in [(16, 24, 9, 12), (32, 16, 8, 7)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, c, h, w), &dev).unwrap()).unwrap();
            let wt = Var::from_tensor(&Tensor::randn(0f32, 1.0, (o, c, 3, 3), &dev).unwrap()).unwrap();
            let probe = Tensor::randn(0f32, 1.0, (2, o, h - 2, w - 2), &dev).unwrap();
            let want = (x.as_tensor().conv2d(&wt, 0, 1, 1, 1).unwrap() * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let got = (conv2d(&x, &wt, 1).unwrap() * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for (v, what) in [(&x, "input"), (&wt, "weight")] {
                let e = rel_err(got.get(v).unwrap(), want.get(v).unwrap());
                eprintln!("{what} gradient {c}->{o} {h}x{w}: relative error {e:.2e}");
                assert!(e < 1e-4, "{what} gradient {c}->{o} {h}x{w}: {e}");
            }
        }
    }

    /// Several bands of tile rows give the same result as one.
    #[test]
    fn bands_join_seamlessly() {
        let (c, o, h, w): (usize, usize, usize, usize) = (16, 16, 40, 4100);
        let tw = (w - 2).div_ceil(2);
        assert!(BAND_ELEMS / (16 * (c + o) * tw) < (h - 2).div_ceil(2), "this geometry must need several bands");
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, c, h, w), &dev).unwrap();
        let wt = Tensor::randn(0f32, 1.0, (o, c, 3, 3), &dev).unwrap();
        let e = rel_err(&conv2d(&x, &wt, 1).unwrap(), &x.conv2d(&wt, 0, 1, 1, 1).unwrap());
        assert!(e < 1e-4, "{e}");
    }
}
