//! restyle-core: every classic neural style transfer variant on candle.
//!
//! Layered, dependencies pointing one way (top uses bottom, never the reverse):
//!
//! | module | what it holds |
//! | --- | --- |
//! | [`stylize`] | the one entry point every front end uses ([`stylize::Stylizer`]) |
//! | [`request`], [`method`] | what to do for one image; which method (names, defaults, loading) |
//! | [`nst`] | optimisation NST: Gatys basic/improved, losses, optimisers |
//! | [`train`] | training the feed-forward networks (fast, arbitrary) |
//! | [`models`] | the networks: config + `new(vb)` + `forward`, no file I/O |
//! | [`nn`] | layers: padding, norms, reflect conv, tiling with shared statistics |
//! | [`ops`] | CPU kernels the layers lower to (gemm, convolutions, norms) |
//! | [`video`] | video: optical flow, temporal consistency, ffmpeg pipes, the frame pipeline |
//! | [`image`] | codecs, resizing, colour |
//! | [`budget`] | the memory budget: a request's estimated working memory, checked before allocating |
//! | [`style_distribution`] | random styles: style vectors drawn from N(μ, Σ) of paintings (augment, Python) |
//! | [`device`], [`error`], [`progress`], [`fsio`], [`profile`], [`rng`] | leaves used everywhere |

pub mod alloc;
pub mod budget;
pub mod device;
pub mod error;
pub mod fsio;
pub mod image;
pub mod method;
pub mod models;
pub mod nn;
pub mod nst;
pub mod ops;
pub mod profile;
pub mod progress;
pub mod request;
pub mod rng;
pub mod style_distribution;
pub mod stylize;
pub mod train;
pub mod video;

pub use error::{Error, Result};
