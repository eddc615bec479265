//! Random styles: style vectors z ~ N(μ, Σ) as in Style Augmentation
//! (Jackson et al. 2019), with μ and Σ fitted to the arbitrary network's
//! style vectors of a folder of paintings, or the shipped default set
//! (`core/styles/`). The one place this policy lives: `restyle-augment
//! --random-style` and the Python package's `style="random"` both draw here,
//! so a key gives the same vector in each.

use crate::rng::Stream;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// μ and Σ of style vectors, fitted by `restyle-augment fit-styles`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StyleDistribution {
    /// What the vectors came from (e.g. "14 paintings of ../shared/data/style").
    pub source: String,
    pub count: usize,
    pub dim: usize,
    pub mean: Vec<f64>,
    /// Row-major `dim × dim` covariance.
    pub covariance: Vec<f64>,
    /// Lower-triangular Cholesky factor of Σ (+ a small ridge), computed on load.
    #[serde(skip)]
    factor: Vec<f64>,
}

/// The default distribution, fitted to the 14 paintings of `../shared/data/style`
/// with the Magenta arbitrary network (see `core/styles/README.md`).
pub const DEFAULT_DISTRIBUTION_JSON: &str = include_str!("../styles/default-style-distribution.json");

impl StyleDistribution {
    /// Empirical mean and covariance (unbiased) of `vectors`.
    pub fn fit(vectors: &[Vec<f32>], source: impl Into<String>) -> Result<Self> {
        let n = vectors.len();
        if n < 2 {
            return Err(Error::InvalidArgument(format!("need at least 2 style images to fit a distribution, got {n}")));
        }
        let dim = vectors[0].len();
        if vectors.iter().any(|v| v.len() != dim) {
            return Err(Error::InvalidArgument("style vectors differ in length".into()));
        }
        let mut mean = vec![0f64; dim];
        for v in vectors {
            for (m, x) in mean.iter_mut().zip(v) {
                *m += *x as f64 / n as f64;
            }
        }
        let mut covariance = vec![0f64; dim * dim];
        for v in vectors {
            for i in 0..dim {
                let di = v[i] as f64 - mean[i];
                for j in 0..dim {
                    covariance[i * dim + j] += di * (v[j] as f64 - mean[j]) / (n - 1) as f64;
                }
            }
        }
        let mut d = StyleDistribution { source: source.into(), count: n, dim, mean, covariance, factor: Vec::new() };
        d.factorize()?;
        Ok(d)
    }

    /// Reads a distribution written by [`StyleDistribution::to_json`];
    /// `origin` names it in errors (a file name).
    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let bad = |why: String| Error::InvalidArgument(format!("{origin}: {why}"));
        let mut d: StyleDistribution = serde_json::from_str(text).map_err(|e| bad(format!("not a style distribution: {e}")))?;
        if d.mean.len() != d.dim || d.covariance.len() != d.dim * d.dim {
            return Err(bad("mean/covariance sizes do not match dim".into()));
        }
        d.factorize()?;
        Ok(d)
    }

    pub fn default_set() -> Result<Self> {
        Self::from_json(DEFAULT_DISTRIBUTION_JSON, "built-in default style distribution")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("distribution serialises")
    }

    /// Cholesky of Σ + εI. Σ from fewer paintings than dimensions is
    /// singular; the ridge (grown until the factorisation succeeds) keeps the
    /// draws inside the paintings' span up to a negligible isotropic part.
    fn factorize(&mut self) -> Result<()> {
        let n = self.dim;
        let trace: f64 = (0..n).map(|i| self.covariance[i * n + i]).sum();
        let mut eps = (trace / n as f64).max(1e-12) * 1e-6;
        for _ in 0..12 {
            if let Some(l) = cholesky(&self.covariance, n, eps) {
                self.factor = l;
                return Ok(());
            }
            eps *= 10.0;
        }
        Err(Error::InvalidArgument("style covariance is not positive semi-definite".into()))
    }

    /// z = μ + L n, n ~ N(0, I), from the given stream.
    pub fn sample(&self, stream: &mut Stream) -> Vec<f32> {
        let n = self.dim;
        let g: Vec<f64> = (0..n).map(|_| stream.normal()).collect();
        (0..n)
            .map(|i| {
                let mut z = self.mean[i];
                for j in 0..=i {
                    z += self.factor[i * n + j] * g[j];
                }
                z as f32
            })
            .collect()
    }

    /// The vector of a key: `restyle-augment`'s random style draws and the
    /// Python package's `style="random"` with `seed=key`.
    pub fn sample_key(&self, key: u64) -> Vec<f32> {
        self.sample(&mut Stream::new(key, "", "style-vector"))
    }
}

fn cholesky(a: &[f64], n: usize, eps: f64) -> Option<Vec<f64>> {
    let mut l = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j] + if i == j { eps } else { 0.0 };
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    Some(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitted_samples_match_mean_and_covariance() {
        // Vectors on a 2-d plane inside 4-d: Σ is singular, sampling must still work.
        let mut s = Stream::new(9, "fit", "data");
        let vectors: Vec<Vec<f32>> = (0..400)
            .map(|_| {
                let (a, b) = (s.normal(), s.normal());
                vec![(1.0 + 2.0 * a) as f32, (-1.0 + a - b) as f32, (0.5 * b) as f32, (3.0 + a + b) as f32]
            })
            .collect();
        let d = StyleDistribution::fit(&vectors, "test").unwrap();
        let d = StyleDistribution::from_json(&d.to_json(), "round trip").unwrap();
        let samples: Vec<Vec<f32>> = (0..4000).map(|k| d.sample_key(k)).collect();
        let refit = StyleDistribution::fit(&samples, "refit").unwrap();
        for i in 0..4 {
            assert!((refit.mean[i] - d.mean[i]).abs() < 0.1, "mean {i}: {} vs {}", refit.mean[i], d.mean[i]);
            for j in 0..4 {
                let (a, b) = (refit.covariance[i * 4 + j], d.covariance[i * 4 + j]);
                assert!((a - b).abs() < 0.1 * (1.0 + b.abs()), "cov {i},{j}: {a} vs {b}");
            }
        }
        assert_eq!(d.sample_key(5), d.sample_key(5));
        assert_ne!(d.sample_key(5), d.sample_key(6));
    }

    #[test]
    fn too_few_vectors_are_refused() {
        assert!(StyleDistribution::fit(&[vec![1.0, 2.0]], "one").is_err());
    }

    #[test]
    fn the_default_set_loads_and_bad_files_are_refused() {
        let d = StyleDistribution::default_set().unwrap();
        assert_eq!((d.dim, d.mean.len()), (100, 100));
        assert!(d.sample_key(3).iter().all(|x| x.is_finite()));
        let e = StyleDistribution::from_json("{}", "d.json").unwrap_err().to_string();
        assert!(e.contains("d.json") && e.contains("not a style distribution"), "{e}");
        let e = StyleDistribution::from_json(r#"{"source":"x","count":2,"dim":2,"mean":[0,0],"covariance":[1,0,0]}"#, "d.json")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sizes do not match"), "{e}");
    }
}
