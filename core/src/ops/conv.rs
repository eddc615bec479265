//! Fast 2-D convolution on the CPU, with its backward.
//!
//! candle 0.11's CPU conv2d reaches 4–15 GFLOP/s on the shapes of the style
//! networks and VGG, while its matmul (gemm with AVX-512) reaches ~95. This
//! module lowers a convolution to that matmul: the input is unfolded
//! (im2col) into `[C·kh·kw, pixels]` one band of output rows at a time (so
//! the buffer stays bounded on large images) and multiplied by the weights
//! `[O, C·kh·kw]` with one gemm per band. The backward is the same two
//! pieces in reverse: ∂x = col2im(Wᵀ·∂y), ∂W = ∂y·colsᵀ.
//!
//! The op takes an already padded input (reflect or zero padding is done
//! by the caller with differentiable candle ops) and has no bias. Off the
//! CPU, or for dtypes other than f32, candle's own conv2d is used.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::ops::gemm::{matmul, View, BAND_ELEMS};
use crate::ops::weight_grad;
use crate::ops::storage::f32_slice;
use crate::ops::{blocked, winograd};

/// Fewest input and output channels for which 3×3 stride-1 convolutions use
/// Winograd (below it im2col is as fast: the transforms dominate).
pub const WINOGRAD_MIN_CHANNELS: usize = 16;


/// Stride-`stride` VALID cross-correlation of `x` `[N, C, H, W]` (already
/// padded) with `w` `[O, C, kh, kw]`, no bias. Differentiable in both.
pub fn conv2d(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    conv2d_with(x, w, stride, Kernel::Auto)
}

/// Which CPU kernel a convolution uses; `Auto` everywhere but benchmarks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// Winograd for 3×3 stride 1 with C, O ≥ [`WINOGRAD_MIN_CHANNELS`], else im2col.
    Auto,
    Im2col,
    /// Winograd for every 3×3 stride-1 geometry (im2col for the rest).
    Winograd,
    /// Direct row-by-row correlation for every stride-1 geometry.
    Direct,
    /// The register-blocked AVX-512 direct kernel ([`super::blocked`]) for
    /// every stride-1 geometry (falls back to `Direct` without AVX-512).
    Blocked,
}

/// At most this many output (or input) channels: stride-1 convolutions run
/// the direct kernel. im2col copies C·kh·kw floats per pixel for only O
/// multiply-adds on each, so the first and last (9×9, RGB) layers of the
/// style networks spend their time copying.
pub const DIRECT_MAX_CHANNELS: usize = 8;

/// From this many input *and* output channels on, stride-1 convolutions
/// leave the register-blocked kernel for Winograd (3×3) or im2col.
pub const BLOCKED_MAX_CHANNELS: usize = 128;

/// How a layer forms its convolution's input from the tensor it has:
/// nearest ×2 upsampling, then reflect or zero padding (top, bottom, left,
/// right).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputForm {
    pub upsample2x: bool,
    pub pad: [usize; 4],
    pub reflect: bool,
}

/// Inference only: the convolution of the input formed from `x` as `form`
/// says, plus `bias`, then clamped to `clamp` (lo, hi) when given (ReLU:
/// (0, ∞), ReLU6: (0, 6)) — upsampling, padding, bias and clamp all done by
/// the AVX-512 kernel's indexing and accumulators (no intermediate tensor).
/// `depthwise`: `w` is `[C, 1, kh, kw]`, one filter per channel. `None`
/// where that kernel does not serve the call (other CPUs and devices, other
/// dtypes, tensors being differentiated, wide layers, strides above 2): the
/// caller then runs the layers one by one.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_fused(x: &Tensor, w: &Tensor, bias: Option<&Tensor>, stride: usize, form: InputForm, depthwise: bool, clamp: Option<(f32, f32)>) -> Result<Option<Tensor>> {
    let tensors_fit = x.device().is_cpu()
        && x.dtype() == DType::F32
        && w.dtype() == DType::F32
        && !x.track_op()
        && !w.track_op()
        && bias.is_none_or(|b| b.dtype() == DType::F32 && !b.track_op() && b.device().is_cpu());
    if !tensors_fit || x.rank() != 4 || w.rank() != 4 {
        return Ok(None);
    }
    let (n, c, h, wd) = x.dims4()?;
    let (o, ci, kh, kw) = w.dims4()?;
    let input = blocked::Input {
        n,
        c,
        h,
        w: wd,
        upsample: if form.upsample2x { 2 } else { 1 },
        pad: form.pad,
        mode: if form.reflect { blocked::PadMode::Reflect } else { blocked::PadMode::Zero },
    };
    let (vh, vw) = input.virtual_size();
    let fits = if depthwise { ci == 1 && o == c } else { ci == c };
    if !fits || vh < kh || vw < kw || stride == 0 || !input.valid() {
        candle_core::bail!("conv2d: input {:?} formed as {form:?} does not fit kernel {:?} with stride {stride}", x.dims(), w.dims());
    }
    let g = Geometry { n, c, h: vh, w: vw, o, kh, kw, stride, ho: (vh - kh) / stride + 1, wo: (vw - kw) / stride + 1 };
    // Depthwise: every width (each output channel reads one input channel).
    let serves = if depthwise { stride <= 2 && blocked::available() } else { g.blocked(Kernel::Auto) };
    if !serves {
        return Ok(None);
    }

    let bias = match bias {
        Some(b) if b.elem_count() == o => Some(b.flatten_all()?.to_vec1::<f32>()?),
        Some(b) => candle_core::bail!("conv2d: bias of {} values for {o} output channels", b.elem_count()),
        None => None,
    };
    let op = FusedConv { input, g, depthwise, bias, clamp };
    Ok(Some(x.contiguous()?.apply_op2_no_bwd(&w.contiguous()?, &op)?))
}

