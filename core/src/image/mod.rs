//! Images in and out of restyle: decoding (JPEG, PNG, WebP, TIFF; 8/16-bit,
//! grayscale, alpha; EXIF orientation applied), atomic encoding that keeps
//! the source's bit depth and colour mode, resizing, and the image ⇄ tensor
//! conversions every variant shares.
//!
//! Pixels are held as f32 in 0..1, RGB interleaved (HWC). Alpha is kept
//! aside and restored untouched: networks only ever see RGB.

pub mod color;

use crate::{Error, Result};
use candle_core::{DType, Device, Tensor};
use image::{DynamicImage, ImageDecoder, ImageReader, Rgb32FImage};

use std::path::Path;

/// Refuse images larger than this many pixels unless asked otherwise,
/// whatever the memory limit. Below it, [`decode`] also refuses images whose
/// pipeline would not fit the memory limit ([`crate::budget`]: pixels ×
/// [`crate::budget::PIPELINE_BYTES_PER_PIXEL`], measured ≈ 43 B, so this
/// many pixels need ≈ 12 GiB, not the decoder's 2 GB alone).
pub const DEFAULT_MAX_PIXELS: u64 = 256 * 1024 * 1024;

/// An RGB image, f32 in 0..1, interleaved rows (HWC).
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// How the source stored its pixels, so that the output can do the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelInfo {
    /// 8, 16 or 32 (float) bits per channel.
    pub bits: u8,
    pub grayscale: bool,
}

impl Default for PixelInfo {
    fn default() -> Self {
        PixelInfo { bits: 8, grayscale: false }
    }
}

/// A decoded picture: RGB for the networks, alpha kept aside.
#[derive(Clone, Debug, PartialEq)]
pub struct Picture {
    pub rgb: RgbImage,
    /// One value per pixel in 0..1, when the source had alpha.
    pub alpha: Option<Vec<f32>>,
    pub info: PixelInfo,
}

impl RgbImage {
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidImage(format!("zero-size image ({width}×{height})")));
        }
        if data.len() != width * height * 3 {
            return Err(Error::InvalidImage(format!(
                "{}×{} RGB image needs {} values, got {}",
                width,
                height,
                width * height * 3,
                data.len()
            )));
        }
        Ok(RgbImage { width, height, data })
    }

    /// A constant-colour image (tests, padding).
    pub fn filled(width: usize, height: usize, rgb: [f32; 3]) -> Self {
        let data = (0..width * height).flat_map(|_| rgb).collect();
        RgbImage { width, height, data }
    }

    /// `[1, 3, H, W]` f32 tensor on `device`.
    pub fn to_tensor(&self, device: &Device) -> Result<Tensor> {
        let t = Tensor::from_slice(&self.data, (self.height, self.width, 3), &Device::Cpu)?;
        Ok(t.permute((2, 0, 1))?.contiguous()?.unsqueeze(0)?.to_device(device)?)
    }

    /// From a `[1, 3, H, W]` or `[3, H, W]` tensor; values are clamped to 0..1.
    pub fn from_tensor(t: &Tensor) -> Result<Self> {
        let t = match t.rank() {
            4 => t.squeeze(0)?,
            3 => t.clone(),
            r => return Err(Error::InvalidArgument(format!("expected an image tensor of rank 3 or 4, got rank {r}"))),
        };
        let (c, h, w) = t.dims3()?;
        if c != 3 {
            return Err(Error::InvalidArgument(format!("expected 3 channels, got {c}")));
        }
        let data = t
            .to_dtype(DType::F32)?
            .clamp(0f32, 1f32)?
            .permute((1, 2, 0))?
            .flatten_all()?
            .to_device(&Device::Cpu)?
            .to_vec1::<f32>()?;
        RgbImage::new(w, h, data)
    }

    fn to_image(&self) -> Rgb32FImage {
        // Dimensions and length are checked by the constructors.
        Rgb32FImage::from_raw(self.width as u32, self.height as u32, self.data.clone())
            .expect("RgbImage invariant: data.len() == width * height * 3")
    }

    fn from_image(img: Rgb32FImage) -> Self {
        let (w, h) = img.dimensions();
        RgbImage { width: w as usize, height: h as usize, data: img.into_raw() }
    }

    /// Resizes to exactly `width × height` (Catmull-Rom, as bicubic).
    pub fn resize(&self, width: usize, height: usize) -> Result<Self> {
        if width == 0 || height == 0 {
            return Err(Error::InvalidArgument(format!("cannot resize to {width}×{height}")));
        }
        if width == self.width && height == self.height {
            return Ok(self.clone());
        }
        let out = image::imageops::resize(&self.to_image(), width as u32, height as u32, image::imageops::FilterType::CatmullRom);
        let mut img = Self::from_image(out);
        // Bicubic overshoots; keep the 0..1 contract.
        img.data.iter_mut().for_each(|v| *v = v.clamp(0.0, 1.0));
        Ok(img)
    }

    /// Scales so that the longer side is `longest` pixels, keeping the aspect ratio.
    pub fn resize_longest(&self, longest: usize) -> Result<Self> {
        let (w, h) = fit_longest(self.width, self.height, longest);
        self.resize(w, h)
    }

    /// Mean of R, G, B per pixel weighted as BT.601 luma.
    pub fn luma(&self) -> Vec<f32> {
        self.data.chunks_exact(3).map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).collect()
    }
}

