//! A plain mutation fuzzer over restyle's parsers (stable Rust, no coverage
//! feedback): start from the corpus, mutate (bit flips, interesting integers
//! — lengths and sizes near type limits —, insertions, deletions,
//! duplications, truncation, splicing), run the harness, and keep every input
//! that panicked. An abort (e.g. a failed allocation) kills the process: the
//! input being run is always in `$TMPDIR/restyle-fuzz-TARGET.cur`, so the
//! script that runs this copies it to the crash folder.
//!
//! cargo run --manifest-path tests/fuzz/Cargo.toml -- seed
//! cargo run --manifest-path tests/fuzz/Cargo.toml -- run TARGET SECONDS

use restyle_tests::fuzz;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const INTERESTING: &[u64] = &[0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0xffff_ffff, 0x8000_0000, u64::MAX, i64::MAX as u64, 100000, 65536];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>, other: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let n = data.len();
        match rng.below(9) {
            0 if n > 0 => {
                let i = rng.below(n);
                data[i] ^= 1 << rng.below(8);
            }
            1 if n > 0 => {
                let i = rng.below(n);
                data[i] = rng.next() as u8;
            }
            2 if n > 0 => {
                let v = INTERESTING[rng.below(INTERESTING.len())];
                let w = [1, 2, 4, 8][rng.below(4)];
                let i = rng.below(n);
                let bytes = if rng.below(2) == 0 { v.to_le_bytes() } else { v.to_be_bytes() };
                for k in 0..w.min(n - i) {
                    data[i + k] = bytes[k];
                }
            }
            3 => {
                let i = rng.below(n + 1);
                let len = 1 + rng.below(16);
                let ins: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                data.splice(i..i, ins);
            }
            4 if n > 1 => {
                let i = rng.below(n);
                let len = 1 + rng.below((n - i).min(64));
                data.drain(i..i + len);
            }
            5 if n > 1 => {
                let i = rng.below(n);
                let len = 1 + rng.below((n - i).min(64));
                let chunk = data[i..i + len].to_vec();
                let j = rng.below(n);
                data.splice(j..j, chunk);
            }
            6 if n > 0 => data.truncate(rng.below(n)),
            7 if !other.is_empty() => {
                let i = rng.below(n + 1);
                let j = rng.below(other.len());
                data.truncate(i);
                data.extend_from_slice(&other[j..]);
            }
            _ if n > 0 => {
                // ASCII digits / JSON-ish tokens for the text formats.
                let tokens: &[&[u8]] = &[b"NaN", b"-1", b"1e999", b"\"", b"{", b"[", b",", b"\n", b" ", b"\xe9", b"\0", b"99999999999"];
                let t = tokens[rng.below(tokens.len())];
                let i = rng.below(n);
                data.splice(i..i, t.iter().copied());
            }
            _ => data.push(rng.next() as u8),
        }
    }
    data.truncate(1 << 20);
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz::corpus_dir(target);
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v.into_iter().map(|p| (p.clone(), std::fs::read(&p).unwrap_or_default())).collect()
}

fn save(dir: &Path, data: &[u8]) -> PathBuf {
    std::fs::create_dir_all(dir).expect("folder");
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h = (h ^ *b as u64).wrapping_mul(0x100_0000_01b3);
    }
    let p = dir.join(format!("{h:016x}"));
    std::fs::write(&p, data).expect("write");
    p
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("seed") => {
            for t in fuzz::TARGETS {
                let dir = fuzz::corpus_dir(t);
                std::fs::create_dir_all(&dir).expect("corpus folder");
                for (name, data) in fuzz::seeds(t) {
                    std::fs::write(dir.join(format!("seed-{name}")), data).expect("write seed");
                }
            }
        }
        Some("run") => {
            let target = args.get(2).expect("target").as_str();
            let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(60);
            let keep: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(8);
            let seeds = corpus(target);
            assert!(!seeds.is_empty(), "no corpus for {target}: run `seed` first");
            let cur = std::env::temp_dir().join(format!("restyle-fuzz-{target}.cur"));
            let crashes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("crashes").join(target);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ std::process::id() as u64 ^ Instant::now().elapsed().as_nanos() as u64 ^ secs);
            std::panic::set_hook(Box::new(|_| {}));
            let t0 = Instant::now();
            let (mut execs, mut accepted, mut panics) = (0u64, 0u64, 0u64);
            let mut kept = Vec::new();
            while t0.elapsed() < Duration::from_secs(secs) {
                let (_, base) = &seeds[rng.below(seeds.len())];
                let (_, other) = &seeds[rng.below(seeds.len())];
                let mut data = base.clone();
                mutate(&mut rng, &mut data, other);
                let _ = std::fs::write(&cur, &data);
                match std::panic::catch_unwind(|| fuzz::run(target, &data)) {
                    Ok(true) => {
                        accepted += 1;
                        // Keep a few small accepted mutants: odd but valid inputs for the replay corpus.
                        if kept.len() < keep && data.len() <= 4096 && rng.below(50) == 0 {
                            kept.push(data.clone());
                        }
                    }
                    Ok(false) => {}
                    Err(_) => {
                        panics += 1;
                        let p = save(&crashes, &data);
                        eprintln!("PANIC: {}", p.display());
                    }
                }
                execs += 1;
            }
            for d in &kept {
                save(&fuzz::corpus_dir(target), d);
            }
            let _ = std::fs::remove_file(&cur);
            println!(
                "{target}: {execs} execs in {:.0} s ({:.0}/s), {accepted} accepted, {panics} panics, {} kept",
                t0.elapsed().as_secs_f64(),
                execs as f64 / t0.elapsed().as_secs_f64(),
                kept.len()
            );
        }
        _ => eprintln!("usage: restyle-fuzz seed | run TARGET SECONDS [KEEP]"),
    }
}