/// The op of [`conv2d_fused`] (blocked kernel only).
struct FusedConv {
    input: blocked::Input,
    /// The geometry on the formed input (for the profile).
    g: Geometry,
    depthwise: bool,
    bias: Option<Vec<f32>>,
    clamp: Option<(f32, f32)>,
}

impl CustomOp2 for FusedConv {
    fn name(&self) -> &'static str {
        "restyle-conv2d-fused"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (o, c, kh, kw) = l2.shape().dims4()?;
        let inp = self.input;
        if l1.dims() != [inp.n, inp.c, inp.h, inp.w] || c != if self.depthwise { 1 } else { inp.c } {
            candle_core::bail!("conv2d: input {:?} / weights {:?} differ from the planned {inp:?}", l1.dims(), l2.dims());
        }
        let g = self.g;
        let flops = if self.depthwise { g.flops() / g.c as u64 } else { g.flops() };
        let label = || if self.depthwise { format!("{}x{} s{} depthwise {} @ {}×{} [blocked]", g.kh, g.kw, g.stride, g.c, g.h, g.w) } else { g.label("blocked") };
        let _span = crate::profile::span("conv", label, flops);
        let (x, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let (vh, vw) = inp.virtual_size();
        let (ho, wo) = ((vh - kh) / g.stride + 1, (vw - kw) / g.stride + 1);
        let mut out = vec![0f32; inp.n * o * ho * wo];
        if !blocked::correlate(inp, x, w, o, kh, kw, g.stride, self.depthwise, self.bias.as_deref(), self.clamp, &mut out) {
            candle_core::bail!("conv2d: the blocked kernel needs AVX-512");
        }
        Ok((CpuStorage::F32(out), Shape::from((inp.n, o, ho, wo))))
    }
}

/// [`conv2d`] with a chosen kernel (forward and input gradient).
pub fn conv2d_with(x: &Tensor, w: &Tensor, stride: usize, kernel: Kernel) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let (_, ci, kh, kw) = w.dims4()?;
    if ci != c || h < kh || wd < kw || stride == 0 {
        candle_core::bail!("conv2d: input {:?} does not fit kernel {:?} with stride {stride}", x.dims(), w.dims());
    }
    if !x.device().is_cpu() || x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return x.conv2d(w, 0, stride, 1, 1);
    }
    x.contiguous()?.apply_op2(&w.contiguous()?, Conv { stride, kernel })
}

/// The geometry of one convolution, shared by the three kernels.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(x: &[usize], w: &[usize], stride: usize) -> Result<Self> {
        let (&[n, c, h, wd], &[o, ci, kh, kw]) = (x, w) else {
            candle_core::bail!("conv2d expects 4-d input and weight, got {x:?} and {w:?}");
        };
        if c != ci || h < kh || wd < kw || stride == 0 {
            candle_core::bail!("conv2d: input {x:?} does not fit kernel {w:?} with stride {stride}");
        }
        Ok(Geometry { n, c, h, w: wd, o, kh, kw, stride, ho: (h - kh) / stride + 1, wo: (wd - kw) / stride + 1 })
    }

    /// Whether the Winograd kernel serves this geometry: 3×3 stride 1 with
    /// enough channels that its gemms, not the transforms, dominate.
    fn winograd(&self, kernel: Kernel) -> bool {
        let fits = self.kh == 3 && self.kw == 3 && self.stride == 1;
        match kernel {
            Kernel::Auto => fits && self.c >= WINOGRAD_MIN_CHANNELS && self.o >= WINOGRAD_MIN_CHANNELS,
            Kernel::Im2col | Kernel::Direct | Kernel::Blocked => false,
            Kernel::Winograd => fits,
        }
    }

    /// Whether the direct kernel serves this geometry (see [`DIRECT_MAX_CHANNELS`]).
    fn direct(&self, kernel: Kernel) -> bool {
        match kernel {
            Kernel::Auto => self.stride == 1 && self.o.min(self.c) <= DIRECT_MAX_CHANNELS,
            Kernel::Direct | Kernel::Blocked => self.stride == 1,
            Kernel::Im2col | Kernel::Winograd => false,
        }
    }

    /// Whether the register-blocked AVX-512 kernel serves this geometry.
    fn blocked(&self, kernel: Kernel) -> bool {
        match kernel {
            // Measured (`restyle bench conv`): 160–195 GFLOP/s on the style
            // networks' layers, but behind Winograd once both sides have
            // ≥ 128 channels (VGG's deep layers).
            Kernel::Auto => self.stride <= 2 && self.c.min(self.o) < BLOCKED_MAX_CHANNELS && blocked::available(),
            Kernel::Blocked => blocked::available(),
            Kernel::Im2col | Kernel::Winograd | Kernel::Direct => false,
        }
    }

    /// The input as the blocked kernel sees it: as it is.
    fn blocked_input(&self) -> blocked::Input {
        blocked::Input { n: self.n, c: self.c, h: self.h, w: self.w, upsample: 1, pad: [0; 4], mode: blocked::PadMode::Zero }
    }

    /// Multiply-adds × 2 of the whole convolution.
    fn flops(&self) -> u64 {
        2 * (self.n * self.o * self.ho * self.wo * self.k()) as u64
    }

    /// The kernel that serves the forward of this geometry, for the profile.
    fn kernel_name(&self, kernel: Kernel) -> &'static str {
        if self.blocked(kernel) {
            "blocked"
        } else if self.winograd(kernel) {
            "winograd"
        } else if self.direct(kernel) {
            "direct"
        } else {
            "im2col"
        }
    }

    /// The shape and the kernel named `which`, for the profile.
    fn label(&self, which: &str) -> String {
        format!("{}x{} s{} {}→{} @ {}×{} [{which}]", self.kh, self.kw, self.stride, self.c, self.o, self.h, self.w)
    }

    /// Rows of the unfolded input: one per (channel, ky, kx).
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output rows per band, so that a band's unfolded input stays under
    /// [`BAND_ELEMS`].
    fn band_rows(&self) -> usize {
        (BAND_ELEMS / (self.k() * self.wo).max(1)).clamp(1, self.ho)
    }

    fn bands(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let step = self.band_rows();
        (0..self.ho).step_by(step).map(move |y0| (y0, (y0 + step).min(self.ho)))
    }
}

