//! Live sources (a pipe, a camera): latency stays bounded by dropping
//! frames instead of queueing them. A reader thread drains the source as
//! fast as it comes and keeps only the newest frame; the stylizing loop
//! takes whatever is newest when it is ready for the next one. At most one
//! frame waits, so the output lags the source by at most one frame plus the
//! frame in work, however slow the stylization. The [`VideoStream`] sees
//! only the frames it stylizes, so the flow is between those.

use super::pipeline::{FrameProgress, FrameSink};
use super::raw::{to_image, RawReader};
use super::stream::VideoStream;
use crate::image::RgbImage;
use crate::progress::Control;
use crate::stylize::Stylizer;
use crate::{Error, Result};
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Slot {
    /// The newest frame not taken yet (bytes, its index in the source).
    frame: Option<(Vec<u8>, usize)>,
    read: usize,
    dropped: usize,
    ended: bool,
    error: Option<Error>,
}

/// The newest frame of a source read on its own thread.
pub struct Latest {
    shared: Arc<(Mutex<Slot>, Condvar)>,
    width: usize,
    height: usize,
}

fn lock(m: &Mutex<Slot>) -> std::sync::MutexGuard<'_, Slot> {
    // The slot is plain counters and a buffer: still consistent after a
    // panic elsewhere, so a poisoned lock is used as it is.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Latest {
    /// Starts the reader thread. It is not joined: it ends at the source's
    /// end or error (a process reading stdin exits without waiting for it;
    /// a camera's ffmpeg then ends on its closed pipe).
    pub fn spawn<R: Read + Send + 'static>(mut reader: RawReader<R>) -> Latest {
        let shared = Arc::new((Mutex::new(Slot::default()), Condvar::new()));
        let (width, height) = (reader.width, reader.height);
        let theirs = shared.clone();
        std::thread::spawn(move || {
            let (slot, ready) = &*theirs;
            let mut buf = Vec::new();
            loop {
                let got = reader.read_into(&mut buf);
                let mut s = lock(slot);
                match got {
                    Ok(true) => {
                        let index = s.read;
                        s.read += 1;
                        // The frame not yet taken is replaced: dropped. Its
                        // buffer is reused for the next read.
                        buf = match s.frame.replace((std::mem::take(&mut buf), index)) {
                            Some((old, _)) => {
                                s.dropped += 1;
                                old
                            }
                            None => Vec::new(),
                        };
                    }
                    Ok(false) => s.ended = true,
                    Err(e) => {
                        s.error = Some(e);
                        s.ended = true;
                    }
                }
                let ended = s.ended;
                drop(s);
                ready.notify_all();
                if ended {
                    break;
                }
            }
        });
        Latest { shared, width, height }
    }

    /// Waits for the newest frame not taken yet, with its index in the
    /// source. `None` after the last; the source's error (a stream cut
    /// inside a frame) comes after every whole frame before it.
    pub fn next(&self) -> Result<Option<(RgbImage, usize)>> {
        let (slot, ready) = &*self.shared;
        let mut s = lock(slot);
        loop {
            if let Some((bytes, index)) = s.frame.take() {
                drop(s);
                return Ok(Some((to_image(&bytes, self.width, self.height), index)));
            }
            if s.ended {
                return match s.error.take() {
                    Some(e) => Err(e),
                    None => Ok(None),
                };
            }
            s = ready.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Frames read from the source so far, and how many of them were dropped.
    pub fn counts(&self) -> (usize, usize) {
        let s = lock(&self.shared.0);
        (s.read, s.dropped)
    }
}

/// What a live run did.
#[derive(Clone, Debug)]
pub struct LiveReport {
    /// Frames read from the source.
    pub read: usize,
    /// Frames stylized and written.
    pub written: usize,
    /// Frames skipped to keep up (`read = written + dropped`, unless stopped early).
    pub dropped: usize,
    pub cuts: usize,
    pub seconds: f64,
    /// The output's reader went away (a closed pipe): a normal end for a live stream.
    pub output_closed: bool,
    /// Stopped by the progress callback.
    pub partial: bool,
}

/// Stylizes a live source into `sink` until the source ends, the sink's
/// reader goes away, or `progress` cancels. A failing source (cut inside a
/// frame) is an error after the whole frames before it were written.
pub fn run(
    source: &Latest,
    sink: Box<dyn FrameSink>,
    stylizer: &Stylizer,
    stream: &mut VideoStream,
    progress: &mut dyn FnMut(&FrameProgress) -> Control,
) -> Result<LiveReport> {
    let start = Instant::now();
    let mut sink = sink;
    let mut written = 0;
    let (mut output_closed, mut partial) = (false, false);
    let result = loop {
        let (frame, _index) = match source.next() {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let out = stream.frame(stylizer, &frame)?;
        if let Err(e) = sink.write_frame(&out) {
            if sink.closed() {
                output_closed = true;
                break Ok(());
            }
            return Err(e);
        }
        written += 1;
        let dropped = source.counts().1;
        let p = FrameProgress { frames: written, total: None, seconds: start.elapsed().as_secs_f64(), dropped };
        if progress(&p) == Control::Cancel {
            partial = true;
            break Ok(());
        }
    };
    // Whatever was written is kept (a file is closed so it plays), also
    // when the source failed after it.
    sink.finish()?;
    result?;
    let (read, dropped) = source.counts();
    Ok(LiveReport { read, written, dropped, cuts: stream.cuts(), seconds: start.elapsed().as_secs_f64(), output_closed, partial })
}
