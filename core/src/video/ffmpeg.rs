//! Video files through the `ffmpeg` and `ffprobe` command-line tools: raw
//! `rgb24` frames over pipes in both directions. A separate process (not
//! linked libav) keeps restyle's licence and the C ABI free of it.
//!
//! The encoder writes a temporary file beside the target (same extension,
//! so ffmpeg picks the same container) and renames it at the end; dropped
//! before [`Encoder::finish`], it kills ffmpeg and removes the file.

use crate::image::RgbImage;
use crate::{Error, Result};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

const INSTALL: &str = "restyle video runs the ffmpeg command-line tools (ffmpeg and ffprobe); install them \
    (Debian/Ubuntu: sudo apt-get install ffmpeg; Fedora: sudo dnf install ffmpeg; macOS: brew install ffmpeg; \
    Windows: winget install ffmpeg) and make sure both are on PATH";

/// A frame rate as the container states it (e.g. 30000/1001).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub num: u32,
    pub den: u32,
}

impl Rate {
    pub fn fps(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// `30`, `30000/1001`; `None` for anything else or a zero.
    pub fn parse(s: &str) -> Option<Rate> {
        let (n, d) = s.split_once('/').unwrap_or((s, "1"));
        let (num, den) = (n.trim().parse().ok()?, d.trim().parse().ok()?);
        (num > 0 && den > 0).then_some(Rate { num, den })
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.num, self.den)
    }
}

/// What `ffprobe` says about a video file.
#[derive(Clone, Debug)]
pub struct VideoInfo {
    /// Displayed size: rotation applied (ffmpeg decodes upright).
    pub width: usize,
    pub height: usize,
    pub rate: Rate,
    /// Seconds, when the container knows.
    pub duration: Option<f64>,
    /// Degrees of the display rotation in the file (frames come out upright).
    pub rotation: i32,
    pub has_audio: bool,
    /// The video codec's name (h264, vp9, …).
    pub codec: String,
}

impl VideoInfo {
    /// Frames expected between `start` and `start + duration` (for progress).
    pub fn expected_frames(&self, start: Option<f64>, duration: Option<f64>) -> Option<usize> {
        let total = self.duration?;
        let left = (total - start.unwrap_or(0.0)).max(0.0);
        let span = duration.map_or(left, |d| d.min(left));
        Some((span * self.rate.fps()).round() as usize)
    }
}

fn spawn(tool: &str, cmd: &mut Command) -> Result<Child> {
    // Own process group: Ctrl-C reaches restyle only, which then closes the
    // encoder properly instead of ffmpeg dying half-way through a file.
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    cmd.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Video(format!("`{tool}` was not found: {INSTALL}")),
        _ => Error::io(format!("cannot run {tool}"), e),
    })
}

/// Reads a child's stderr on a thread (a full pipe would block it); keeps the tail.
fn drain(child: &mut Child) -> Option<JoinHandle<String>> {
    let mut err = child.stderr.take()?;
    Some(std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        let s = String::from_utf8_lossy(&buf);
        let s = s.trim();
        let tail: String = s.chars().rev().take(2000).collect::<Vec<_>>().into_iter().rev().collect();
        tail
    }))
}

fn joined(h: Option<JoinHandle<String>>) -> String {
    h.and_then(|h| h.join().ok()).unwrap_or_default()
}

