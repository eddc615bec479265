//! `restyle_context`: a weights folder and the stylizers loaded from it,
//! kept so that a host stylizing many layers loads each network once.

use crate::pixels::{Buffer, RestyleImage};
use crate::status::{FfiError, FfiResult, RestyleStatus};
use crate::{opt_str, RestyleMethod, RestyleParams};
use crate::{RESTYLE_PRESERVE_HISTOGRAM, RESTYLE_PRESERVE_LUMINANCE, RESTYLE_PRESERVE_NONE};
use restyle_core::device::DeviceChoice;
use restyle_core::image::{Picture, RgbImage};
use restyle_core::progress::{Control, Progress};
use restyle_core::method::{self, Method, MethodKind, MethodOptions, MethodSpec};
use restyle_core::request::{PreserveColor, Request, StyleImage};
use restyle_core::stylize::Stylizer;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// What identifies a loaded network: same key, same stylizer.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Key {
    method: MethodKind,
    model: Option<PathBuf>,
    device: DeviceChoice,
    /// multistyle26's blend is part of its loaded method.
    style_weights: Vec<f32>,
}

/// The C handle (`restyle_context *`): the state behind a mutex, so that a
/// host calling from two threads on one context by accident gets its calls
/// one after the other instead of a crash.
pub struct Context {
    state: std::sync::Mutex<State>,
}

impl Context {
    pub fn new(weights_dir: Option<&str>) -> FfiResult<Context> {
        Ok(Context { state: std::sync::Mutex::new(State::new(weights_dir)?) })
    }

    /// Where this context finds weights (its folder or RESTYLE_WEIGHTS_DIR,
    /// then the cache; never the hub): for listing what it can load.
    pub(crate) fn weights_options(&self) -> restyle_weights::ResolveOptions {
        let state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        restyle_weights::ResolveOptions { weights_dir: state.weights_dir.clone(), ..Default::default() }.offline(true)
    }

    /// Runs one request (serialised with any other call on this context).
    pub fn stylize(&self, buffer: &Buffer, params: &RestyleParams) -> FfiResult<Picture> {
        // A panic inside an earlier call (caught at the boundary) poisons the
        // lock; the state is a cache of loaded networks, still usable.
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        state.stylize(buffer, params)
    }

    /// Runs `f` with the network `key` names (loaded on first use), under
    /// the context's lock: for the video stream, whose frames share the
    /// context's networks.
    pub(crate) fn with_stylizer<T>(&self, key: &Key, f: impl FnOnce(&Stylizer) -> FfiResult<T>) -> FfiResult<T> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        f(state.stylizer(key.clone())?)
    }
}

struct State {
    /// The folder given to `restyle_context_new`; `None`: RESTYLE_WEIGHTS_DIR
    /// (a list of folders, parsed by restyle-weights as everywhere else).
    weights_dir: Option<PathBuf>,
    loaded: Vec<(Key, Stylizer)>,
}

impl State {
    fn new(weights_dir: Option<&str>) -> FfiResult<State> {
        let weights_dir = weights_dir.map(PathBuf::from);
        let dirs = match &weights_dir {
            Some(d) => vec![d.clone()],
            None => restyle_weights::weights_dirs_from_env(),
        };
        for d in &dirs {
            if !d.is_dir() {
                let from = if weights_dir.is_some() { "" } else { " (from RESTYLE_WEIGHTS_DIR)" };
                return Err(FfiError::new(
                    RestyleStatus::Weights,
                    format!("weights folder {}{from} does not exist or is not a folder", d.display()),
                ));
            }
        }
        Ok(State { weights_dir, loaded: Vec::new() })
    }

    fn stylizer(&mut self, key: Key) -> FfiResult<&mut Stylizer> {
        let i = match self.loaded.iter().position(|(k, _)| *k == key) {
            Some(i) => i,
            None => {
                let device = key.device.open()?;
                let method = load_method(self, &key, &device)?;
                self.loaded.push((key, Stylizer::new(method, device)));
                self.loaded.len() - 1
            }
        };
        Ok(&mut self.loaded[i].1)
    }