/// Unfolds output rows `y0..y1` of one sample `x` (`[C, H, W]`) into `cols`
/// (`[C·kh·kw, (y1−y0)·wo]`).
fn im2col(g: &Geometry, x: &[f32], y0: usize, y1: usize, cols: &mut [f32]) {
    let npix = (y1 - y0) * g.wo;
    cols.par_chunks_mut(npix).enumerate().for_each(|(r, row)| {
        let (ci, ky, kx) = (r / (g.kh * g.kw), (r / g.kw) % g.kh, r % g.kw);
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for (oy, out) in (y0..y1).zip(row.chunks_mut(g.wo)) {
            let src = &plane[(oy * g.stride + ky) * g.w + kx..];
            if g.stride == 1 {
                out.copy_from_slice(&src[..g.wo]);
            } else {
                out.iter_mut().zip(src.iter().step_by(g.stride)).for_each(|(o, s)| *o = *s);
            }
        }
    });
}

/// Direct stride-1 correlation into `out` (`[N, O, ho, wo]`), one output
/// row per task: each 64-pixel chunk of the row accumulates every
/// (channel, ky, kx) tap in registers, reading the input rows in place.
fn direct(g: &Geometry, x: &[f32], w: &[f32], out: &mut [f32]) {
    out.par_chunks_mut(g.wo).enumerate().for_each(|(r, row)| {
        let (oy, o, n) = (r % g.ho, (r / g.ho) % g.o, r / (g.ho * g.o));
        let xs = &x[n * g.c * g.h * g.w..(n + 1) * g.c * g.h * g.w];
        direct_row(g, xs, &w[o * g.k()..(o + 1) * g.k()], oy, row);
    });
}

/// One output row of [`direct`], compiled for AVX-512 and AVX2 as well
/// (chosen at run time): the default x86-64 target has only SSE2.
#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+fma", "x86_64+avx2+fma"))]
fn direct_row(g: &Geometry, xs: &[f32], taps: &[f32], oy: usize, row: &mut [f32]) {
    const CHUNK: usize = 64;
    for x0 in (0..g.wo).step_by(CHUNK) {
        let len = CHUNK.min(g.wo - x0);
        let mut acc = [0f32; CHUNK];
        for c in 0..g.c {
            for ky in 0..g.kh {
                let src = &xs[(c * g.h + oy + ky) * g.w + x0..(c * g.h + oy + ky + 1) * g.w];
                for kx in 0..g.kw {
                    let t = taps[(c * g.kh + ky) * g.kw + kx];
                    // A fixed-size chunk lets the compiler keep `acc` in
                    // vector registers; the row's tail takes the slow path.
                    match <&[f32; CHUNK]>::try_from(src.get(kx..kx + CHUNK).unwrap_or(&[])) {
                        Ok(s) if len == CHUNK => acc.iter_mut().zip(s).for_each(|(a, v)| *a = t.mul_add(*v, *a)),
                        _ => acc[..len].iter_mut().zip(&src[kx..kx + len]).for_each(|(a, v)| *a = t.mul_add(*v, *a)),
                    }
                }
            }
        }
        row[x0..x0 + len].copy_from_slice(&acc[..len]);
    }
}

/// The adjoint of [`im2col`]: adds `cols` back into the sample gradient `gx`
/// (`[C, H, W]`). Channels are independent, so they run in parallel.
fn col2im(g: &Geometry, cols: &[f32], y0: usize, y1: usize, gx: &mut [f32]) {
    let npix = (y1 - y0) * g.wo;
    let per_channel = g.kh * g.kw * npix;
    gx.par_chunks_mut(g.h * g.w).zip(cols.par_chunks(per_channel)).for_each(|(plane, rows)| {
        for (r, row) in rows.chunks(npix).enumerate() {
            let (ky, kx) = (r / g.kw, r % g.kw);
            for (oy, src) in (y0..y1).zip(row.chunks(g.wo)) {
                let dst = &mut plane[(oy * g.stride + ky) * g.w + kx..];
                if g.stride == 1 {
                    dst[..g.wo].iter_mut().zip(src).for_each(|(d, s)| *d += *s);
                } else {
                    dst.iter_mut().step_by(g.stride).zip(src).for_each(|(d, s)| *d += *s);
                }
            }
        }
    });
}



/// The forward op; its backward uses the two ops below.
struct Conv {
    stride: usize,
    kernel: Kernel,
}