/// Probes `path` with ffprobe; a file without a video stream (or a single
/// image) is a clear error.
pub fn probe(path: &Path) -> Result<VideoInfo> {
    if !path.is_file() {
        return Err(Error::Video(format!("{}: no such file", path.display())));
    }
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-print_format", "json", "-show_streams", "-show_format"]).arg(path);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = spawn("ffprobe", &mut cmd)?;
    let out = child.wait_with_output().map_err(|e| Error::io("ffprobe", e))?;
    let not_video = |why: &str| Error::Video(format!("{} is not a video ffmpeg can read: {why}", path.display()));
    if !out.status.success() {
        return Err(not_video(String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| not_video(&format!("ffprobe's answer: {e}")))?;
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let video = streams
        .iter()
        .find(|s| s["codec_type"] == "video" && s["disposition"]["attached_pic"] != 1)
        .ok_or_else(|| not_video("it has no video stream"))?;
    let format = v["format"]["format_name"].as_str().unwrap_or("");
    if format == "image2" || format.ends_with("_pipe") {
        return Err(not_video("it is a still image (use `restyle stylize`)"));
    }
    let num = |x: &serde_json::Value| x.as_u64().or_else(|| x.as_str().and_then(|s| s.parse().ok()));
    let (w, h) = match (num(&video["width"]), num(&video["height"])) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w as usize, h as usize),
        _ => return Err(not_video("its video stream has no size")),
    };
    // The average rate, unless missing or absurd (then the stream's base rate).
    let rate = [&video["avg_frame_rate"], &video["r_frame_rate"]]
        .into_iter()
        .filter_map(|r| r.as_str().and_then(Rate::parse))
        .find(|r| r.fps() > 0.0 && r.fps() <= 1000.0)
        .ok_or_else(|| not_video("its video stream has no frame rate"))?;
    let rotation = video["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()))
        .or_else(|| video["tags"]["rotate"].as_str().and_then(|s| s.parse().ok()))
        .unwrap_or(0) as i32;
    let (width, height) = if rotation.rem_euclid(180) == 90 { (h, w) } else { (w, h) };
    let seconds = |x: &serde_json::Value| x.as_str().and_then(|s| s.parse::<f64>().ok()).filter(|d| d.is_finite() && *d > 0.0);
    let duration = seconds(&video["duration"]).or_else(|| seconds(&v["format"]["duration"]));
    let has_audio = streams.iter().any(|s| s["codec_type"] == "audio");
    let codec = video["codec_name"].as_str().unwrap_or("?").to_string();
    Ok(VideoInfo { width, height, rate, duration, rotation, has_audio, codec })
}

/// Which part of the video, at which size.
#[derive(Clone, Debug, Default)]
pub struct Clip {
    /// Seconds to skip at the start.
    pub start: Option<f64>,
    /// Seconds to take at most.
    pub duration: Option<f64>,
}

impl Clip {
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [("start", self.start), ("duration", self.duration)] {
            if let Some(v) = v {
                if !(v.is_finite() && v >= 0.0) || (name == "duration" && v == 0.0) {
                    return Err(Error::InvalidArgument(format!("--{name} must be a positive number of seconds, got {v}")));
                }
            }
        }
        Ok(())
    }

    fn input_args(&self, cmd: &mut Command) {
        if let Some(s) = self.start {
            cmd.args(["-ss", &format!("{s:.6}")]);
        }
        if let Some(d) = self.duration {
            cmd.args(["-t", &format!("{d:.6}")]);
        }
    }
}

/// Decodes a video to RGB frames of a fixed size at a constant frame rate.
pub struct Decoder {
    child: Child,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    pub width: usize,
    pub height: usize,
    buf: Vec<u8>,
    path: PathBuf,
}

