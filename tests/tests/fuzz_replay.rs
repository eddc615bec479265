//! Replays every committed fuzz corpus file (tests/fuzz/corpus/TARGET/*)
//! through the same harness the fuzzer runs (`restyle_tests::fuzz::run`):
//! a regression test for every crash found and fixed, and a smoke test of
//! each parser on odd inputs. Errors are fine; a panic fails the test.

use restyle_tests::fuzz;

#[test]
fn every_corpus_file_replays_without_a_panic() {
    let mut total = 0;
    let mut panics = Vec::new();
    for target in fuzz::TARGETS {
        let dir = fuzz::corpus_dir(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        assert!(!files.is_empty(), "{target}: empty corpus");
        let mut accepted = 0;
        for f in &files {
            let data = std::fs::read(f).unwrap();
            match std::panic::catch_unwind(|| fuzz::run(target, &data)) {
                Ok(ok) => accepted += ok as usize,
                Err(_) => panics.push(f.display().to_string()),
            }
        }
        eprintln!("{target}: {} files replayed, {accepted} accepted", files.len());
        total += files.len();
    }
    assert!(panics.is_empty(), "panicked on {panics:?}");
    eprintln!("{total} corpus files replayed");
}

#[test]
fn seeds_are_accepted() {
    // The seed inputs are valid files: each target must accept its own seeds,
    // or the harness is not reaching the parser it means to test.
    // (The pytorch and wheel seeds written here are structurally valid
    // archives without the tensors an import needs, so they are rejected by
    // design; the real ones are checked below.)
    for target in ["onnx", "safetensors", "style_vector", "labels", "image", "capi"] {
        for (name, data) in fuzz::seeds(target) {
            assert!(fuzz::run(target, &data), "{target}: seed {name} rejected");
            if std::env::var_os("RESTYLE_WRITE_SEEDS").is_some() {
                std::fs::write(fuzz::corpus_dir(target).join(format!("seed-{name}")), &data).unwrap();
            }
        }
    }
}

#[test]
fn real_torch_seeds_are_imported() {
    // tests/fuzz/make_seeds.py: torch.save files (zip and legacy format,
    // DataParallel names, a wrapping dict) and a wheel holding one. They must
    // get through the import, so that the fuzzer starts inside the tensor
    // readers and the fast-network importer rather than at the archive check.
    for (target, name) in [
        ("pytorch", "seed-fast.pth"),
        ("pytorch", "seed-fast-dataparallel.pth"),
        ("pytorch", "seed-fast-wrapped.pth"),
        ("pytorch", "seed-fast-legacy.pth"),
        ("wheel", "seed-fast-pth.whl"),
    ] {
        let p = fuzz::corpus_dir(target).join(name);
        let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert!(fuzz::run(target, &data), "{target}: {name} rejected");
    }
}
