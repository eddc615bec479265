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
//!
//! F(4×4, 3×3) (6×6 tiles, 36 gemms) was tried with table-driven
//! transforms: relative error 1e-5–2e-5 and slower than this F(2×2, 3×3)
//! on every shape of `restyle bench conv` (its transforms cost more than
//! the gemm work it saves, and few tiles make the gemms small).

use crate::ops::gemm::{matmul, View, BAND_ELEMS};
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
            // G g column by column (4×3), then each of its rows times Gᵀ.
            let gg = [0, 1, 2].map(|x| g_times(tap(0, x), tap(1, x), tap(2, x)));
            for i in 0..4 {
                for (j, v) in g_times(gg[0][i], gg[1][i], gg[2][i]).into_iter().enumerate() {
                    ur[(i * 4 + j) * cols + col] = v;
                }
            }
        }
    });
    u
}

/// G·(a, b, d)ᵀ for G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1].
fn g_times(a: f32, b: f32, d: f32) -> [f32; 4] {
    [a, 0.5 * (a + b + d), 0.5 * (a - b + d), d]
}

/// Stride-1 3×3 cross-correlation of `x` `[N, C, H, W]`, zero-padded by
/// `pad` on every side, with filters `u` from [`filters`] (`o` output
/// channels). Returns `[N, O, H + 2·pad − 2, W + 2·pad − 2]`.
#[allow(clippy::too_many_arguments)]
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
/// `[16][tiles]`. Each tile row's four input rows are staged zero-padded
/// and split into even and odd columns, so that both passes are
/// element-wise loops over whole rows (no per-tile gathers, no edge cases
/// for padding or odd sizes).
#[allow(clippy::too_many_arguments)]
fn input_tiles(plane: &[f32], h: usize, w: usize, pad: usize, tw: usize, ty0: usize, ty1: usize, vc: &mut [f32]) {
    let nt = (ty1 - ty0) * tw;
    let half = tw + 1; // even (or odd) columns of a staged row of 2·tw + 2 ≥ w + 2·pad
    // [row i][even, odd][half]
    let mut st = vec![0f32; 8 * half];
    for ty in ty0..ty1 {
        for (i, s) in st.chunks_exact_mut(2 * half).enumerate() {
            let (ev, od) = s.split_at_mut(half);
            ev.fill(0.0);
            od.fill(0.0);
            let r = (2 * ty + i).wrapping_sub(pad);
            if r < h {
                // Input column j sits at staged column pad + j.
                let row = &plane[r * w..(r + 1) * w];
                let (first, second) = if pad.is_multiple_of(2) { (&mut ev[pad / 2..], &mut od[pad / 2..]) } else { (&mut od[pad / 2..], &mut ev[pad / 2 + 1..]) };
                first.iter_mut().zip(row.iter().step_by(2)).for_each(|(d, v)| *d = *v);
                second.iter_mut().zip(row.iter().skip(1).step_by(2)).for_each(|(d, v)| *d = *v);
            }
        }
        // Bᵀ d: rows (d0 − d2, d1 + d2, d2 − d1, d1 − d3), in place.
        let (r01, r23) = st.split_at_mut(4 * half);
        let (r0, r1) = r01.split_at_mut(2 * half);
        let (r2, r3) = r23.split_at_mut(2 * half);
        for (((a, b), c), d) in r0.iter_mut().zip(r1.iter_mut()).zip(r2.iter_mut()).zip(r3.iter_mut()) {
            let (d0, d1, d2, d3) = (*a, *b, *c, *d);
            (*a, *b, *c, *d) = (d0 - d2, d1 + d2, d2 - d1, d1 - d3);
        }
        // (·) B: columns (e0 − e2, e1 + e2, e2 − e1, e1 − e3) of each tile,
        // where a tile's columns are even[tx], odd[tx], even[tx+1], odd[tx+1].
        let t0 = (ty - ty0) * tw;
        for (i, s) in st.chunks_exact(2 * half).enumerate() {
            let (ev, od) = s.split_at(half);
            let mut out = vc.chunks_exact_mut(nt).skip(4 * i).map(|r| &mut r[t0..t0 + tw]);
            let (v0, v1, v2, v3) = (out.next().unwrap(), out.next().unwrap(), out.next().unwrap(), out.next().unwrap());
            let cols = ev.windows(2).zip(od.windows(2));
            for ((((a, b), c), d), (e, o)) in v0.iter_mut().zip(v1.iter_mut()).zip(v2.iter_mut()).zip(v3.iter_mut()).zip(cols) {
                *a = e[0] - e[1];
                *b = o[0] + e[1];
                *c = e[1] - o[0];
                *d = o[0] - o[1];
            }
        }
    }
}

/// Y = Aᵀ M A for tile rows `ty0..ty1` of one output channel: `mo`
/// `[16][tiles]` into the output plane `[ho, wo]`, cropping the last tile.
#[allow(clippy::too_many_arguments)]
fn output_tiles(mo: &[f32], nt: usize, ho: usize, wo: usize, tw: usize, ty0: usize, ty1: usize, plane: &mut [f32]) {
    // Aᵀ M: two rows of four columns, per tile; then the two output columns.
    let mut s = vec![0f32; 8 * tw];
    let mut y = vec![0f32; 2 * 2 * tw];
    for ty in ty0..ty1 {
        let t0 = (ty - ty0) * tw;
        let m: [&[f32]; 16] = std::array::from_fn(|k| &mo[k * nt + t0..k * nt + t0 + tw]);
        let (s0, s1) = s.split_at_mut(4 * tw);
        for j in 0..4 {
            let (a, b) = (&mut s0[j * tw..(j + 1) * tw], &mut s1[j * tw..(j + 1) * tw]);
            for ((((a, b), m0), m1), (m2, m3)) in a.iter_mut().zip(b.iter_mut()).zip(m[j]).zip(m[4 + j]).zip(m[8 + j].iter().zip(m[12 + j])) {
                *a = m0 + m1 + m2;
                *b = m1 - m2 - m3;
            }
        }
        for (srow, yrow) in s.chunks_exact(4 * tw).zip(y.chunks_exact_mut(2 * tw)) {
            let (c0, rest) = srow.split_at(tw);
            let (c1, rest) = rest.split_at(tw);
            let (c2, c3) = rest.split_at(tw);
            for ((((pair, a), b), c), d) in yrow.chunks_exact_mut(2).zip(c0).zip(c1).zip(c2).zip(c3) {
                pair[0] = a + b + c;
                pair[1] = b - c - d;
            }
        }
        for (r, yrow) in (2 * ty..(2 * ty + 2).min(ho)).zip(y.chunks_exact(2 * tw)) {
            plane[r * wo..(r + 1) * wo].copy_from_slice(&yrow[..wo]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::conv::conv2d;
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