impl CustomOp2 for Conv {
    fn name(&self) -> &'static str {
        "restyle-conv2d"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = Geometry::new(l1.dims(), l2.dims(), self.stride)?;
        let _span = crate::profile::span("conv", || g.label(g.kernel_name(self.kernel)), g.flops());
        let (x, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        if g.blocked(self.kernel) {
            let mut out = vec![0f32; g.n * g.o * g.ho * g.wo];
            if blocked::correlate(g.blocked_input(), x, w, g.o, g.kh, g.kw, g.stride, false, None, None, &mut out) {
                return Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.ho, g.wo))));
            }
        }
        if g.winograd(self.kernel) {
            let u = winograd::filters(w, g.o, g.c, false);
            let out = winograd::correlate(x, g.n, g.c, g.h, g.w, 0, &u, g.o);
            return Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.ho, g.wo))));
        }
        let plane = g.ho * g.wo;
        let mut out = vec![0f32; g.n * g.o * plane];
        if g.direct(self.kernel) {
            direct(&g, x, w, &mut out);
            return Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.ho, g.wo))));
        }
        let mut cols = Vec::new();
        for (xs, ys) in x.chunks(g.c * g.h * g.w).zip(out.chunks_mut(g.o * plane)) {
            for (y0, y1) in g.bands() {
                let npix = (y1 - y0) * g.wo;
                cols.resize(g.k() * npix, 0.0);
                im2col(&g, xs, y0, y1, &mut cols);
                matmul(g.o, npix, g.k(), View::rows(w, g.k()), View::rows(&cols, npix), &mut ys[y0 * g.wo..], plane, false);
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((g.n, g.o, g.ho, g.wo))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        // An input that nothing upstream differentiates (a network's first
        // layer on the image) needs no gradient: skip that convolution.
        let gx = if x.track_op() {
            Some(grad.apply_op2_no_bwd(w, &InputGrad { stride: self.stride, h: x.dim(2)?, w: x.dim(3)?, kernel: self.kernel })?)
        } else {
            None
        };
        // Frozen weights (VGG, inference) need no gradient: skip its gemm.
        let gw = if w.is_variable() {
            Some(x.apply_op2_no_bwd(&grad, &WeightGrad { stride: self.stride, kh: w.dim(2)?, kw: w.dim(3)? })?)
        } else {
            None
        };
        Ok((gx, gw))
    }
}

/// ∂L/∂x from ∂L/∂y (arg 1, `[N, O, ho, wo]`) and the weights (arg 2).
struct InputGrad {
    stride: usize,
    h: usize,
    w: usize,
    kernel: Kernel,
}

/// ∂L/∂x of [`conv2d_with`] for an input of `h × wd` pixels, from ∂L/∂y
/// `gy` (CPU, f32) and the weights, with the chosen kernel (benchmarks).
pub fn input_grad(gy: &Tensor, w: &Tensor, stride: usize, h: usize, wd: usize, kernel: Kernel) -> Result<Tensor> {
    gy.contiguous()?.apply_op2_no_bwd(&w.contiguous()?, &InputGrad { stride, h, w: wd, kernel })
}

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "restyle-conv2d-input-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (gy, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let &[n, _, _, _] = l1.dims() else { candle_core::bail!("conv2d grad: expected 4-d") };
        let &[_, c, _, _] = l2.dims() else { candle_core::bail!("conv2d grad: expected 4-d") };
        let g = Geometry::new(&[n, c, self.h, self.w], l2.dims(), self.stride)?;
        let _span = crate::profile::span("conv-grad-input", || g.label(g.kernel_name(self.kernel)), g.flops());
        if l1.dims() != [g.n, g.o, g.ho, g.wo] {
            candle_core::bail!("conv2d grad: gradient {:?} does not match the output of {g:?}", l1.dims());
        }
        if g.stride == 1 && g.blocked(self.kernel) {
            // ∂x = full correlation of ∂y (zero-padded by k − 1) with the
            // transposed, flipped filters, on the blocked kernel.
            let mut wt = vec![0f32; g.c * g.o * g.kh * g.kw];
            for (i, v) in wt.iter_mut().enumerate() {
                let (kx, ky, o, c) = (i % g.kw, (i / g.kw) % g.kh, (i / (g.kw * g.kh)) % g.o, i / (g.kw * g.kh * g.o));
                *v = w[((o * g.c + c) * g.kh + g.kh - 1 - ky) * g.kw + g.kw - 1 - kx];
            }
            let input = blocked::Input { n: g.n, c: g.o, h: g.ho, w: g.wo, upsample: 1, pad: [g.kh - 1, g.kh - 1, g.kw - 1, g.kw - 1], mode: blocked::PadMode::Zero };
            let mut gx = vec![0f32; g.n * g.c * g.h * g.w];
            if blocked::correlate(input, gy, &wt, g.c, g.kh, g.kw, 1, false, None, None, &mut gx) {
                return Ok((CpuStorage::F32(gx), Shape::from((g.n, g.c, g.h, g.w))));
            }
        }
        if g.winograd(self.kernel) {
            // ∂x = full correlation of ∂y with the transposed, flipped filters.
            let u = winograd::filters(w, g.o, g.c, true);
            let gx = winograd::correlate(gy, g.n, g.o, g.ho, g.wo, 2, &u, g.c);
            return Ok((CpuStorage::F32(gx), Shape::from((g.n, g.c, g.h, g.w))));
        }
        let plane = g.ho * g.wo;
        let mut gx = vec![0f32; g.n * g.c * g.h * g.w];
        let mut cols = Vec::new();
        for (gys, gxs) in gy.chunks(g.o * plane).zip(gx.chunks_mut(g.c * g.h * g.w)) {
            for (y0, y1) in g.bands() {
                let npix = (y1 - y0) * g.wo;
                cols.resize(g.k() * npix, 0.0);
                // cols = Wᵀ [K, O] · ∂y[:, band] [O, npix]
                let band = View { data: &gys[y0 * g.wo..], row_stride: plane, col_stride: 1 };
                matmul(g.k(), npix, g.o, View::transposed(w, g.k()), band, &mut cols, npix, false);
                col2im(&g, &cols, y0, y1, gxs);
            }
        }
        Ok((CpuStorage::F32(gx), Shape::from((g.n, g.c, g.h, g.w))))
    }
}

