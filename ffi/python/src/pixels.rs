//! numpy arrays ⇄ the core's `Picture`: H×W (gray), H×W×1 (gray), H×W×2
//! (gray + alpha), H×W×3 (RGB), H×W×4 (RGBA); uint8, uint16 or float32;
//! any strides (read in logical order, so transposed or sliced views work).
//!
//! The conventions are the C ABI's (ffi/src/pixels.rs): integers scale to
//! 0..1, floats are clamped to 0..1 with NaN read as 0, results are rounded.
//! Alpha is never sent through the networks: the output's alpha is copied
//! from the input array, value for value.

use crate::BindError;
use numpy::{Element, PyArrayDescrMethods, PyArrayDyn, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use restyle_core::image::{PixelInfo, Picture, RgbImage};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PixelKind {
    U8,
    U16,
    F32,
}

/// How to lay out a result: the input array's shape and dtype.
#[derive(Clone, Debug)]
pub struct Layout {
    pub kind: PixelKind,
    /// `[h, w]` or `[h, w, c]`.
    pub shape: Vec<usize>,
    /// Where the result's alpha comes from.
    pub alpha_from_input: bool,
}

impl Layout {
    /// The layout of a decoded file: its bit depth and colour mode.
    pub fn of_picture(p: &Picture) -> Layout {
        let kind = match p.info.bits {
            8 => PixelKind::U8,
            16 => PixelKind::U16,
            _ => PixelKind::F32,
        };
        let c = if p.info.grayscale { 1 } else { 3 } + usize::from(p.alpha.is_some());
        let shape = if c == 1 { vec![p.height(), p.width()] } else { vec![p.height(), p.width(), c] };
        Layout { kind, shape, alpha_from_input: false }
    }

    fn channels(&self) -> usize {
        self.shape.get(2).copied().unwrap_or(1)
    }
}

trait Sample: Element + Copy {
    fn to_unit(self) -> f32;
    fn from_unit(v: f32) -> Self;
}

impl Sample for u8 {
    fn to_unit(self) -> f32 {
        self as f32 / 255.0
    }
    fn from_unit(v: f32) -> Self {
        (v.clamp(0.0, 1.0) * 255.0).round() as u8
    }
}

impl Sample for u16 {
    fn to_unit(self) -> f32 {
        self as f32 / 65535.0
    }
    fn from_unit(v: f32) -> Self {
        (v.clamp(0.0, 1.0) * 65535.0).round() as u16
    }
}

impl Sample for f32 {
    fn to_unit(self) -> f32 {
        if self.is_nan() {
            0.0
        } else {
            self.clamp(0.0, 1.0)
        }
    }
    fn from_unit(v: f32) -> Self {
        v.clamp(0.0, 1.0)
    }
}

fn kind_of(a: &Bound<'_, PyUntypedArray>) -> Result<PixelKind, BindError> {
    let py = a.py();
    let dt = a.dtype();
    if dt.is_equiv_to(&numpy::dtype::<u8>(py)) {
        Ok(PixelKind::U8)
    } else if dt.is_equiv_to(&numpy::dtype::<u16>(py)) {
        Ok(PixelKind::U16)
    } else if dt.is_equiv_to(&numpy::dtype::<f32>(py)) {
        Ok(PixelKind::F32)
    } else {
        Err(BindError::invalid(format!("unsupported dtype {dt}: expected uint8, uint16 or float32 (floats in 0..1)")))
    }
}

/// The array `obj` as a picture, and the layout of a result for it.
pub fn read(obj: &Bound<'_, PyAny>, what: &str) -> Result<(Picture, Layout), BindError> {
    let a = obj
        .cast::<PyUntypedArray>()
        .map_err(|_| BindError::invalid(format!("{what}: expected a numpy array, a path or a PIL image, got {}", type_name(obj))))?;
    let kind = kind_of(a)?;
    let shape = a.shape().to_vec();
    let c = match shape.len() {
        2 => 1,
        3 if (1..=4).contains(&shape[2]) => shape[2],
        _ => {
            return Err(BindError::invalid(format!(
                "{what}: expected an H×W or H×W×C array with C in 1..4, got shape {shape:?}"
            )))
        }
    };
    let (h, w) = (shape[0], shape[1]);
    if h == 0 || w == 0 {
        return Err(BindError::invalid(format!("{what}: zero-size image ({w}×{h})")));
    }
    let (rgb, alpha) = match kind {
        PixelKind::U8 => unpack::<u8>(a, c)?,
        PixelKind::U16 => unpack::<u16>(a, c)?,
        PixelKind::F32 => unpack::<f32>(a, c)?,
    };
    let bits = match kind {
        PixelKind::U8 => 8,
        PixelKind::U16 => 16,
        PixelKind::F32 => 32,
    };
    let picture = Picture { rgb: RgbImage::new(w, h, rgb)?, alpha, info: PixelInfo { bits, grayscale: c <= 2 } };
    Ok((picture, Layout { kind, shape, alpha_from_input: c == 2 || c == 4 }))
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "an unknown type".into())
}