    /// Runs one request; returns the RGB result the size of `buffer`.
    fn stylize(&mut self, buffer: &Buffer, params: &RestyleParams) -> FfiResult<Picture> {
        let (key, request) = plan(params)?;
        let progress = CallbackProgress::new(params);
        // One call before any work, so a host can cancel before weights load.
        if progress.report("prepare", 0.0) == Control::Cancel {
            return Err(cancelled());
        }
        let content = buffer.to_picture()?;
        // Loading a network takes seconds: say so, so a host's progress
        // shows a message (and can cancel) instead of looking stuck.
        if !self.loaded.iter().any(|(k, _)| *k == key) && progress.report("loading networks", 0.0) == Control::Cancel {
            return Err(cancelled());
        }
        let stylizer = self.stylizer(key)?;
        let budget = request.max_seconds;
        // With a time budget the steps per stage are unknown: the host's
        // progress bar follows the share of the budget spent instead.
        let start = std::time::Instant::now();
        let mut report = |p: &Progress| {
            let fraction = budget.map_or(p.fraction(), |b| (start.elapsed().as_secs_f64() / b).min(1.0) as f32);
            progress.report(&p.stage, fraction)
        };
        let out = stylizer.stylize(&content, &request, &mut report)?;
        if !out.completed {
            // Keep the promise "on error the image is unchanged" for every
            // method, including optimisation that returns its best so far.
            return Err(cancelled());
        }
        Ok(out.picture)
    }
}

/// What `params` ask for: the network (its key) and the core's request,
/// checked as every front end checks it, before any weights load. The
/// params' pointers are NULL or valid: every export's caller promises it.
pub(crate) fn plan(params: &RestyleParams) -> FfiResult<(Key, Request)> {
    // SAFETY (opt_str, style image): restyle_stylize's caller promises
    // the params' pointers are NULL or valid for the call.
    let device = match unsafe { opt_str(params.device, "params.device")? } {
        None => DeviceChoice::Auto,
        Some(s) => s.parse()?,
    };
    let model = unsafe { opt_str(params.model_path, "params.model_path")? }.map(PathBuf::from);
    let method = RestyleMethod::from_code(params.method).ok_or_else(|| {
        FfiError::new(RestyleStatus::UnsupportedMethod, format!("method {} is not a RESTYLE_METHOD_* value", params.method))
    })?;
    let kind = method.kind();
    let max_seconds = params.max_seconds;
    if !(max_seconds >= 0.0 && max_seconds.is_finite()) {
        return Err(FfiError::invalid(format!("params.max_seconds {max_seconds} must be 0 (no budget) or a positive number of seconds")));
    }
    // 0 means "the method's default" for every numeric field.
    let mut request = Request {
        strength: params.strength,
        seed: params.seed,
        working_size: (params.working_size > 0).then_some(params.working_size as usize),
        preserve_color: match params.preserve_color {
            RESTYLE_PRESERVE_NONE => None,
            RESTYLE_PRESERVE_LUMINANCE => Some(PreserveColor::Luminance),
            RESTYLE_PRESERVE_HISTOGRAM => Some(PreserveColor::Histogram),
            other => return Err(FfiError::invalid(format!("params.preserve_color {other} is not a RESTYLE_PRESERVE_* value"))),
        },
        iterations: (kind.is_optimisation() && params.iterations > 0).then_some(params.iterations as usize),
        max_seconds: (kind.is_optimisation() && max_seconds > 0.0).then_some(max_seconds),
        ..Request::default()
    };
    if let Some(style) = unsafe { style_image(params)? } {
        request.styles.push(StyleImage { image: style, weight: 1.0 });
    }
    // The same checks as every front end, before any weights load.
    request.validate()?;
    kind.check_request(&request)?;
    let key = Key { method: kind, model, device, style_weights: unsafe { style_weights(params)? } };
    Ok((key, request))
}

fn cancelled() -> FfiError {
    FfiError::new(RestyleStatus::Cancelled, "cancelled by the progress callback; the image was left unchanged")
}

/// The style image from `style_image` pixels or `style_path`, if any.
///
/// # Safety
/// `params.style_path`/`style_image` are NULL or valid for the call.
unsafe fn style_image(params: &RestyleParams) -> FfiResult<Option<RgbImage>> {
    let path = opt_str(params.style_path, "params.style_path")?;
    match (params.style_image.is_null(), path) {
        (false, Some(_)) => Err(FfiError::invalid("give either params.style_path or params.style_image, not both")),
        (false, None) => {
            let img: &RestyleImage = &*params.style_image;
            Ok(Some(Buffer::new(img, "params.style_image")?.to_picture()?.rgb))
        }
        (true, Some(p)) => Ok(Some(restyle_core::image::load(Path::new(p))?.rgb)),
        (true, None) => Ok(None),
    }
}

