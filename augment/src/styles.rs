//! Where styles come from: a folder of style images (one picked at random
//! per output), or random style vectors z ~ N(μ, Σ) as in Style
//! Augmentation, with μ and Σ fitted to the style vectors of a folder of
//! paintings or taken from the shipped default set.

use crate::plan::StyleDraw;
use crate::rng::Stream;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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
/// with the Magenta arbitrary network (see `augment/styles/README.md`).
pub const DEFAULT_DISTRIBUTION_JSON: &str = include_str!("../styles/default-style-distribution.json");

impl StyleDistribution {
    /// Empirical mean and covariance (unbiased) of `vectors`.
    pub fn fit(vectors: &[Vec<f32>], source: impl Into<String>) -> Result<Self> {
        let n = vectors.len();
        if n < 2 {
            return Err(Error::Usage(format!("need at least 2 style images to fit a distribution, got {n}")));
        }
        let dim = vectors[0].len();
        if vectors.iter().any(|v| v.len() != dim) {
            return Err(Error::Usage("style vectors differ in length".into()));
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

    pub fn from_json(text: &str, origin: &str) -> Result<Self> {
        let mut d: StyleDistribution =
            serde_json::from_str(text).map_err(|e| Error::parse(origin, format!("not a style distribution: {e}")))?;
        if d.mean.len() != d.dim || d.covariance.len() != d.dim * d.dim {
            return Err(Error::parse(origin, "mean/covariance sizes do not match dim"));
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
        Err(Error::Usage("style covariance is not positive semi-definite".into()))
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

    /// The vector of a [`crate::plan::StyleDraw::Random`] key.
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

/// The styles of a run.
pub enum StyleSource {
    /// Style images, sorted by file name.
    Images { dir: PathBuf, files: Vec<String> },
    /// Random style vectors.
    Random(StyleDistribution),
    /// The network's own styles (multistyle26): one of `ids` per output, or,
    /// with `blend`, a random mix of two of them. `total` is the network's
    /// number of styles (the length of a blend vector).
    Builtin { ids: Vec<usize>, total: usize, blend: bool },
    /// A network with one style (fast NST), named by its model.
    Fixed(String),
}

/// The style images in `dir` (sorted; none → error).
pub fn list_style_images(dir: &Path) -> Result<Vec<String>> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(format!("cannot read style folder {}", dir.display()), e))?;
    let mut files = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(format!("cannot read style folder {}", dir.display()), e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && entry.path().is_file() && crate::layout::is_image(&entry.path()) {
            files.push(name);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Usage(format!("no style images (jpg, png, webp, tif) in {}", dir.display())));
    }
    Ok(files)
}

impl StyleSource {
    /// Style images are decoded once before a run starts, so that a corrupt
    /// painting is found before any work rather than partway through: for
    /// [`StyleSource::Images`], the source restricted to the images that
    /// decode, and the others with the reason; `None` for every other
    /// source (nothing to check). No usable image at all is an error.
    ///
    /// The run settings record the usable set ([`StyleSource::identity`] of
    /// the result), so a run resumed after the user removed a bad painting
    /// sees the same styles and continues.
    pub fn without_undecodable(&self) -> Result<Option<(StyleSource, Vec<crate::state::Skipped>)>> {
        let StyleSource::Images { dir, files } = self else { return Ok(None) };
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for f in files {
            match restyle_core::image::load(dir.join(f)) {
                Ok(_) => good.push(f.clone()),
                Err(e) => bad.push(crate::state::Skipped { source: f.clone(), reason: format!("style image cannot be decoded: {e}") }),
            }
        }
        if good.is_empty() {
            let why: Vec<String> = bad.iter().map(|b| format!("{}: {}", b.source, b.reason)).collect();
            return Err(Error::Usage(format!(
                "none of the {} style images in {} can be decoded ({})",
                files.len(),
                dir.display(),
                why.join("; ")
            )));
        }
        Ok(Some((StyleSource::Images { dir: dir.clone(), files: good }, bad)))
    }

    /// Number of style images, or `None` for random vectors (what [`crate::plan::plan`] takes).
    pub fn count(&self) -> Option<usize> {
        match self {
            StyleSource::Images { files, .. } => Some(files.len()),
            StyleSource::Random(_) | StyleSource::Builtin { blend: true, .. } => None,
            StyleSource::Builtin { ids, .. } => Some(ids.len()),
            StyleSource::Fixed(_) => Some(1),
        }
    }

    /// The blend vector of a built-in style draw: one-hot for
    /// [`StyleDraw::Image`], a mix `t : 1−t` of two distinct allowed styles
    /// (t uniform) for [`StyleDraw::Random`]. `None` for other sources.
    pub fn blend(&self, draw: StyleDraw) -> Option<Vec<f32>> {
        let StyleSource::Builtin { ids, total, .. } = self else { return None };
        let mut w = vec![0f32; *total];
        match draw {
            StyleDraw::Image(i) => w[ids[i]] = 1.0,
            StyleDraw::Random(key) => {
                let mut s = Stream::new(key, "", "style-blend");
                let a = s.below(ids.len());
                if ids.len() == 1 {
                    w[ids[a]] = 1.0;
                } else {
                    let b = (a + 1 + s.below(ids.len() - 1)) % ids.len();
                    let t = s.uniform() as f32;
                    w[ids[a]] = t;
                    w[ids[b]] = 1.0 - t;
                }
            }
        }
        Some(w)
    }

    /// What identifies these styles, so that a resumed run or another shard
    /// can check it uses the same ones: file names with content hashes, or
    /// the distribution's hash.
    pub fn identity(&self) -> Result<serde_json::Value> {
        Ok(match self {
            StyleSource::Images { dir, files } => {
                let mut list = Vec::new();
                for f in files {
                    let p = dir.join(f);
                    let bytes = std::fs::read(&p).map_err(|e| Error::io(format!("cannot read {}", p.display()), e))?;
                    list.push(serde_json::json!({ "file": f, "sha256": hex::encode(Sha256::digest(&bytes)) }));
                }
                serde_json::json!({ "images": list })
            }
            StyleSource::Random(d) => {
                serde_json::json!({ "random": { "source": d.source, "sha256": hex::encode(Sha256::digest(d.to_json().as_bytes())) } })
            }
            StyleSource::Builtin { ids, total, blend } => serde_json::json!({ "builtin": { "ids": ids, "of": total, "blend": blend } }),
            StyleSource::Fixed(model) => serde_json::json!({ "model": model }),
        })
    }

    /// The manifest's name for a style draw: the style image's file name,
    /// `random:KEY`, a multistyle26 style id (`7`) or blend (`3:0.25,12:0.75`,
    /// as `restyle stylize --style-id` takes it), or the fast model's name.
    pub fn label(&self, draw: StyleDraw) -> String {
        match (self, draw) {
            (StyleSource::Images { files, .. }, StyleDraw::Image(i)) => files[i].clone(),
            (StyleSource::Builtin { ids, .. }, StyleDraw::Image(i)) => ids[i].to_string(),
            (StyleSource::Builtin { .. }, StyleDraw::Random(_)) => {
                let w = self.blend(draw).unwrap_or_default();
                let parts: Vec<String> = w.iter().enumerate().filter(|(_, v)| **v > 0.0).map(|(i, v)| format!("{i}:{v}")).collect();
                parts.join(",")
            }
            (StyleSource::Fixed(model), _) => model.clone(),
            (_, StyleDraw::Random(key)) => format!("random:{key:016x}"),
            (_, StyleDraw::Image(i)) => format!("image:{i}"),
        }
    }
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
    fn builtin_styles_draw_from_the_allowed_ids() {
        let one = StyleSource::Builtin { ids: vec![3, 7, 12], total: 26, blend: false };
        assert_eq!(one.count(), Some(3));
        let w = one.blend(StyleDraw::Image(1)).unwrap();
        assert_eq!((w.len(), w[7], w.iter().sum::<f32>()), (26, 1.0, 1.0));
        assert_eq!(one.label(StyleDraw::Image(1)), "7");
        let mix = StyleSource::Builtin { ids: vec![3, 7, 12], total: 26, blend: true };
        assert_eq!(mix.count(), None);
        for key in 0..50u64 {
            let w = mix.blend(StyleDraw::Random(key)).unwrap();
            let used: Vec<usize> = (0..26).filter(|i| w[*i] > 0.0).collect();
            assert!(used.len() <= 2 && used.iter().all(|i| [3, 7, 12].contains(i)), "{used:?}");
            assert!((w.iter().sum::<f32>() - 1.0).abs() < 1e-6);
            assert_eq!(w, mix.blend(StyleDraw::Random(key)).unwrap(), "deterministic");
            let label = mix.label(StyleDraw::Random(key));
            assert_eq!(label.split(',').count(), used.len(), "{label}");
        }
        assert_ne!(mix.blend(StyleDraw::Random(1)), mix.blend(StyleDraw::Random(2)));
        assert_eq!(StyleSource::Fixed("starry_night".into()).label(StyleDraw::Image(0)), "starry_night");
    }

    #[test]
    fn too_few_vectors_are_refused() {
        assert!(StyleDistribution::fit(&[vec![1.0, 2.0]], "one").is_err());
    }
}
