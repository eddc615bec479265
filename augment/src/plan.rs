//! What to write for each source image, decided from the seed and the
//! image's relative path only (see [`restyle_core::rng`]).

use restyle_core::rng::Stream;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// The run's augmentation settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlanOptions {
    pub seed: u64,
    /// Stylized copies per selected image.
    pub copies: u32,
    /// Also write each selected image unchanged.
    pub keep_originals: bool,
    /// Fraction of images that get stylized copies; the others are copied unchanged.
    pub fraction: f64,
    /// Strength is drawn uniformly from this range per output.
    pub strength: (f32, f32),
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions { seed: 0, copies: 1, keep_originals: false, fraction: 1.0, strength: (1.0, 1.0) }
    }
}

impl PlanOptions {
    pub fn validate(&self) -> Result<()> {
        if self.copies == 0 {
            return Err(Error::Usage("--copies must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.fraction) {
            return Err(Error::Usage(format!("--fraction must be in 0..1, got {}", self.fraction)));
        }
        let (a, b) = self.strength;
        if !(0.0..=1.0).contains(&a) || !(0.0..=1.0).contains(&b) || a > b {
            return Err(Error::Usage(format!("--strength must be A..B with 0 ≤ A ≤ B ≤ 1, got {a}..{b}")));
        }
        Ok(())
    }

    /// The output name suffix of stylized copy `k` (1-based).
    fn suffix(&self, k: u32) -> String {
        if self.copies == 1 && !self.keep_originals {
            String::new()
        } else {
            format!("_aug{k}")
        }
    }
}

/// Parses `A..B` or a single value `A`.
pub fn parse_range(s: &str) -> Result<(f32, f32)> {
    let bad = || Error::Usage(format!("bad strength '{s}': expected A..B or a number in 0..1"));
    let (a, b) = match s.split_once("..") {
        Some((a, b)) => (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?),
        None => {
            let v: f32 = s.trim().parse().map_err(|_| bad())?;
            (v, v)
        }
    };
    Ok((a, b))
}

/// Which style an output uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StyleDraw {
    /// Index into the sorted list of style images.
    Image(usize),
    /// A random style vector, drawn from the style distribution with this key.
    Random(u64),
}

/// One planned output file (plus its label copies).
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// Output image, relative to the output root.
    pub output: String,
    /// Suffix applied to this output's label files.
    pub suffix: String,
    /// 0 for an unchanged copy, 1.. for stylized copies.
    pub copy: u32,
    pub stylized: Option<StyleParams>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StyleParams {
    pub style: StyleDraw,
    pub strength: f32,
    /// Seed handed to the engine (for anything random inside it).
    pub seed: u64,
}

/// The outputs of source image `rel`. `styles` is the number of style images,
/// or `None` for random style vectors.
pub fn plan(opts: &PlanOptions, rel: &str, styles: Option<usize>) -> Vec<Planned> {
    let selected = opts.fraction >= 1.0 || Stream::new(opts.seed, rel, "select").uniform() < opts.fraction;
    let mut out = Vec::new();
    if !selected || opts.keep_originals {
        out.push(Planned { output: rel.to_string(), suffix: String::new(), copy: 0, stylized: None });
    }
    if !selected {
        return out;
    }
    for k in 1..=opts.copies {
        let mut s = Stream::new(opts.seed, rel, &format!("copy{k}"));
        let style = match styles {
            Some(n) => StyleDraw::Image(s.below(n.max(1))),
            None => StyleDraw::Random(s.next_u64()),
        };
        let (a, b) = opts.strength;
        let strength = a + (b - a) * s.uniform() as f32;
        let seed = s.next_u64();
        let suffix = opts.suffix(k);
        out.push(Planned {
            output: crate::layout::suffixed(rel, &suffix),
            suffix,
            copy: k,
            stylized: Some(StyleParams { style, strength, seed }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_depend_on_seed_and_path_only() {
        let o = PlanOptions { seed: 3, copies: 3, keep_originals: true, fraction: 1.0, strength: (0.3, 0.9) };
        let a = plan(&o, "images/x.jpg", Some(14));
        assert_eq!(a, plan(&o, "images/x.jpg", Some(14)));
        assert_eq!(a.len(), 4);
        assert_eq!(a[0].output, "images/x.jpg");
        assert_eq!(a[2].output, "images/x_aug2.jpg");
        for p in &a[1..] {
            let s = p.stylized.unwrap();
            assert!((0.3..=0.9).contains(&s.strength));
        }
        assert_ne!(a, plan(&o, "images/y.jpg", Some(14)));
        assert_ne!(a, plan(&PlanOptions { seed: 4, ..o.clone() }, "images/x.jpg", Some(14)));
    }

    #[test]
    fn single_copy_keeps_the_name_and_fraction_selects_about_p() {
        let o = PlanOptions { fraction: 0.3, ..Default::default() };
        let plans: Vec<_> = (0..2000).map(|i| plan(&o, &format!("{i}.png"), None)).collect();
        assert!(plans.iter().all(|p| p.len() == 1 && p[0].output.ends_with(".png") && !p[0].output.contains("_aug")));
        let stylized = plans.iter().filter(|p| p[0].stylized.is_some()).count();
        assert!((500..700).contains(&stylized), "{stylized}");
    }

    #[test]
    fn options_are_validated() {
        assert!(parse_range("0.2..0.8").unwrap() == (0.2, 0.8));
        assert!(parse_range("0.5").unwrap() == (0.5, 0.5));
        assert!(parse_range("x").is_err());
        assert!(PlanOptions { strength: (0.8, 0.2), ..Default::default() }.validate().is_err());
        assert!(PlanOptions { copies: 0, ..Default::default() }.validate().is_err());
        assert!(PlanOptions { fraction: 1.5, ..Default::default() }.validate().is_err());
    }
}
