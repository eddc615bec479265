//! Video: optical flow, the temporal blend, the ffmpeg pipes and the frame
//! pipeline that runs every frame through the one [`crate::stylize::Stylizer`].
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`flow`] | dense optical flow (DIS) on grayscale frames |
//! | [`warp`] | backward warping, forward–backward occlusion mask |
//! | [`temporal`] | `flow` / `ema` / `none` consistency across frames |
//! | [`metrics`] | warping error (Lai et al. 2018), deviation from per-frame |
//! | [`ffmpeg`] | probing, decoding and encoding through the `ffmpeg` tool |
//! | [`pipeline`] | decode → stylize → temporal → encode, in bounded threads |
//! | [`stream`] | one frame at a time: stylize + temporal state (live, C ABI) |
//! | [`raw`] | raw `rgb24` frames on byte streams (stdin, stdout) |
//! | [`live`] | live sources: keep the newest frame, drop the rest |

pub mod ffmpeg;
pub mod flow;
pub mod live;
pub mod metrics;
pub mod pipeline;
pub mod raw;
pub mod stream;
pub mod temporal;
pub mod warp;
