//! Caller-owned pixel buffers ⇄ `restyle_core::image::Picture`.
//!
//! The hosts hand over their native layouts (GIMP: any babl format, we ask
//! for R,G,B,A; Krita: B,G,R,A for 8/16-bit integers, R,G,B,A for half and
//! float), so the ABI takes them as they are instead of making the plug-ins
//! swizzle pixels in Python. Only R, G and B are ever written back: alpha
//! bytes are not touched.

use crate::status::{FfiError, FfiResult, RestyleStatus};
use restyle_core::image::{Picture, PixelInfo, RgbImage};
use std::ffi::c_void;

pub const RESTYLE_FORMAT_RGBA8: u32 = 1;
pub const RESTYLE_FORMAT_BGRA8: u32 = 2;
pub const RESTYLE_FORMAT_RGB8: u32 = 3;
pub const RESTYLE_FORMAT_RGBA16: u32 = 4;
pub const RESTYLE_FORMAT_BGRA16: u32 = 5;
pub const RESTYLE_FORMAT_RGBAF16: u32 = 6;
pub const RESTYLE_FORMAT_RGBAF32: u32 = 7;

/// `restyle_image`: a caller-owned image buffer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RestyleImage {
    pub pixels: *mut c_void,
    pub width: u32,
    pub height: u32,
    /// Bytes from the start of one row to the start of the next.
    pub stride: usize,
    /// One of `RESTYLE_FORMAT_*`.
    pub format: u32,
}

/// `restyle_mask`: 8-bit coverage, one byte per pixel of the image it goes
/// with (0 = keep the original, 255 = fully stylized).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RestyleMask {
    pub data: *const u8,
    pub stride: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Channel {
    U8,
    U16,
    F16,
    F32,
}

#[derive(Clone, Copy, Debug)]
pub struct Format {
    channel: Channel,
    /// Channels per pixel.
    channels: usize,
    /// Positions of R, G, B within a pixel.
    rgb: [usize; 3],
    has_alpha: bool,
    alpha: usize,
}

impl Format {
    pub fn from_code(code: u32) -> FfiResult<Format> {
        use Channel::*;
        let f = |channel, channels, rgb, has_alpha| Format { channel, channels, rgb, has_alpha, alpha: 3 };
        Ok(match code {
            RESTYLE_FORMAT_RGBA8 => f(U8, 4, [0, 1, 2], true),
            RESTYLE_FORMAT_BGRA8 => f(U8, 4, [2, 1, 0], true),
            RESTYLE_FORMAT_RGB8 => f(U8, 3, [0, 1, 2], false),
            RESTYLE_FORMAT_RGBA16 => f(U16, 4, [0, 1, 2], true),
            RESTYLE_FORMAT_BGRA16 => f(U16, 4, [2, 1, 0], true),
            RESTYLE_FORMAT_RGBAF16 => f(F16, 4, [0, 1, 2], true),
            RESTYLE_FORMAT_RGBAF32 => f(F32, 4, [0, 1, 2], true),
            other => {
                return Err(FfiError::new(
                    RestyleStatus::UnsupportedFormat,
                    format!("unknown pixel format {other} (expected one of RESTYLE_FORMAT_RGBA8 … RESTYLE_FORMAT_RGBAF32, 1..7)"),
                ))
            }
        })
    }

    fn channel_bytes(&self) -> usize {
        match self.channel {
            Channel::U8 => 1,
            Channel::U16 | Channel::F16 => 2,
            Channel::F32 => 4,
        }
    }

    pub fn bytes_per_pixel(&self) -> usize {
        self.channel_bytes() * self.channels
    }

    fn bits(&self) -> u8 {
        match self.channel {
            Channel::U8 => 8,
            Channel::U16 => 16,
            Channel::F16 | Channel::F32 => 32,
        }
    }

