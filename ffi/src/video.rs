//! `restyle_video`: a video stream on a context, one frame per call, with
//! the temporal state (flow-guided blending with the previous output) kept
//! between calls, so a host gets flicker-free video without ffmpeg. Thin:
//! the stream, its checks and the blend are core's
//! (`restyle_core::video::stream::VideoStream`); the frames run on the
//! context's networks.

use crate::context::{plan, Context, Key};
use crate::pixels::{Buffer, RestyleImage};
use crate::status::{guard, FfiError, FfiResult, RestyleStatus, Status};
use crate::{read_params, RestyleMethod, RestyleParams};
use restyle_core::video::flow::FlowPreset;
use restyle_core::video::stream::{check_method, VideoStream};
use restyle_core::video::temporal::{TemporalMode, TemporalOptions};
use std::sync::Mutex;

pub const RESTYLE_TEMPORAL_FLOW: u32 = 0;
pub const RESTYLE_TEMPORAL_EMA: u32 = 1;
pub const RESTYLE_TEMPORAL_NONE: u32 = 2;

/// The core's default preset.
pub const RESTYLE_FLOW_DEFAULT: u32 = 0;
pub const RESTYLE_FLOW_ULTRAFAST: u32 = 1;
pub const RESTYLE_FLOW_FAST: u32 = 2;
pub const RESTYLE_FLOW_MEDIUM: u32 = 3;

/// `restyle_video_params`. Fields are only ever appended (as
/// `restyle_params`); every size a header ever had is accepted.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RestyleVideoParams {
    pub struct_size: usize,
    pub temporal: u32,
    pub temporal_strength: f32,
    pub flow_preset: u32,
}

pub const RESTYLE_VIDEO_PARAMS_SIZES: [usize; 1] = [std::mem::size_of::<RestyleVideoParams>()];

impl Default for RestyleVideoParams {
    fn default() -> Self {
        RestyleVideoParams {
            struct_size: std::mem::size_of::<RestyleVideoParams>(),
            temporal: RESTYLE_TEMPORAL_FLOW,
            temporal_strength: TemporalOptions::default().strength,
            flow_preset: RESTYLE_FLOW_DEFAULT,
        }
    }
}

fn check_size(size: usize) -> FfiResult<()> {
    if !RESTYLE_VIDEO_PARAMS_SIZES.contains(&size) {
        return Err(FfiError::new(
            RestyleStatus::StructSize,
            format!(
                "restyle_video_params.struct_size is {size}, this library accepts {RESTYLE_VIDEO_PARAMS_SIZES:?}: \
                 set it to sizeof(restyle_video_params) (restyle_video_params_init does)"
            ),
        ));
    }
    Ok(())
}

/// The core's temporal options for the caller's codes (the core validates
/// the strength).
fn temporal(p: &RestyleVideoParams) -> FfiResult<TemporalOptions> {
    let mode = match p.temporal {
        RESTYLE_TEMPORAL_FLOW => TemporalMode::Flow,
        RESTYLE_TEMPORAL_EMA => TemporalMode::Ema,
        RESTYLE_TEMPORAL_NONE => TemporalMode::None,
        other => return Err(FfiError::invalid(format!("video params.temporal {other} is not a RESTYLE_TEMPORAL_* value"))),
    };
    let d = TemporalOptions::default();
    let flow = match p.flow_preset {
        RESTYLE_FLOW_DEFAULT => d.flow,
        RESTYLE_FLOW_ULTRAFAST => FlowPreset::UltraFast.params(),
        RESTYLE_FLOW_FAST => FlowPreset::Fast.params(),
        RESTYLE_FLOW_MEDIUM => FlowPreset::Medium.params(),
        other => return Err(FfiError::invalid(format!("video params.flow_preset {other} is not a RESTYLE_FLOW_* value"))),
    };
    let opts = TemporalOptions { mode, strength: p.temporal_strength, flow, ..d };
    opts.validate()?;
    Ok(opts)
}

/// The C handle (`restyle_video *`). The context it was made on must
/// outlive it (restyle.h); its frames lock the context like any call.
pub struct Video {
    ctx: *const Context,
    key: Key,
    /// Behind a lock like the context: two threads on one stream by
    /// accident take turns instead of corrupting the state.
    stream: Mutex<VideoStream>,
}

