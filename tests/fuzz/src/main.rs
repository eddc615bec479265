//! One libFuzzer binary for every target: `RESTYLE_FUZZ_TARGET` names the
//! harness (`restyle_tests::fuzz::TARGETS`), whose function in
//! `restyle_tests::fuzz` gets the input: the same code that
//! `tests/tests/fuzz_replay.rs` replays over the committed corpus in CI.
//! libFuzzer turns a panic into a crash (its panic hook aborts) and reports
//! timeouts and memory blow-ups, except a panic that restyle itself turns
//! into an error (`fuzz::panic_is_guarded`), which must unwind to its
//! guard as it does for users. Built and run by `fuzz.sh`.
#![no_main]

use restyle_tests::fuzz;
use std::sync::OnceLock;

fn target() -> &'static str {
    static T: OnceLock<String> = OnceLock::new();
    T.get_or_init(|| {
        let t = std::env::var("RESTYLE_FUZZ_TARGET").unwrap_or_default();
        if !fuzz::TARGETS.contains(&t.as_str()) {
            eprintln!("RESTYLE_FUZZ_TARGET must be one of {:?}, got {t:?}", fuzz::TARGETS);
            std::process::exit(2);
        }
        t
    })
}

/// libfuzzer-sys's hook (set before `init`) aborts on every panic; keep it
/// for all but the guarded ones.
fn let_guarded_panics_unwind() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !fuzz::panic_is_guarded() {
            abort(info);
        }
    }));
}

libfuzzer_sys::fuzz_target!(init: { target(); let_guarded_panics_unwind(); }, |data: &[u8]| {
    fuzz::run(target(), data);
});
