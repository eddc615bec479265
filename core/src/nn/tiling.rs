//! Overlapped tiles with feathered seams, for running a feed-forward network
//! on images too large to process in one piece.
//!
//! [`run_tiled`] cuts `[1, C, H, W]` into `tile`×`tile` pieces overlapping by
//! `overlap` pixels, runs a closure on each, and blends the results with
//! weights that ramp linearly across every overlap (1 at the image border),
//! so seams fade instead of showing.
//!
//! Instance norm caveat: a network with instance norm computes its
//! statistics per input, so each tile would be normalised on its own content
//! (visibly different colours per tile). Networks therefore record their norm
//! statistics on the whole image (downscaled if need be) and replay them on
//! every tile: [`run_with_shared_stats`] (any kind of statistics, e.g. AdaIN's
//! feature mean/std) and [`run_with_norm_stats`] (networks whose instance
//! norms take [`NormStats`]) are the one implementation every network uses.

use crate::image::{fit_longest, RgbImage};
use crate::nn::NormStats;
use candle_core::{Device, Result, Tensor};

/// Tile size and overlap, in pixels of the network input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tiling {
    pub tile: usize,
    pub overlap: usize,
}

impl Default for Tiling {
    fn default() -> Self {
        Tiling { tile: 512, overlap: 64 }
    }
}

impl Tiling {
    /// Whether an `h`×`w` image needs more than one tile.
    pub fn needed(&self, h: usize, w: usize) -> bool {
        h > self.tile || w > self.tile
    }
}

/// Start offsets of tiles of length `tile` covering `n` with at least
/// `overlap` shared pixels; the last tile ends exactly at `n`.
pub fn tile_starts(n: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if n <= tile {
        return vec![0];
    }
    let step = (tile - overlap.min(tile - 1)).max(1);
    let mut starts: Vec<usize> = (0..).map(|i| i * step).take_while(|&s| s + tile < n).collect();
    starts.push(n - tile);
    starts
}

/// Blend weights along one axis of a tile starting at `start` (length `len`)
/// in an axis of length `n`: a linear ramp over `overlap` pixels on every side
/// that has a neighbour, 1 elsewhere (never 0, so every pixel is covered).
fn ramp(start: usize, len: usize, n: usize, overlap: usize) -> Vec<f32> {
    let o = overlap.min(len / 2).max(1) as f32;
    (0..len)
        .map(|i| {
            let mut w = 1f32;
            if start > 0 {
                w = w.min((i as f32 + 0.5) / o);
            }
            if start + len < n {
                w = w.min(((len - i) as f32 - 0.5) / o);
            }
            w.min(1.0)
        })
        .collect()
}

/// Runs `f` on overlapping tiles of `x` (`[1, C, H, W]`) and blends the
/// outputs, which must have the tile's shape (`[1, C_out, th, tw]`). The
/// result is on `x`'s device. With one tile, `f(x)` is returned as is.
/// Runs a network on `x` (`[1, 3, H, W]`, RGB 0..1): whole when it fits one
/// tile (`run(x, None)`: the network's own statistics), else in tiles that
/// all use the statistics `measure` computes once on the whole image,
/// downscaled to at most `stats_max_side` (`run(tile, Some(&stats))`).
pub fn run_with_shared_stats<S>(
    x: &Tensor,
    tiling: Tiling,
    stats_max_side: usize,
    measure: impl FnOnce(&Tensor) -> crate::Result<S>,
    mut run: impl FnMut(&Tensor, Option<&S>) -> crate::Result<Tensor>,
) -> crate::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if !tiling.needed(h, w) {
        return run(x, None);
    }
    let probe = if h.max(w) > stats_max_side {
        let (pw, ph) = fit_longest(w, h, stats_max_side);
        RgbImage::from_tensor(x)?.resize(pw, ph)?.to_tensor(x.device())?
    } else {
        x.clone()
    };
    let stats = measure(&probe)?;
    // run_tiled speaks candle's error type; carry ours through it intact.
    let mut failure = None;
    let out = run_tiled(x, tiling, |t| {
        run(t, Some(&stats)).map_err(|e| {
            let msg = e.to_string();
            failure = Some(e);
            candle_core::Error::Msg(msg)
        })
    });
    match (out, failure) {
        (Ok(y), _) => Ok(y),
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(e.into()),
    }
}

/// [`run_with_shared_stats`] for networks whose instance norms take
/// [`NormStats`]: one recording pass on the whole image, then every tile
/// replays it.
pub fn run_with_norm_stats(
    x: &Tensor,
    tiling: Tiling,
    stats_max_side: usize,
    net: impl Fn(&Tensor, &mut NormStats) -> Result<Tensor>,
) -> crate::Result<Tensor> {
    let measure = |probe: &Tensor| -> crate::Result<_> {
        let mut rec = NormStats::Record(Vec::new());
        net(probe, &mut rec)?;
        Ok(rec.into_recorded())
    };
    let run = |t: &Tensor, stats: Option<&Vec<_>>| -> crate::Result<Tensor> {
        Ok(net(t, &mut stats.map_or(NormStats::Own, |s| NormStats::replay(s.clone())))?)
    };
    run_with_shared_stats(x, tiling, stats_max_side, measure, run)
}

