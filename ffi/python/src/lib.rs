//! `restyle._restyle`: the extension module under the Python package
//! `restyle` (ffi/python/restyle/). A thin front end over
//! `restyle_core::stylize::Stylizer`, like the CLI and the C ABI: method
//! names, defaults and every check come from core; this file only turns
//! Python values (numpy arrays, strings, numbers) into a `MethodSpec` and a
//! `Request` and the result back into an array.
//!
//! - Work runs with the GIL released (`Python::detach`) on a rayon pool of
//!   the engine's own, created lazily in each process: a forked child never
//!   touches the pool (or the threads) of its parent.
//! - Core errors become `restyle.Error` subclasses with the core's message;
//!   a panic becomes `restyle.Error` too (`catch_unwind` at the boundary).

mod pixels;

use pixels::Layout;
use pyo3::prelude::*;
use pyo3::types::PyType;
use restyle_core::device::DeviceChoice;
use restyle_core::image::{Picture, RgbImage};
use restyle_core::method::{self, MethodKind, MethodOptions, MethodSpec};
use restyle_core::request::{PreserveColor, Request, StyleImage};
use restyle_core::stylize::Stylizer;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Which `restyle.Error` subclass (defined in restyle/_errors.py) an error becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Error,
    Weights,
    InvalidInput,
    Cancelled,
    Device,
}

/// An error on its way to Python: the class and the library's message.
#[derive(Debug)]
struct BindError {
    kind: Kind,
    message: String,
    /// A Python exception to re-raise as is.
    python: Option<PyErr>,
}

impl BindError {
    fn new(kind: Kind, message: impl Into<String>) -> Self {
        BindError { kind, message: message.into(), python: None }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::InvalidInput, message)
    }
    /// Any failure while loading a method is about its weights, except a
    /// device that cannot be used (as in the C ABI).
    fn loading(e: restyle_core::Error) -> Self {
        match e {
            restyle_core::Error::Device(_) => e.into(),
            e => Self::new(Kind::Weights, e.to_string()),
        }
    }
}

impl From<restyle_core::Error> for BindError {
    fn from(e: restyle_core::Error) -> Self {
        use restyle_core::Error as E;
        let kind = match &e {
            E::Weights(_) => Kind::Weights,
            E::InvalidArgument(_) | E::InvalidImage(_) | E::ImageRead { .. } => Kind::InvalidInput,
            E::Cancelled => Kind::Cancelled,
            E::Device(_) => Kind::Device,
            _ => Kind::Error,
        };
        BindError::new(kind, e.to_string())
    }
}

impl From<restyle_weights::Error> for BindError {
    fn from(e: restyle_weights::Error) -> Self {
        BindError::new(Kind::Weights, e.to_string())
    }
}

impl BindError {
    fn into_py(self, py: Python<'_>) -> PyErr {
        if let Some(e) = self.python {
            return e;
        }
        let name = match self.kind {
            Kind::Error => "Error",
            Kind::Weights => "WeightsError",
            Kind::InvalidInput => "InvalidInputError",
            Kind::Cancelled => "CancelledError",
            Kind::Device => "DeviceError",
        };
        match py.import("restyle._errors").and_then(|m| m.getattr(name)) {
            Ok(cls) => match cls.cast_into::<PyType>() {
                Ok(cls) => PyErr::from_type(cls, self.message),
                Err(_) => pyo3::exceptions::PyRuntimeError::new_err(self.message),
            },
            Err(_) => pyo3::exceptions::PyRuntimeError::new_err(self.message),
        }
    }
}

type BindResult<T> = Result<T, BindError>;

/// Runs `f`, turning a panic into `restyle.Error` (never a PanicException,
/// never an abort).
fn guarded<T>(f: impl FnOnce() -> BindResult<T>) -> BindResult<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Err(BindError::new(Kind::Error, format!("internal error in restyle (a bug, please report it): {what}")))
        }
    }
}

/// The method a call runs: the one named, else core's default for whether
/// a style (painting or vector) is given; a multistyle26 id or blend can
/// only mean multistyle26.
#[pyfunction]
#[pyo3(signature = (method=None, has_style=false, has_blend=false))]
fn resolve_method(py: Python<'_>, method: Option<&str>, has_style: bool, has_blend: bool) -> PyResult<String> {
    let r = guarded(|| {
        Ok(match method {
            Some(m) => m.parse::<MethodKind>()?,
            None if has_blend => MethodKind::MultiStyle26,
            None => MethodKind::default_for(has_style),
        })
    });
    r.map(|k| k.name().to_string()).map_err(|e| e.into_py(py))
}

