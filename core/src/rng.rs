//! Deterministic randomness keyed by (seed, name, purpose): a SHA-256
//! counter stream.
//!
//! `restyle-augment` draws every choice for an output (selected or not,
//! which style, strength, the random style vector, the network's seed) from
//! a stream of the run's seed, the source's relative path and what the draw
//! is for, so results do not depend on thread count, batch order, sharding
//! or resumption, and stay the same across versions of any RNG crate. The
//! random style vectors of [`crate::style_distribution`] come from the same
//! streams, so a seed gives the same vector in every front end.

use sha2::{Digest, Sha256};

pub struct Stream {
    key: [u8; 32],
    counter: u64,
    buf: [u8; 32],
    used: usize,
}

impl Stream {
    pub fn new(seed: u64, rel: &str, purpose: &str) -> Self {
        let mut h = Sha256::new();
        // The original domain tag, kept so that existing runs draw the same values.
        h.update(b"restyle-augment/v1\0");
        h.update(seed.to_le_bytes());
        h.update((rel.len() as u64).to_le_bytes());
        h.update(rel.as_bytes());
        h.update(purpose.as_bytes());
        Stream { key: h.finalize().into(), counter: 0, buf: [0; 32], used: 32 }
    }

    pub fn next_u64(&mut self) -> u64 {
        if self.used + 8 > 32 {
            let mut h = Sha256::new();
            h.update(self.key);
            h.update(self.counter.to_le_bytes());
            self.buf = h.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let v = u64::from_le_bytes(self.buf[self.used..self.used + 8].try_into().expect("8 bytes"));
        self.used += 8;
        v
    }

    /// Uniform in [0, 1) with 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in 0..n (n > 0); the modulo bias is below 2^-40 for any
    /// realistic n.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // (0, 1]
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_keyed_and_reproducible() {
        let a: Vec<u64> = { let mut s = Stream::new(7, "a/b.jpg", "style"); (0..6).map(|_| s.next_u64()).collect() };
        let b: Vec<u64> = { let mut s = Stream::new(7, "a/b.jpg", "style"); (0..6).map(|_| s.next_u64()).collect() };
        let c: Vec<u64> = { let mut s = Stream::new(8, "a/b.jpg", "style"); (0..6).map(|_| s.next_u64()).collect() };
        let d: Vec<u64> = { let mut s = Stream::new(7, "a/c.jpg", "style"); (0..6).map(|_| s.next_u64()).collect() };
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn normal_draws_have_unit_moments() {
        let mut s = Stream::new(1, "x", "n");
        let v: Vec<f64> = (0..20000).map(|_| s.normal()).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }
}