pub fn run_tiled<F>(x: &Tensor, tiling: Tiling, mut f: F) -> Result<Tensor>
where
    F: FnMut(&Tensor) -> Result<Tensor>,
{
    let (n, _, h, w) = x.dims4()?;
    if n != 1 {
        candle_core::bail!("run_tiled takes one image, got a batch of {n}");
    }
    if tiling.tile == 0 {
        candle_core::bail!("tile size must be positive");
    }
    if !tiling.needed(h, w) {
        return f(x);
    }
    let (ys, xs) = (tile_starts(h, tiling.tile, tiling.overlap), tile_starts(w, tiling.tile, tiling.overlap));
    let (mut acc, mut wsum, mut c_out) = (Vec::new(), vec![0f32; h * w], 0);
    for &y0 in &ys {
        let th = tiling.tile.min(h);
        let ry = ramp(y0, th, h, tiling.overlap);
        for &x0 in &xs {
            let tw = tiling.tile.min(w);
            let rx = ramp(x0, tw, w, tiling.overlap);
            let out = f(&x.narrow(2, y0, th)?.narrow(3, x0, tw)?)?;
            let (_, c, oh, ow) = out.dims4()?;
            if (oh, ow) != (th, tw) {
                candle_core::bail!("tile function returned {ow}×{oh} for a {tw}×{th} tile");
            }
            if acc.is_empty() {
                c_out = c;
                acc = vec![0f32; c * h * w];
            }
            let v = out.to_device(&Device::Cpu)?.to_dtype(candle_core::DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
            for ch in 0..c_out {
                for i in 0..th {
                    let row = ((ch * h) + y0 + i) * w + x0;
                    let src = (ch * th + i) * tw;
                    for j in 0..tw {
                        acc[row + j] += v[src + j] * ry[i] * rx[j];
                    }
                }
            }
            for i in 0..th {
                for j in 0..tw {
                    wsum[(y0 + i) * w + x0 + j] += ry[i] * rx[j];
                }
            }
        }
    }
    for (k, a) in acc.iter_mut().enumerate() {
        *a /= wsum[k % (h * w)];
    }
    Tensor::from_vec(acc, (1, c_out, h, w), &Device::Cpu)?.to_device(x.device())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_cover_the_axis() {
        assert_eq!(tile_starts(100, 128, 16), vec![0]);
        assert_eq!(tile_starts(300, 128, 32), vec![0, 96, 172]);
        for n in [129, 200, 511, 1000] {
            let s = tile_starts(n, 128, 24);
            assert_eq!(*s.last().unwrap() + 128, n);
            assert!(s.windows(2).all(|p| p[1] > p[0] && p[0] + 128 >= p[1] + 24));
        }
    }

    #[test]
    fn ramps_are_positive_and_one_inside() {
        let r = ramp(96, 128, 300, 32);
        assert!(r.iter().all(|&v| v > 0.0 && v <= 1.0));
        assert_eq!(r[64], 1.0);
        assert!(r[0] < 0.05 && r[127] < 0.05);
        assert!(ramp(0, 128, 300, 32)[0] == 1.0);
    }

    #[test]
    fn pointwise_functions_are_reproduced_exactly() {
        // A per-pixel function must come out unchanged by tiling and blending.
        let x = Tensor::rand(0f32, 1.0, (1, 3, 150, 203), &Device::Cpu).unwrap();
        let f = |t: &Tensor| -> Result<Tensor> { (t.sqr()? * 2.0)? + 0.25 };
        let tiled = run_tiled(&x, Tiling { tile: 64, overlap: 16 }, f).unwrap();
        let whole = f(&x).unwrap();
        let d = (tiled - whole).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(d < 1e-5, "{d}");
    }

    #[test]
    fn tiles_see_their_own_window() {
        // Adds each tile's mean: differs from the whole image, so the output
        // must show that tiles were really run separately and blended.
        let x = Tensor::arange(0f32, 200.0, &Device::Cpu).unwrap().reshape((1, 1, 10, 20)).unwrap();
        let mut calls = 0;
        let y = run_tiled(&x, Tiling { tile: 8, overlap: 2 }, |t| {
            calls += 1;
            t.broadcast_sub(&t.mean_all()?)
        })
        .unwrap();
        assert_eq!(calls, tile_starts(10, 8, 2).len() * tile_starts(20, 8, 2).len());
        assert_eq!(y.dims(), &[1, 1, 10, 20]);
    }
}
