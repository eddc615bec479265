//! Register-blocked direct convolution for CPUs with AVX-512 (issue 15),
//! with the layer's nearest ×2 upsampling and reflect/zero padding done by
//! its input indexing.
//!
//! On the style networks' shapes (64 channels at 128², 16–32 channels at
//! 512², the RGB 9×9 layers) im2col spends its time copying and Winograd
//! F(2×2) its time in the transforms: 33–72 GFLOP/s of a ≈ 190 ceiling.
//! Here one call of the micro-kernel computes `OB` output channels ×
//! `16·PV` output pixels of one output row in `OB·PV` zmm accumulators: for
//! every (channel, ky, kx) tap it loads `PV` input vectors (unaligned, at
//! the tap's offset) and broadcasts one weight per output channel, so each
//! loaded vector feeds `OB` multiply-adds and nothing is unfolded or
//! transformed. The bias is the accumulators' start value and a ReLU is
//! applied on the way out when asked (fused inference).
//!
//! The input is never padded, upsampled or phase-split as a whole tensor:
//! each task stages the rows its band of output rows reads — upsampled,
//! padded and, at stride s, split into s phases (columns ≡ 0, 1, … mod s)
//! so that every tap reads consecutive floats — into a buffer that stays in
//! L2, then runs the micro-kernel over it. Staging costs one copy of those
//! rows per band, against `kw·O` multiply-adds per staged float.
//!
//! Weights are packed once per call as `[block][C][kh][kw][OB]` (zero
//! beyond the last output channel) so that the broadcasts of one tap are
//! adjacent. Row tails use masked loads and stores, which never touch the
//! masked-off lanes.

use rayon::prelude::*;

/// Whether this CPU runs the kernel (checked once per call; cheap).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// How the missing border of the padded input is filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PadMode {
    /// Mirror without repeating the edge (TF `REFLECT`, PyTorch `reflect`).
    Reflect,
    Zero,
}

/// The convolution's input as formed from the tensor it receives: `[N, C,
/// H, W]`, upsampled by `upsample` (nearest), then padded by `pad` (top,
/// bottom, left, right). Reflect pads must be below the upsampled size.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Input {
    pub(crate) n: usize,
    pub(crate) c: usize,
    pub(crate) h: usize,
    pub(crate) w: usize,
    pub(crate) upsample: usize,
    pub(crate) pad: [usize; 4],
    pub(crate) mode: PadMode,
}

impl Input {
    /// Rows and columns of the formed (virtual) input.
    pub(crate) fn virtual_size(&self) -> (usize, usize) {
        (self.h * self.upsample + self.pad[0] + self.pad[1], self.w * self.upsample + self.pad[2] + self.pad[3])
    }

    /// Whether the pads fit (reflection needs a pad below the axis).
    pub(crate) fn valid(&self) -> bool {
        let (uh, uw) = (self.h * self.upsample, self.w * self.upsample);
        self.upsample >= 1
            && uh > 0
            && uw > 0
            && (self.mode == PadMode::Zero || (self.pad[0] < uh && self.pad[1] < uh && self.pad[2] < uw && self.pad[3] < uw))
    }
}

/// Source index of position `i` of a formed axis (`before` pad, `len`
/// source pixels upsampled by `up`), or `None` for a zero pad.
fn source_index(i: usize, before: usize, len: usize, up: usize, mode: PadMode) -> Option<usize> {
    let n = (len * up) as isize;
    let j = i as isize - before as isize;
    let k = if (0..n).contains(&j) {
        j
    } else if mode == PadMode::Zero {
        return None;
    } else if j < 0 {
        -j
    } else {
        2 * (n - 1) - j
    };
    Some(k as usize / up)
}

/// Marks a zero in the column maps below.
const ZERO: usize = usize::MAX;

/// The geometry of one call.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    inp: Input,
    kh: usize,
    kw: usize,
    stride: usize,
    /// The formed input's width.
    vw: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    /// Floats per phase of a staged row: `ceil(vw / stride)`.
    fn phase_len(&self) -> usize {
        self.vw.div_ceil(self.stride)
    }
    /// Floats per staged row: `stride` phases.
    fn row_len(&self) -> usize {
        self.stride * self.phase_len()
    }
    /// Where tap column `kx` of output column 0 sits in a staged row.
    fn tap_offset(&self, kx: usize) -> usize {
        (kx % self.stride) * self.phase_len() + kx / self.stride
    }
    /// Formed-input rows read by output rows `y0..y1`.
    fn band_rows(&self, y0: usize, y1: usize) -> usize {
        (y1 - y0 - 1) * self.stride + self.kh
    }
}

