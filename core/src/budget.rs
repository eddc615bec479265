//! Memory budget: the working memory of a request is estimated before
//! anything large is allocated, and a request over the limit is an
//! [`Error::InvalidArgument`] naming the size, the estimate and the limit —
//! never an aborted process (restyle runs inside GIMP, Krita and any program
//! using the C ABI, where "memory allocation of N bytes failed" kills the
//! host).
//!
//! # The limit
//!
//! `RESTYLE_MAX_MEMORY` (bytes, or with a suffix: `512M`, `8G`, `1.5GiB`;
//! K/M/G/T are powers of 1024), else [`Stylizer::with_memory_limit`]
//! (crate::stylize::Stylizer) for a host that knows better, else **half of
//! the physical memory** (`MemTotal` in `/proc/meminfo`), or
//! [`FALLBACK_LIMIT`] (4 GiB) where that cannot be read. Half leaves the
//! other half to the host program (an image editor holding its own copy of
//! the picture) and to the system; it is a refusal threshold, not a cap on
//! what is allocated.
//!
//! # The model
//!
//! Simple and conservative: bytes per pixel, summed over the buffers a
//! request holds, rounded up from peak resident sizes measured with
//! `/usr/bin/time -f %M` on the `restyle` CLI (CPU, dev profile with
//! dependencies at opt-level 3, 2026-11; differences between two sizes, so
//! the fixed cost of the binary and weights cancels):
//!
//! | what | measured | model |
//! | --- | --- | --- |
//! | the pipeline per content pixel: decode, RGB + alpha, the result scaled back, encoding ([`PIPELINE_BYTES_PER_PIXEL`]) | 43 B (8-bit RGB PNG, 2000² vs 4000², fast at 64 px) | 48 B |
//! | images at the working size (work copy, result, blends) | — | 4 × 12 B |
//! | fast, multistyle26 network, per pixel of one tile | 462 B (fast, 512 vs 1024 px) | 600 B |
//! | arbitrary transform network, per pixel of one tile | 311 B (512 vs 1024 px) | 400 B |
//! | arbitrary style network, per style pixel | 232 B (style size 512 vs 1024) | 300 B (+ 12 B the resized copy) |
//! | AdaIN encoder + decoder, per pixel of one tile, and per style pixel | not measured (VGG to relu4_1 without gradients) | 2 KiB |
//! | Gatys, per working pixel (VGG activations and their gradients, optimiser state) | 9.5 KB (VGG16 basic, 256 vs 512 px, style at the same size) | 9 KiB |
//! | Gatys, per style pixel (forward only) | (in the above) | 3 KiB |
//!
//! Tiled methods hold the network's activations for one tile
//! (`(tile + 2·overlap)²` pixels at most) and the statistics pass at
//! 1024 px at most, so their network term stops growing past one tile; the
//! image terms grow with the picture. Gatys runs untiled at every scale; its
//! coarser scales are smaller than the finest, which is counted.
//!
//! The same pipeline figure bounds decoding ([`crate::image::load`]): an
//! image whose pixels × [`PIPELINE_BYTES_PER_PIXEL`] exceed the limit is
//! refused from its header, before its pixels are decoded (a 260 KB PNG can
//! declare 16000 × 16000 pixels, ≈ 11 GB in the pipeline).

use crate::{Error, Result};

/// The environment variable that sets the limit (bytes, or `512M`, `8G`).
pub const ENV: &str = "RESTYLE_MAX_MEMORY";

/// The limit where the physical memory cannot be read.
pub const FALLBACK_LIMIT: u64 = 4 << 30;

/// Bytes per content pixel of the pipeline around any method: the decoded
/// picture (RGB f32 + alpha), the decoder's own buffer while it converts,
/// the result scaled back to the content size, and the encoder's copies.
/// Measured 43 B for an 8-bit RGB PNG; 48 covers alpha and 16-bit sources.
pub const PIPELINE_BYTES_PER_PIXEL: u64 = 48;

/// An RGB f32 image, per pixel.
const RGB_F32: u64 = 12;
/// Copies of the working image the Stylizer and the methods hold besides
/// the network (work, result, strength blend / colour transfer, clamp).
const WORK_COPIES: u64 = 4;

/// Per-pixel network costs (see the table in the module docs).
const FAST_NET: u64 = 600;
const ARBITRARY_NET: u64 = 400;
const ARBITRARY_STYLE_NET: u64 = 300;
const ADAIN_NET: u64 = 2 << 10;
const GATYS_NET: u64 = 9 << 10;
const GATYS_STYLE_NET: u64 = 3 << 10;

/// The limit in force: `RESTYLE_MAX_MEMORY`, else half the physical memory
/// (else [`FALLBACK_LIMIT`]). A malformed variable is an error, not ignored.
pub fn limit() -> Result<u64> {
    match std::env::var_os(ENV) {
        Some(v) => {
            let s = v.to_str().ok_or_else(|| Error::InvalidArgument(format!("{ENV} is not valid UTF-8")))?;
            parse_size(s).map_err(|e| Error::InvalidArgument(format!("{ENV}={s}: {e}")))
        }
        None => Ok(default_limit()),
    }
}

/// Half the physical memory, or [`FALLBACK_LIMIT`] where it is unknown.
pub fn default_limit() -> u64 {
    physical_memory().map_or(FALLBACK_LIMIT, |m| m / 2)
}

/// `MemTotal` from `/proc/meminfo` (Linux); `None` elsewhere. Read once
/// per process: every decode and every request asks for the limit.
pub fn physical_memory() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(read_physical_memory)
}

