//! ∂L/∂W of a stride-1 convolution, computed directly (issue 15).
//!
//! `gw[o, c, ky, kx] = Σ_n Σ_{oy, ox} gy[n, o, oy, ox] · x[n, c, oy + ky, ox + kx]`
//! on an input that is already padded. Through im2col this is a gemm whose
//! reduction runs over every pixel while its other two sides are the few
//! output channels and C·kh·kw: on the transformer's RGB 9×9 layers and
//! its 32-channel layers it ran at 3–18 GFLOP/s, mostly packing a
//! transposed unfolded input. Here one task owns (input channel c, a block
//! of `OB` output channels, one filter row ky) and keeps its `OB × KW`
//! partial sums in zmm registers for the whole batch: per 16 output pixels
//! it loads `OB` gradient vectors and `KW` input vectors (unaligned, at the
//! tap's offset) for `OB·KW` multiply-adds, and reduces the registers once
//! at the end. Nothing is unfolded or packed.

use rayon::prelude::*;

/// The convolution, as the weight gradient sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub(crate) n: usize,
    pub(crate) c: usize,
    /// The padded input's rows and columns.
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) o: usize,
    pub(crate) kh: usize,
    pub(crate) kw: usize,
}

impl Dims {
    fn ho(&self) -> usize {
        self.h + 1 - self.kh
    }
    fn wo(&self) -> usize {
        self.w + 1 - self.kw
    }
}

/// Output channels per task for a filter `kw` wide: `OB·kw` accumulators
/// plus `OB` gradient vectors and one input vector fit the 32 zmm
/// registers. `None`: no variant (the caller uses im2col).
fn block_for(kw: usize) -> Option<usize> {
    match kw {
        3 => Some(7),
        5 => Some(5),
        7 => Some(3),
        9 => Some(3),
        _ => None,
    }
}

/// Whether [`weight_grad`] serves this convolution on this CPU.
pub(crate) fn serves(d: &Dims) -> bool {
    super::blocked::available() && block_for(d.kw).is_some() && d.h >= d.kh && d.w >= d.kw && d.n * d.c * d.o > 0
}

/// ∂W `[O, C, kh, kw]` from the padded input `x` `[N, C, h, w]` and ∂y `gy`
/// `[N, O, ho, wo]`, summed over the batch; `None` where [`serves`] is false.
pub(crate) fn weight_grad(d: Dims, x: &[f32], gy: &[f32]) -> Option<Vec<f32>> {
    if !serves(&d) || x.len() != d.n * d.c * d.h * d.w || gy.len() != d.n * d.o * d.ho() * d.wo() {
        return None;
    }
    let ob = block_for(d.kw)?;
    let blocks = d.o.div_ceil(ob);
    // Task order (c, block, ky): neighbouring tasks, which rayon hands to
    // the same thread, read the same input plane and gradient planes.
    let sums: Vec<(Task, Vec<f32>)> = (0..d.c * blocks * d.kh)
        .into_par_iter()
        .map(|t| {
            let task = Task { ky: t % d.kh, o0: (t / d.kh) % blocks * ob, c: t / (d.kh * blocks) };
            (task, task_sums(&d, x, gy, task))
        })
        .collect();
    let mut gw = vec![0f32; d.o * d.c * d.kh * d.kw];
    for (Task { c, o0, ky }, s) in sums {
        for (j, row) in s.chunks(d.kw).enumerate() {
            let o = o0 + j;
            if o < d.o {
                gw[((o * d.c + c) * d.kh + ky) * d.kw..][..d.kw].copy_from_slice(row);
            }
        }
    }
    Some(gw)
}

/// One task's share of ∂W: input channel `c`, output channels from `o0`
/// (a block of `block_for(kw)`), filter row `ky`.
#[derive(Clone, Copy, Debug)]
struct Task {
    c: usize,
    o0: usize,
    ky: usize,
}

