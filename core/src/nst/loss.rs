//! NST losses on VGG activations (all differentiable candle ops).
//!
//! Normalisation (stable API; every NST variant and trainer uses it):
//! - [`gram`]`(F, s)` = (F + s)(F + s)ᵀ / (C·H·W), per batch item: [N,C,C].
//!   Dividing by C·H·W makes Grams comparable across layers and image sizes.
//! - Callers pass features already divided by [`crate::models::vgg::Vgg::activation_scale`]
//!   (≈58 for caffe weights, 1 for torchvision), so one set of loss weights
//!   gives the same balance for either input convention.
//! - [`content`] = mean squared difference of features.
//! - [`style`] = mean squared difference of Grams.
//! - [`tv`] = mean over pixels of squared horizontal + vertical neighbour
//!   differences of the image (0..1 scale).

use crate::{Error, Result};
use candle_core::{DType, Tensor, D};

/// Gram matrix of `f` [N,C,H,W] (or [C,H,W]) with activations shifted by `shift`
/// (0 = classic Gatys, −1 = Novak & Nikulin), normalised by C·H·W.
pub fn gram(f: &Tensor, shift: f64) -> Result<Tensor> {
    let f = if f.rank() == 3 { f.unsqueeze(0)? } else { f.clone() };
    let (n, c, h, w) = f.dims4()?;
    let f = f.reshape((n, c, h * w))?;
    let f = if shift != 0.0 { (f + shift)? } else { f };
    let g = crate::ops::gram::gram(&f)?;
    Ok((g / (c * h * w) as f64)?)
}

/// Cross-layer ("chained") correlation between a shallow map `a` [N,Ca,H,W]
/// and a deeper map `b` [N,Cb,h,w]: `b` is resized to H×W (nearest), then
/// (a + s)(b + s)ᵀ / (√(Ca·Cb)·H·W): [N,Ca,Cb]. Equals [`gram`] when a = b.
pub fn gram_cross(a: &Tensor, b: &Tensor, shift: f64) -> Result<Tensor> {
    let (n, ca, h, w) = a.dims4()?;
    let (nb, cb, _, _) = b.dims4()?;
    if n != nb {
        return Err(Error::InvalidArgument(format!("gram_cross: batch {n} vs {nb}")));
    }
    // nearest resize by index_select: differentiable for any size ratio
    // (candle's upsample backward needs integer factors; pooled sizes are often odd)
    let b = if b.dims()[2..] != [h, w] {
        let (hb, wb) = (b.dim(2)?, b.dim(3)?);
        let ih: Vec<u32> = (0..h).map(|i| (i * hb / h) as u32).collect();
        let iw: Vec<u32> = (0..w).map(|i| (i * wb / w) as u32).collect();
        let dev = b.device();
        b.index_select(&Tensor::new(ih, dev)?, 2)?.index_select(&Tensor::new(iw, dev)?, 3)?
    } else {
        b.clone()
    };
    let a = a.reshape((n, ca, h * w))?;
    let b = b.reshape((n, cb, h * w))?;
    let (a, b) = if shift != 0.0 { ((a + shift)?, (b + shift)?) } else { (a, b) };
    let g = a.matmul(&b.t()?)?;
    Ok((g / (((ca * cb) as f64).sqrt() * (h * w) as f64))?)
}

/// Content loss: mean squared difference.
pub fn content(f: &Tensor, target: &Tensor) -> Result<Tensor> {
    Ok(f.sub(target)?.sqr()?.mean_all()?)
}

/// Style loss between two Grams: mean squared difference.
pub fn style(g: &Tensor, target: &Tensor) -> Result<Tensor> {
    Ok(g.sub(target)?.sqr()?.mean_all()?)
}

/// Total variation of an image [N,C,H,W]: mean squared neighbour difference.
pub fn tv(x: &Tensor) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if h < 2 || w < 2 {
        return Ok(Tensor::zeros((), DType::F32, x.device())?);
    }
    let dy = x.narrow(2, 1, h - 1)?.sub(&x.narrow(2, 0, h - 1)?)?.sqr()?.mean_all()?;
    let dx = x.narrow(3, 1, w - 1)?.sub(&x.narrow(3, 0, w - 1)?)?.sqr()?.mean_all()?;
    Ok((dy + dx)?)
}

/// Standard style distance used for reports and tests: Σ over layers of
/// [`style`] between unshifted Grams of two feature sets (same layers).
pub fn gram_distance(a: &crate::models::vgg::Features, b: &crate::models::vgg::Features, scale: f64) -> Result<f32> {
    let mut total = 0f32;
    for ((na, fa), (nb, fb)) in a.iter().zip(b.iter()) {
        if na != nb {
            return Err(Error::InvalidArgument(format!("gram_distance: layer {na} vs {nb}")));
        }
        let ga = gram(&(fa / scale)?, 0.0)?;
        let gb = gram(&(fb / scale)?, 0.0)?;
        total += style(&ga, &gb)?.to_scalar::<f32>()?;
    }
    Ok(total)
}

/// Mean over the last dim, kept for callers that want per-channel statistics.
pub fn channel_mean(f: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = f.dims4()?;
    Ok(f.reshape((n, c, h * w))?.mean(D::Minus1)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn gram_matches_hand_computation() {
        // one item, 2 channels, 1x2 pixels
        let f = Tensor::new(&[[[[1f32, 2.]], [[3., 4.]]]], &Device::Cpu).unwrap();
        let g = gram(&f, 0.0).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        // [[1+4, 3+8], [3+8, 9+16]] / (2*1*2)
        assert_eq!(g, vec![vec![1.25, 2.75], vec![2.75, 6.25]]);
        let gs = gram(&f, -1.0).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        // shifted: [0,1],[2,3] → [[1, 3],[3, 13]] / 4
        assert_eq!(gs, vec![vec![0.25, 0.75], vec![0.75, 3.25]]);
        let gc = gram_cross(&f, &f, -1.0).unwrap().squeeze(0).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(gc, gs);
    }

    #[test]
    fn tv_and_content() {
        let x = Tensor::new(&[[[[0f32, 1.], [0., 1.]]]], &Device::Cpu).unwrap();
        // dy = 0, dx = 1 everywhere
        assert_eq!(tv(&x).unwrap().to_scalar::<f32>().unwrap(), 1.0);
        let y = (x.clone() + 2.0).unwrap();
        assert_eq!(content(&x, &y).unwrap().to_scalar::<f32>().unwrap(), 4.0);
    }

    #[test]
    fn gram_cross_resizes_deeper_map() {
        let a = Tensor::rand(0f32, 1., (1, 4, 8, 8), &Device::Cpu).unwrap();
        let b = Tensor::rand(0f32, 1., (1, 6, 4, 4), &Device::Cpu).unwrap();
        assert_eq!(gram_cross(&a, &b, -1.0).unwrap().dims(), &[1, 4, 6]);
    }
}
