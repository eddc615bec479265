//! End-to-end tests live in tests/tests/*.rs; [`fuzz`] holds the fuzz
//! harnesses shared by the fuzzer (tests/fuzz/) and the corpus replay test.

pub mod fuzz;