/// `style_weights[0..style_weights_len]` as given (the core checks and
/// normalises the blend).
///
/// # Safety
/// `params.style_weights` is NULL or points to `style_weights_len` floats.
unsafe fn style_weights(params: &RestyleParams) -> FfiResult<Vec<f32>> {
    if params.style_weights_len == 0 {
        return Ok(Vec::new());
    }
    if params.style_weights.is_null() {
        return Err(FfiError::null("params.style_weights (with style_weights_len > 0)"));
    }
    // SAFETY: the caller promises `style_weights_len` readable floats.
    Ok(std::slice::from_raw_parts(params.style_weights, params.style_weights_len as usize).to_vec())
}

/// The C progress callback behind the core's `ProgressFn`.
struct CallbackProgress {
    callback: crate::RestyleProgressFn,
    user: *mut std::ffi::c_void,
}

impl CallbackProgress {
    fn new(params: &RestyleParams) -> Self {
        CallbackProgress { callback: params.progress, user: params.progress_user_data }
    }

    fn report(&self, stage: &str, fraction: f32) -> Control {
        let Some(cb) = self.callback else { return Control::Continue };
        let stage = CString::new(stage.replace('\0', " ")).unwrap_or_default();
        // SAFETY: the caller supplied this function pointer and user data for
        // this call; it is invoked on the calling thread, as documented.
        if unsafe { cb(self.user, stage.as_ptr(), fraction) } != 0 {
            Control::Cancel
        } else {
            Control::Continue
        }
    }
}

/// `params.model_path` as the name or file the core's loader takes.
fn model_name(key: &Key) -> FfiResult<Option<String>> {
    match &key.model {
        Some(p) => Ok(Some(p.to_str().ok_or_else(|| FfiError::invalid("params.model_path is not valid UTF-8"))?.to_string())),
        None => Ok(None),
    }
}

/// Loads the network(s) for `key.method` through the core's loader.
fn load_method(ctx: &State, key: &Key, device: &candle_core::Device) -> FfiResult<Method> {
    // The C ABI requires an explicit blend for multistyle26 (its contract
    // since the first release); weights given to another method are refused
    // by the core, as in every front end.
    if key.method == MethodKind::MultiStyle26 && key.style_weights.is_empty() {
        let n = restyle_core::models::multistyle::NUM_STYLES;
        return Err(FfiError::invalid(format!("multistyle26 needs params.style_weights with {n} blend weights (got none)")));
    }
    let opts = MethodOptions {
        model: model_name(key)?,
        style_weights: (!key.style_weights.is_empty()).then(|| key.style_weights.clone()),
        ..MethodOptions::default()
    };
    let spec = MethodSpec::new(key.method, &opts)?;
    // The context's folder (or RESTYLE_WEIGHTS_DIR), then the user's restyle
    // cache. A filter inside an editor never downloads behind the user's back.
    let weights = restyle_weights::ResolveOptions { weights_dir: ctx.weights_dir.clone(), ..Default::default() }.offline(true);
    // Any failure while loading is about the weights (missing, wrong file),
    // except a device that cannot be used.
    method::load(spec, &weights, device).map_err(|e| match e {
        restyle_core::Error::Device(_) => FfiError::from(e),
        e => FfiError::new(RestyleStatus::Weights, e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RestyleParams, RESTYLE_METHOD_GATYS};

    /// `plan` runs before any weights load: a Gatys call without a style is
    /// refused there, not after VGG16 has been read (found by the capi fuzz
    /// target, whose first Gatys input in each job took 5 s).
    #[test]
    fn gatys_without_a_style_is_refused_before_loading() {
        let params = RestyleParams { method: RESTYLE_METHOD_GATYS, ..RestyleParams::default() };
        let e = plan(&params).expect_err("no style");
        assert_eq!(e.status, RestyleStatus::InvalidArgument);
        assert!(e.message.contains("needs a style image"), "{}", e.message);
    }
}