    /// Channel `i` of the pixel starting at `px`, as 0..1 (floats clamped,
    /// NaN read as 0: the networks are defined on 0..1).
    fn read(&self, px: &[u8], i: usize) -> f32 {
        let n = self.channel_bytes();
        let b = &px[i * n..(i + 1) * n];
        let v = match self.channel {
            Channel::U8 => b[0] as f32 / 255.0,
            Channel::U16 => u16::from_ne_bytes([b[0], b[1]]) as f32 / 65535.0,
            Channel::F16 => half::f16::from_bits(u16::from_ne_bytes([b[0], b[1]])).to_f32(),
            Channel::F32 => f32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        };
        if v.is_nan() {
            0.0
        } else {
            v.clamp(0.0, 1.0)
        }
    }

    fn write(&self, px: &mut [u8], i: usize, v: f32) {
        let n = self.channel_bytes();
        let b = &mut px[i * n..(i + 1) * n];
        let v = v.clamp(0.0, 1.0);
        match self.channel {
            Channel::U8 => b[0] = (v * 255.0).round() as u8,
            Channel::U16 => b.copy_from_slice(&((v * 65535.0).round() as u16).to_ne_bytes()),
            Channel::F16 => b.copy_from_slice(&half::f16::from_f32(v).to_bits().to_ne_bytes()),
            Channel::F32 => b.copy_from_slice(&v.to_ne_bytes()),
        }
    }
}

/// A validated view of a `restyle_image`.
pub struct Buffer {
    pixels: *mut u8,
    width: usize,
    height: usize,
    stride: usize,
    pub format: Format,
}

impl Buffer {
    /// Checks everything that can be checked about a caller's buffer: not
    /// NULL, non-zero size, known format, stride ≥ one row, no overflow.
    pub fn new(img: &RestyleImage, what: &str) -> FfiResult<Buffer> {
        if img.pixels.is_null() {
            return Err(FfiError::null(&format!("{what}.pixels")));
        }
        if img.width == 0 || img.height == 0 {
            return Err(FfiError::invalid(format!("{what} is {}×{}: width and height must be > 0", img.width, img.height)));
        }
        let format = Format::from_code(img.format)?;
        let (width, height) = (img.width as usize, img.height as usize);
        let row = width
            .checked_mul(format.bytes_per_pixel())
            .ok_or_else(|| FfiError::invalid(format!("{what}: width {width} overflows")))?;
        if img.stride < row {
            return Err(FfiError::invalid(format!(
                "{what}.stride is {} bytes but a row of {width} pixels needs {row} bytes (stride < width × bytes per pixel)",
                img.stride
            )));
        }
        img.stride
            .checked_mul(height - 1)
            .and_then(|v| v.checked_add(row))
            .filter(|&total| total <= isize::MAX as usize)
            .ok_or_else(|| FfiError::invalid(format!("{what}: stride × height overflows")))?;
        Ok(Buffer { pixels: img.pixels as *mut u8, width, height, stride: img.stride, format })
    }

    fn row_len(&self) -> usize {
        self.width * self.format.bytes_per_pixel()
    }

    fn row(&self, y: usize) -> &[u8] {
        // SAFETY: `new` checked the pointer is non-NULL and that rows
        // 0..height of `row_len` bytes, `stride` apart, fit in isize; the
        // caller promises (restyle.h) the buffer is that large and stays
        // valid and unaliased by other writers during the call.
        unsafe { std::slice::from_raw_parts(self.pixels.add(y * self.stride), self.row_len()) }
    }

    fn row_mut(&mut self, y: usize) -> &mut [u8] {
        // SAFETY: as in `row`; `&mut self` keeps this the only live slice.
        unsafe { std::slice::from_raw_parts_mut(self.pixels.add(y * self.stride), self.row_len()) }
    }