/// The size whose longer side is `longest`, keeping the aspect ratio (≥ 1 px).
pub fn fit_longest(width: usize, height: usize, longest: usize) -> (usize, usize) {
    let scale = longest as f64 / width.max(height) as f64;
    let w = ((width as f64 * scale).round() as usize).max(1);
    let h = ((height as f64 * scale).round() as usize).max(1);
    (w, h)
}

impl Picture {
    /// An opaque 8-bit RGB picture.
    pub fn from_rgb(rgb: RgbImage) -> Self {
        Picture { rgb, alpha: None, info: PixelInfo::default() }
    }

    pub fn width(&self) -> usize {
        self.rgb.width
    }
    pub fn height(&self) -> usize {
        self.rgb.height
    }

    /// The same picture with its RGB replaced (e.g. by a stylized result of
    /// the same size); alpha and pixel info are kept.
    pub fn with_rgb(&self, rgb: RgbImage) -> Result<Self> {
        if rgb.width != self.rgb.width || rgb.height != self.rgb.height {
            return Err(Error::InvalidArgument(format!(
                "result is {}×{}, source is {}×{}",
                rgb.width, rgb.height, self.rgb.width, self.rgb.height
            )));
        }
        Ok(Picture { rgb, alpha: self.alpha.clone(), info: self.info })
    }
}

/// Reads an image file with the default size limit.
pub fn load(path: impl AsRef<Path>) -> Result<Picture> {
    load_with_limit(path, DEFAULT_MAX_PIXELS)
}

/// Reads an image file, refusing more than `max_pixels` pixels.
pub fn load_with_limit(path: impl AsRef<Path>, max_pixels: u64) -> Result<Picture> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::ImageRead { path: path.into(), reason: e.to_string() })?;
    decode(&bytes, max_pixels).map_err(|e| match e {
        Error::InvalidImage(reason) => Error::ImageRead { path: path.into(), reason },
        other => other,
    })
}

/// Decodes an encoded image (format sniffed from the bytes), refusing more
/// than `max_pixels` pixels, or more than the memory limit
/// ([`crate::budget::limit`]) allows, before decoding the pixels.
pub fn decode(bytes: &[u8], max_pixels: u64) -> Result<Picture> {
    decode_with_memory_limit(bytes, max_pixels, crate::budget::limit()?)
}

