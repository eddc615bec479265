//! Optimisation NST (Gatys et al.; the improved variants): the losses, the
//! optimisers and the method itself.

pub mod gatys;
pub mod loss;
pub mod optim;