fn read_physical_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// `1073741824`, `512M`, `8G`, `1.5GiB`, `2 GB` (K, M, G, T: powers of 1024).
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num.parse().map_err(|_| format!("'{s}' is not a size (e.g. 4G, 512M or a number of bytes)"))?;
    let unit = unit.trim().to_ascii_lowercase();
    let shift = match unit.trim_end_matches("ib").trim_end_matches('b') {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("unknown unit '{unit}' in '{s}' (use K, M, G or T)")),
    };
    let bytes = value * (1u64 << shift) as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("'{s}' must be a positive size"));
    }
    Ok(bytes.min(u64::MAX as f64) as u64)
}

/// `1.5 GiB`, `300 MiB`, `12 KiB`.
pub fn format_bytes(b: u64) -> String {
    let b = b as f64;
    for (unit, size) in [("TiB", 1u64 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if b >= size as f64 {
            return format!("{:.1} {unit}", b / size as f64);
        }
    }
    format!("{b} B")
}

/// `a × b`, saturating (sizes from a C caller can be anything).
fn mul(a: u64, b: u64) -> u64 {
    a.saturating_mul(b)
}

fn pixels(w: usize, h: usize) -> u64 {
    mul(w as u64, h as u64)
}

/// Refuses `what` when `bytes` exceed `limit`, naming both and how to raise it.
pub fn check(what: impl FnOnce() -> String, bytes: u64, limit: u64) -> Result<()> {
    if bytes <= limit {
        return Ok(());
    }
    Err(Error::InvalidArgument(format!(
        "{} needs an estimated {} of memory, more than the limit of {} ({ENV}, default half the physical memory); \
         use a smaller size",
        what(),
        format_bytes(bytes),
        format_bytes(limit)
    )))
}

/// The pipeline's bytes for a `w × h` content picture.
pub fn pipeline_bytes(w: usize, h: usize) -> u64 {
    mul(pixels(w, h), PIPELINE_BYTES_PER_PIXEL)
}

/// What one request holds at its peak, by part (for messages and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Estimate {
    /// The content picture and the pipeline around the method.
    pub pipeline: u64,
    /// Copies of the working image.
    pub images: u64,
    /// The network's activations (one tile for tiled methods).
    pub network: u64,
    /// The style images at the size the method sees them, and their network pass.
    pub styles: u64,
}

impl Estimate {
    pub fn total(&self) -> u64 {
        self.pipeline.saturating_add(self.images).saturating_add(self.network).saturating_add(self.styles)
    }
}

/// The sizes a request works at, as [`crate::stylize::Stylizer::stylize`]
/// will use them (nothing allocated yet).
#[derive(Clone, Debug)]
pub struct Sizes {
    pub content: (usize, usize),
    pub work: (usize, usize),
    /// Each style image as the method will resize it.
    pub styles: Vec<(usize, usize)>,
}

/// Which memory model a method follows (its measured per-pixel figures).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// fast and multistyle26 (same transformer shape).
    Transformer,
    Arbitrary,
    AdaIN,
    Gatys,
}

/// How a loaded method uses memory: its model, and the tile (side, overlap)
/// it works in when it tiles. Built by `crate::method::Method::footprint`,
/// so that this module stays a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    pub network: Network,
    pub tile: Option<(usize, usize)>,
}

/// The estimate for a method with this footprint at these sizes.
pub fn estimate(footprint: &Footprint, sizes: &Sizes) -> Estimate {
    let (ww, wh) = sizes.work;
    let work = pixels(ww, wh);
    let style_px: u64 = sizes.styles.iter().fold(0u64, |a, &(w, h)| a.saturating_add(pixels(w, h)));
    let net_px = match footprint.tile {
        Some((tile, overlap)) => {
            let side = tile.saturating_add(overlap.saturating_mul(2)) as u64;
            work.min(mul(side, side))
        }
        None => work,
    };
    let (network, styles) = match footprint.network {
        Network::Transformer => (mul(net_px, FAST_NET), 0),
        Network::Arbitrary => (mul(net_px, ARBITRARY_NET), mul(style_px, ARBITRARY_STYLE_NET + RGB_F32)),
        Network::AdaIN => (mul(net_px, ADAIN_NET), mul(style_px, ADAIN_NET + RGB_F32)),
        Network::Gatys => (mul(net_px, GATYS_NET), mul(style_px, GATYS_STYLE_NET + RGB_F32)),
    };
    Estimate { pipeline: pipeline_bytes(sizes.content.0, sizes.content.1), images: mul(work, RGB_F32 * WORK_COPIES), network, styles }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units_and_refuse_nonsense() {
        assert_eq!(parse_size("1073741824"), Ok(1 << 30));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("8G"), Ok(8 << 30));
        assert_eq!(parse_size("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_size(" 2 GB "), Ok(2 << 30));
        for bad in ["", "G", "-1G", "0", "12X", "nan"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_limit_is_half_the_physical_memory_by_default() {
        let l = default_limit();
        match physical_memory() {
            Some(m) => assert_eq!(l, m / 2),
            None => assert_eq!(l, FALLBACK_LIMIT),
        }
        assert!(l >= 256 << 20, "{l}");
    }

    #[test]
    fn over_the_limit_names_estimate_and_limit() {
        let e = check(|| "working size 100000".into(), 90 << 30, 4 << 30).unwrap_err().to_string();
        assert!(e.contains("working size 100000") && e.contains("90.0 GiB") && e.contains("4.0 GiB") && e.contains(ENV), "{e}");
        assert!(check(|| String::new(), 4 << 30, 4 << 30).is_ok());
    }
}
