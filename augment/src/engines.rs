//! Loading the engine a run uses: the core's methods (through
//! `restyle_core::method::load`) behind its single entry point.

use anyhow::{bail, Context, Result};
use restyle_augment::engine::{CoreEngine, Engine};
use restyle_core::method::{self, MethodKind, MethodOptions, MethodSpec};
use restyle_core::stylize::Stylizer;
use std::path::Path;

/// `--method NAME` (+ `--model` for fast) as the core's method spec, and the
/// engine's description recorded in the run settings. Names, defaults and
/// the checks on options are the core's (`MethodKind`, `MethodSpec::new`).
pub fn spec(method: &str, model: Option<&str>) -> Result<(MethodSpec, String)> {
    let kind: MethodKind = method.parse()?;
    if !AUGMENT_METHODS.contains(&kind) {
        bail!("restyle-augment runs the methods {}; {kind} is not one of them", names(&AUGMENT_METHODS));
    }
    let model = match kind {
        MethodKind::Fast => Some(model.unwrap_or(restyle_core::method::open::DEFAULT_MODEL).to_string()),
        _ => model.map(str::to_string),
    };
    // multistyle26: each output brings its own blend (Request::style_vector); style 0 until then.
    let spec = MethodSpec::new(kind, &MethodOptions { model: model.clone(), ..MethodOptions::default() })
        .map_err(|e| anyhow::anyhow!("--method {kind}: {e}"))?;
    let name = match (kind, model) {
        (MethodKind::Fast, Some(m)) => format!("fast:{m}"),
        _ => kind.name().to_string(),
    };
    Ok((spec, name))
}

/// The feed-forward methods an augmentation run can draw styles for.
const AUGMENT_METHODS: [MethodKind; 3] = [MethodKind::Arbitrary, MethodKind::MultiStyle26, MethodKind::Fast];

fn names(kinds: &[MethodKind]) -> String {
    kinds.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
}

pub fn load(method: &str, model: Option<&str>, weights_dir: Option<&Path>, device: &str) -> Result<Box<dyn Engine>> {
    let (spec, name) = spec(method, model)?;
    let device = device.parse::<restyle_core::device::DeviceChoice>()?.open()?;
    let weights = restyle_weights::ResolveOptions { weights_dir: weights_dir.map(Path::to_path_buf), ..Default::default() };
    weights.check().context("--weights-dir")?;
    let method = method::load(spec, &weights, &device).with_context(|| format!("loading the {method} network"))?;
    Ok(Box::new(CoreEngine::new(Stylizer::new(method, device), name)))
}