/// The `OB × kw` sums of one task, row-major by output channel.
fn task_sums(d: &Dims, x: &[f32], gy: &[f32], Task { c, o0, ky }: Task) -> Vec<f32> {
    #[cfg(target_arch = "x86_64")]
    {
        macro_rules! run {
            ($ob:literal, $kw:literal) => {
                // SAFETY: `serves` checked AVX-512F; `weight_grad` checked
                // the slice lengths against `d`, and c < C, o0 < O, ky < kh.
                unsafe { sums::<$ob, $kw>(d, x, gy, c, o0, ky) }.concat()
            };
        }
        match d.kw {
            3 => run!(7, 3),
            5 => run!(5, 5),
            7 => run!(3, 7),
            9 => run!(3, 9),
            _ => unreachable!("block_for has no variant for kw = {}", d.kw),
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (d, x, gy, c, o0, ky);
        unreachable!("blocked::available() is false off x86-64")
    }
}

/// # Safety
/// AVX-512F must be available; `x` holds `[N, C, h, w]` and `gy`
/// `[N, O, ho, wo]` floats of `d`; `c < C`, `o0 < O`, `ky < kh`, `KW == kw`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sums<const OB: usize, const KW: usize>(d: &Dims, x: &[f32], gy: &[f32], c: usize, o0: usize, ky: usize) -> [[f32; KW]; OB] {
    use std::arch::x86_64::*;
    let (ho, wo) = (d.ho(), d.wo());
    let valid = OB.min(d.o - o0);
    let mut acc = [[_mm512_setzero_ps(); KW]; OB];
    for n in 0..d.n {
        let xs = &x[(n * d.c + c) * d.h * d.w..][..d.h * d.w];
        let gs = &gy[(n * d.o + o0) * ho * wo..];
        for oy in 0..ho {
            let xr = xs[(oy + ky) * d.w..].as_ptr();
            let mut x0 = 0;
            while x0 < wo {
                let left = (wo - x0).min(16);
                let mask: u16 = if left == 16 { u16::MAX } else { (1u16 << left) - 1 };
                let mut g = [_mm512_setzero_ps(); OB];
                for (j, gj) in g.iter_mut().enumerate().take(valid) {
                    // SAFETY: plane o0 + j < O of sample n, row oy, columns
                    // x0 + lane < wo for the lanes the mask keeps.
                    *gj = unsafe { _mm512_maskz_loadu_ps(mask, gs.as_ptr().add((j * ho + oy) * wo + x0)) };
                }
                for kx in 0..KW {
                    // SAFETY: input row oy + ky < h, column x0 + lane + kx
                    // < wo + kw − 1 = w for the kept lanes: inside `xs`.
                    let xv = unsafe { _mm512_maskz_loadu_ps(mask, xr.add(x0 + kx)) };
                    for j in 0..OB {
                        acc[j][kx] = _mm512_fmadd_ps(g[j], xv, acc[j][kx]);
                    }
                }
                x0 += 16;
            }
        }
    }
    let mut out = [[0f32; KW]; OB];
    for j in 0..OB {
        for kx in 0..KW {
            out[j][kx] = _mm512_reduce_add_ps(acc[j][kx]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, summed in f64.
    fn reference(d: &Dims, x: &[f32], gy: &[f32]) -> Vec<f32> {
        let (ho, wo) = (d.ho(), d.wo());
        let mut gw = vec![0f32; d.o * d.c * d.kh * d.kw];
        for o in 0..d.o {
            for c in 0..d.c {
                for ky in 0..d.kh {
                    for kx in 0..d.kw {
                        let mut s = 0f64;
                        for n in 0..d.n {
                            for oy in 0..ho {
                                for ox in 0..wo {
                                    s += gy[((n * d.o + o) * ho + oy) * wo + ox] as f64 * x[((n * d.c + c) * d.h + oy + ky) * d.w + ox + kx] as f64;
                                }
                            }
                        }
                        gw[((o * d.c + c) * d.kh + ky) * d.kw + kx] = s as f32;
                    }
                }
            }
        }
        gw
    }

    fn values(len: usize, seed: u32) -> Vec<f32> {
        (0..len).map(|i| (((i as u32).wrapping_mul(2654435761).wrapping_add(seed) >> 8) % 2001) as f32 / 1000.0 - 1.0).collect()
    }

    #[test]
    fn matches_the_definition_on_odd_shapes() {
        if !super::super::blocked::available() {
            return; // the im2col path serves this CPU; conv.rs tests it
        }
        // Every filter width with a variant; channel counts that leave a
        // partial block; widths below, at and above one 16-lane vector.
        for (n, c, o, k, h, w) in [(2, 3, 5, 3, 9, 21), (1, 4, 9, 3, 7, 16), (2, 2, 3, 9, 12, 26), (1, 3, 4, 9, 11, 40), (1, 2, 7, 5, 8, 19), (1, 3, 2, 7, 9, 23)] {
            let d = Dims { n, c, h, w, o, kh: k, kw: k };
            let x = values(n * c * h * w, 1);
            let gy = values(n * o * d.ho() * d.wo(), 7);
            let got = weight_grad(d, &x, &gy).expect("served");
            let want = reference(&d, &x, &gy);
            let peak = want.iter().fold(0f32, |m, v| m.max(v.abs()));
            let err = got.iter().zip(&want).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(err <= 1e-5 * peak.max(1.0), "{d:?}: max error {err} of peak {peak}");
        }
    }

    #[test]
    fn refuses_what_it_does_not_serve() {
        let d = Dims { n: 1, c: 2, h: 6, w: 6, o: 2, kh: 4, kw: 4 };
        assert!(weight_grad(d, &[0.0; 72], &[0.0; 18]).is_none());
        let d = Dims { kh: 3, kw: 3, ..d };
        assert!(weight_grad(d, &[0.0; 71], &[0.0; 32]).is_none(), "a short input is refused");
    }
}