/// [`decode`] with an explicit memory limit in bytes.
pub fn decode_with_memory_limit(bytes: &[u8], max_pixels: u64, memory_limit: u64) -> Result<Picture> {
    let reader = ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::InvalidImage(e.to_string()))?;
    let format = match reader.format() {
        Some(f) => f,
        None => return Err(Error::InvalidImage("not a recognised image format (JPEG, PNG, WebP, TIFF, …)".into())),
    };
    let mut decoder = reader.into_decoder().map_err(|e| Error::InvalidImage(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::InvalidImage(format!("zero-size image ({w}×{h})")));
    }
    if w as u64 * h as u64 > max_pixels {
        return Err(Error::InvalidImage(format!(
            "{w}×{h} is larger than the limit of {max_pixels} pixels; downscale it first or tile it"
        )));
    }
    let need = crate::budget::pipeline_bytes(w as usize, h as usize);
    if need > memory_limit {
        return Err(Error::InvalidImage(format!(
            "{w}×{h} ({:.0} Mpx) would need an estimated {} of memory in restyle ({} bytes per pixel), more than the limit of {} \
             ({}, default half the physical memory); downscale it first",
            w as f64 * h as f64 / 1e6,
            crate::budget::format_bytes(need),
            crate::budget::PIPELINE_BYTES_PER_PIXEL,
            crate::budget::format_bytes(memory_limit),
            crate::budget::ENV,
        )));
    }
    // Decoders fill what is missing from a cut-off file (grey in JPEG)
    // without an error: check that the data is complete first.
    if format == image::ImageFormat::Jpeg {
        check_jpeg_complete(bytes)?;
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| Error::InvalidImage(e.to_string()))?;
    img.apply_orientation(orientation);
    Ok(picture_from_dynamic(&img))
}

/// A JPEG whose data ends before its end-of-image marker (a truncated
/// download or copy) is an error: the decoder would fill the rest with grey.
/// Walks the marker segments (skipping APPn payloads such as EXIF
/// thumbnails, which hold JPEGs of their own) and the entropy-coded data
/// after each start-of-scan, where 0xFF is always followed by 0x00 or a
/// restart marker, until the EOI marker.
fn check_jpeg_complete(bytes: &[u8]) -> Result<()> {
    let truncated = |at: usize| {
        Err(Error::InvalidImage(format!(
            "the JPEG data is truncated or corrupt (no end-of-image marker; the file ends or breaks off at byte {at} of {}): \
             the file is incomplete",
            bytes.len()
        )))
    };
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] != 0xD8 {
        return truncated(0);
    }
    let mut i = 2;
    loop {
        // A marker: 0xFF (any number of fill bytes), then its code.
        if i >= bytes.len() || bytes[i] != 0xFF {
            return truncated(i);
        }
        while i < bytes.len() && bytes[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = bytes.get(i) else { return truncated(i) };
        i += 1;
        match code {
            0xD9 => return Ok(()),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let (Some(&hi), Some(&lo)) = (bytes.get(i), bytes.get(i + 1)) else { return truncated(i) };
        let len = u16::from_be_bytes([hi, lo]) as usize;
        if len < 2 || i + len > bytes.len() {
            return truncated(i);
        }
        i += len;
        if code == 0xDA {
            // Entropy-coded data up to the next marker that is not a
            // stuffed 0xFF00 or a restart marker.
            loop {
                match bytes.get(i..i + 2) {
                    None => return truncated(bytes.len()),
                    Some([0xFF, 0x00]) | Some([0xFF, 0xD0..=0xD7]) => i += 2,
                    Some([0xFF, 0xFF]) => i += 1,
                    Some([0xFF, _]) => break,
                    Some(_) => i += 1,
                }
            }
        }
    }
}

/// Splits a decoded image into RGB, alpha and pixel info.
pub fn picture_from_dynamic(img: &DynamicImage) -> Picture {
    use image::ColorType::*;
    let color = img.color();
    let bits = match color {
        L16 | La16 | Rgb16 | Rgba16 => 16,
        Rgb32F | Rgba32F => 32,
        _ => 8,
    };
    let grayscale = matches!(color, L8 | La8 | L16 | La16);
    let rgba = img.to_rgba32f();
    let (w, h) = rgba.dimensions();
    let raw = rgba.into_raw();
    let data = raw.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let alpha = color.has_alpha().then(|| raw.chunks_exact(4).map(|p| p[3]).collect());
    Picture { rgb: RgbImage { width: w as usize, height: h as usize, data }, alpha, info: PixelInfo { bits, grayscale } }
}

/// The picture as an image-crate image in the picture's own colour mode and
/// bit depth (grayscale stays grayscale, 16-bit stays 16-bit).
pub fn picture_to_dynamic(p: &Picture) -> DynamicImage {
    let (w, h) = (p.rgb.width as u32, p.rgb.height as u32);
    let rgba: Vec<f32> = p
        .rgb
        .data
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, c)| [c[0], c[1], c[2], p.alpha.as_ref().map_or(1.0, |a| a[i])])
        .map(|v| v.clamp(0.0, 1.0))
        .collect();
    let img = DynamicImage::ImageRgba32F(image::Rgba32FImage::from_raw(w, h, rgba).expect("picture invariant: sizes match"));
    let has_alpha = p.alpha.is_some();
    match (p.info.grayscale, has_alpha, p.info.bits) {
        (true, false, 8) => DynamicImage::ImageLuma8(img.to_luma8()),
        (true, true, 8) => DynamicImage::ImageLumaA8(img.to_luma_alpha8()),
        (true, false, _) => DynamicImage::ImageLuma16(img.to_luma16()),
        (true, true, _) => DynamicImage::ImageLumaA16(img.to_luma_alpha16()),
        (false, false, 8) => DynamicImage::ImageRgb8(img.to_rgb8()),
        (false, true, 8) => DynamicImage::ImageRgba8(img.to_rgba8()),
        (false, false, 16) => DynamicImage::ImageRgb16(img.to_rgb16()),
        (false, true, 16) => DynamicImage::ImageRgba16(img.to_rgba16()),
        (false, false, _) => DynamicImage::ImageRgb32F(img.to_rgb32f()),
        (false, true, _) => img,
    }
}