    pub fn size(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    /// Copies the buffer into a picture (RGB for the networks, alpha aside).
    pub fn to_picture(&self) -> FfiResult<Picture> {
        let f = self.format;
        let bpp = f.bytes_per_pixel();
        let mut rgb = Vec::with_capacity(self.width * self.height * 3);
        let mut alpha = f.has_alpha.then(|| Vec::with_capacity(self.width * self.height));
        for y in 0..self.height {
            for px in self.row(y).chunks_exact(bpp) {
                rgb.extend(f.rgb.map(|c| f.read(px, c)));
                if let Some(a) = alpha.as_mut() {
                    a.push(f.read(px, f.alpha));
                }
            }
        }
        let rgb = RgbImage::new(self.width, self.height, rgb)?;
        Ok(Picture { rgb, alpha, info: PixelInfo { bits: f.bits(), grayscale: false } })
    }

    /// Writes `rgb` (same size) into the R, G, B channels, blended with the
    /// original by `mask` where given; alpha and fully unmasked pixels are
    /// left byte-for-byte as they were.
    pub fn write_rgb(&mut self, rgb: &RgbImage, mask: Option<&MaskView>) -> FfiResult<()> {
        if (rgb.width, rgb.height) != (self.width, self.height) {
            return Err(FfiError::new(
                RestyleStatus::Internal,
                format!("result is {}×{} but the image is {}×{}", rgb.width, rgb.height, self.width, self.height),
            ));
        }
        let f = self.format;
        let bpp = f.bytes_per_pixel();
        let w = self.width;
        for y in 0..self.height {
            let mrow = mask.map(|m| m.row(y, w));
            let src = &rgb.data[y * w * 3..(y + 1) * w * 3];
            for (x, px) in self.row_mut(y).chunks_exact_mut(bpp).enumerate() {
                let m = mrow.map_or(255, |r| r[x]);
                if m == 0 {
                    continue;
                }
                let t = m as f32 / 255.0;
                for (k, &c) in f.rgb.iter().enumerate() {
                    let new = src[x * 3 + k];
                    let v = if m == 255 { new } else { f.read(px, c) + t * (new - f.read(px, c)) };
                    f.write(px, c, v);
                }
            }
        }
        Ok(())
    }
}

/// A validated mask for a `width × height` image.
pub struct MaskView {
    data: *const u8,
    stride: usize,
}

impl MaskView {
    pub fn new(mask: &RestyleMask, width: usize, height: usize) -> FfiResult<MaskView> {
        if mask.data.is_null() {
            return Err(FfiError::null("mask.data"));
        }
        if mask.stride < width {
            return Err(FfiError::invalid(format!("mask.stride is {} but the image is {width} pixels wide", mask.stride)));
        }
        mask.stride
            .checked_mul(height - 1)
            .and_then(|v| v.checked_add(width))
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or_else(|| FfiError::invalid("mask: stride × height overflows"))?;
        Ok(MaskView { data: mask.data, stride: mask.stride })
    }

