//! restyle-core: every classic neural style transfer variant on candle.
//!
//! One module per concept, one file per network. Front ends (the `restyle`
//! CLI, the C ABI, the augmentation tool, the plug-ins) go through
//! [`stylize::Stylizer`], the single entry point.

pub mod adain;
pub mod arbitrary;
pub mod color;
pub mod conv;
pub mod device;
pub mod error;
pub mod gatys;
pub mod image;
pub mod loss;
pub mod methods;
pub mod multistyle;
pub mod nn;
pub mod optim;
pub mod progress;
pub mod stylize;
pub mod tiling;
pub mod train;
pub mod train_arbitrary;
pub mod transformer_net;
pub mod vgg;
pub mod winograd;

pub use error::{Error, Result};
