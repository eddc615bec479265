//! Where styles come from: a folder of style images (one picked at random
//! per output), or random style vectors z ~ N(μ, Σ) as in Style
//! Augmentation, with μ and Σ fitted to the style vectors of a folder of
//! paintings or taken from the shipped default set.

use crate::plan::StyleDraw;
use crate::{Error, Result};
use restyle_core::rng::Stream;
pub use restyle_core::style_distribution::StyleDistribution;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

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
}