/// ∂L/∂W from the input (arg 1) and ∂L/∂y (arg 2), summed over the batch.
struct WeightGrad {
    stride: usize,
    kh: usize,
    kw: usize,
}

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "restyle-conv2d-weight-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, gy) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let &[_, o, _, _] = l2.dims() else { candle_core::bail!("conv2d grad: expected 4-d") };
        let &[_, c, _, _] = l1.dims() else { candle_core::bail!("conv2d grad: expected 4-d") };
        let g = Geometry::new(l1.dims(), &[o, c, self.kh, self.kw], self.stride)?;
        if l2.dims() != [g.n, g.o, g.ho, g.wo] {
            candle_core::bail!("conv2d grad: gradient {:?} does not match the output of {g:?}", l2.dims());
        }
        let d = weight_grad::Dims { n: g.n, c: g.c, h: g.h, w: g.w, o: g.o, kh: g.kh, kw: g.kw };
        if g.stride == 1 && weight_grad::serves(&d) {
            let _span = crate::profile::span("conv-grad-weight", || g.label("direct"), g.flops());
            if let Some(gw) = weight_grad::weight_grad(d, x, gy) {
                return Ok((CpuStorage::F32(gw), Shape::from((g.o, g.c, g.kh, g.kw))));
            }
        }
        let _span = crate::profile::span("conv-grad-weight", || g.label("im2col"), g.flops());
        let plane = g.ho * g.wo;
        let mut gw = vec![0f32; g.o * g.k()];
        let mut cols = Vec::new();
        for (xs, gys) in x.chunks(g.c * g.h * g.w).zip(gy.chunks(g.o * plane)) {
            for (y0, y1) in g.bands() {
                let npix = (y1 - y0) * g.wo;
                cols.resize(g.k() * npix, 0.0);
                im2col(&g, xs, y0, y1, &mut cols);
                // ∂W [O, K] += ∂y[:, band] [O, npix] · colsᵀ [npix, K]
                let band = View { data: &gys[y0 * g.wo..], row_stride: plane, col_stride: 1 };
                matmul(g.o, g.k(), npix, band, View::transposed(&cols, npix), &mut gw, g.k(), true);
            }
        }
        Ok((CpuStorage::F32(gw), Shape::from((g.o, g.c, g.kh, g.kw))))
    }
}

/// Depthwise 3×3 cross-correlation (one filter per channel) of an already
/// padded `x` `[N, C, H, W]` with `w` `[C, 1, 3, 3]`, no bias.
/// Differentiable in both. candle's grouped conv runs one conv per
/// channel; this is one pass over each plane, planes in parallel.
pub fn depthwise3x3(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    if w.dims() != [c, 1, 3, 3] || h < 3 || wd < 3 || stride == 0 {
        candle_core::bail!("depthwise3x3: input {:?} does not fit kernel {:?} with stride {stride}", x.dims(), w.dims());
    }
    if !x.device().is_cpu() || x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return depthwise_by_taps(x, w, stride);
    }
    x.contiguous()?.apply_op2(&w.contiguous()?, Depthwise { stride })
}

/// The same as nine shifted multiply-adds of candle ops (other devices).
fn depthwise_by_taps(x: &Tensor, w: &Tensor, stride: usize) -> Result<Tensor> {
    let (_, c, h, wd) = x.dims4()?;
    let (ho, wo) = ((h - 3) / stride + 1, (wd - 3) / stride + 1);
    let mut acc: Option<Tensor> = None;
    for ky in 0..3 {
        for kx in 0..3 {
            // Rows ky, ky+s, … and columns kx, kx+s, … of the padded input.
            let patch = if stride == 1 {
                x.narrow(2, ky, ho)?.narrow(3, kx, wo)?
            } else {
                let idx = |start: usize, n: usize| Tensor::arange_step(start as u32, (start + stride * n) as u32, stride as u32, x.device());
                x.index_select(&idx(ky, ho)?, 2)?.index_select(&idx(kx, wo)?, 3)?
            };
            let tap = w.narrow(2, ky, 1)?.narrow(3, kx, 1)?.reshape((1, c, 1, 1))?;
            let term = patch.broadcast_mul(&tap)?;
            acc = Some(match acc {
                None => term,
                Some(a) => (a + term)?,
            });
        }
    }
    Ok(acc.expect("nine taps"))
}

struct Depthwise {
    stride: usize,
}

/// Plane geometry of a depthwise op: input `h × w`, output `ho × wo`.
fn depthwise_geometry(x: &[usize], stride: usize) -> Result<(usize, usize, usize, usize, usize, usize)> {
    let &[n, c, h, w] = x else { candle_core::bail!("depthwise3x3: expected 4-d input, got {x:?}") };
    if h < 3 || w < 3 || stride == 0 {
        candle_core::bail!("depthwise3x3: input {x:?} is smaller than the kernel");
    }
    Ok((n, c, h, w, (h - 3) / stride + 1, (w - 3) / stride + 1))
}

