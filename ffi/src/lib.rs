//! C ABI over restyle-core (see `include/restyle.h`, the documentation of
//! record for C callers).
//!
//! Shape: an opaque [`Context`] (a weights folder plus the networks loaded
//! so far), a versioned parameter struct ([`RestyleParams`], `struct_size`
//! first), caller-owned image buffers in the hosts' native pixel formats
//! ([`pixels`]), status codes with a thread-local message ([`status`]).
//! Every export runs inside [`status::guard`], so no panic crosses into C.
//! All stylizing goes through `restyle_core::stylize::Stylizer`.

pub mod context;
pub mod models;
pub mod pixels;
pub mod status;
pub mod styles;
pub mod video;

use context::Context;
use pixels::{Buffer, Format, MaskView, RestyleImage, RestyleMask};
use status::{guard, FfiError, FfiResult};
use std::ffi::{c_char, c_int, c_void, CStr};

pub use pixels::{
    RESTYLE_FORMAT_BGRA16, RESTYLE_FORMAT_BGRA8, RESTYLE_FORMAT_RGB8, RESTYLE_FORMAT_RGBA16, RESTYLE_FORMAT_RGBA8,
    RESTYLE_FORMAT_RGBAF16, RESTYLE_FORMAT_RGBAF32,
};
pub use status::{
    RestyleStatus,
    Status, RESTYLE_ERR_CANCELLED, RESTYLE_ERR_DEVICE, RESTYLE_ERR_INTERNAL, RESTYLE_ERR_INVALID_ARGUMENT, RESTYLE_ERR_IO,
    RESTYLE_ERR_NULL_POINTER, RESTYLE_ERR_STRUCT_SIZE, RESTYLE_ERR_UNSUPPORTED_FORMAT, RESTYLE_ERR_UNSUPPORTED_METHOD,
    RESTYLE_ERR_WEIGHTS, RESTYLE_OK,
};

/// Bumped on every incompatible change of the ABI (restyle.h's
/// `RESTYLE_ABI_VERSION`); plug-ins refuse a library with another value.
pub const RESTYLE_ABI_VERSION: u32 = 1;

/// `RESTYLE_METHOD_*`, typed. `params.method` stays a `u32` (a value from
/// C is never transmuted); [`RestyleMethod::from_code`] reads it.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RestyleMethod {
    Arbitrary = 1,
    MultiStyle26 = 2,
    Fast = 3,
    Gatys = 4,
    GatysImproved = 5,
    AdaIN = 6,
}

impl RestyleMethod {
    pub const ALL: [RestyleMethod; 6] = [
        RestyleMethod::Arbitrary,
        RestyleMethod::MultiStyle26,
        RestyleMethod::Fast,
        RestyleMethod::Gatys,
        RestyleMethod::GatysImproved,
        RestyleMethod::AdaIN,
    ];

    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|m| *m as u32 == code)
    }

    /// The core's method: names, defaults and checks live there.
    pub fn kind(self) -> restyle_core::method::MethodKind {
        use restyle_core::method::MethodKind as K;
        match self {
            RestyleMethod::Arbitrary => K::Arbitrary,
            RestyleMethod::MultiStyle26 => K::MultiStyle26,
            RestyleMethod::Fast => K::Fast,
            RestyleMethod::Gatys => K::Gatys,
            RestyleMethod::GatysImproved => K::GatysImproved,
            RestyleMethod::AdaIN => K::AdaIN,
        }
    }
}

pub const RESTYLE_METHOD_ARBITRARY: u32 = RestyleMethod::Arbitrary as u32;
pub const RESTYLE_METHOD_MULTISTYLE26: u32 = RestyleMethod::MultiStyle26 as u32;
pub const RESTYLE_METHOD_FAST: u32 = RestyleMethod::Fast as u32;
pub const RESTYLE_METHOD_GATYS: u32 = RestyleMethod::Gatys as u32;
pub const RESTYLE_METHOD_GATYS_IMPROVED: u32 = RestyleMethod::GatysImproved as u32;
pub const RESTYLE_METHOD_ADAIN: u32 = RestyleMethod::AdaIN as u32;

pub const RESTYLE_PRESERVE_NONE: u32 = 0;
pub const RESTYLE_PRESERVE_LUMINANCE: u32 = 1;
pub const RESTYLE_PRESERVE_HISTOGRAM: u32 = 2;