impl Decoder {
    /// Frames of `width × height` (scaled if the video differs), at the
    /// video's own rate (`info.rate`), from the `clip`.
    pub fn open(path: &Path, info: &VideoInfo, clip: &Clip, width: usize, height: usize) -> Result<Decoder> {
        clip.validate()?;
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin"]);
        clip.input_args(&mut cmd);
        cmd.arg("-i").arg(path);
        cmd.args(["-map", "0:v:0", "-an", "-sn", "-dn"]);
        if (width, height) != (info.width, info.height) {
            cmd.args(["-vf", &format!("scale={width}:{height}:flags=bicubic")]);
        }
        // A constant rate (the encoder is told the same one).
        cmd.args(["-r", &info.rate.to_string(), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = spawn("ffmpeg", &mut cmd)?;
        let stderr = drain(&mut child);
        let stdout = child.stdout.take().ok_or_else(|| Error::Video("ffmpeg: no output pipe".into()))?;
        Ok(Decoder { child, stdout: BufReader::with_capacity(1 << 20, stdout), stderr, width, height, buf: vec![0; width * height * 3], path: path.into() })
    }

    /// The next frame; `None` at the end. A frame cut short is an error.
    pub fn next_frame(&mut self) -> Result<Option<RgbImage>> {
        let mut got = 0;
        while got < self.buf.len() {
            match self.stdout.read(&mut self.buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::io(format!("reading frames of {}", self.path.display()), e)),
            }
        }
        if got == 0 {
            return Ok(None);
        }
        if got < self.buf.len() {
            return Err(Error::Video(format!("{}: the last frame is cut short ({got} of {} bytes)", self.path.display(), self.buf.len())));
        }
        let data = self.buf.iter().map(|&b| b as f32 / 255.0).collect();
        Ok(Some(RgbImage { width: self.width, height: self.height, data }))
    }

    /// Waits for ffmpeg after the last frame. Returns its messages (at
    /// level "error": damaged packets it skipped, for instance); a failed
    /// exit is an error.
    pub fn finish(mut self) -> Result<String> {
        let status = self.child.wait().map_err(|e| Error::io("ffmpeg", e))?;
        let msg = joined(self.stderr.take());
        if !status.success() {
            return Err(Error::Video(format!("decoding {} failed: {msg}", self.path.display())));
        }
        Ok(msg)
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // Stopped early (or already finished: then this does nothing).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to encode.
#[derive(Clone, Debug, Default)]
pub struct EncodeOptions {
    /// The encoder's constant-quality factor (x264/x265/vp9); default 18.
    pub crf: Option<u8>,
    /// An ffmpeg encoder name; default from the extension (libvpx-vp9 for
    /// .webm, else libx264).
    pub codec: Option<String>,
}

/// Encodes RGB frames to a video file, with the source's audio.
pub struct Encoder {
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<JoinHandle<String>>,
    tmp: Option<tempfile::TempPath>,
    target: PathBuf,
    width: usize,
    height: usize,
    buf: Vec<u8>,
    frames: usize,
}

/// Codecs that want 4:2:0 (what players expect) and hence even sizes.
fn wants_yuv420(codec: &str) -> bool {
    ["libx264", "libx265", "libvpx-vp9", "libvpx", "libaom-av1", "libsvtav1", "mpeg4", "h264", "hevc"].contains(&codec)
}

impl EncodeOptions {
    /// The encoder used for `target`.
    pub fn codec_for(&self, target: &Path) -> String {
        if let Some(c) = &self.codec {
            return c.clone();
        }
        match target.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("webm") => "libvpx-vp9".into(),
            _ => "libx264".into(),
        }
    }

    /// Whether the encoder needs even frame sizes.
    pub fn needs_even_size(&self, target: &Path) -> bool {
        wants_yuv420(&self.codec_for(target))
    }
}

impl Encoder {
    /// Starts ffmpeg writing `target` (through a temporary file beside it).
    /// The audio of `source` over the same `clip` is copied, or re-encoded
    /// (AAC; Opus for WebM) when the target's container does not take it as it is.
    pub fn create(target: &Path, source: &Path, info: &VideoInfo, clip: &Clip, width: usize, height: usize, opts: &EncodeOptions) -> Result<Encoder> {
        clip.validate()?;
        let codec = opts.codec_for(target);
        if wants_yuv420(&codec) && (width % 2 == 1 || height % 2 == 1) {
            return Err(Error::InvalidArgument(format!("{codec} needs an even frame size, got {width}×{height}")));
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let ext = target.extension().and_then(|e| e.to_str()).ok_or_else(|| {
            Error::InvalidArgument(format!("{}: give the output a video extension (.mp4, .mkv, .webm, .mov)", target.display()))
        })?;
        let tmp = tempfile::Builder::new()
            .prefix(".restyle-")
            .suffix(&format!(".partial.{ext}"))
            .tempfile_in(dir)
            .map_err(|e| Error::io(format!("cannot create a file in {}", dir.display()), e))?
            .into_temp_path();
        let audio = if info.has_audio { Some(audio_codec(source, clip, ext)?) } else { None };
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", &format!("{width}x{height}")]);
        cmd.args(["-framerate", &info.rate.to_string(), "-i", "pipe:0"]);
        if audio.is_some() {
            clip.input_args(&mut cmd);
            cmd.arg("-i").arg(source);
        }
        cmd.args(["-map", "0:v:0"]);
        cmd.args(["-c:v", &codec]);
        if ["libx264", "libx265", "libvpx-vp9", "libaom-av1"].contains(&codec.as_str()) {
            cmd.args(["-crf", &opts.crf.unwrap_or(18).to_string()]);
            if codec == "libvpx-vp9" || codec == "libaom-av1" {
                cmd.args(["-b:v", "0"]); // constant quality, not a bitrate cap
            }
        } else if opts.crf.is_some() {
            return Err(Error::InvalidArgument(format!("--crf applies to libx264, libx265, libvpx-vp9 and libaom-av1, not {codec}")));
        }
        if wants_yuv420(&codec) {
            cmd.args(["-pix_fmt", "yuv420p"]);
        }
        if let Some(a) = &audio {
            cmd.args(["-map", "1:a?", "-c:a", a, "-shortest"]);
        }
        cmd.arg(&*tmp);
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = spawn("ffmpeg", &mut cmd)?;
        let stderr = drain(&mut child);
        let stdin = child.stdin.take();
        Ok(Encoder { child, stdin, stderr, tmp: Some(tmp), target: target.into(), width, height, buf: Vec::new(), frames: 0 })
    }

    pub fn write_frame(&mut self, frame: &RgbImage) -> Result<()> {
        if (frame.width, frame.height) != (self.width, self.height) {
            return Err(Error::InvalidArgument(format!("frame {}×{} for a {}×{} video", frame.width, frame.height, self.width, self.height)));
        }
        self.buf.clear();
        self.buf.extend(frame.data.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0 + 0.5) as u8));
        let stdin = self.stdin.as_mut().ok_or_else(|| Error::Video("the encoder is closed".into()))?;
        if let Err(e) = stdin.write_all(&self.buf) {
            // ffmpeg stopped: its own message says why.
            self.stdin = None;
            let _ = self.child.wait();
            let msg = joined(self.stderr.take());
            return Err(Error::Video(format!("encoding {} failed: {}", self.target.display(), if msg.is_empty() { e.to_string() } else { msg })));
        }
        self.frames += 1;
        Ok(())
    }

    /// Closes the stream (ffmpeg writes the file's index, so it plays) and
    /// moves the file to the target.
    pub fn finish(mut self) -> Result<usize> {
        drop(self.stdin.take());
        let status = self.child.wait().map_err(|e| Error::io("ffmpeg", e))?;
        let msg = joined(self.stderr.take());
        if !status.success() {
            return Err(Error::Video(format!("encoding {} failed: {msg}", self.target.display())));
        }
        if self.frames == 0 {
            return Err(Error::Video(format!("no frames to write to {}", self.target.display())));
        }
        let tmp = self.tmp.take().ok_or_else(|| Error::Video("the encoder is closed".into()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o644));
        }
        tmp.persist(&self.target).map_err(|e| Error::io(format!("cannot move the video to {}", self.target.display()), e.error))?;
        Ok(self.frames)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // Not finished: stop ffmpeg; the temporary file goes with `tmp`.
        if self.tmp.is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `copy` when the target's container takes the source's audio as it is,
/// else a codec it takes (Opus for WebM, AAC elsewhere): a quick trial mux
/// of a fraction of a second decides; with a start offset, always the latter.
fn audio_codec(source: &Path, clip: &Clip, ext: &str) -> Result<String> {
    let fallback = if ext.eq_ignore_ascii_case("webm") { "libopus" } else { "aac" };
    // A copy cut at --start begins at a packet before it, and Matroska
    // keeps that preroll: the video then starts a second late. Re-encoded,
    // the audio starts where the frames do.
    if clip.start.is_some_and(|s| s > 0.0) {
        return Ok(fallback.into());
    }
    let trial = tempfile::Builder::new()
        .prefix(".restyle-audio-")
        .suffix(&format!(".{ext}"))
        .tempfile()
        .map_err(|e| Error::io("cannot create a temporary file", e))?
        .into_temp_path();
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-v", "error", "-nostdin", "-y"]);
    clip.input_args(&mut cmd);
    cmd.arg("-i").arg(source).args(["-map", "0:a:0", "-c:a", "copy", "-t", "0.2"]).arg(&*trial);
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    let ok = spawn("ffmpeg", &mut cmd)?.wait().map(|s| s.success()).unwrap_or(false);
    Ok(if ok { "copy" } else { fallback }.into())
}

/// A V4L2 camera (`/dev/videoN`) through ffmpeg, as raw `rgb24` frames
/// on a pipe ([`std::io::Read`]); the ffmpeg process ends with it.
pub struct Camera {
    child: Child,
    stdout: ChildStdout,
    pub width: usize,
    pub height: usize,
}

impl Camera {
    /// Opens `device` at `size` (the camera's current size when `None`,
    /// asked of ffprobe) and `fps` (the camera's when `None`).
    pub fn open(device: &Path, size: Option<(usize, usize)>, fps: Option<Rate>) -> Result<Camera> {
        let (width, height) = match size {
            Some(s) => s,
            None => camera_size(device)?,
        };
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-v", "error", "-nostdin", "-f", "v4l2"]);
        if let Some(r) = fps {
            cmd.args(["-framerate", &r.to_string()]);
        }
        cmd.args(["-video_size", &format!("{width}x{height}"), "-i"]).arg(device);
        // Scaled in case the driver picked another size than asked.
        cmd.args(["-vf", &format!("scale={width}:{height}"), "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
        let mut child = spawn("ffmpeg", &mut cmd)?;
        let stdout = child.stdout.take().ok_or_else(|| Error::Video("ffmpeg: no output pipe".into()))?;
        Ok(Camera { child, stdout, width, height })
    }
}

/// The camera's current frame size, from ffprobe.
fn camera_size(device: &Path) -> Result<(usize, usize)> {
    let mut cmd = Command::new("ffprobe");
    cmd.args(["-v", "error", "-f", "v4l2", "-print_format", "json", "-show_streams"]).arg(device);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = spawn("ffprobe", &mut cmd)?.wait_with_output().map_err(|e| Error::io("ffprobe", e))?;
    let fail = |why: &str| Error::Video(format!("cannot open the camera {}: {why}", device.display()));
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim()));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| fail(&format!("ffprobe's answer: {e}")))?;
    let stream = v["streams"].as_array().and_then(|s| s.iter().find(|s| s["codec_type"] == "video")).ok_or_else(|| fail("no video stream"))?;
    match (stream["width"].as_u64(), stream["height"].as_u64()) {
        (Some(w), Some(h)) if w > 0 && h > 0 => Ok((w as usize, h as usize)),
        _ => Err(fail("ffprobe gave no frame size (give --input-size WxH)")),
    }
}

impl Read for Camera {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Drop for Camera {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse() {
        assert_eq!(Rate::parse("30000/1001"), Some(Rate { num: 30000, den: 1001 }));
        assert_eq!(Rate::parse("25"), Some(Rate { num: 25, den: 1 }));
        assert_eq!(Rate::parse("0/0"), None);
        assert!(Clip { start: Some(-1.0), duration: None }.validate().is_err());
        assert!(Clip { start: None, duration: Some(0.0) }.validate().is_err());
    }
}