impl CustomOp2 for Depthwise {
    fn name(&self) -> &'static str {
        "restyle-depthwise3x3"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let (n, c, h, wd, ho, wo) = depthwise_geometry(l1.dims(), self.stride)?;
        let _span = crate::profile::span("depthwise", || format!("3x3 s{} {c} @ {h}×{wd}", self.stride), (2 * 9 * n * c * ho * wo) as u64);
        let s = self.stride;
        let mut out = vec![0f32; n * c * ho * wo];
        out.par_chunks_mut(ho * wo).enumerate().for_each(|(p, y)| {
            let (plane, k) = (&x[p * h * wd..(p + 1) * h * wd], &w[(p % c) * 9..(p % c) * 9 + 9]);
            for (oy, row) in y.chunks_mut(wo).enumerate() {
                for ky in 0..3 {
                    let src = &plane[(oy * s + ky) * wd..(oy * s + ky + 1) * wd];
                    for kx in 0..3 {
                        let t = k[ky * 3 + kx];
                        if s == 1 {
                            row.iter_mut().zip(&src[kx..kx + wo]).for_each(|(o, v)| *o += t * v);
                        } else {
                            row.iter_mut().zip(src[kx..].iter().step_by(s)).for_each(|(o, v)| *o += t * v);
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(out), Shape::from((n, c, ho, wo))))
    }

    fn bwd(&self, x: &Tensor, w: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let gx = grad.apply_op2_no_bwd(w, &DepthwiseInputGrad { stride: self.stride, h: x.dim(2)?, w: x.dim(3)? })?;
        let gw = if w.is_variable() { Some(x.apply_op2_no_bwd(&grad, &DepthwiseWeightGrad { stride: self.stride })?) } else { None };
        Ok((Some(gx), gw))
    }
}

/// ∂L/∂x of [`depthwise3x3`] from ∂L/∂y (arg 1) and the weights (arg 2).
struct DepthwiseInputGrad {
    stride: usize,
    h: usize,
    w: usize,
}

impl CustomOp2 for DepthwiseInputGrad {
    fn name(&self) -> &'static str {
        "restyle-depthwise3x3-input-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (gy, w) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let &[n, c, _, _] = l1.dims() else { candle_core::bail!("depthwise grad: expected 4-d") };
        let (_, _, h, wd, ho, wo) = depthwise_geometry(&[n, c, self.h, self.w], self.stride)?;
        if l1.dims() != [n, c, ho, wo] {
            candle_core::bail!("depthwise grad: gradient {:?} does not match the output {:?}", l1.dims(), [n, c, ho, wo]);
        }
        let s = self.stride;
        let mut gx = vec![0f32; n * c * h * wd];
        gx.par_chunks_mut(h * wd).enumerate().for_each(|(p, plane)| {
            let (g, k) = (&gy[p * ho * wo..(p + 1) * ho * wo], &w[(p % c) * 9..(p % c) * 9 + 9]);
            for (oy, row) in g.chunks(wo).enumerate() {
                for ky in 0..3 {
                    let dst = &mut plane[(oy * s + ky) * wd..(oy * s + ky + 1) * wd];
                    for kx in 0..3 {
                        let t = k[ky * 3 + kx];
                        dst[kx..].iter_mut().step_by(s).zip(row).for_each(|(d, v)| *d += t * v);
                    }
                }
            }
        });
        Ok((CpuStorage::F32(gx), Shape::from((n, c, h, wd))))
    }
}

/// ∂L/∂W of [`depthwise3x3`] from the input (arg 1) and ∂L/∂y (arg 2).
struct DepthwiseWeightGrad {
    stride: usize,
}

impl CustomOp2 for DepthwiseWeightGrad {
    fn name(&self) -> &'static str {
        "restyle-depthwise3x3-weight-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (x, gy) = (f32_slice(s1, l1)?, f32_slice(s2, l2)?);
        let (n, c, h, wd, ho, wo) = depthwise_geometry(l1.dims(), self.stride)?;
        if l2.dims() != [n, c, ho, wo] {
            candle_core::bail!("depthwise grad: gradient {:?} does not match the output {:?}", l2.dims(), [n, c, ho, wo]);
        }
        let s = self.stride;
        let mut gw = vec![0f32; c * 9];
        gw.par_chunks_mut(9).enumerate().for_each(|(ch, k)| {
            for b in 0..n {
                let p = b * c + ch;
                let (plane, g) = (&x[p * h * wd..(p + 1) * h * wd], &gy[p * ho * wo..(p + 1) * ho * wo]);
                for (oy, row) in g.chunks(wo).enumerate() {
                    for ky in 0..3 {
                        let src = &plane[(oy * s + ky) * wd..(oy * s + ky + 1) * wd];
                        for kx in 0..3 {
                            k[ky * 3 + kx] += src[kx..].iter().step_by(s).zip(row).map(|(v, d)| v * d).sum::<f32>();
                        }
                    }
                }
            }
        });
        Ok((CpuStorage::F32(gw), Shape::from((c, 1, 3, 3))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b).unwrap().abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap()
    }

    fn scale(t: &Tensor) -> f32 {
        t.abs().unwrap().flatten_all().unwrap().max(0).unwrap().to_scalar::<f32>().unwrap().max(1.0)
    }

    /// Forward and both gradients against candle's own conv2d, for the
    /// kernel sizes and strides the networks use.
    #[test]
    fn matches_candle_conv_forward_and_backward() {
        let dev = Device::Cpu;
        for (n, c, o, k, s, h, w) in [(1, 3, 8, 9, 1, 20, 17), (2, 4, 3, 3, 1, 9, 12), (2, 5, 6, 3, 2, 11, 9), (1, 6, 4, 1, 1, 7, 5), (1, 3, 4, 4, 2, 12, 10)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap()).unwrap();
            let wt = Var::from_tensor(&Tensor::randn(0f32, 1.0, (o, c, k, k), &dev).unwrap()).unwrap();
            let probe = Tensor::randn(0f32, 1.0, (n, o, (h - k) / s + 1, (w - k) / s + 1), &dev).unwrap();
            let want = x.as_tensor().conv2d(&wt, 0, s, 1, 1).unwrap();
            let got = conv2d(&x, &wt, s).unwrap();
            assert_eq!(got.dims(), want.dims());
            assert!(max_diff(&got, &want) < 1e-4 * scale(&want), "forward {k}x{k}/{s}");
            let gw = (want * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let gg = (got * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &wt] {
                let (a, b) = (gw.get(v).unwrap(), gg.get(v).unwrap());
                assert!(max_diff(a, b) < 1e-4 * scale(a), "gradient {k}x{k}/{s}: {}", max_diff(a, b));
            }
        }
    }

    /// Where the stride does not divide the input, the last rows/columns are
    /// never read: their gradient is zero and the rest equals the gradient
    /// of the cropped input (candle's own backward fails on these sizes).
    #[test]
    fn uneven_strides_leave_unread_pixels_with_zero_gradient() {
        let dev = Device::Cpu;
        let (k, s) = (3, 2);
        let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (2, 3, 12, 10), &dev).unwrap()).unwrap();
        let w = Tensor::randn(0f32, 1.0, (4, 3, k, k), &dev).unwrap();
        let y = conv2d(&x, &w, s).unwrap();
        assert_eq!(y.dims(), &[2, 4, 5, 4]);
        let probe = Tensor::randn(0f32, 1.0, y.dims(), &dev).unwrap();
        let gx = (y * &probe).unwrap().sum_all().unwrap().backward().unwrap().get(&x).unwrap().clone();
        let crop = Var::from_tensor(&x.narrow(2, 0, 11).unwrap().narrow(3, 0, 9).unwrap()).unwrap();
        let yc = crop.as_tensor().conv2d(&w, 0, s, 1, 1).unwrap();
        let gc = (yc * &probe).unwrap().sum_all().unwrap().backward().unwrap().get(&crop).unwrap().clone();
        assert!(max_diff(&gx.narrow(2, 0, 11).unwrap().narrow(3, 0, 9).unwrap(), &gc) < 1e-4 * scale(&gc));
        let unread = (gx.narrow(2, 11, 1).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap())
            + (gx.narrow(3, 9, 1).unwrap().abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap());
        assert_eq!(unread, 0.0);
    }

