//! The networks, each in the manner of candle-transformers' `models/`: a
//! config, builders taking a `VarBuilder` whose names are the checkpoint
//! keys, one constructor and `forward`. No file I/O here: finding and
//! opening weights is [`crate::method`]'s job.

pub mod adain;
pub mod arbitrary;
pub mod multistyle;
pub mod transformer_net;
pub mod vgg;
