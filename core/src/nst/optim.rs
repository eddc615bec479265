//! Optimisers over one tensor variable (the image in optimisation NST):
//! L-BFGS with a backtracking (Armijo) line search, and Adam.
//!
//! Both take an objective `f(x) -> (loss, ∂loss/∂x)` and are device-agnostic
//! (plain tensor ops; dot products read one scalar back per history entry).

use crate::{Error, Result};
use candle_core::Tensor;
use std::collections::VecDeque;

/// An objective: loss and gradient at `x` (gradient has `x`'s shape).
pub trait Objective {
    fn eval(&mut self, x: &Tensor) -> Result<(f32, Tensor)>;
}

impl<F: FnMut(&Tensor) -> Result<(f32, Tensor)>> Objective for F {
    fn eval(&mut self, x: &Tensor) -> Result<(f32, Tensor)> {
        self(x)
    }
}

/// One optimiser step's outcome.
#[derive(Clone, Copy, Debug)]
pub struct StepInfo {
    /// Loss at the current point after the step.
    pub loss: f32,
    /// Objective evaluations this step used.
    pub evals: usize,
    /// False when no decrease could be found (converged or stuck).
    pub moved: bool,
}

/// Common interface so that Gatys can switch optimisers.
pub trait Optimizer {
    fn step(&mut self, f: &mut dyn Objective) -> Result<StepInfo>;
    /// The current point.
    fn x(&self) -> &Tensor;
}

fn dot(a: &Tensor, b: &Tensor) -> Result<f64> {
    Ok(a.mul(b)?.sum_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?)
}

/// L-BFGS settings.
#[derive(Clone, Copy, Debug)]
pub struct LbfgsConfig {
    /// Pairs (s, y) kept.
    pub history: usize,
    /// Armijo sufficient-decrease constant.
    pub c1: f64,
    /// Evaluations allowed in one line search.
    pub max_line_search: usize,
    /// Keep every element of x within (low, high): each trial point is
    /// clamped (a projected line search). For an image this makes the point
    /// optimised the image that is saved.
    pub bounds: Option<(f32, f32)>,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig { history: 10, c1: 1e-4, max_line_search: 10, bounds: None }
    }
}

/// `x` clamped to `bounds`, if any.
fn project(x: Tensor, bounds: Option<(f32, f32)>) -> Result<Tensor> {
    Ok(match bounds {
        Some((lo, hi)) => x.clamp(lo, hi)?,
        None => x,
    })
}

pub struct Lbfgs {
    cfg: LbfgsConfig,
    x: Tensor,
    /// Loss and gradient at `x`, once evaluated.
    fg: Option<(f32, Tensor)>,
    hist: VecDeque<(Tensor, Tensor, f64)>, // (s, y, 1/(y·s))
}

impl Lbfgs {
    pub fn new(x0: Tensor, cfg: LbfgsConfig) -> Self {
        Lbfgs { cfg, x: x0, fg: None, hist: VecDeque::new() }
    }

    /// Two-loop recursion: −H·g.
    fn direction(&self, g: &Tensor) -> Result<Tensor> {
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(self.hist.len());
        for (s, y, rho) in self.hist.iter().rev() {
            let a = rho * dot(s, &q)?;
            q = (q - (y * a)?)?;
            alphas.push(a);
        }
        if let Some((s, y, _)) = self.hist.back() {
            let gamma = dot(s, y)? / dot(y, y)?.max(1e-30);
            q = (q * gamma)?;
        }
        for ((s, y, rho), a) in self.hist.iter().zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q)?;
            q = (q + (s * (a - b))?)?;
        }
        Ok(q.neg()?)
    }
}

impl Optimizer for Lbfgs {
    fn x(&self) -> &Tensor {
        &self.x
    }

    fn step(&mut self, f: &mut dyn Objective) -> Result<StepInfo> {
        let mut evals = 0;
        let (loss, g) = match self.fg.take() {
            Some(fg) => fg,
            None => {
                evals += 1;
                f.eval(&self.x)?
            }
        };
        if !loss.is_finite() {
            return Err(Error::InvalidArgument(format!("objective is not finite ({loss}) at the current point")));
        }
        let mut d = self.direction(&g)?;
        let mut gtd = dot(&g, &d)?;
        if gtd >= 0.0 || !gtd.is_finite() {
            // not a descent direction: restart from steepest descent
            self.hist.clear();
            d = g.neg()?;
            gtd = dot(&g, &d)?;
        }
        if gtd == 0.0 {
            self.fg = Some((loss, g));
            return Ok(StepInfo { loss, evals, moved: false });
        }
        // First step without curvature information: unit step in the sup
        // norm of the gradient (as torch.optim.LBFGS: min(1, 1/|g|₁)·g is too
        // short for images; max-norm scaling moves the worst pixel by ~0.05).
        let mut t = if self.hist.is_empty() {
            let gmax = g.abs()?.max_all()?.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
            0.05 / gmax.max(1e-30)
        } else {
            1.0
        };
        for _ in 0..self.cfg.max_line_search {
            let x_new = project((&self.x + (&d * t)?)?, self.cfg.bounds)?;
            let s = (&x_new - &self.x)?;
            // the decrease the (projected) step promises to first order
            let gts = if self.cfg.bounds.is_some() { dot(&g, &s)? } else { t * gtd };
            if gts >= 0.0 {
                // the bounds cut the step down to nothing downhill: this is a
                // constrained minimum along d
                break;
            }
            let (f_new, g_new) = f.eval(&x_new)?;
            evals += 1;
            if f_new.is_finite() && (f_new as f64) <= loss as f64 + self.cfg.c1 * gts {
                let y = (&g_new - &g)?;
                let ys = dot(&y, &s)?;
                if ys > 1e-10 {
                    if self.hist.len() == self.cfg.history {
                        self.hist.pop_front();
                    }
                    self.hist.push_back((s, y, 1.0 / ys));
                }
                self.x = x_new;
                self.fg = Some((f_new, g_new));
                return Ok(StepInfo { loss: f_new, evals, moved: true });
            }
            // quadratic interpolation of the step, kept within [0.1t, 0.5t]
            let denom = 2.0 * (f_new as f64 - loss as f64 - gtd * t);
            let t_q = if denom > 0.0 && f_new.is_finite() { -gtd * t * t / denom } else { 0.5 * t };
            t = t_q.clamp(0.1 * t, 0.5 * t);
        }
        // no sufficient decrease: drop curvature pairs so the next step restarts
        self.hist.clear();
        self.fg = Some((loss, g));
        Ok(StepInfo { loss, evals, moved: false })
    }
}