/// The names every front end accepts, with core's one-line summaries.
#[pyfunction]
fn methods() -> Vec<(&'static str, &'static str)> {
    MethodKind::ALL.iter().map(|k| (k.name(), k.summary())).collect()
}

/// The random style vector of `seed` (core's `StyleDistribution::sample_key`,
/// the draw `restyle-augment --random-style` makes for that key): from the
/// shipped default distribution, or from a file written by
/// `restyle-augment fit-styles`.
#[pyfunction]
#[pyo3(signature = (seed, distribution=None))]
fn random_style(py: Python<'_>, seed: u64, distribution: Option<PathBuf>) -> PyResult<Vec<f32>> {
    use restyle_core::style_distribution::StyleDistribution;
    let r = guarded(|| {
        let d = match &distribution {
            None => StyleDistribution::default_set()?,
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| BindError::invalid(format!("cannot read style distribution {}: {e}", p.display())))?;
                StyleDistribution::from_json(&text, &p.display().to_string())?
            }
        };
        Ok(d.sample_key(seed))
    });
    r.map_err(|e| e.into_py(py))
}

/// A method loaded in one process, with its own thread pool.
struct Loaded {
    pid: u32,
    stylizer: Stylizer,
    pool: rayon::ThreadPool,
}

/// A configured method; networks load on first use in each process.
#[pyclass(module = "restyle._restyle")]
struct Engine {
    kind: MethodKind,
    spec: MethodSpec,
    device: DeviceChoice,
    weights: restyle_weights::ResolveOptions,
    num_threads: Option<usize>,
    loaded: Mutex<Option<Arc<Loaded>>>,
}

impl Engine {
    /// The loaded method of this process, loading it (or a new pool after a
    /// fork) when needed. Called without the GIL.
    fn loaded(&self) -> BindResult<Arc<Loaded>> {
        let pid = std::process::id();
        let mut slot = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = slot.as_ref() {
            if l.pid == pid {
                return Ok(l.clone());
            }
        }
        let pool = self.pool()?;
        let stylizer = match slot.take() {
            // A forked child: the parent's networks were copied with the
            // process and are usable; its pool's threads were not. The old
            // pool is leaked (its threads do not exist here to be joined).
            Some(old) => match Arc::try_unwrap(old) {
                Ok(old) => {
                    std::mem::forget(old.pool);
                    old.stylizer
                }
                Err(shared) => {
                    std::mem::forget(shared);
                    self.load_method(&pool)?
                }
            },
            None => self.load_method(&pool)?,
        };
        let l = Arc::new(Loaded { pid, stylizer, pool });
        *slot = Some(l.clone());
        Ok(l)
    }

    fn pool(&self) -> BindResult<rayon::ThreadPool> {
        let mut b = rayon::ThreadPoolBuilder::new().thread_name(|i| format!("restyle-{i}"));
        if let Some(n) = self.num_threads {
            b = b.num_threads(n);
        }
        b.build().map_err(|e| BindError::new(Kind::Error, format!("cannot start a thread pool: {e}")))
    }

    fn load_method(&self, pool: &rayon::ThreadPool) -> BindResult<Stylizer> {
        let device = self.device.open()?;
        let m = pool.install(|| method::load(self.spec.clone(), &self.weights, &device)).map_err(BindError::loading)?;
        Ok(Stylizer::new(m, device))
    }