/// Output channels per block: 8 (three pixel vectors: 24 accumulators),
/// or all of them below 8 (a wider pixel block keeps ~24 accumulators).
fn block_width(o: usize) -> usize {
    o.min(8)
}

/// Weights `[O, C, kh, kw]` packed as `[blocks][C·kh·kw][ob]`, zero-filled
/// past `O`.
fn pack(w: &[f32], o: usize, k: usize, ob: usize) -> Vec<f32> {
    let blocks = o.div_ceil(ob);
    let mut p = vec![0f32; blocks * k * ob];
    for (b, pb) in p.chunks_mut(k * ob).enumerate() {
        for oc in 0..ob.min(o - b * ob) {
            for (t, &v) in w[(b * ob + oc) * k..][..k].iter().enumerate() {
                pb[t * ob + oc] = v;
            }
        }
    }
    p
}

/// A raw output pointer shared by the tasks; each task writes only its own
/// (sample, rows) cells.
#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: the pointer is only dereferenced inside `correlate`, while the
// `&mut [f32]` it came from is borrowed, and the tasks write disjoint cells
// (see the SAFETY note there).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    /// The pointer (a method, so closures capture the `Sync` wrapper and not
    /// the raw field).
    fn ptr(&self) -> *mut f32 {
        self.0
    }
}

/// Floats a task's staged rows may take (512 KiB: half of this CPU's L2).
const STAGE_FLOATS: usize = 128 << 10;

/// Cross-correlation at `stride` of the input formed as `inp` says from
/// `x`, with `w` `[O, C, kh, kw]` (or, `depthwise`, `[C, 1, kh, kw]` with
/// O = C: each output channel reads only its own input channel), into
/// `out` `[N, O, ho, wo]`, plus `bias` (one per output channel), then
/// clamped to `clamp` (lo, hi) when given (ReLU: (0, ∞)). Returns `false` and
/// writes nothing on CPUs without AVX-512 (callers check [`available`]).
/// The caller checks the geometry ([`Input::valid`], kernel within the
/// formed input); the asserts here only keep memory access in bounds.
#[allow(clippy::too_many_arguments)]
pub(crate) fn correlate(inp: Input, x: &[f32], w: &[f32], o: usize, kh: usize, kw: usize, stride: usize, depthwise: bool, bias: Option<&[f32]>, clamp: Option<(f32, f32)>, out: &mut [f32]) -> bool {
    if !available() {
        return false;
    }
    let (vh, vw) = inp.virtual_size();
    assert!(inp.valid() && vh >= kh && vw >= kw && stride >= 1 && kh * kw > 0, "blocked conv: bad geometry");
    let g = Geometry { inp, kh, kw, stride, vw, ho: (vh - kh) / stride + 1, wo: (vw - kw) / stride + 1 };
    // Taps per output channel, and output channels per block (one input
    // channel each when depthwise).
    let k = if depthwise { kh * kw } else { inp.c * kh * kw };
    assert!(!depthwise || o == inp.c, "blocked conv: depthwise needs O = C");
    assert!(x.len() >= inp.n * inp.c * inp.h * inp.w && w.len() >= o * k, "blocked conv: short input");
    assert!(out.len() >= inp.n * o * g.ho * g.wo, "blocked conv: short output");
    assert!(bias.is_none_or(|b| b.len() >= o), "blocked conv: short bias");
    let ob = if depthwise { 1 } else { block_width(o) };
    let blocks = o.div_ceil(ob);
    let packed = pack(w, o, k, ob);
    let mut b = vec![0f32; blocks * ob];
    if let Some(bias) = bias {
        b[..o].copy_from_slice(&bias[..o]);
    }
    // Source column of every staged-row float, phase by phase (ZERO for
    // zero padding and for the slack after the last column).
    let cols: Vec<usize> = (0..g.row_len())
        .map(|i| {
            let col = (i % g.phase_len()) * stride + i / g.phase_len();
            if col < vw {
                source_index(col, inp.pad[2], inp.w, inp.upsample, inp.mode).unwrap_or(ZERO)
            } else {
                ZERO
            }
        })
        .collect();
    let offsets: Vec<usize> = (0..kw).map(|kx| g.tap_offset(kx)).collect();
    // Output rows per task: staged rows within STAGE_FLOATS, and at least
    // eight tasks per sample so both cores stay busy.
    let fit = (STAGE_FLOATS / (inp.c * g.row_len()).max(1)).max(kh);
    let band = ((fit - kh) / stride + 1).clamp(1, g.ho.div_ceil(8).max(1));
    let bands = g.ho.div_ceil(band);
    let dst = Out(out.as_mut_ptr());
    (0..inp.n * bands).into_par_iter().for_each_init(Vec::new, |stage, task| {
        let (n, y0) = (task / bands, (task % bands) * band);
        let y1 = (y0 + band).min(g.ho);
        let rows = g.band_rows(y0, y1);
        let xs = &x[n * inp.c * inp.h * inp.w..][..inp.c * inp.h * inp.w];
        stage_rows(&g, xs, &cols, y0 * stride, rows, stage);
        for oy in y0..y1 {
            for blk in 0..blocks {
                let first = blk * ob;
                let valid = ob.min(o - first);
                // SAFETY: this task writes only rows y0..y1 of sample n (all
                // channels): cells ((n·O + ch)·ho + oy)·wo + 0..wo, inside
                // `out` (asserted above) and disjoint from every other
                // task's, whose (n, band) differ. `out` stays mutably
                // borrowed for the whole parallel loop.
                let row = unsafe { dst.ptr().add(((n * o + first) * g.ho + oy) * g.wo) };
                // SAFETY: `available()` said AVX-512F is present; `stage`
                // holds `rows` staged rows per channel, which cover output
                // row oy (see `chunk`); `row` is as above.
                let channels = if depthwise { blk..blk + 1 } else { 0..inp.c };
                unsafe { row_of_block(&g, stage, rows, (oy - y0) * stride, channels, &offsets, &packed[blk * k * ob..][..k * ob], &b[blk * ob..][..ob], valid, row, clamp) };
            }
        }
    });
    true
}