/// Adam settings.
#[derive(Clone, Copy, Debug)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Keep every element of x within (low, high) after each update.
    pub bounds: Option<(f32, f32)>,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig { lr: 0.02, beta1: 0.9, beta2: 0.999, eps: 1e-8, bounds: None }
    }
}

pub struct Adam {
    cfg: AdamConfig,
    x: Tensor,
    m: Tensor,
    v: Tensor,
    t: i32,
}

impl Adam {
    pub fn new(x0: Tensor, cfg: AdamConfig) -> Result<Self> {
        let m = x0.zeros_like()?;
        let v = x0.zeros_like()?;
        Ok(Adam { cfg, x: x0, m, v, t: 0 })
    }
}

impl Optimizer for Adam {
    fn x(&self) -> &Tensor {
        &self.x
    }

    /// Reports the loss at the point before the update (the one evaluated).
    fn step(&mut self, f: &mut dyn Objective) -> Result<StepInfo> {
        let (loss, g) = f.eval(&self.x)?;
        if !loss.is_finite() {
            return Err(Error::InvalidArgument(format!("objective is not finite ({loss})")));
        }
        let c = &self.cfg;
        self.t += 1;
        self.m = ((&self.m * c.beta1)? + (&g * (1.0 - c.beta1))?)?;
        self.v = ((&self.v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?;
        let mhat = (&self.m / (1.0 - c.beta1.powi(self.t)))?;
        let vhat = (&self.v / (1.0 - c.beta2.powi(self.t)))?;
        let upd = (mhat / (vhat.sqrt()? + c.eps)?)?;
        self.x = project((&self.x - (upd * c.lr)?)?, c.bounds)?;
        Ok(StepInfo { loss, evals: 1, moved: true })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// Ill-conditioned quadratic ½ Σ aᵢ (xᵢ − 1)², minimum 0 at 1.
    fn quad(x: &Tensor) -> Result<(f32, Tensor)> {
        let a = Tensor::new(&[1f32, 10., 100., 0.5], x.device())?;
        let d = (x - 1.0)?;
        let loss = (a.mul(&d.sqr()?)?.sum_all()? * 0.5)?.to_scalar::<f32>()?;
        Ok((loss, a.mul(&d)?))
    }

    #[test]
    fn lbfgs_minimises_ill_conditioned_quadratic() {
        let x0 = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut opt = Lbfgs::new(x0, LbfgsConfig::default());
        let mut f = quad;
        let mut last = f32::INFINITY;
        for _ in 0..30 {
            let s = opt.step(&mut f).unwrap();
            assert!(s.loss <= last + 1e-6, "loss rose: {} > {last}", s.loss);
            last = s.loss;
        }
        assert!(last < 1e-6, "final loss {last}");
    }

    /// Minimum at 1 for every element; bounds (0, 0.5) put the constrained
    /// minimum on the upper bound, and no trial point may leave them.
    #[test]
    fn bounded_lbfgs_and_adam_stay_inside_and_reach_the_bound() {
        let inside = |x: &Tensor| x.flatten_all().unwrap().to_vec1::<f32>().unwrap().iter().all(|v| (0.0..=0.5).contains(v));
        let mut f = |x: &Tensor| {
            assert!(inside(x), "evaluated outside the bounds: {x}");
            quad(x)
        };
        let x0 = Tensor::new(&[0.1f32, 0.2, 0.3, 0.4], &Device::Cpu).unwrap();
        let mut lbfgs = Lbfgs::new(x0.clone(), LbfgsConfig { bounds: Some((0.0, 0.5)), ..Default::default() });
        for _ in 0..30 {
            lbfgs.step(&mut f).unwrap();
        }
        let mut adam = Adam::new(x0, AdamConfig { lr: 0.05, bounds: Some((0.0, 0.5)), ..Default::default() }).unwrap();
        for _ in 0..200 {
            adam.step(&mut f).unwrap();
        }
        for x in [lbfgs.x(), adam.x()] {
            assert!(inside(x));
            let v = x.to_vec1::<f32>().unwrap();
            assert!(v.iter().all(|&e| (e - 0.5).abs() < 1e-3), "not at the bound: {v:?}");
        }
    }

    #[test]
    fn adam_decreases_quadratic() {
        let x0 = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        let mut opt = Adam::new(x0, AdamConfig { lr: 0.05, ..Default::default() }).unwrap();
        let mut f = quad;
        let first = opt.step(&mut f).unwrap().loss;
        let mut last = first;
        for _ in 0..300 {
            last = opt.step(&mut f).unwrap().loss;
        }
        assert!(last < first * 1e-2, "{first} → {last}");
    }
}
