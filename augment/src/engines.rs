//! Loading the engine a run uses: the core's methods (through
//! `restyle_core::methods::load`) behind its single entry point.

use anyhow::{bail, Context, Result};
use restyle_augment::engine::{CoreEngine, Engine};
use restyle_core::methods::{self, MethodSpec};
use restyle_core::stylize::Stylizer;
use std::path::Path;

/// `--method NAME` (+ `--model` for fast) as the core's method spec, and the
/// engine's description recorded in the run settings.
pub fn spec(method: &str, model: Option<&str>) -> Result<(MethodSpec, String)> {
    let tiling = restyle_core::arbitrary::Options::default().tiling;
    if model.is_some() && method != "fast" {
        bail!("--model is for --method fast");
    }
    Ok(match method {
        "arbitrary" => (MethodSpec::Arbitrary(restyle_core::arbitrary::Options::default()), "arbitrary".into()),
        "fast" => {
            let name = model.unwrap_or(restyle_core::transformer_net::DEFAULT_MODEL);
            (MethodSpec::Fast { model: Some(name.to_string()), tiling }, format!("fast:{name}"))
        }
        // Each output brings its own blend (Request::style_vector); style 0 until then.
        "multistyle26" => (MethodSpec::multistyle26("0", tiling)?, "multistyle26".into()),
        other => bail!("unknown method '{other}' (available: arbitrary, multistyle26, fast)"),
    })
}

pub fn load(method: &str, model: Option<&str>, weights_dir: Option<&Path>, device: &str) -> Result<Box<dyn Engine>> {
    let (spec, name) = spec(method, model)?;
    let device = device.parse::<restyle_core::device::DeviceChoice>()?.open()?;
    let weights = restyle_weights::ResolveOptions { weights_dir: weights_dir.map(Path::to_path_buf), ..Default::default() };
    let method = methods::load(spec, &weights, &device).with_context(|| format!("loading the {method} network"))?;
    Ok(Box::new(CoreEngine::new(Stylizer::new(method, device), name)))
}