/// Encodes for the format named by `path`'s extension, narrowing bit depth
/// and modes the format cannot store (JPEG: 8-bit, no alpha).
pub fn encode(p: &Picture, format: image::ImageFormat) -> Result<Vec<u8>> {
    use image::ImageFormat as F;
    let mut img = picture_to_dynamic(p);
    img = match format {
        F::Jpeg => {
            if p.info.grayscale {
                DynamicImage::ImageLuma8(img.to_luma8())
            } else {
                DynamicImage::ImageRgb8(img.to_rgb8())
            }
        }
        F::WebP => {
            if p.alpha.is_some() {
                DynamicImage::ImageRgba8(img.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(img.to_rgb8())
            }
        }
        F::Png if p.info.bits == 32 => {
            if p.alpha.is_some() {
                DynamicImage::ImageRgba16(img.to_rgba16())
            } else {
                DynamicImage::ImageRgb16(img.to_rgb16())
            }
        }
        _ => img,
    };
    let mut out = Vec::new();
    let mut cursor = std::io::Cursor::new(&mut out);
    if format == F::Jpeg {
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut cursor, 95);
        img.write_with_encoder(enc).map_err(|e| Error::InvalidImage(e.to_string()))?;
    } else {
        img.write_to(&mut cursor, format).map_err(|e| Error::InvalidImage(e.to_string()))?;
    }
    Ok(out)
}

/// The format an output path's extension names; an existing folder, a
/// missing or unknown extension are clear errors.
pub fn output_format(path: &Path) -> Result<image::ImageFormat> {
    let refuse = |reason: String| Error::ImageWrite { path: path.into(), reason };
    if path.is_dir() {
        return Err(refuse("it is an existing folder; give a file name such as out.png".into()));
    }
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    match image::ImageFormat::from_path(path) {
        Ok(f) if f.writing_enabled() => Ok(f),
        _ => Err(refuse(match ext {
            Some(e) => format!("unknown output format '.{e}': use .png, .jpg, .webp or .tif"),
            None => "no file extension to choose the output format: use .png, .jpg, .webp or .tif".into(),
        })),
    }
}