/// Stages formed-input rows `r0..r0 + rows` of every channel of one sample
/// `xs` into `stage` (`[C][rows][row_len]`, see [`Geometry::row_len`]).
fn stage_rows(g: &Geometry, xs: &[f32], cols: &[usize], r0: usize, rows: usize, stage: &mut Vec<f32>) {
    let (inp, row_len) = (&g.inp, g.row_len());
    stage.resize(inp.c * rows * row_len, 0.0);
    for (c, st) in stage.chunks_exact_mut(rows * row_len).enumerate() {
        let plane = &xs[c * inp.h * inp.w..][..inp.h * inp.w];
        for (i, dst) in st.chunks_exact_mut(row_len).enumerate() {
            match source_index(r0 + i, inp.pad[0], inp.h, inp.upsample, inp.mode) {
                Some(sr) => stage_row(g.stride, inp.upsample, inp.pad[2], g.phase_len(), &plane[sr * inp.w..][..inp.w], cols, dst),
                None => dst.fill(0.0),
            }
        }
    }
}

/// One staged row: phase by phase, the run of columns that lie inside the
/// source row is copied by a plain (or stride-2, or pixel-doubling) loop the
/// compiler vectorises; the borders and the slack follow `cols`. Compiled
/// for AVX-512 and AVX2 as well (chosen at run time).
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn stage_row(stride: usize, up: usize, left: usize, phase_len: usize, src: &[f32], cols: &[usize], dst: &mut [f32]) {
    let wide = src.len() * up; // columns of the upsampled row
    for (ph, d) in dst.chunks_exact_mut(phase_len).enumerate() {
        // Phase entries j whose column ph + j·stride − left lies in 0..wide.
        let first = left.saturating_sub(ph).div_ceil(stride);
        let end = (wide + left).saturating_sub(ph).div_ceil(stride).min(phase_len).max(first);
        let map = &cols[ph * phase_len..][..phase_len];
        for j in (0..first).chain(end..phase_len) {
            d[j] = if map[j] == ZERO { 0.0 } else { src[map[j]] };
        }
        if first == end {
            continue;
        }
        let base = ph + first * stride - left; // upsampled column of entry `first`
        let mid = &mut d[first..end];
        match (stride, up) {
            (1, 1) => mid.copy_from_slice(&src[base..base + mid.len()]),
            (2, 1) if base + 2 * mid.len() <= src.len() + 1 => {
                let n = mid.len();
                let (whole, last) = if base + 2 * n <= src.len() { (n, false) } else { (n - 1, true) };
                mid[..whole].iter_mut().zip(src[base..].chunks_exact(2)).for_each(|(m, p)| *m = p[0]);
                if last {
                    mid[n - 1] = src[base + 2 * (n - 1)];
                }
            }
            (1, 2) => {
                for (j, m) in mid.iter_mut().enumerate() {
                    *m = src[(base + j) / 2];
                }
            }
            _ => {
                for (j, m) in mid.iter_mut().enumerate() {
                    *m = src[(base + j * stride) / up];
                }
            }
        }
    }
}

