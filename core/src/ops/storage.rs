//! Access to candle's CPU storage from custom ops.

use candle_core::{CpuStorage, Layout, Result};

/// The f32 data of a contiguous CPU tensor (custom ops take CPU storage).
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("expected a contiguous tensor"),
    }
}