/// Checks, before any work, that a picture can be saved to `path`: a known
/// format, not an existing folder, in an existing folder that is writable,
/// and not one of `inputs` (compared after resolving `..` and links), since
/// restyle never writes over its inputs.
pub fn check_output(path: &Path, inputs: &[&Path]) -> Result<()> {
    let refuse = |reason: String| Err(Error::ImageWrite { path: path.into(), reason });
    output_format(path)?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !folder.is_dir() {
        return refuse(format!("the folder {} does not exist", folder.display()));
    }
    // Writable: the same kind of temporary file `save` writes, removed at once.
    if let Err(e) = tempfile::Builder::new().prefix(".restyle-check-").tempfile_in(folder) {
        return refuse(format!("the folder {} is not writable: {e}", folder.display()));
    }
    let out = canonical_output(path);
    for input in inputs {
        if let (Some(out), Ok(input_c)) = (&out, std::fs::canonicalize(input)) {
            if *out == input_c {
                return refuse(format!("it is the input {}; restyle never writes over its inputs: choose another output", input.display()));
            }
        }
    }
    Ok(())
}

/// `path` with its folder resolved (the file itself may not exist yet).
fn canonical_output(path: &Path) -> Option<std::path::PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(folder).ok()?.join(path.file_name()?))
}

/// The default output beside `content`: `NAME-stylized.png`, built from the
/// file name's bytes, so a name that is not UTF-8 is kept exactly (two such
/// names never collide on a replacement character).
pub fn default_output_path(content: &Path) -> std::path::PathBuf {
    let mut name = content.file_stem().map_or_else(|| std::ffi::OsString::from("out"), |s| s.to_os_string());
    name.push("-stylized.png");
    content.with_file_name(name)
}