/// `restyle_progress_fn`: called on the calling thread; non-zero cancels.
pub type RestyleProgressFn = Option<unsafe extern "C" fn(user_data: *mut c_void, stage: *const c_char, fraction: f32) -> c_int>;

/// `restyle_params`. Fields are only ever appended; a caller sets
/// `struct_size = sizeof(restyle_params)` of its header (done by
/// `restyle_params_init`), and every size a header ever had is accepted
/// ([`RESTYLE_PARAMS_SIZES`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct RestyleParams {
    pub struct_size: usize,
    pub method: u32,
    pub strength: f32,
    pub preserve_color: u32,
    pub working_size: u32,
    pub iterations: u32,
    pub seed: u64,
    pub device: *const c_char,
    pub style_path: *const c_char,
    pub style_image: *const RestyleImage,
    pub style_weights: *const f32,
    pub style_weights_len: u32,
    pub model_path: *const c_char,
    pub progress: RestyleProgressFn,
    pub progress_user_data: *mut c_void,
    // --- appended after the first release (struct sizes: RESTYLE_PARAMS_SIZES) ---
    /// Gatys methods: wall-clock budget in seconds, 0 = none.
    pub max_seconds: f64,
}

/// Size of the first published `restyle_params` (up to `progress_user_data`).
/// `max_seconds` has the alignment of `seed`, so it starts where the first
/// struct's trailing padding ended: its offset is that struct's size.
pub const RESTYLE_PARAMS_SIZE_V1: usize = std::mem::offset_of!(RestyleParams, max_seconds);
/// With `max_seconds`.
pub const RESTYLE_PARAMS_SIZE_V2: usize = std::mem::size_of::<RestyleParams>();
/// Every `struct_size` this library reads; anything else is refused rather
/// than half-read.
pub const RESTYLE_PARAMS_SIZES: [usize; 2] = [RESTYLE_PARAMS_SIZE_V1, RESTYLE_PARAMS_SIZE_V2];

impl Default for RestyleParams {
    /// The core's [`restyle_core::request::Request`] defaults, in the C struct's terms.
    fn default() -> Self {
        let core = restyle_core::request::Request::default();
        RestyleParams {
            struct_size: std::mem::size_of::<RestyleParams>(),
            method: RESTYLE_METHOD_ARBITRARY,
            strength: core.strength,
            preserve_color: RESTYLE_PRESERVE_NONE,
            working_size: 0,
            iterations: 0,
            seed: core.seed,
            device: std::ptr::null(),
            style_path: std::ptr::null(),
            style_image: std::ptr::null(),
            style_weights: std::ptr::null(),
            style_weights_len: 0,
            model_path: std::ptr::null(),
            progress: None,
            progress_user_data: std::ptr::null_mut(),
            max_seconds: 0.0,
        }
    }
}

fn check_struct_size(size: usize) -> FfiResult<()> {
    if !RESTYLE_PARAMS_SIZES.contains(&size) {
        return Err(FfiError::new(
            status::RestyleStatus::StructSize,
            format!(
                "restyle_params.struct_size is {size}, this library accepts {RESTYLE_PARAMS_SIZES:?}: \
                 set it to sizeof(restyle_params) (restyle_params_init does) and use the restyle.h that matches the library"
            ),
        ));
    }
    Ok(())
}

/// Reads a caller's params: fields beyond its `struct_size` keep their defaults.
///
/// # Safety
/// `p` is non-NULL and points to at least `struct_size` readable bytes.
unsafe fn read_params(p: *const RestyleParams) -> FfiResult<RestyleParams> {
    let size = std::ptr::read_unaligned(p.cast::<usize>());
    check_struct_size(size)?;
    let mut out = RestyleParams::default();
    // SAFETY: the caller's struct has `size` readable bytes, and `size` is
    // one of RESTYLE_PARAMS_SIZES, all <= size_of::<RestyleParams>() and ending on a field boundary.
    std::ptr::copy_nonoverlapping(p.cast::<u8>(), (&mut out as *mut RestyleParams).cast::<u8>(), size);
    Ok(out)
}

/// A C string argument as UTF-8, `None` when NULL.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string valid for the call.
pub(crate) unsafe fn opt_str<'a>(s: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if s.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(s).to_str().map(Some).map_err(|_| FfiError::invalid(format!("{what} is not valid UTF-8")))
}

