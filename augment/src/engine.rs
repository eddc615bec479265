//! The network behind the tool. Augment adds no style-transfer logic of its
//! own: [`CoreEngine`] hands every image to the core's single entry point,
//! [`restyle_core::stylize::Stylizer`]. The trait exists so that the
//! pipeline's bookkeeping (layouts, resume, shards) can be unit-tested
//! without loading a network.

use crate::Result;
use restyle_core::image::{Picture, RgbImage};
use restyle_core::request::{Request, StyleImage};
use restyle_core::stylize::{Stylizer};

/// A style ready for the network: the image itself, or a style vector
/// (for methods that have one, computed once per style image).
#[derive(Clone, Debug)]
pub enum PreparedStyle {
    Image(RgbImage),
    /// A style vector (arbitrary) or a blend over the network's styles (multistyle26).
    Vector(Vec<f32>),
    /// The network's own single style (fast NST).
    Own,
}

pub trait Engine {
    /// Method and weights, recorded in the run settings (a resumed run or
    /// another shard must use the same).
    fn describe(&self) -> String;

    /// Turns a style image into what [`Engine::stylize`] takes; called once
    /// per style image.
    fn prepare_style(&self, style: RgbImage) -> Result<PreparedStyle> {
        Ok(PreparedStyle::Image(style))
    }

    /// Style vector of a style image (for fitting a random-style distribution).
    fn style_vector(&self, style: &RgbImage) -> Result<Vec<f32>>;

    /// Stylizes `content` at `working_size` (longest side) and returns a
    /// picture of the content's size, alpha and pixel format.
    fn stylize(&self, content: &Picture, style: &PreparedStyle, strength: f32, seed: u64, working_size: usize) -> Result<Picture>;
}

/// The core's [`Stylizer`] as an augmentation engine.
pub struct CoreEngine {
    pub stylizer: Stylizer,
    pub name: String,
}

impl CoreEngine {
    pub fn new(stylizer: Stylizer, name: impl Into<String>) -> Self {
        CoreEngine { stylizer, name: name.into() }
    }
}

impl Engine for CoreEngine {
    fn describe(&self) -> String {
        self.name.clone()
    }

    /// Methods with style vectors (arbitrary) predict each style once;
    /// others keep the image.
    fn prepare_style(&self, style: RgbImage) -> Result<PreparedStyle> {
        match self.stylizer.style_vector(&style, None) {
            Ok(v) => Ok(PreparedStyle::Vector(v)),
            Err(_) => Ok(PreparedStyle::Image(style)),
        }
    }

    fn style_vector(&self, style: &RgbImage) -> Result<Vec<f32>> {
        Ok(self.stylizer.style_vector(style, None)?)
    }

    fn stylize(&self, content: &Picture, style: &PreparedStyle, strength: f32, seed: u64, working_size: usize) -> Result<Picture> {
        // Never upscale: a small image is stylized at its own size.
        let longest = content.width().max(content.height());
        let mut request = Request { strength, seed, working_size: Some(working_size.min(longest)), ..Request::default() };
        match style {
            PreparedStyle::Image(img) => request.styles = vec![StyleImage { image: img.clone(), weight: 1.0 }],
            PreparedStyle::Vector(v) => request.style_vector = Some(v.clone()),
            PreparedStyle::Own => {}
        }
        let out = self.stylizer.stylize(content, &request, &mut restyle_core::progress::silent())?;
        Ok(out.picture)
    }
}