/// Writes `p` to `path` atomically (temporary file in the same folder, then
/// rename), so a crash or a cancelled run never leaves a half-written file.
pub fn save(p: &Picture, path: impl AsRef<Path>) -> Result<()> {
    let path = path.as_ref();
    let format = output_format(path)?;
    let bytes = encode(p, format).map_err(|e| Error::ImageWrite { path: path.into(), reason: e.to_string() })?;
    crate::fsio::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: usize, h: usize) -> RgbImage {
        let mut data = Vec::new();
        for y in 0..h {
            for x in 0..w {
                data.extend([x as f32 / w as f32, y as f32 / h as f32, 0.5]);
            }
        }
        RgbImage::new(w, h, data).unwrap()
    }

    #[test]
    fn tensor_round_trip_is_exact() {
        let img = gradient(7, 5);
        let t = img.to_tensor(&Device::Cpu).unwrap();
        assert_eq!(t.dims(), &[1, 3, 5, 7]);
        // channel 0 of pixel (x=3, y=2) is 3/7
        let v: f32 = t.get(0).unwrap().get(0).unwrap().get(2).unwrap().get(3).unwrap().to_scalar().unwrap();
        assert!((v - 3.0 / 7.0).abs() < 1e-7);
        assert_eq!(RgbImage::from_tensor(&t).unwrap(), img);
    }

    #[test]
    fn zero_size_is_refused() {
        assert!(RgbImage::new(0, 4, vec![]).is_err());
        assert!(RgbImage::new(2, 2, vec![0.0; 5]).is_err());
    }

    #[test]
    fn png_round_trip_keeps_alpha_gray_and_depth() {
        let dir = tempfile::tempdir().unwrap();
        let rgb = gradient(16, 8);
        let alpha: Vec<f32> = (0..16 * 8).map(|i| (i % 7) as f32 / 6.0).collect();
        for (bits, gray) in [(8u8, false), (16, false), (8, true), (16, true)] {
            let mut rgb = rgb.clone();
            if gray {
                let l = rgb.luma();
                rgb.data = l.iter().flat_map(|v| [*v, *v, *v]).collect();
            }
            let p = Picture { rgb, alpha: Some(alpha.clone()), info: PixelInfo { bits, grayscale: gray } };
            let path = dir.path().join(format!("x{bits}{gray}.png"));
            save(&p, &path).unwrap();
            let q = load(&path).unwrap();
            assert_eq!(q.info, p.info);
            let tol = if bits == 8 { 0.5 / 255.0 + 1e-6 } else { 0.5 / 65535.0 + 1e-6 };
            let qa = q.alpha.as_ref().unwrap();
            assert!(qa.iter().zip(&alpha).all(|(a, b)| (a - b).abs() <= tol));
            assert!(q.rgb.data.iter().zip(&p.rgb.data).all(|(a, b)| (a - b).abs() <= tol + 0.003));
        }
    }

    #[test]
    fn corrupt_and_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.jpg");
        std::fs::write(&p, b"\xff\xd8\xff\xe0 not really a jpeg").unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert!(e.contains("bad.jpg"), "{e}");
        std::fs::write(&p, b"").unwrap();
        assert!(load(&p).is_err());
        assert!(load(dir.path().join("missing.png")).unwrap_err().to_string().contains("missing.png"));
    }

    #[cfg(unix)]
    #[test]
    fn saved_files_are_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.png");
        save(&Picture::from_rgb(gradient(4, 4)), &path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        // no temporary file left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn huge_images_are_refused_before_decoding() {
        let mut bytes = Vec::new();
        let img = image::RgbImage::new(64, 64);
        img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        let e = decode(&bytes, 1000).unwrap_err().to_string();
        assert!(e.contains("larger than the limit"), "{e}");
    }

    /// A PNG declaring `w × h` 8-bit grey pixels, all zero, compressed as
    /// tightly as zlib allows: a decompression bomb (16000² is ≈ 250 KB).
    pub(crate) fn png_bomb(w: u32, h: u32) -> Vec<u8> {
        use std::io::Write;
        fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
            out.extend((data.len() as u32).to_be_bytes());
            let start = out.len();
            out.extend(kind);
            out.extend(data);
            let crc = { let mut c = flate2::Crc::new(); c.update(&out[start..]); c.sum() };
            out.extend(crc.to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let row = vec![0u8; w as usize + 1];
        for _ in 0..h {
            z.write_all(&row).unwrap();
        }
        chunk(&mut out, b"IDAT", &z.finish().unwrap());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn png_bomb_is_refused_from_its_header_with_the_memory_it_needs() {
        let bomb = png_bomb(16000, 16000);
        assert!(bomb.len() < 400_000, "{} bytes", bomb.len());
        // Within the 256 Mpx limit, but 16000² × 48 B ≈ 11.4 GiB in the pipeline.
        let e = decode_with_memory_limit(&bomb, DEFAULT_MAX_PIXELS, 4 << 30).unwrap_err().to_string();
        assert!(e.contains("16000×16000") && e.contains("11.4 GiB") && e.contains("4.0 GiB") && e.contains("RESTYLE_MAX_MEMORY"), "{e}");
        // The same file is a valid image: a small one with the same shape decodes.
        let small = png_bomb(64, 48);
        let p = decode_with_memory_limit(&small, DEFAULT_MAX_PIXELS, 4 << 30).unwrap();
        assert_eq!((p.width(), p.height()), (64, 48));
    }

    fn jpeg_of(w: usize, h: usize) -> Vec<u8> {
        encode(&Picture::from_rgb(gradient(w, h)), image::ImageFormat::Jpeg).unwrap()
    }

    #[test]
    fn truncated_jpegs_are_errors_not_grey() {
        let full = jpeg_of(200, 150);
        assert!(decode(&full, DEFAULT_MAX_PIXELS).is_ok());
        for cut in [full.len() * 4 / 10, full.len() - 2, full.len() - 1] {
            let e = decode(&full[..cut], DEFAULT_MAX_PIXELS).unwrap_err().to_string();
            assert!(e.contains("truncated"), "cut at {cut}: {e}");
        }
        // Bytes after the end-of-image marker (some cameras append data) are fine.
        let mut trailing = full.clone();
        trailing.extend(b"trailing bytes");
        assert!(decode(&trailing, DEFAULT_MAX_PIXELS).is_ok());
        // A real photo cut at 40 %, as a truncated download leaves it.
        let photo = restyle_weights::testing::shared_data_dir().join("content/chicago.jpg");
        if let Ok(bytes) = std::fs::read(&photo) {
            assert!(decode(&bytes, DEFAULT_MAX_PIXELS).is_ok());
            let dir = tempfile::tempdir().unwrap();
            let cut = dir.path().join("cut.jpg");
            std::fs::write(&cut, &bytes[..bytes.len() * 4 / 10]).unwrap();
            let e = load(&cut).unwrap_err().to_string();
            assert!(e.contains("cut.jpg") && e.contains("truncated"), "{e}");
        }
    }

    #[test]
    fn truncated_pngs_are_errors() {
        let mut bytes = Vec::new();
        let img = image::RgbImage::from_fn(64, 64, |x, y| image::Rgb([x as u8 * 4, y as u8 * 4, (x ^ y) as u8]));
        img.write_to(&mut std::io::Cursor::new(&mut bytes), image::ImageFormat::Png).unwrap();
        assert!(decode(&bytes, DEFAULT_MAX_PIXELS).is_ok());
        assert!(decode(&bytes[..bytes.len() * 4 / 10], DEFAULT_MAX_PIXELS).is_err());
        // A flipped byte in the pixel data fails its CRC.
        let mut flipped = bytes.clone();
        let n = flipped.len();
        flipped[n / 2] ^= 0x40;
        assert!(decode(&flipped, DEFAULT_MAX_PIXELS).is_err());
    }

    #[test]
    fn output_paths_are_checked_before_any_work() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("photo.png");
        save(&Picture::from_rgb(gradient(4, 4)), &input).unwrap();
        let e = check_output(dir.path(), &[&input]).unwrap_err().to_string();
        assert!(e.contains("existing folder") && !e.contains("unknown output format"), "{e}");
        let e = check_output(&dir.path().join("out.xyz"), &[&input]).unwrap_err().to_string();
        assert!(e.contains("unknown output format '.xyz'"), "{e}");
        let e = check_output(&dir.path().join("out"), &[&input]).unwrap_err().to_string();
        assert!(e.contains("no file extension"), "{e}");
        let e = check_output(&dir.path().join("missing/out.png"), &[&input]).unwrap_err().to_string();
        assert!(e.contains("does not exist"), "{e}");
        // The input itself, spelled another way.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = check_output(&sub.join("../photo.png"), &[&input]).unwrap_err().to_string();
        assert!(e.contains("never writes over its inputs"), "{e}");
        check_output(&dir.path().join("out.png"), &[&input]).unwrap();
        // No probe file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        let e = save(&Picture::from_rgb(gradient(4, 4)), dir.path()).unwrap_err().to_string();
        assert!(e.contains("existing folder"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn default_output_names_keep_non_utf8_bytes() {
        use std::os::unix::ffi::{OsStrExt, OsStringExt};
        let a = Path::new("/photos").join(std::ffi::OsString::from_vec(b"caf\xe9.jpg".to_vec()));
        let b = Path::new("/photos").join(std::ffi::OsString::from_vec(b"caf\xe8.jpg".to_vec()));
        let (oa, ob) = (default_output_path(&a), default_output_path(&b));
        assert_eq!(oa.file_name().unwrap().as_bytes(), b"caf\xe9-stylized.png");
        assert_ne!(oa, ob);
        assert_eq!(default_output_path(Path::new("x/photo.jpg")), Path::new("x/photo-stylized.png"));
    }

    #[test]
    fn resize_longest_keeps_aspect() {
        assert_eq!(fit_longest(1000, 500, 256), (256, 128));
        assert_eq!(fit_longest(300, 900, 90), (30, 90));
        let r = gradient(40, 20).resize_longest(10).unwrap();
        assert_eq!((r.width, r.height), (10, 5));
        assert!(r.data.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
