//! `restyle_context`: a weights folder and the stylizers loaded from it,
//! kept so that a host stylizing many layers loads each network once.

use crate::pixels::{Buffer, RestyleImage};
use crate::status::{FfiError, FfiResult, RESTYLE_ERR_CANCELLED, RESTYLE_ERR_UNSUPPORTED_METHOD};
use crate::{opt_str, RestyleParams};
use crate::{RESTYLE_PRESERVE_HISTOGRAM, RESTYLE_PRESERVE_LUMINANCE, RESTYLE_PRESERVE_NONE};
use restyle_core::device::DeviceChoice;
use restyle_core::image::{Picture, RgbImage};
use restyle_core::progress::{Control, Progress};
use restyle_core::methods::GatysPreset;
use restyle_core::stylize::{Method, PreserveColor, Request, StyleImage, Stylizer};
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// What identifies a loaded network: same key, same stylizer.
#[derive(Clone, Debug, PartialEq)]
struct Key {
    method: u32,
    model: Option<PathBuf>,
    device: DeviceChoice,
    /// multistyle26's blend is part of its loaded method.
    style_weights: Vec<f32>,
}

pub struct Context {
    weights_dir: Option<PathBuf>,
    loaded: Vec<(Key, Stylizer)>,
}

impl Context {
    pub fn new(weights_dir: Option<&str>) -> FfiResult<Context> {
        let weights_dir = match weights_dir {
            Some(d) => Some(PathBuf::from(d)),
            None => std::env::var_os("RESTYLE_WEIGHTS_DIR").map(PathBuf::from),
        };
        if let Some(d) = &weights_dir {
            if !d.is_dir() {
                return Err(FfiError::new(
                    crate::status::RESTYLE_ERR_WEIGHTS,
                    format!("weights folder {} does not exist or is not a folder", d.display()),
                ));
            }
        }
        Ok(Context { weights_dir, loaded: Vec::new() })
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
    pub fn stylize(&mut self, buffer: &Buffer, params: &RestyleParams) -> FfiResult<Picture> {
        // SAFETY (opt_str, style image): restyle_stylize's caller promises
        // the params' pointers are NULL or valid for the call.
        let device = match unsafe { opt_str(params.device, "params.device")? } {
            None => DeviceChoice::Auto,
            Some(s) => s.parse()?,
        };
        let model = unsafe { opt_str(params.model_path, "params.model_path")? }.map(PathBuf::from);
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
            ..Request::default()
        };
        if !(0.0..=1.0).contains(&params.strength) {
            return Err(FfiError::invalid(format!("params.strength {} is outside 0..1", params.strength)));
        }
        let run = GatysRun::of(params)?;
        if let Some(style) = unsafe { style_image(params)? } {
            request.styles.push(StyleImage { image: style, weight: 1.0 });
        }
        let progress = CallbackProgress::new(params);
        // One call before any work, so a host can cancel before weights load.
        if progress.report("prepare", 0.0) == Control::Cancel {
            return Err(cancelled());
        }
        let key = Key { method: params.method, model, device, style_weights: unsafe { style_weights(params)? } };
        let content = buffer.to_picture()?;
        let stylizer = self.stylizer(key)?;
        let mut budget = None;
        if let Method::Gatys(g) = &mut stylizer.method {
            budget = run.max_seconds;
            // One loaded VGG serves every iteration count and budget.
            g.config = gatys_preset(params.method)?.config_with(&g.vgg, run.iterations, run.max_seconds)?;
        }
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

/// The optimisation settings of a call (`iterations`, `max_seconds`).
struct GatysRun {
    iterations: Option<usize>,
    max_seconds: Option<f64>,
}

impl GatysRun {
    fn of(params: &RestyleParams) -> FfiResult<GatysRun> {
        let s = params.max_seconds;
        if !(s >= 0.0 && s.is_finite()) {
            return Err(FfiError::invalid(format!("params.max_seconds {s} must be 0 (no budget) or a positive number of seconds")));
        }
        Ok(GatysRun {
            iterations: (params.iterations > 0).then_some(params.iterations as usize),
            max_seconds: (s > 0.0).then_some(s),
        })
    }
}

fn gatys_preset(method: u32) -> FfiResult<GatysPreset> {
    match method {
        crate::RESTYLE_METHOD_GATYS => Ok(GatysPreset::Basic),
        crate::RESTYLE_METHOD_GATYS_IMPROVED => Ok(GatysPreset::Improved),
        other => Err(FfiError::new(RESTYLE_ERR_UNSUPPORTED_METHOD, format!("method {other} is not an optimisation method"))),
    }
}

fn cancelled() -> FfiError {
    FfiError::new(RESTYLE_ERR_CANCELLED, "cancelled by the progress callback; the image was left unchanged")
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

/// `style_weights[0..style_weights_len]`, checked and normalised to sum 1.
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
    let w = std::slice::from_raw_parts(params.style_weights, params.style_weights_len as usize).to_vec();
    let sum: f32 = w.iter().sum();
    if w.iter().any(|v| !v.is_finite() || *v < 0.0) || sum <= 0.0 {
        return Err(FfiError::invalid("params.style_weights must be non-negative with a positive sum"));
    }
    Ok(w.into_iter().map(|v| v / sum).collect())
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
fn load_method(ctx: &Context, key: &Key, device: &candle_core::Device) -> FfiResult<Method> {
    use crate::status::RESTYLE_ERR_WEIGHTS;
    use restyle_core::methods::{self, MethodSpec};
    // Any failure while loading is about the weights (missing, wrong file),
    // except a device that cannot be used.
    let weights_err = |e: restyle_core::Error| match e {
        restyle_core::Error::Device(_) => FfiError::from(e),
        e => FfiError::new(RESTYLE_ERR_WEIGHTS, e.to_string()),
    };
    let tiling = restyle_core::arbitrary::Options::default().tiling;
    let spec = match key.method {
        crate::RESTYLE_METHOD_ARBITRARY => MethodSpec::Arbitrary(restyle_core::arbitrary::Options::default()),
        crate::RESTYLE_METHOD_MULTISTYLE26 => {
            let n = restyle_core::multistyle::NUM_STYLES;
            if key.style_weights.len() != n {
                return Err(FfiError::invalid(format!(
                    "multistyle26 needs params.style_weights with {n} blend weights (got {})",
                    key.style_weights.len()
                )));
            }
            MethodSpec::MultiStyle26 { style_weights: key.style_weights.clone(), tiling }
        }
        crate::RESTYLE_METHOD_FAST => MethodSpec::Fast { model: model_name(key)?, tiling },
        // Iterations and budget are set per call (Context::stylize), on the loaded VGG.
        m @ (crate::RESTYLE_METHOD_GATYS | crate::RESTYLE_METHOD_GATYS_IMPROVED) => {
            MethodSpec::Gatys { preset: gatys_preset(m)?, vgg: model_name(key)?, iterations: None, max_seconds: None }
        }
        crate::RESTYLE_METHOD_ADAIN => {
            MethodSpec::AdaIN { vgg: None, decoder: None, options: restyle_core::adain::Options::default() }
        }
        other => return Err(FfiError::new(RESTYLE_ERR_UNSUPPORTED_METHOD, format!("method {other} is not a RESTYLE_METHOD_* value"))),
    };
    // The context's folder (or RESTYLE_WEIGHTS_DIR), then the user's restyle
    // cache. A filter inside an editor never downloads behind the user's back.
    let weights = restyle_weights::ResolveOptions { weights_dir: ctx.weights_dir.clone(), ..Default::default() }.offline(true);
    methods::load(spec, &weights, device).map_err(weights_err)
}
