//! Loading the engine a run uses: the core's methods behind its single entry point.

use anyhow::{bail, Result};
use restyle_augment::engine::{CoreEngine, Engine};
use restyle_core::stylize::{Method, Stylizer};
use std::path::Path;

pub fn load(method: &str, weights_dir: Option<&Path>, device: &str) -> Result<Box<dyn Engine>> {
    let device = device.parse::<restyle_core::device::DeviceChoice>()?.open()?;
    let name = method.to_string();
    let method = match method {
        "arbitrary" => {
            let net = match weights_dir {
                Some(dir) => restyle_core::arbitrary::Arbitrary::load_dir(dir, &device)?,
                None => restyle_core::arbitrary::Arbitrary::load(&restyle_weights::ResolveOptions::default(), &device)?,
            };
            Method::Arbitrary(net, restyle_core::arbitrary::Options::default())
        }
        other => bail!("unknown or unavailable method '{other}' (available: arbitrary)"),
    };
    Ok(Box::new(CoreEngine::new(Stylizer::new(method, device), name)))
}