    /// One stylize call, without the GIL. The work runs on the engine's
    /// pool while this (the caller's) thread waits for it, looking for
    /// Ctrl-C every 50 ms: a KeyboardInterrupt cancels the run at its next
    /// progress check and is raised once the run has stopped (Python only
    /// sees signals on its main thread, and only while holding the GIL).
    /// `progress(stage, step, total)` is called from the pool's thread;
    /// returning False cancels (CancelledError), raising cancels and raises.
    fn run(&self, content: Picture, request: Request, progress: Option<Py<PyAny>>) -> BindResult<Picture> {
        use restyle_core::progress::Control;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::mpsc::{channel, RecvTimeoutError};
        // The same checks as every front end, before any weights load.
        request.validate()?;
        let l = self.loaded()?;
        let stop = Arc::new(AtomicBool::new(false));
        let raised: Arc<Mutex<Option<PyErr>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = channel();
        {
            let (l, stop, raised) = (l.clone(), stop.clone(), raised.clone());
            l.clone().pool.spawn(move || {
                let mut report = |p: &restyle_core::progress::Progress| {
                    if let Some(cb) = &progress {
                        let answer = Python::attach(|py| cb.call1(py, (p.stage.as_str(), p.step, p.total)).and_then(|r| {
                            // Only an explicit False cancels (None, the usual return, continues).
                            Ok(r.bind(py).is_instance_of::<pyo3::types::PyBool>() && !r.bind(py).is_truthy()?)
                        }));
                        match answer {
                            Ok(true) => stop.store(true, Ordering::SeqCst),
                            Ok(false) => {}
                            Err(e) => {
                                *raised.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                stop.store(true, Ordering::SeqCst);
                            }
                        }
                    }
                    if stop.load(Ordering::SeqCst) {
                        Control::Cancel
                    } else {
                        Control::Continue
                    }
                };
                // A panic on a pool thread would abort the process: caught here.
                let r = guarded(|| Ok(l.stylizer.stylize(&content, &request, &mut report)?));
                let _ = tx.send(r);
            });
        }
        let mut interrupt: Option<PyErr> = None;
        let out = loop {
            match rx.recv_timeout(std::time::Duration::from_millis(50)) {
                Ok(r) => break r,
                Err(RecvTimeoutError::Timeout) => {
                    if interrupt.is_none() {
                        if let Err(e) = Python::attach(|py| py.check_signals()) {
                            interrupt = Some(e);
                            stop.store(true, Ordering::SeqCst);
                        }
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    break Err(BindError::new(Kind::Error, "internal error in restyle (a bug, please report it): the worker stopped"))
                }
            }
        };
        if let Some(e) = interrupt.or_else(|| raised.lock().unwrap_or_else(|p| p.into_inner()).take()) {
            return Err(e.into());
        }
        let out = out?;
        if !out.completed {
            return Err(BindError::new(Kind::Cancelled, "cancelled before the optimisation finished"));
        }
        Ok(out.picture)
    }
}

/// A style given to one call, already read from Python.
enum Style {
    None,
    Image(RgbImage),
    Path(PathBuf),
    /// multistyle26: `7` or `3:0.5,12:0.5` (core parses it).
    Blend(String),
    Vector(Vec<f32>),
}

#[pymethods]
impl Engine {
    #[new]
    #[pyo3(signature = (method, model=None, device="auto", weights_dir=None, num_threads=None))]
    fn new(py: Python<'_>, method: &str, model: Option<String>, device: &str, weights_dir: Option<PathBuf>, num_threads: Option<usize>) -> PyResult<Self> {
        guarded(|| {
            let kind: MethodKind = method.parse()?;
            let spec = MethodSpec::new(kind, &MethodOptions { model, ..MethodOptions::default() })?;
            let device: DeviceChoice = device.parse()?;
            if num_threads == Some(0) {
                return Err(BindError::invalid("num_threads must be at least 1 (or None for all cores)"));
            }
            // A folder that does not exist (given, or in RESTYLE_WEIGHTS_DIR)
            // is an error, never silently skipped (as in the CLI).
            let weights = restyle_weights::ResolveOptions { weights_dir, ..Default::default() };
            weights.check()?;
            Ok(Engine { kind, spec, device, weights, num_threads, loaded: Mutex::new(None) })
        })
        .map_err(|e| e.into_py(py))
    }

    /// The method's name as core spells it.
    #[getter]
    fn method(&self) -> &'static str {
        self.kind.name()
    }