/// Every pixel chunk of one output row for one block of output channels.
///
/// # Safety
/// AVX-512F must be available; `row + j·ho·wo + 0..wo` (j < valid) must be
/// writable and not written by anyone else meanwhile; `stage` holds
/// `rows` staged rows per channel and `first + kh ≤ rows`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn row_of_block(g: &Geometry, stage: &[f32], rows: usize, first: usize, channels: std::ops::Range<usize>, offsets: &[usize], wp: &[f32], bias: &[f32], valid: usize, row: *mut f32, clamp: Option<(f32, f32)>) {
    let wo = g.wo;
    // Pixel vectors per chunk: about 24 accumulators in all; a row's last
    // chunk (or a narrow row) takes the fewest vectors that cover it, so
    // that small planes do not run mostly masked-off lanes.
    macro_rules! run {
        ($ob:literal, [$($pv:literal),+]) => {{
            let widest = [$($pv),+][[$($pv),+].len() - 1];
            let mut x0 = 0;
            while x0 < wo {
                let len = (16 * widest).min(wo - x0);
                let vectors = len.div_ceil(16);
                $(
                    if vectors <= $pv {
                        // SAFETY: as for this function; the chunk's columns
                        // x0..x0+len lie inside the row.
                        unsafe { chunk::<$ob, $pv>(g, stage, rows, first, channels.clone(), offsets, wp, bias, x0, len, valid, row.add(x0), clamp) };
                        x0 += len;
                        continue;
                    }
                )+
                unreachable!("the widest variant covers every chunk");
            }
        }};
    }
    match wp.len() / (channels.len() * g.kh * g.kw) {
        8 => run!(8, [1, 2, 3]),
        7 => run!(7, [1, 2, 3]),
        6 => run!(6, [1, 2, 4]),
        5 => run!(5, [1, 2, 4]),
        4 => run!(4, [1, 2, 4, 6]),
        3 => run!(3, [1, 2, 4, 8]),
        2 => run!(2, [1, 2, 4, 8]),
        _ => run!(1, [1, 2, 4, 8]),
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn row_of_block(_: &Geometry, _: &[f32], _: usize, _: usize, _: std::ops::Range<usize>, _: &[usize], _: &[f32], _: &[f32], _: usize, _: *mut f32, _: Option<(f32, f32)>) {
    unreachable!("available() is false off x86-64")
}

/// `len ≤ 16·PV` output pixels from column `x0` of one output row (staged
/// rows `first..first + kh` of input channels `channels`), for `OB` output
/// channels (the first `valid` stored).
///
/// # Safety
/// As [`row_of_block`], with `x0 + len ≤ wo` and `out` at column `x0`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn chunk<const OB: usize, const PV: usize>(
    g: &Geometry,
    stage: &[f32],
    rows: usize,
    first: usize,
    channels: std::ops::Range<usize>,
    offsets: &[usize],
    wp: &[f32],
    bias: &[f32],
    x0: usize,
    len: usize,
    valid: usize,
    out: *mut f32,
    clamp: Option<(f32, f32)>,
) {
    use std::arch::x86_64::*;
    let mut masks = [0u16; PV];
    for (p, m) in masks.iter_mut().enumerate() {
        let left = len.saturating_sub(16 * p).min(16);
        *m = if left == 16 { u16::MAX } else { (1u16 << left) - 1 };
    }
    let mut acc = [[_mm512_setzero_ps(); PV]; OB];
    for (o, a) in acc.iter_mut().enumerate() {
        *a = [_mm512_set1_ps(bias[o]); PV];
    }
    let row_len = g.row_len();
    let mut wt = wp.as_ptr();
    for ci in channels {
        for ky in 0..g.kh {
            // The staged row this tap row reads, at output column x0.
            let r = stage[(ci * rows + first + ky) * row_len + x0..].as_ptr();
            for &off in &offsets[..g.kw] {
                let mut xv = [_mm512_setzero_ps(); PV];
                for p in 0..PV {
                    // SAFETY: a lane with its mask bit set is output column
                    // x = x0 + 16p + i < wo; it reads formed-input column
                    // s·x + kx, staged in phase kx mod s at index
                    // x + kx/s < phase_len: inside this staged row.
                    // Masked-off lanes are not accessed.
                    xv[p] = unsafe { _mm512_maskz_loadu_ps(masks[p], r.add(off + 16 * p)) };
                }
                for (o, a) in acc.iter_mut().enumerate() {
                    // SAFETY: `wt` walks the packed block, C·kh·kw taps of
                    // OB weights each: in bounds of `wp`.
                    let b = _mm512_set1_ps(unsafe { *wt.add(o) });
                    for p in 0..PV {
                        a[p] = _mm512_fmadd_ps(xv[p], b, a[p]);
                    }
                }
                // SAFETY: stays within (or one past) `wp`.
                wt = unsafe { wt.add(OB) };
            }
        }
    }
    let (lo, hi) = clamp.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
    let (lo, hi) = (_mm512_set1_ps(lo), _mm512_set1_ps(hi));
    let plane = g.ho * g.wo;
    for (o, a) in acc.iter().enumerate().take(valid) {
        for p in 0..PV {
            if masks[p] == 0 {
                continue;
            }
            let v = if clamp.is_some() { _mm512_min_ps(_mm512_max_ps(a[p], lo), hi) } else { a[p] };
            // SAFETY: the caller guarantees out + o·plane + 0..len is
            // writable; only lanes below len are stored.
            unsafe { _mm512_mask_storeu_ps(out.add(o * plane + 16 * p), masks[p], v) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The formed input, written out: upsampled, then padded.
    fn formed(inp: Input, x: &[f32]) -> Vec<f32> {
        let (vh, vw) = inp.virtual_size();
        let mut v = vec![0f32; inp.n * inp.c * vh * vw];
        for p in 0..inp.n * inp.c {
            for i in 0..vh {
                for j in 0..vw {
                    let (r, c) = (source_index(i, inp.pad[0], inp.h, inp.upsample, inp.mode), source_index(j, inp.pad[2], inp.w, inp.upsample, inp.mode));
                    if let (Some(r), Some(c)) = (r, c) {
                        v[(p * vh + i) * vw + j] = x[(p * inp.h + r) * inp.w + c];
                    }
                }
            }
        }
        v
    }

    /// Plain reference: the definition of the correlation on the formed input.
    #[allow(clippy::too_many_arguments)]
    fn reference(inp: Input, x: &[f32], w: &[f32], o: usize, k: usize, s: usize, depthwise: bool, bias: &[f32], relu: bool) -> Vec<f32> {
        let v = formed(inp, x);
        let (vh, vw) = inp.virtual_size();
        let (ho, wo) = ((vh - k) / s + 1, (vw - k) / s + 1);
        let c = inp.c;
        let mut out = vec![0f32; inp.n * o * ho * wo];
        for n in 0..inp.n {
            for oc in 0..o {
                for y in 0..ho {
                    for xo in 0..wo {
                        let mut acc = bias[oc] as f64;
                        let (cs, wc) = if depthwise { (oc..oc + 1, 1) } else { (0..c, c) };
                        for ci in cs {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let xv = v[((n * c + ci) * vh + y * s + ky) * vw + xo * s + kx] as f64;
                                    let wi = if depthwise { 0 } else { ci };
                                    acc += xv * w[((oc * wc + wi) * k + ky) * k + kx] as f64;
                                }
                            }
                        }
                        let r = acc as f32;
                        out[((n * o + oc) * ho + y) * wo + xo] = if relu { r.max(0.0) } else { r };
                    }
                }
            }
        }
        out
    }

    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn reflect_and_zero_indexing() {
        // [1 2 3 4] reflect-padded by 2 and 3: 3 2 | 1 2 3 4 | 3 2 1
        let got: Vec<_> = (0..9).map(|i| source_index(i, 2, 4, 1, PadMode::Reflect).unwrap()).collect();
        assert_eq!(got, [2, 1, 0, 1, 2, 3, 2, 1, 0]);
        // Upsampled ×2 (a a b b) and reflect-padded by 1: a | a a b b | b
        let got: Vec<_> = (0..6).map(|i| source_index(i, 1, 2, 2, PadMode::Reflect).unwrap()).collect();
        assert_eq!(got, [0, 0, 0, 1, 1, 1]);
        assert_eq!(source_index(0, 1, 4, 1, PadMode::Zero), None);
        assert_eq!(source_index(5, 1, 4, 1, PadMode::Zero), None);
    }

    /// Every block width (1–8 and beyond), strides 1–3, row tails of every
    /// length class, 1×1 to 9×9 kernels, batches, reflect and zero pads,
    /// upsampling: equal to the plain definition.
    #[test]
    fn matches_the_plain_definition() {
        if !available() {
            eprintln!("no AVX-512 on this CPU: the blocked kernel is not used here");
            return;
        }
        let shapes = [
            (1, 3, 16, 9, 20, 75, true),
            (2, 16, 3, 9, 17, 40, false),
            (1, 5, 2, 3, 6, 64, false),
            (1, 2, 4, 1, 3, 5, true),
            (2, 7, 13, 3, 9, 50, false),
            (1, 9, 1, 3, 4, 18, false),
            (1, 4, 5, 3, 5, 49, true),
            (1, 6, 6, 3, 5, 67, false),
            (1, 3, 7, 2, 4, 33, false),
            (1, 20, 24, 3, 6, 130, true),
        ];
        let mut case = 0u64;
        for &(n, c, o, k, h, w, relu) in &shapes {
            for (stride, upsample, pad, mode) in [
                (1, 1, [0; 4], PadMode::Zero),
                (2, 1, [0; 4], PadMode::Zero),
                (3, 1, [0; 4], PadMode::Zero),
                (1, 1, [k / 2; 4], PadMode::Reflect),
                (2, 1, [1, 1, 1, 1], PadMode::Reflect),
                (1, 2, [k / 2; 4], PadMode::Reflect),
                (2, 1, [0, 1, 0, 1], PadMode::Zero),
                (1, 1, [2, 0, 1, 3], PadMode::Zero),
            ] {
                let inp = Input { n, c, h, w, upsample, pad, mode };
                let (vh, vw) = inp.virtual_size();
                if !inp.valid() || vh < k || vw < k {
                    continue;
                }
                case += 1;
                let x = values(n * c * h * w, 2 * case);
                let wt = values(o * c * k * k, 2 * case + 1);
                let bias = values(o, 1000 + case);
                let clamp = relu.then_some((0.0, f32::INFINITY));
                for depthwise in [false, true] {
                    let o = if depthwise { c } else { o };
                    let wt = if depthwise { values(c * k * k, 7 * case) } else { wt.clone() };
                    let bias = if depthwise { values(c, 9 * case) } else { bias.clone() };
                    let want = reference(inp, &x, &wt, o, k, stride, depthwise, &bias, relu);
                    let mut got = vec![f32::NAN; want.len()];
                    assert!(correlate(inp, &x, &wt, o, k, k, stride, depthwise, Some(&bias), clamp, &mut got));
                    let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    let scale = want.iter().fold(1f32, |m, v| m.max(v.abs()));
                    assert!(err <= 1e-5 * scale, "{c}->{o} {k}x{k} {h}x{w} stride {stride} up {upsample} pad {pad:?} {mode:?} depthwise {depthwise}: {err}");
                }
            }
        }
        assert!(case > 50);
    }
}