/// RGB (gray replicated) and alpha as 0..1 floats, in logical order.
fn unpack<T: Sample>(a: &Bound<'_, PyUntypedArray>, c: usize) -> Result<(Vec<f32>, Option<Vec<f32>>), BindError> {
    let arr = a.cast::<PyArrayDyn<T>>().map_err(|e| BindError::invalid(e.to_string()))?;
    let ro = arr.try_readonly().map_err(|e| BindError::invalid(format!("cannot read the array: {e}")))?;
    let view = ro.as_array();
    let n = view.len() / c;
    let mut rgb = Vec::with_capacity(n * 3);
    let mut alpha = (c == 2 || c == 4).then(|| Vec::with_capacity(n));
    let mut push = |px: &[T]| {
        match c {
            1 | 2 => {
                let g = px[0].to_unit();
                rgb.extend_from_slice(&[g, g, g]);
            }
            _ => rgb.extend(px[..3].iter().map(|v| v.to_unit())),
        }
        if let Some(al) = alpha.as_mut() {
            al.push(px[c - 1].to_unit());
        }
    };
    match view.as_slice() {
        Some(s) => s.chunks_exact(c).for_each(&mut push),
        None => {
            let mut px = Vec::with_capacity(c);
            for v in view.iter() {
                px.push(*v);
                if px.len() == c {
                    push(&px);
                    px.clear();
                }
            }
        }
    }
    Ok((rgb, alpha))
}

/// A new array laid out as `layout`, holding `out`'s colours; alpha from
/// the input array (`input`) or from `out` (a decoded file).
pub fn write<'py>(py: Python<'py>, out: &Picture, layout: &Layout, input: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    match layout.kind {
        PixelKind::U8 => fill::<u8>(py, out, layout, input),
        PixelKind::U16 => fill::<u16>(py, out, layout, input),
        PixelKind::F32 => fill::<f32>(py, out, layout, input),
    }
}

fn fill<'py, T: Sample>(py: Python<'py>, out: &Picture, layout: &Layout, input: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let c = layout.channels();
    let gray = c <= 2;
    let has_alpha = c == 2 || c == 4;
    let mut data: Vec<T> = Vec::with_capacity(out.rgb.data.len() / 3 * c);
    let luma = if gray { Some(out.rgb.luma()) } else { None };
    // The input's own alpha samples, in logical order (no conversion: byte-identical).
    let input_alpha: Option<Vec<T>> = if has_alpha && layout.alpha_from_input {
        let arr = input.cast::<PyArrayDyn<T>>()?;
        let ro = arr.try_readonly()?;
        Some(ro.as_array().iter().skip(c - 1).step_by(c).copied().collect())
    } else {
        None
    };
    for i in 0..out.rgb.data.len() / 3 {
        match &luma {
            Some(l) => data.push(T::from_unit(l[i])),
            None => data.extend(out.rgb.data[i * 3..i * 3 + 3].iter().map(|v| T::from_unit(*v))),
        }
        if has_alpha {
            let a = match (&input_alpha, &out.alpha) {
                (Some(ia), _) => ia[i],
                (None, Some(a)) => T::from_unit(a[i]),
                (None, None) => T::from_unit(1.0),
            };
            data.push(a);
        }
    }
    let flat = numpy::PyArray1::from_vec(py, data);
    Ok(flat.reshape(layout.shape.clone())?.into_any())
}
