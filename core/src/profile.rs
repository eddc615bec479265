//! Opt-in timing of kernels and layers by kind and shape, for `restyle
//! bench profile`: where a network spends its time, and at how many
//! GFLOP/s. Off by default; a disabled span costs one relaxed atomic load.
//!
//! Spans never nest (a layer records its own work, e.g. padding, and the
//! kernel it calls records the convolution), so their times add up; what
//! no span covers (activations, pooling, copies, allocation) is the
//! remainder of the measured total.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ENTRIES: Mutex<Option<HashMap<(&'static str, String), Entry>>> = Mutex::new(None);

/// Calls of one kind and shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// `conv`, `conv-grad-input`, `conv-grad-weight`, `depthwise`, `norm`, `padding`, `upsample`, …
    pub kind: &'static str,
    /// The shape, e.g. `3x3 s1 128→128 @ 64×64 [winograd]`.
    pub label: String,
    pub calls: u64,
    pub seconds: f64,
    /// Floating-point operations of all calls (multiply-add = 2), 0 when not counted.
    pub flops: u64,
}

/// Starts or stops recording (recorded entries are kept until [`take`]).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

pub fn is_enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The entries recorded so far, slowest first; recording starts afresh.
pub fn take() -> Vec<Entry> {
    let mut guard = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
    let mut v: Vec<Entry> = guard.take().map(|m| m.into_values().collect()).unwrap_or_default();
    v.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    v
}

/// A running span; records its time when dropped.
pub struct Span {
    kind: &'static str,
    label: String,
    flops: u64,
    start: Instant,
}

/// Times the scope that holds the returned span when profiling is on;
/// `label` is only built then.
pub fn span(kind: &'static str, label: impl FnOnce() -> String, flops: u64) -> Option<Span> {
    is_enabled().then(|| Span { kind, label: label(), flops, start: Instant::now() })
}

impl Drop for Span {
    fn drop(&mut self) {
        let seconds = self.start.elapsed().as_secs_f64();
        let mut guard = ENTRIES.lock().unwrap_or_else(|e| e.into_inner());
        let e = guard.get_or_insert_with(HashMap::new).entry((self.kind, std::mem::take(&mut self.label))).or_insert_with_key(|k| Entry {
            kind: k.0,
            label: k.1.clone(),
            calls: 0,
            seconds: 0.0,
            flops: 0,
        });
        e.calls += 1;
        e.seconds += seconds;
        e.flops += self.flops;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_add_up_by_kind_and_shape_only_when_enabled() {
        // Other tests run kernels in this process while the switch is on, so
        // only this test's own kinds are looked at.
        let mine = |v: Vec<Entry>| v.into_iter().filter(|e| e.kind.starts_with("test-")).collect::<Vec<_>>();
        {
            let _off = span("test-conv", || "never".into(), 1);
        }
        assert!(mine(take()).is_empty(), "a disabled span recorded something");
        enable(true);
        for _ in 0..3 {
            let _s = span("test-conv", || "3x3".into(), 10);
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        {
            let _s = span("test-norm", || "64".into(), 0);
        }
        enable(false);
        let v = mine(take());
        let conv = v.iter().find(|e| e.kind == "test-conv").expect("conv entry");
        assert_eq!((conv.calls, conv.flops, conv.label.as_str()), (3, 30, "3x3"));
        assert!(conv.seconds >= 0.006, "{conv:?}");
        assert_eq!(v.len(), 2);
        assert!(mine(take()).is_empty(), "take drains");
    }
}
