//! candle's pickle reader panics on some malformed files instead of
//! returning an error (found by fuzzing, issue 19: a LONG1 opcode of more
//! than 8 bytes overflows a shift; a tensor-rebuild tuple of fewer than four
//! items is indexed out of range). restyle runs inside host processes, so
//! every call into that reader goes through [`guarded`], which turns such a
//! panic into an error on the file.

use std::cell::Cell;

thread_local! {
    /// How many [`guarded`] calls this thread is inside.
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Runs `read` (a call into `candle_core::pickle`), a panic becoming an error.
pub(crate) fn guarded<T>(read: impl FnOnce() -> candle_core::Result<T>) -> candle_core::Result<T> {
    DEPTH.with(|d| d.set(d.get() + 1));
    // AssertUnwindSafe: on a panic, whatever `read` was building is dropped
    // and only the error leaves; the caller's state is not touched by it.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    DEPTH.with(|d| d.set(d.get() - 1));
    r.unwrap_or_else(|_| Err(candle_core::Error::Msg("malformed pickle (the reader failed on it)".into())))
}

/// Whether this thread is inside [`guarded`], where a panic becomes an
/// error: a panic hook that aborts (the fuzzer's) lets these unwind.
pub fn inside() -> bool {
    DEPTH.with(|d| d.get() > 0)
}
