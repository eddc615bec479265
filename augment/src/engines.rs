//! Loading the engine a run uses: the core's methods behind its single entry point.

use anyhow::{bail, Result};
use restyle_augment::engine::Engine;
use std::path::Path;

pub fn load(method: &str, weights_dir: Option<&Path>, device: &str) -> Result<Box<dyn Engine>> {
    let _device = device.parse::<restyle_core::device::DeviceChoice>()?.open()?;
    let _ = weights_dir;
    bail!("method '{method}' is not available in this build of restyle-core yet")
}