/// The ABI version this library implements (`RESTYLE_ABI_VERSION`).
#[no_mangle]
pub extern "C" fn restyle_abi_version() -> u32 {
    RESTYLE_ABI_VERSION
}

/// The library's version, e.g. "0.1.0" (static string).
#[no_mangle]
pub extern "C" fn restyle_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// This thread's message for the last failed call ("" when it succeeded).
#[no_mangle]
pub extern "C" fn restyle_last_error() -> *const c_char {
    status::last_error_ptr()
}

/// A static name for a status code ("RESTYLE_OK", …, "unknown status").
#[no_mangle]
pub extern "C" fn restyle_status_name(status: Status) -> *const c_char {
    status::RestyleStatus::from_code(status).map_or(c"unknown status", |s| s.name()).as_ptr()
}

/// Bytes per pixel of a `RESTYLE_FORMAT_*`, 0 for an unknown format.
#[no_mangle]
pub extern "C" fn restyle_format_bytes_per_pixel(format: u32) -> u32 {
    Format::from_code(format).map_or(0, |f| f.bytes_per_pixel() as u32)
}

/// Fills `params` with defaults (arbitrary method, strength 1) for a struct
/// of `struct_size` bytes.
///
/// # Safety
/// `params` is NULL or points to `struct_size` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn restyle_params_init(params: *mut RestyleParams, struct_size: usize) -> Status {
    guard(|| {
        if params.is_null() {
            return Err(FfiError::null("params"));
        }
        check_struct_size(struct_size)?;
        let d = RestyleParams { struct_size, ..RestyleParams::default() };
        // SAFETY: the caller owns struct_size writable bytes at params, and
        // struct_size <= size_of::<RestyleParams>() was checked above.
        std::ptr::copy_nonoverlapping((&d as *const RestyleParams).cast::<u8>(), params.cast::<u8>(), struct_size);
        Ok(())
    })
}

/// Creates a context; `weights_dir` NULL means `$RESTYLE_WEIGHTS_DIR`.
///
/// # Safety
/// `weights_dir` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn restyle_context_new(weights_dir: *const c_char, out: *mut *mut Context) -> Status {
    guard(|| {
        if out.is_null() {
            return Err(FfiError::null("out"));
        }
        *out = std::ptr::null_mut();
        let dir = opt_str(weights_dir, "weights_dir")?;
        let ctx = Context::new(dir)?;
        *out = Box::into_raw(Box::new(ctx));
        Ok(())
    })
}

/// Frees a context (NULL is ignored).
///
/// # Safety
/// `ctx` is NULL or came from `restyle_context_new` and is not used again.
#[no_mangle]
pub unsafe extern "C" fn restyle_context_free(ctx: *mut Context) {
    if ctx.is_null() {
        return;
    }
    // Dropping tensors should not panic, but never let one unwind into C.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(Box::from_raw(ctx))));
}

/// Stylizes `image` in place (R, G, B only; alpha untouched), blended by
/// `mask` when non-NULL. On any status but RESTYLE_OK the image is unchanged.
///
/// # Safety
/// Pointers are NULL or valid as documented in restyle.h for the whole call.
/// Calls on one `ctx` from several threads are serialised by its lock.
#[no_mangle]
pub unsafe extern "C" fn restyle_stylize(
    ctx: *mut Context,
    image: *const RestyleImage,
    mask: *const RestyleMask,
    params: *const RestyleParams,
) -> Status {
    guard(|| {
        if ctx.is_null() {
            return Err(FfiError::null("ctx"));
        }
        if image.is_null() {
            return Err(FfiError::null("image"));
        }
        if params.is_null() {
            return Err(FfiError::null("params"));
        }
        let params = read_params(params)?;
        let mut buffer = Buffer::new(&*image, "image")?;
        let mask = if mask.is_null() {
            None
        } else {
            let (w, h) = buffer.size();
            Some(MaskView::new(&*mask, w, h)?)
        };
        // SAFETY: ctx came from restyle_context_new and is not freed during
        // the call (restyle.h); only a shared reference is made, and the
        // context's mutex serialises concurrent calls.
        let ctx = &*ctx;
        let result = ctx.stylize(&buffer, &params)?;
        buffer.write_rgb(&result.rgb, mask.as_ref())
    })
}
