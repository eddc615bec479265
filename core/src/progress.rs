//! Progress reporting and cancellation, shared by every variant and front end
//! (CLI progress bar, C ABI callback, GIMP/Krita progress, augment).

/// One progress report.
#[derive(Clone, Debug, Default)]
pub struct Progress {
    /// What is running: "optimise", "scale 2/3", "tile 4/12", "stylize", …
    pub stage: String,
    /// Steps done in this stage and the stage's total (0 when unknown).
    pub step: usize,
    pub total: usize,
    /// Named loss terms, for optimisation and training.
    pub losses: Vec<(&'static str, f32)>,
}

impl Progress {
    /// Fraction of this stage done, 0..1.
    pub fn fraction(&self) -> f32 {
        if self.total == 0 {
            0.0
        } else {
            (self.step as f32 / self.total as f32).clamp(0.0, 1.0)
        }
    }
}

/// What the receiver of a report wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Continue,
    Cancel,
}

/// A progress callback. Returning [`Control::Cancel`] stops the run at the
/// next check: feed-forward methods return [`crate::Error::Cancelled`],
/// optimisation returns the best image so far, marked as not completed.
pub type ProgressFn<'a> = dyn FnMut(&Progress) -> Control + 'a;

/// A callback that ignores reports and never cancels.
pub fn silent() -> impl FnMut(&Progress) -> Control {
    |_| Control::Continue
}