    fn row(&self, y: usize, width: usize) -> &[u8] {
        // SAFETY: `new` checked non-NULL and the extent; the caller promises a
        // buffer of `stride × (height-1) + width` bytes valid for the call.
        unsafe { std::slice::from_raw_parts(self.data.add(y * self.stride), width) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(buf: &mut [u8], w: u32, h: u32, stride: usize, format: u32) -> RestyleImage {
        RestyleImage { pixels: buf.as_mut_ptr().cast(), width: w, height: h, stride, format }
    }

    #[test]
    fn every_format_round_trips_and_keeps_alpha() {
        let (w, h) = (3u32, 2u32);
        for code in 1..=7 {
            let f = Format::from_code(code).unwrap();
            let stride = w as usize * f.bytes_per_pixel() + 5; // padded rows
            let mut buf = vec![0u8; stride * h as usize];
            // Fill with a known pattern through the writer.
            for y in 0..h as usize {
                for x in 0..w as usize {
                    let px = &mut buf[y * stride + x * f.bytes_per_pixel()..][..f.bytes_per_pixel()];
                    for c in 0..f.channels {
                        f.write(px, c, (x * 4 + y * 2 + c) as f32 / 20.0);
                    }
                }
            }
            let before = buf.clone();
            let img = image(&mut buf, w, h, stride, code);
            let mut b = Buffer::new(&img, "image").unwrap();
            let pic = b.to_picture().unwrap();
            assert_eq!(pic.alpha.is_some(), f.has_alpha, "format {code}");
            // R of pixel (1, 0) is channel f.rgb[0] of that pixel.
            let expect_r = (4 + f.rgb[0]) as f32 / 20.0;
            assert!((pic.rgb.data[3] - expect_r).abs() < 2e-3, "format {code}: {} vs {expect_r}", pic.rgb.data[3]);
            // Writing the same picture back changes nothing, padding included.
            b.write_rgb(&pic.rgb, None).unwrap();
            assert_eq!(buf, before, "format {code}");
            // Writing new colours changes RGB only.
            let img = image(&mut buf, w, h, stride, code);
            let mut b = Buffer::new(&img, "image").unwrap();
            b.write_rgb(&RgbImage::filled(3, 2, [1.0, 0.0, 0.5]), None).unwrap();
            let pic2 = Buffer::new(&img, "image").unwrap().to_picture().unwrap();
            assert_eq!(pic2.alpha, pic.alpha, "format {code}");
            assert!((pic2.rgb.data[0] - 1.0).abs() < 1e-3 && pic2.rgb.data[1] == 0.0);
            for y in 0..h as usize {
                let pad = &buf[y * stride + w as usize * f.bytes_per_pixel()..(y + 1) * stride];
                assert!(pad.iter().all(|&v| v == 0), "format {code}: padding written");
            }
        }
    }

    #[test]
    fn bgra_is_swizzled() {
        let mut buf = vec![10u8, 20, 30, 40];
        let img = image(&mut buf, 1, 1, 4, RESTYLE_FORMAT_BGRA8);
        let pic = Buffer::new(&img, "image").unwrap().to_picture().unwrap();
        assert_eq!(pic.rgb.data, vec![30.0 / 255.0, 20.0 / 255.0, 10.0 / 255.0]);
        assert_eq!(pic.alpha, Some(vec![40.0 / 255.0]));
    }

    #[test]
    fn mask_blends_and_leaves_zero_untouched() {
        let mut buf = vec![100u8, 100, 100, 7, 100, 100, 100, 9, 100, 100, 100, 11];
        let img = image(&mut buf, 3, 1, 12, RESTYLE_FORMAT_RGBA8);
        let mask = [0u8, 255, 128];
        let m = MaskView::new(&RestyleMask { data: mask.as_ptr(), stride: 3 }, 3, 1).unwrap();
        Buffer::new(&img, "image").unwrap().write_rgb(&RgbImage::filled(3, 1, [0.0, 0.0, 0.0]), Some(&m)).unwrap();
        assert_eq!(buf, vec![100, 100, 100, 7, 0, 0, 0, 9, 50, 50, 50, 11]);
    }

    #[test]
    fn bad_buffers_are_refused() {
        let mut buf = vec![0u8; 64];
        let e = Buffer::new(&image(&mut buf, 4, 2, 15, RESTYLE_FORMAT_RGBA8), "image").err().unwrap();
        assert!(e.message.contains("stride"), "{}", e.message);
        let e = Buffer::new(&image(&mut buf, 4, 2, 16, 99), "image").err().unwrap();
        assert_eq!(e.status, RestyleStatus::UnsupportedFormat);
        let e = Buffer::new(&image(&mut buf, 0, 2, 16, 1), "image").err().unwrap();
        assert!(e.message.contains("0×2"));
        let e = Buffer::new(&image(&mut buf, u32::MAX, u32::MAX, usize::MAX, RESTYLE_FORMAT_RGBAF32), "image").err().unwrap();
        assert!(e.message.contains("overflow"), "{}", e.message);
        let null = RestyleImage { pixels: std::ptr::null_mut(), width: 1, height: 1, stride: 4, format: 1 };
        assert_eq!(Buffer::new(&null, "image").err().unwrap().status, RestyleStatus::NullPointer);
    }
}