    /// Loads the networks now (else on first use).
    fn load(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| guarded(|| self.loaded().map(|_| ()))).map_err(|e| e.into_py(py))
    }

    /// Stylizes `image` (a numpy array H×W[×C], uint8/uint16/float32, or a
    /// path); returns a new array laid out like the input (for a path: like
    /// the file, in its bit depth).
    #[pyo3(signature = (image, *, style_image=None, style_path=None, style_blend=None, style_vector=None,
        strength=1.0, preserve_color=None, size=None, style_size=None, seed=0, iterations=None, max_seconds=None, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn stylize<'py>(
        &self,
        py: Python<'py>,
        image: &Bound<'py, PyAny>,
        style_image: Option<&Bound<'py, PyAny>>,
        style_path: Option<PathBuf>,
        style_blend: Option<String>,
        style_vector: Option<Vec<f32>>,
        strength: f32,
        preserve_color: Option<&str>,
        size: Option<usize>,
        style_size: Option<usize>,
        seed: u64,
        iterations: Option<usize>,
        max_seconds: Option<f64>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let r = guarded(|| {
            let given = [style_image.is_some(), style_path.is_some(), style_blend.is_some(), style_vector.is_some()];
            if given.iter().filter(|g| **g).count() > 1 {
                return Err(BindError::invalid("give one style: a painting, a multistyle26 id or blend, or a style vector"));
            }
            let style = if let Some(a) = style_image {
                Style::Image(pixels::read(a, "style")?.0.rgb)
            } else if let Some(p) = style_path {
                Style::Path(p)
            } else if let Some(b) = style_blend {
                Style::Blend(b)
            } else if let Some(v) = style_vector {
                Style::Vector(v)
            } else {
                Style::None
            };
            let preserve_color = match preserve_color {
                None => None,
                Some(s) => match s.trim().to_ascii_lowercase().as_str() {
                    "luminance" => Some(PreserveColor::Luminance),
                    "histogram" => Some(PreserveColor::Histogram),
                    other => return Err(BindError::invalid(format!("preserve_color '{other}': expected None, 'luminance' or 'histogram'"))),
                },
            };
            let (content, layout) = match image.extract::<PathBuf>() {
                Ok(path) if !image.hasattr("__array_interface__")? => {
                    let p = restyle_core::image::load(&path)?;
                    let layout = Layout::of_picture(&p);
                    (p, layout)
                }
                _ => pixels::read(image, "image")?,
            };
            let request = Request { strength, preserve_color, working_size: size, style_size, seed, iterations, max_seconds, ..Request::default() };
            Ok((content, layout, style, request))
        });
        let (content, layout, style, mut request) = r.map_err(|e| e.into_py(py))?;
        let kind = self.kind;
        let out = py
            .detach(|| {
                guarded(|| {
                    match style {
                        Style::None => {}
                        Style::Image(image) => request.styles.push(StyleImage { image, weight: 1.0 }),
                        Style::Path(p) => request.styles.push(StyleImage { image: restyle_core::image::load(&p)?.rgb, weight: 1.0 }),
                        Style::Blend(spec) => {
                            // Core's check and message for a blend with another method.
                            MethodSpec::new(kind, &MethodOptions { style_blend: Some(spec.clone()), ..MethodOptions::default() })?;
                            let n = restyle_core::models::multistyle::NUM_STYLES;
                            request.style_vector = Some(restyle_core::models::multistyle::parse_style_weights(&spec, n)?);
                        }
                        Style::Vector(v) if kind == MethodKind::MultiStyle26 => request.style_vector = Some(method::normalised_blend(&v)?),
                        Style::Vector(v) => request.style_vector = Some(v),
                    }
                    self.run(content, request, progress)
                })
            })
            .map_err(|e| e.into_py(py))?;
        // The result's array, under the same guard (a panic is never a PanicException).
        match catch_unwind(AssertUnwindSafe(|| pixels::write(py, &out, &layout, image))) {
            Ok(r) => r,
            Err(_) => Err(BindError::new(Kind::Error, "internal error in restyle (a bug, please report it) while writing the result").into_py(py)),
        }
    }

    /// The style vector of a painting (arbitrary method): 100 floats.
    #[pyo3(signature = (painting, style_size=None))]
    fn style_vector(&self, py: Python<'_>, painting: &Bound<'_, PyAny>, style_size: Option<usize>) -> PyResult<Vec<f32>> {
        let image = guarded(|| match painting.extract::<PathBuf>() {
            Ok(path) if !painting.hasattr("__array_interface__")? => Ok(restyle_core::image::load(&path)?.rgb),
            _ => Ok(pixels::read(painting, "painting")?.0.rgb),
        })
        .map_err(|e| e.into_py(py))?;
        py.detach(|| {
            guarded(|| {
                if style_size == Some(0) {
                    return Err(BindError::invalid("style size must be positive"));
                }
                let l = self.loaded()?;
                Ok(l.pool.install(|| l.stylizer.style_vector(&image, style_size))?)
            })
        })
        .map_err(|e| e.into_py(py))
    }
}

impl From<PyErr> for BindError {
    fn from(e: PyErr) -> Self {
        BindError { kind: Kind::Error, message: String::new(), python: Some(e) }
    }
}

#[pymodule]
fn _restyle(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<Engine>()?;
    m.add_function(wrap_pyfunction!(resolve_method, m)?)?;
    m.add_function(wrap_pyfunction!(methods, m)?)?;
    m.add_function(wrap_pyfunction!(random_style, m)?)?;
    Ok(())
}
