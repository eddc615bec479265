//! Matrix multiplication glue: strided row-major views over f32 slices and
//! one call into `gemm` (AVX-512 kernels, all threads). The convolution
//! kernels (im2col, Winograd) lower onto it.

/// Upper bound of one band's unfolded input, in f32 elements (32 MiB).
pub(crate) const BAND_ELEMS: usize = 8 << 20;

/// A row-major matrix view for [`matmul`]: `rows × cols` with the given
/// strides, so transposes are free.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) row_stride: usize,
    pub(crate) col_stride: usize,
}

impl<'a> View<'a> {
    pub(crate) fn rows(data: &'a [f32], cols: usize) -> Self {
        View { data, row_stride: cols, col_stride: 1 }
    }
    /// The transpose of a row-major matrix with `cols` columns.
    pub(crate) fn transposed(data: &'a [f32], cols: usize) -> Self {
        View { data, row_stride: 1, col_stride: cols }
    }
    /// The largest index touched by an `r × c` view, to check bounds.
    fn extent(&self, r: usize, c: usize) -> usize {
        (r - 1) * self.row_stride + (c - 1) * self.col_stride + 1
    }
}

/// `dst[m×n] (row stride dst_stride) = (accumulate ? dst : 0) + a[m×k]·b[k×n]`,
/// with gemm's AVX-512 kernels on all threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul(m: usize, n: usize, k: usize, a: View, b: View, dst: &mut [f32], dst_stride: usize, accumulate: bool) {
    multiply(m, n, k, a, b, dst, dst_stride, accumulate, rayon::current_num_threads());
}

/// [`matmul`] on the calling thread only (for callers that split the work
/// across threads themselves).
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_serial(m: usize, n: usize, k: usize, a: View, b: View, dst: &mut [f32], dst_stride: usize, accumulate: bool) {
    multiply(m, n, k, a, b, dst, dst_stride, accumulate, 1);
}

#[allow(clippy::too_many_arguments)]
fn multiply(m: usize, n: usize, k: usize, a: View, b: View, dst: &mut [f32], dst_stride: usize, accumulate: bool, threads: usize) {
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    // Bounds checked here so that the unsafe call below only reads and
    // writes inside the slices it was given.
    assert!(a.data.len() >= a.extent(m, k) && b.data.len() >= b.extent(k, n));
    assert!(dst.len() >= (m - 1) * dst_stride + n && dst_stride >= n);
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: every pointer comes from a live slice, and the asserts above
    // prove that the m×n / m×k / k×n index ranges with these strides lie
    // inside those slices. `dst` is a unique borrow, so it aliases neither
    // input, and distinct (i, j) map to distinct dst elements
    // (dst_stride ≥ n).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.data.as_ptr(),
            a.col_stride as isize,
            a.row_stride as isize,
            b.data.as_ptr(),
            b.col_stride as isize,
            b.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

