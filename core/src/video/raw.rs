//! Raw `rgb24` frames on byte streams (stdin, stdout, a camera's ffmpeg):
//! what `ffmpeg -f rawvideo -pix_fmt rgb24` reads and writes. The stream
//! has no header, so its frame size is given (`--input-size WxH`).

use super::pipeline::FrameSink;
use crate::image::RgbImage;
use crate::{Error, Result};
use std::io::{ErrorKind, Read, Write};

/// The largest side accepted for a raw frame (16K video).
pub const MAX_SIDE: usize = 16384;

/// Parses `WxH` (e.g. `640x480`) as a raw frame size.
pub fn parse_size(s: &str) -> Result<(usize, usize)> {
    let bad = |why: &str| Error::InvalidArgument(format!("frame size {s:?}: {why} (give it as WIDTHxHEIGHT, e.g. 640x480)"));
    let (w, h) = s.trim().split_once(['x', 'X', '×']).ok_or_else(|| bad("no 'x' between width and height"))?;
    let num = |v: &str| v.trim().parse::<usize>().map_err(|_| bad(&format!("{v:?} is not a whole number")));
    let (w, h) = (num(w)?, num(h)?);
    if w == 0 || h == 0 {
        return Err(bad("width and height must be positive"));
    }
    if w > MAX_SIDE || h > MAX_SIDE {
        return Err(bad(&format!("a side above {MAX_SIDE} px")));
    }
    Ok((w, h))
}

/// Frames of a fixed size from a byte stream.
pub struct RawReader<R> {
    inner: R,
    pub width: usize,
    pub height: usize,
    /// Names the stream in messages ("stdin").
    what: String,
}

impl<R: Read> RawReader<R> {
    pub fn new(inner: R, width: usize, height: usize, what: &str) -> Self {
        RawReader { inner, width, height, what: what.into() }
    }

    pub fn frame_bytes(&self) -> usize {
        self.width * self.height * 3
    }

    /// Reads the next frame's bytes into `buf` (resized to one frame):
    /// `false` at a clean end (no byte of a new frame). A stream that ends
    /// inside a frame is an error that says how much came, because a
    /// wrong `--input-size` is the usual cause.
    pub fn read_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let n = self.frame_bytes();
        buf.resize(n, 0);
        let mut got = 0;
        while got < n {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(k) => got += k,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("reading frames from {}", self.what), e)),
            }
        }
        if got == 0 {
            return Ok(false);
        }
        if got < n {
            return Err(Error::Video(format!(
                "{} ended inside a frame: {got} of the {n} bytes of a {}×{} rgb24 frame (is the frame size right?)",
                self.what, self.width, self.height
            )));
        }
        Ok(true)
    }
}

/// `rgb24` bytes as a frame (0..1).
pub fn to_image(bytes: &[u8], width: usize, height: usize) -> RgbImage {
    RgbImage { width, height, data: bytes.iter().map(|&b| b as f32 / 255.0).collect() }
}

/// A frame as `rgb24` bytes (clamped, rounded).
pub fn to_bytes(frame: &RgbImage, out: &mut Vec<u8>) {
    out.clear();
    out.extend(frame.data.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
}

/// Writes frames as raw `rgb24` (stdout). A reader that goes away (a
/// closed pipe) makes the write fail and [`FrameSink::closed`] true, so a
/// caller can tell it from a real failure.
pub struct RawSink<W: Write + Send> {
    inner: W,
    width: usize,
    height: usize,
    buf: Vec<u8>,
    closed: bool,
}

impl<W: Write + Send> RawSink<W> {
    pub fn new(inner: W, width: usize, height: usize) -> Self {
        RawSink { inner, width, height, buf: Vec::new(), closed: false }
    }
}

impl<W: Write + Send> FrameSink for RawSink<W> {
    fn write_frame(&mut self, frame: &RgbImage) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(Error::InvalidArgument(format!("frame {}×{} for a {}×{} stream", frame.width, frame.height, self.width, self.height)));
        }
        if self.closed {
            return Err(Error::Video("the output was closed by its reader".into()));
        }
        to_bytes(frame, &mut self.buf);
        // Flushed per frame: a live reader gets each frame as soon as it exists.
        match self.inner.write_all(&self.buf).and_then(|_| self.inner.flush()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                self.closed = true;
                Err(Error::Video("the output was closed by its reader".into()))
            }
            Err(e) => Err(Error::io("writing frames", e)),
        }
    }

    fn closed(&self) -> bool {
        self.closed
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        match self.inner.flush() {
            Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(Error::io("writing frames", e)),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_bad_ones_say_why() {
        assert_eq!(parse_size("640x480").unwrap(), (640, 480));
        assert_eq!(parse_size(" 3X2 ").unwrap(), (3, 2));
        for (bad, why) in [("640", "no 'x'"), ("0x480", "positive"), ("axb", "not a whole number"), ("640x-1", "not a whole number"), ("20000x10", "above 16384")] {
            let e = parse_size(bad).err().unwrap().to_string();
            assert!(e.contains(why) && e.contains("WIDTHxHEIGHT"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_stream_cut_inside_a_frame_is_an_error_a_clean_end_is_not() {
        let mut r = RawReader::new(&[7u8; 2 * 12 + 5][..], 2, 2, "stdin");
        let mut buf = Vec::new();
        assert!(r.read_into(&mut buf).unwrap());
        assert!(r.read_into(&mut buf).unwrap());
        let e = r.read_into(&mut buf).err().unwrap().to_string();
        assert!(e.contains("5 of the 12 bytes") && e.contains("2×2"), "{e}");
        let mut r = RawReader::new(&[1u8; 12][..], 2, 2, "stdin");
        assert!(r.read_into(&mut buf).unwrap());
        assert!(!r.read_into(&mut buf).unwrap());
        let img = to_image(&buf, 2, 2);
        let mut back = Vec::new();
        to_bytes(&img, &mut back);
        assert_eq!(back, buf);
    }
}