    /// A band smaller than the image (forced by a huge kernel count) gives
    /// the same result as one band.
    #[test]
    fn bands_join_seamlessly() {
        let g = Geometry::new(&[1, 600, 6, 2002], &[1, 600, 3, 3], 1).unwrap();
        assert!(g.band_rows() < g.ho, "this geometry must need several bands");
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (1, 600, 6, 2002), &dev).unwrap();
        let w = Tensor::randn(0f32, 1.0, (1, 600, 3, 3), &dev).unwrap();
        let want = x.conv2d(&w, 0, 1, 1, 1).unwrap();
        let got = conv2d(&x, &w, 1).unwrap();
        assert!(max_diff(&got, &want) < 1e-4 * scale(&want));
    }

    #[test]
    fn rejects_a_kernel_larger_than_the_input() {
        let dev = Device::Cpu;
        let x = Tensor::zeros((1, 2, 4, 4), DType::F32, &dev).unwrap();
        let w = Tensor::zeros((1, 2, 5, 5), DType::F32, &dev).unwrap();
        assert!(conv2d(&x, &w, 1).is_err());
    }

    /// The fused depthwise layer (TF-SAME zero pad, bias, ReLU6) against
    /// the depthwise op plus candle ops.
    #[test]
    fn fused_depthwise_matches_the_layered_path() {
        let dev = Device::Cpu;
        for (n, c, s, h, w) in [(1, 24, 1, 17, 30), (2, 5, 2, 9, 10), (1, 96, 2, 16, 21)] {
            let x = Tensor::randn(0f32, 3.0, (n, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (c, 1, 3, 3), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, c, &dev).unwrap();
            let (t, bo) = ((h.div_ceil(s) - 1) * s + 3 - h, 0);
            let pads = [t / 2, t - t / 2, ((w.div_ceil(s) - 1) * s + 3 - w) / 2, (w.div_ceil(s) - 1) * s + 3 - w - ((w.div_ceil(s) - 1) * s + 3 - w) / 2];
            let _ = bo;
            let xp = x.pad_with_zeros(2, pads[0], pads[1]).unwrap().pad_with_zeros(3, pads[2], pads[3]).unwrap();
            let want = depthwise3x3(&xp, &wt, s).unwrap().broadcast_add(&b.reshape((1, c, 1, 1)).unwrap()).unwrap().clamp(0f32, 6f32).unwrap();
            let form = InputForm { upsample2x: false, pad: pads, reflect: false };
            let Some(got) = conv2d_fused(&x, &wt, Some(&b), s, form, true, Some((0.0, 6.0))).unwrap() else {
                assert!(!blocked::available());
                continue;
            };
            assert_eq!(got.dims(), want.dims());
            assert!(max_diff(&got, &want) < 1e-5 * scale(&want), "depthwise {c} s{s}: {}", max_diff(&got, &want));
        }
    }

    #[test]
    fn depthwise_matches_grouped_conv_forward_and_backward() {
        let dev = Device::Cpu;
        for (n, c, s, h, w) in [(2, 5, 1, 7, 6), (1, 4, 2, 9, 10), (2, 3, 2, 8, 7)] {
            let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap()).unwrap();
            let wt = Var::from_tensor(&Tensor::randn(0f32, 1.0, (c, 1, 3, 3), &dev).unwrap()).unwrap();
            let got = depthwise3x3(&x, &wt, s).unwrap();
            for want in [x.as_tensor().conv2d(&wt, 0, s, 1, c).unwrap(), depthwise_by_taps(&x, &wt, s).unwrap()] {
                assert_eq!(got.dims(), want.dims());
                assert!(max_diff(&got, &want) < 1e-5 * scale(&want), "forward stride {s}");
            }
            // Reference gradients from the tap formulation (candle ops).
            let probe = Tensor::randn(0f32, 1.0, got.dims(), &dev).unwrap();
            let gw = (depthwise_by_taps(&x, &wt, s).unwrap() * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            let gg = (got * &probe).unwrap().sum_all().unwrap().backward().unwrap();
            for v in [&x, &wt] {
                let (a, b) = (gw.get(v).unwrap(), gg.get(v).unwrap());
                assert!(max_diff(a, b) < 1e-4 * scale(a), "gradient stride {s}: {}", max_diff(a, b));
            }
        }
    }

    /// The blocked kernel through the op, and the fused layer (upsample,
    /// pad, bias, ReLU), against im2col and candle ops.
    #[test]
    fn blocked_kernel_and_fused_layer_match_im2col() {
        let dev = Device::Cpu;
        for (n, c, o, k, h, w) in [(2, 3, 16, 9, 20, 75), (1, 16, 3, 9, 17, 140), (1, 64, 64, 3, 10, 35), (1, 5, 13, 1, 3, 50)] {
            let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (o, c, k, k), &dev).unwrap();
            let b = Tensor::randn(0f32, 1.0, o, &dev).unwrap();
            let want = conv2d_with(&x, &wt, 1, Kernel::Im2col).unwrap();
            let got = conv2d_with(&x, &wt, 1, Kernel::Blocked).unwrap();
            assert!(max_diff(&got, &want) < 1e-5 * scale(&want), "{c}->{o} {k}x{k}: {}", max_diff(&got, &want));
            for stride in [1, 2] {
                for (up, reflect) in [(false, true), (true, true), (false, false)] {
                    let p = k / 2;
                    let form = InputForm { upsample2x: up, pad: [p, p, p + 1, p], reflect };
                    let xu = if up { x.upsample_nearest2d(2 * h, 2 * w).unwrap() } else { x.clone() };
                    let xp = if reflect {
                        xu.contiguous().unwrap().apply_op1_no_bwd(&crate::ops::pad::ReflectPad { top: p, bottom: p, left: p + 1, right: p }).unwrap()
                    } else {
                        xu.pad_with_zeros(2, p, p).unwrap().pad_with_zeros(3, p + 1, p).unwrap()
                    };
                    let want = conv2d_with(&xp, &wt, stride, Kernel::Im2col).unwrap().broadcast_add(&b.reshape((1, o, 1, 1)).unwrap()).unwrap().relu().unwrap();
                    let Some(got) = conv2d_fused(&x, &wt, Some(&b), stride, form, false, Some((0.0, f32::INFINITY))).unwrap() else {
                        assert!(!blocked::available(), "the fused kernel serves this call on AVX-512");
                        continue;
                    };
                    assert_eq!(got.dims(), want.dims());
                    assert!(max_diff(&got, &want) < 1e-5 * scale(&want), "fused {c}->{o} s{stride} {form:?}: {}", max_diff(&got, &want));
                }
            }
        }
        // A reflect pad as large as the axis is an error, not a panic.
        let x = Tensor::zeros((1, 2, 3, 3), DType::F32, &dev).unwrap();
        let wt = Tensor::zeros((2, 2, 3, 3), DType::F32, &dev).unwrap();
        assert!(conv2d_fused(&x, &wt, None, 1, InputForm { upsample2x: false, pad: [3, 0, 0, 0], reflect: true }, false, None).is_err());
    }

    #[test]
    fn direct_kernel_matches_im2col() {
        let dev = Device::Cpu;
        for (n, c, o, k, h, w) in [(2, 3, 16, 9, 20, 75), (1, 16, 3, 9, 17, 140), (1, 5, 2, 3, 6, 64), (1, 2, 4, 1, 3, 5)] {
            let x = Tensor::randn(0f32, 1.0, (n, c, h, w), &dev).unwrap();
            let wt = Tensor::randn(0f32, 1.0, (o, c, k, k), &dev).unwrap();
            let want = conv2d_with(&x, &wt, 1, Kernel::Im2col).unwrap();
            let got = conv2d_with(&x, &wt, 1, Kernel::Direct).unwrap();
            assert_eq!(got.dims(), want.dims());
            assert!(max_diff(&got, &want) < 1e-5 * scale(&want), "{c}->{o} {k}x{k}: {}", max_diff(&got, &want));
        }
    }
}