/// Fills `params` with the defaults (flow, the core's strength and preset).
///
/// # Safety
/// `params` is NULL or points to `struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn restyle_video_params_init(params: *mut RestyleVideoParams, struct_size: usize) -> Status {
    guard(|| {
        if params.is_null() {
            return Err(FfiError::null("video_params"));
        }
        check_size(struct_size)?;
        let d = RestyleVideoParams { struct_size, ..RestyleVideoParams::default() };
        // SAFETY: the caller owns struct_size writable bytes at params, one
        // of the accepted sizes, none larger than RestyleVideoParams.
        std::ptr::copy_nonoverlapping((&d as *const RestyleVideoParams).cast::<u8>(), params.cast::<u8>(), struct_size);
        Ok(())
    })
}

/// Starts a stream: checks everything, loads the network into `ctx` (if it
/// is not yet) and computes what depends on the style only, once.
///
/// # Safety
/// `ctx` came from restyle_context_new and outlives the stream; `params` and
/// `video_params` are NULL or valid for the call; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn restyle_video_new(
    ctx: *mut Context,
    params: *const RestyleParams,
    video_params: *const RestyleVideoParams,
    out: *mut *mut Video,
) -> Status {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        *out = std::ptr::null_mut();
        if ctx.is_null() {
            return Err(FfiError::null("ctx"));
        }
        if params.is_null() {
            return Err(FfiError::null("params"));
        }
        let params = read_params(params)?;
        let vp = if video_params.is_null() {
            RestyleVideoParams::default()
        } else {
            // SAFETY: non-NULL, and the caller's struct starts with its size.
            let size = std::ptr::read_unaligned(video_params.cast::<usize>());
            check_size(size)?;
            let mut p = RestyleVideoParams::default();
            // SAFETY: the caller's struct has `size` readable bytes, one of
            // the accepted sizes (none larger than ours, each ending on a
            // field boundary); fields beyond it keep their defaults.
            std::ptr::copy_nonoverlapping(video_params.cast::<u8>(), (&mut p as *mut RestyleVideoParams).cast::<u8>(), size);
            p
        };
        let temporal = temporal(&vp)?;
        if let Some(m) = RestyleMethod::from_code(params.method) {
            // Before loading any weights.
            check_method(m.kind())?;
        }
        let (key, request) = plan(&params)?;
        // SAFETY: ctx came from restyle_context_new and is alive (restyle.h).
        let context = &*ctx;
        let stream = context.with_stylizer(&key, |stylizer| Ok(VideoStream::new(stylizer, &request, temporal)?))?;
        *out = Box::into_raw(Box::new(Video { ctx, key, stream: Mutex::new(stream) }));
        Ok(())
    })
}

/// Stylizes the next frame in place (R, G, B; alpha untouched), blended
/// with the previous output where the motion allows. On any status but
/// RESTYLE_OK the image is unchanged and the stream as it was.
///
/// # Safety
/// `stream` came from restyle_video_new and is not freed, nor its context,
/// during the call; `image` is NULL or valid for the call.
#[no_mangle]
pub unsafe extern "C" fn restyle_video_frame(stream: *mut Video, image: *const RestyleImage) -> Status {
    guard(|| {
        if stream.is_null() {
            return Err(FfiError::null("stream"));
        }
        if image.is_null() {
            return Err(FfiError::null("image"));
        }
        // SAFETY: a live handle from restyle_video_new (restyle.h); shared
        // reference only, the state is behind its mutex.
        let video = &*stream;
        let mut buffer = Buffer::new(&*image, "image")?;
        let content = buffer.to_picture()?;
        let mut state = video.stream.lock().unwrap_or_else(|p| p.into_inner());
        // SAFETY: the context outlives its streams (restyle.h).
        let ctx = &*video.ctx;
        let out = ctx.with_stylizer(&video.key, |stylizer| Ok(state.frame(stylizer, &content.rgb)?))?;
        buffer.write_rgb(&out, None)
    })
}

/// Frees a stream (NULL is ignored). Its context stays.
///
/// # Safety
/// `stream` is NULL or came from restyle_video_new and is not used again.
#[no_mangle]
pub unsafe extern "C" fn restyle_video_free(stream: *mut Video) {
    if stream.is_null() {
        return;
    }
    // Never let a panic while dropping unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(Box::from_raw(stream))));
}
