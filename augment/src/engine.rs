//! The network behind the tool. Augment adds no style-transfer logic of its
//! own: [`CoreEngine`] hands every image to the core's single entry point,
//! [`restyle_core::stylize::Stylizer`]. The trait exists so that the
//! pipeline's bookkeeping (layouts, resume, shards) can be unit-tested
//! without loading a network.

use crate::Result;
use restyle_core::image::{Picture, RgbImage};
use restyle_core::stylize::{Request, StyleImage, Stylizer};

/// A style ready for the network: the image itself, or a style vector
/// (for methods that have one, computed once per style image).
#[derive(Clone, Debug)]
pub enum PreparedStyle {
    Image(RgbImage),
    Vector(Vec<f32>),
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

    fn request(&self, styles: Vec<StyleImage>, strength: f32, seed: u64, working_size: usize) -> Request {
        Request { styles, strength, working_size: Some(working_size), seed, ..Request::default() }
    }
}

impl Engine for CoreEngine {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn style_vector(&self, _style: &RgbImage) -> Result<Vec<f32>> {
        Err(crate::Error::Usage(format!("{}: style vectors are not available for this method", self.name)))
    }

    fn stylize(&self, content: &Picture, style: &PreparedStyle, strength: f32, seed: u64, working_size: usize) -> Result<Picture> {
        let styles = match style {
            PreparedStyle::Image(img) => vec![StyleImage { image: img.clone(), weight: 1.0 }],
            PreparedStyle::Vector(_) => {
                return Err(crate::Error::Usage(format!("{}: random style vectors need the arbitrary method", self.name)))
            }
        };
        let request = self.request(styles, strength, seed, working_size);
        let out = self.stylizer.stylize(content, &request, &mut restyle_core::progress::silent())?;
        Ok(out.picture)
    }
}
