//! candle's pickle reader panics on some malformed files instead of
//! returning an error (found by fuzzing, issue 19: a LONG1 opcode of more
//! than 8 bytes overflows a shift; a tensor-rebuild tuple of fewer than four
//! items is indexed out of range). restyle runs inside host processes, so
//! every call into that reader goes through [`guarded`], which turns such a
//! panic into an error on the file.

/// Runs `read` (a call into `candle_core::pickle`), a panic becoming an error.
pub(crate) fn guarded<T>(read: impl FnOnce() -> candle_core::Result<T>) -> candle_core::Result<T> {
    // AssertUnwindSafe: on a panic, whatever `read` was building is dropped
    // and only the error leaves; the caller's state is not touched by it.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .unwrap_or_else(|_| Err(candle_core::Error::Msg("malformed pickle (the reader failed on it)".into())))
}
