//! Which method, and loading it: the one place that turns a method's name
//! and options into a [`Method`] ready for a [`crate::stylize::Stylizer`].
//!
//! - [`MethodKind`]: the methods by the names every front end uses
//!   (`--method`, the C ABI's method ids, augment, the plug-ins), parsing,
//!   and what each takes;
//! - [`MethodOptions`] → [`MethodSpec::new`]: what to load, checked (an
//!   option that does not apply to the method is an error, never ignored);
//! - [`load`]: finds the weights through a [`restyle_weights::ResolveOptions`]
//!   (explicit folder, `RESTYLE_WEIGHTS_DIR`, the cache, the hub unless
//!   offline) and opens the networks ([`open`]).
//!
//! A new network adds a [`MethodKind`], a variant to [`MethodSpec`] and to
//! [`Method`], and an arm to [`load`].

pub mod fast_models;
pub mod open;

use crate::models::vgg::{Pooling, Vgg};
use crate::models::{adain, arbitrary, multistyle, transformer_net::TransformerNet};
use crate::nn::tiling::Tiling;
use crate::nst::gatys::{Gatys, GatysConfig};
use crate::request::Request;
use crate::{Error, Result};
use candle_core::Device;
use open::{BUILTIN_MODELS, DEFAULT_MODEL};
use restyle_weights::ResolveOptions;
use std::path::{Path, PathBuf};

/// Large images run in tiles of this size (either side) by default, every
/// tile sharing the statistics of the whole image measured at up to it.
pub const DEFAULT_TILING: Tiling = Tiling { tile: 1024, overlap: 64 };

/// AdaIN's default working size (longest side): its encoder and decoder run
/// untiled at full VGG widths, so 1024 px keeps CPU memory to a few GB.
pub const ADAIN_WORKING_SIZE: usize = 1024;

/// The methods restyle offers, by the names every front end uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MethodKind {
    /// Arbitrary fast style transfer (Magenta): any painting, one pass.
    Arbitrary,
    /// Fast NST (Johnson): one trained network per style.
    Fast,
    /// The 26-style conditional-instance-norm network.
    MultiStyle26,
    /// AdaIN (Huang & Belongie): any painting, one pass.
    AdaIN,
    /// Optimisation NST, Gatys et al.'s settings.
    Gatys,
    /// Optimisation NST, Novak & Nikulin's improvements + coarse-to-fine.
    GatysImproved,
}

impl MethodKind {
    pub const ALL: [MethodKind; 6] =
        [MethodKind::Arbitrary, MethodKind::Fast, MethodKind::MultiStyle26, MethodKind::AdaIN, MethodKind::Gatys, MethodKind::GatysImproved];

    /// The name front ends spell (`--method`, plug-in menus, manifests).
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::Arbitrary => "arbitrary",
            MethodKind::Fast => "fast",
            MethodKind::MultiStyle26 => "multistyle26",
            MethodKind::AdaIN => "adain",
            MethodKind::Gatys => "gatys",
            MethodKind::GatysImproved => "gatys-improved",
        }
    }

    /// One line for help texts and menus.
    pub fn summary(self) -> &'static str {
        match self {
            MethodKind::Arbitrary => "any painting, one pass (Magenta arbitrary network)",
            MethodKind::Fast => "a trained network per style (Johnson); default: the embedded starry_night",
            MethodKind::MultiStyle26 => "26 built-in styles and their blends (conditional instance norm)",
            MethodKind::AdaIN => "any painting, one pass (AdaIN, Huang & Belongie)",
            MethodKind::Gatys => "optimisation (Gatys et al.): slow, any painting",
            MethodKind::GatysImproved => "optimisation with Novak & Nikulin's improvements, coarse-to-fine: slowest, best",
        }
    }

    /// The method when the user names none: arbitrary when a style is given,
    /// else the embedded fast network (works offline with no weights).
    pub fn default_for(has_style: bool) -> MethodKind {
        if has_style {
            MethodKind::Arbitrary
        } else {
            MethodKind::Fast
        }
    }

    /// Needs a style image (or, for arbitrary, a style vector).
    pub fn needs_style(self) -> bool {
        !matches!(self, MethodKind::Fast | MethodKind::MultiStyle26)
    }

    /// Takes style images at all (fast and multistyle26 have theirs built in).
    pub fn takes_style_images(self) -> bool {
        self.needs_style()
    }

    /// Takes a style vector: arbitrary (its 100 values), multistyle26 (a blend).
    pub fn takes_style_vector(self) -> bool {
        matches!(self, MethodKind::Arbitrary | MethodKind::MultiStyle26)
    }

    /// Optimisation (iterations, time budget) rather than one pass.
    pub fn is_optimisation(self) -> bool {
        matches!(self, MethodKind::Gatys | MethodKind::GatysImproved)
    }

    /// The checks of a request that depend on the method but not on its
    /// weights, so that front ends run them before loading any (VGG16 is
    /// 528 MB): fields the method cannot use are errors, not silently
    /// ignored, and a method that copies a style needs one.
    pub fn check_request(self, request: &Request) -> Result<()> {
        let refuse = |what: &str| Err(Error::InvalidArgument(format!("the {self} method does not take {what}")));
        if !request.styles.is_empty() && !self.takes_style_images() {
            return refuse("style images (its styles are built in)");
        }
        if request.style_vector.is_some() && !self.takes_style_vector() {
            return refuse("a style vector");
        }
        if request.style_stats.is_some() && self != MethodKind::AdaIN {
            return refuse("precomputed style statistics (AdaIN's)");
        }
        if (request.iterations.is_some() || request.max_seconds.is_some()) && !self.is_optimisation() {
            return refuse("iterations or a time budget (it runs in one pass)");
        }
        if request.style_size.is_some() && !self.takes_style_images() {
            return refuse("a style size");
        }
        let has_style = !request.styles.is_empty()
            || (self.takes_style_vector() && request.style_vector.is_some())
            || (self == MethodKind::AdaIN && request.style_stats.is_some());
        if self.needs_style() && !has_style {
            let or_vector = if self.takes_style_vector() { " or a style vector" } else { "" };
            return Err(Error::InvalidArgument(format!("the {self} method needs a style image{or_vector}")));
        }
        Ok(())
    }
}

impl std::fmt::Display for MethodKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for MethodKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        MethodKind::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(s.trim())).ok_or_else(|| {
            let names: Vec<&str> = MethodKind::ALL.iter().map(|k| k.name()).collect();
            Error::InvalidArgument(format!("unknown method '{s}' (available: {})", names.join(", ")))
        })
    }
}

/// What a front end may say about loading a method. Options that do not
/// apply to the method are refused by [`MethodSpec::new`].
#[derive(Clone, Debug, Default)]
pub struct MethodOptions {
    /// fast: a built-in name, a `.pth`/`.safetensors` file, or a model in the
    /// weights folder / cache; gatys: a VGG catalog name or file.
    pub model: Option<String>,
    /// multistyle26: a style `7` or a blend `3:0.5,12:0.5`.
    pub style_blend: Option<String>,
    /// multistyle26: the blend as one weight per style (normalised here).
    pub style_weights: Option<Vec<f32>>,
    /// adain: `vgg_normalised.pth` and `decoder.pth` (else found by name).
    pub adain_vgg: Option<PathBuf>,
    pub adain_decoder: Option<PathBuf>,
    /// Tiles for large images; [`DEFAULT_TILING`] if `None`.
    pub tiling: Option<Tiling>,
}

impl MethodSpec {
    /// The spec of `kind` with `opts`, checked.
    pub fn new(kind: MethodKind, opts: &MethodOptions) -> Result<MethodSpec> {
        let refuse = |what: &str, applies: &str| Err(Error::InvalidArgument(format!("{what} goes with {applies}, not with the {kind} method")));
        if opts.model.is_some() && !matches!(kind, MethodKind::Fast | MethodKind::Gatys | MethodKind::GatysImproved) {
            return refuse("a model", "the fast method (a network) or gatys (its VGG)");
        }
        if (opts.style_blend.is_some() || opts.style_weights.is_some()) && kind != MethodKind::MultiStyle26 {
            return refuse("a style id / blend", "multistyle26");
        }
        if (opts.adain_vgg.is_some() || opts.adain_decoder.is_some()) && kind != MethodKind::AdaIN {
            return refuse("AdaIN's weight files", "adain");
        }
        let tiling = opts.tiling.unwrap_or(DEFAULT_TILING);
        if tiling.tile < 64 || tiling.overlap >= tiling.tile / 2 {
            return Err(Error::InvalidArgument(format!(
                "tiles must be at least 64 px with an overlap below half a tile, got {} px with {} px overlap",
                tiling.tile, tiling.overlap
            )));
        }
        Ok(match kind {
            MethodKind::Arbitrary => MethodSpec::Arbitrary(arbitrary::Options { tiling, stats_max_side: tiling.tile, ..Default::default() }),
            MethodKind::Fast => MethodSpec::Fast { model: opts.model.clone(), tiling },
            MethodKind::MultiStyle26 => {
                let style_weights = match (&opts.style_blend, &opts.style_weights) {
                    (Some(_), Some(_)) => return Err(Error::InvalidArgument("give a style blend or style weights, not both".into())),
                    (Some(spec), None) => multistyle::parse_style_weights(spec, multistyle::NUM_STYLES)?,
                    (None, Some(w)) => normalised_blend(w)?,
                    (None, None) => multistyle::parse_style_weights("0", multistyle::NUM_STYLES)?,
                };
                MethodSpec::MultiStyle26 { style_weights, tiling }
            }
            MethodKind::AdaIN => MethodSpec::AdaIN {
                vgg: opts.adain_vgg.clone(),
                decoder: opts.adain_decoder.clone(),
                options: adain::Options { tiling, stats_max_side: tiling.tile, ..Default::default() },
            },
            MethodKind::Gatys | MethodKind::GatysImproved => MethodSpec::Gatys {
                preset: if kind == MethodKind::Gatys { GatysPreset::Basic } else { GatysPreset::Improved },
                vgg: opts.model.clone(),
            },
        })
    }

    /// The kind this spec loads.
    pub fn kind(&self) -> MethodKind {
        match self {
            MethodSpec::Arbitrary(_) => MethodKind::Arbitrary,
            MethodSpec::Fast { .. } => MethodKind::Fast,
            MethodSpec::MultiStyle26 { .. } => MethodKind::MultiStyle26,
            MethodSpec::AdaIN { .. } => MethodKind::AdaIN,
            MethodSpec::Gatys { preset: GatysPreset::Basic, .. } => MethodKind::Gatys,
            MethodSpec::Gatys { preset: GatysPreset::Improved, .. } => MethodKind::GatysImproved,
        }
    }
}

/// One weight per multistyle26 style, non-negative with a positive sum,
/// normalised to sum 1.
pub fn normalised_blend(w: &[f32]) -> Result<Vec<f32>> {
    let n = multistyle::NUM_STYLES;
    if w.len() != n {
        return Err(Error::InvalidArgument(format!("multistyle26 needs {n} blend weights, got {}", w.len())));
    }
    let sum: f32 = w.iter().sum();
    if w.iter().any(|v| !v.is_finite() || *v < 0.0) || !(sum > 0.0) {
        return Err(Error::InvalidArgument("style blend weights must be non-negative with a positive sum".into()));
    }
    Ok(w.iter().map(|v| v / sum).collect())
}

/// A loaded method. Each variant carries its loaded network(s), so that one
/// `Stylizer` can stylize many images without reloading.
pub enum Method {
    // One variant per NST family, added by its module.
    /// Arbitrary fast style transfer (Magenta): any style image, one pass.
    Arbitrary(crate::models::arbitrary::Arbitrary, crate::models::arbitrary::Options),
    /// Optimisation NST (Gatys basic / improved presets), VGG loss network.
    Gatys(Box<crate::nst::gatys::Gatys>),
    /// Fast NST (Johnson): one trained network per style; tiles large images.
    Fast(Box<crate::models::transformer_net::TransformerNet>, crate::nn::tiling::Tiling),
    /// The 26-style CIN network with a style blend (weights sum to 1).
    MultiStyle26(Box<crate::models::multistyle::MultiStyle26>, Vec<f32>, crate::nn::tiling::Tiling),
    /// AdaIN (Huang & Belongie): any style image(s); strength = α.
    AdaIN(Box<crate::models::adain::AdaIN>, crate::models::adain::Options),
}

impl Method {
    /// How this method uses memory, for the budget check before a request.
    pub fn footprint(&self) -> crate::budget::Footprint {
        use crate::budget::{Footprint, Network};
        let tiled = |t: &Tiling| Some((t.tile, t.overlap));
        match self {
            Method::Fast(_, t) | Method::MultiStyle26(_, _, t) => Footprint { network: Network::Transformer, tile: tiled(t) },
            Method::Arbitrary(_, o) => Footprint { network: Network::Arbitrary, tile: tiled(&o.tiling) },
            Method::AdaIN(_, o) => Footprint { network: Network::AdaIN, tile: tiled(&o.tiling) },
            Method::Gatys(_) => Footprint { network: Network::Gatys, tile: None },
        }
    }

    /// Which method this is.
    pub fn kind(&self) -> MethodKind {
        match self {
            Method::Arbitrary(..) => MethodKind::Arbitrary,
            Method::Fast(..) => MethodKind::Fast,
            Method::MultiStyle26(..) => MethodKind::MultiStyle26,
            Method::AdaIN(..) => MethodKind::AdaIN,
            // A loaded optimisation carries its settings, not the preset they
            // came from (the CLI tunes them freely): both presets take the
            // same options, so the family is what matters here.
            Method::Gatys(_) => MethodKind::Gatys,
        }
    }
}

/// What to load, independent of any front end.
#[derive(Clone, Debug)]
pub enum MethodSpec {
    /// Arbitrary style transfer (Magenta), with its per-image options.
    Arbitrary(arbitrary::Options),
    /// Fast NST (Johnson). `model`: a built-in name, a `.pth`/`.safetensors`
    /// file, or a model name known to the weights folder / cache (as stored by
    /// `restyle weights import`, e.g. `mosaic` or `fast-mosaic`); `None` = the
    /// embedded default.
    Fast { model: Option<String>, tiling: Tiling },
    /// The 26-style network with a blend over its styles (one weight per
    /// style, normalised to sum 1; see [`MethodSpec::multistyle26`]).
    MultiStyle26 { style_weights: Vec<f32>, tiling: Tiling },
    /// AdaIN: the two files of naoto0804/pytorch-AdaIN; a part not given is
    /// resolved from the weights folder / cache (catalog model `adain`).
    AdaIN { vgg: Option<PathBuf>, decoder: Option<PathBuf>, options: adain::Options },
    /// Optimisation NST (Gatys et al.) with a preset. `vgg`: a catalog name or
    /// a file, `None` = [`open::gatys_vgg_file`]'s default. Iterations and a
    /// time budget are per image ([`crate::request::Request`]).
    Gatys { preset: GatysPreset, vgg: Option<String> },
}

/// The settings an optimisation starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GatysPreset {
    /// Gatys et al. 2016 ([`GatysConfig::basic`]).
    Basic,
    /// Novak & Nikulin + coarse-to-fine ([`GatysConfig::improved`]).
    Improved,
}

impl GatysPreset {
    /// The preset's settings for `vgg` (the improved preset weights every layer it has).
    pub fn config(self, vgg: &Vgg) -> GatysConfig {
        match self {
            GatysPreset::Basic => GatysConfig::basic(),
            GatysPreset::Improved => GatysConfig::improved(vgg),
        }
    }
}

impl MethodSpec {
    /// multistyle26 from a blend spec: `7` or `3:0.5,12:0.5`.
    pub fn multistyle26(spec: &str, tiling: Tiling) -> Result<MethodSpec> {
        let style_weights = multistyle::parse_style_weights(spec, multistyle::NUM_STYLES)?;
        Ok(MethodSpec::MultiStyle26 { style_weights, tiling })
    }

    /// The method's name as front ends spell it (`--method`).
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }
}

/// Loads the network(s) of `spec` on `device`, finding weights through
/// `weights` (explicit folder, `RESTYLE_WEIGHTS_DIR`, the cache, the hub
/// unless offline; see `restyle_weights::resolve`).
pub fn load(spec: MethodSpec, weights: &ResolveOptions, device: &Device) -> Result<Method> {
    match spec {
        MethodSpec::Arbitrary(opts) => Ok(Method::Arbitrary(crate::method::open::arbitrary(weights, device)?, opts)),
        MethodSpec::Fast { model, tiling } => {
            let net = fast_model(model.as_deref().unwrap_or(DEFAULT_MODEL), weights, device)?;
            Ok(Method::Fast(Box::new(net), tiling))
        }
        MethodSpec::MultiStyle26 { style_weights, tiling } => {
            if style_weights.len() != multistyle::NUM_STYLES {
                return Err(Error::InvalidArgument(format!(
                    "multistyle26 needs {} blend weights, got {}",
                    multistyle::NUM_STYLES,
                    style_weights.len()
                )));
            }
            let path = restyle_weights::resolve("multistyle26", weights)?;
            let net = crate::method::open::multistyle26(&path, device)?;
            Ok(Method::MultiStyle26(Box::new(net), style_weights, tiling))
        }
        MethodSpec::AdaIN { vgg, decoder, options } => {
            let net = crate::method::open::adain(vgg.as_deref(), decoder.as_deref(), weights, device).map_err(adain_missing)?;
            Ok(Method::AdaIN(Box::new(net), options))
        }
        MethodSpec::Gatys { preset, vgg } => {
            let vgg = crate::method::open::vgg(&crate::method::open::gatys_vgg_file(vgg.as_deref(), weights)?, Pooling::Max, device)?;
            let config = preset.config(&vgg);
            Ok(Method::Gatys(Box::new(Gatys::new(vgg, config))))
        }
    }
}

/// A missing AdaIN part also names the other file: a user needs both.
fn adain_missing(e: Error) -> Error {
    match e {
        Error::Weights(restyle_weights::Error::Missing(m)) => {
            let catalog = restyle_weights::catalog::Catalog::builtin();
            let files: Vec<String> = catalog
                .model("adain")
                .map(|m| m.parts.iter().filter_map(|p| p.sources.first().map(|s| s.file.clone())).collect())
                .unwrap_or_default();
            Error::Weights(restyle_weights::Error::Missing(format!(
                "AdaIN needs both files of naoto0804/pytorch-AdaIN ({}), imported with `restyle weights import FILE` \
                 or in the weights folder; {m}",
                files.join(" and ")
            )))
        }
        e => e,
    }
}

/// `--model NAME|FILE` for fast NST: a built-in network, a file, or a model
/// the weights folder / cache knows under `NAME` or `fast-NAME`.
pub fn fast_model(name: &str, weights: &ResolveOptions, device: &Device) -> Result<TransformerNet> {
    if BUILTIN_MODELS.iter().any(|(n, _)| *n == name) || Path::new(name).is_file() {
        return crate::method::open::fast_builtin_or_file(name, device);
    }
    let mut tried = vec![name.to_string()];
    if !name.starts_with(fast_models::PREFIX) {
        tried.push(format!("{}{name}", fast_models::PREFIX));
    }
    let mut last = None;
    for n in &tried {
        match restyle_weights::resolve(n, weights) {
            Ok(path) => return crate::method::open::fast(&path, device),
            Err(e) => last = Some(e),
        }
    }
    let builtin: Vec<&str> = BUILTIN_MODELS.iter().map(|(n, _)| *n).collect();
    Err(Error::InvalidArgument(format!(
        "fast model '{name}' is not a built-in model ({}), not a file, and not in the weights folder or cache as {} ({}); \
         import a fast_neural_style .pth with `restyle weights import FILE --name NAME`",
        builtin.join(", "),
        tried.join(" or "),
        last.map(|e| e.to_string()).unwrap_or_default()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::RgbImage;

    fn tiling() -> Tiling {
        Tiling { tile: 512, overlap: 64 }
    }

    /// Options that see only `dir` (empty caches inside it, never download).
    fn isolated(dir: &Path) -> ResolveOptions {
        ResolveOptions {
            weights_dir: Some(dir.join("weights")),
            cache_dir: Some(dir.join("cache")),
            hub: restyle_weights::hub::HubOptions { cache_dir: Some(dir.join("hf")), ..Default::default() },
            ..ResolveOptions::default()
        }
        .offline(true)
    }

    #[test]
    fn fast_default_loads_offline_and_stylizes() {
        let t = tempfile::tempdir().unwrap();
        let m = load(MethodSpec::Fast { model: None, tiling: tiling() }, &isolated(t.path()), &Device::Cpu).unwrap();
        let Method::Fast(net, _) = &m else { panic!("not a fast method") };
        let img = RgbImage { width: 32, height: 24, data: (0..32 * 24 * 3).map(|i| (i % 7) as f32 / 7.0).collect() };
        let out = net.stylize(&img, tiling()).unwrap();
        assert_eq!((out.width, out.height), (32, 24));
        assert!(out.data.iter().zip(&img.data).any(|(a, b)| (a - b).abs() > 0.05), "the network changed nothing");
    }

    #[test]
    fn unknown_multistyle_id_is_a_clear_error() {
        let e = MethodSpec::multistyle26("30", tiling()).unwrap_err().to_string();
        assert!(e.contains("30") && e.contains("0..25"), "{e}");
        let e = MethodSpec::multistyle26("3:0.5,x", tiling()).unwrap_err().to_string();
        assert!(e.contains("'x'"), "{e}");
        let ok = MethodSpec::multistyle26("3:1,12:3", tiling()).unwrap();
        let MethodSpec::MultiStyle26 { style_weights, .. } = ok else { unreachable!() };
        assert_eq!((style_weights[3], style_weights[12], style_weights.len()), (0.25, 0.75, 26));
        let t = tempfile::tempdir().unwrap();
        let bad = MethodSpec::MultiStyle26 { style_weights: vec![1.0; 5], tiling: tiling() };
        let e = load(bad, &isolated(t.path()), &Device::Cpu).err().unwrap().to_string();
        assert!(e.contains("26") && e.contains('5'), "{e}");
    }

    #[test]
    fn missing_weights_give_the_resolve_error() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("weights")).unwrap();
        let opts = isolated(t.path());
        let e = load(MethodSpec::multistyle26("0", tiling()).unwrap(), &opts, &Device::Cpu).err().unwrap();
        assert!(matches!(e, Error::Weights(_)), "{e}");
        assert!(e.to_string().contains("multistyle26"), "{e}");
        let e = load(MethodSpec::Arbitrary(arbitrary::Options::default()), &opts, &Device::Cpu).err().unwrap();
        assert!(matches!(e, Error::Weights(_)), "{e}");
        let e = load(MethodSpec::Fast { model: Some("mosaic".into()), tiling: tiling() }, &opts, &Device::Cpu).err().unwrap();
        let msg = e.to_string();
        assert!(msg.contains("'mosaic'") && msg.contains("fast-mosaic"), "{msg}");
        // AdaIN names both of its files, whichever is missing.
        let adain = MethodSpec::AdaIN { vgg: None, decoder: None, options: adain::Options::default() };
        let e = load(adain, &opts, &Device::Cpu).err().unwrap();
        let msg = e.to_string();
        assert!(matches!(e, Error::Weights(_)), "{msg}");
        assert!(msg.contains("vgg_normalised.pth") && msg.contains("decoder.pth") && msg.contains("restyle weights import"), "{msg}");
        // Gatys without any VGG: the default's resolve error (vgg16).
        let gatys = MethodSpec::Gatys { preset: GatysPreset::Improved, vgg: None };
        let e = load(gatys, &opts, &Device::Cpu).err().unwrap();
        assert!(matches!(e, Error::Weights(_)) && e.to_string().contains("'vgg16'"), "{e}");
    }

    #[test]
    fn gatys_presets_load_the_default_vgg_with_overrides() {
        let Some(onnx) = restyle_weights::testing::real_weights("vgg16-keras-imagenet.onnx") else { return };
        let t = tempfile::tempdir().unwrap();
        // The real file's folder as the weights folder, an empty cache: the
        // default is vgg16 (no vgg19-tv here), imported from that folder.
        let opts = ResolveOptions { weights_dir: onnx.parent().map(Path::to_path_buf), ..isolated(t.path()) };
        let default = crate::method::open::gatys_vgg_file(None, &opts).unwrap();
        assert!(default.starts_with(t.path()) && default.ends_with("vgg16.safetensors"), "{}", default.display());
        let spec = |preset| MethodSpec::Gatys { preset, vgg: None };
        let Ok(Method::Gatys(g)) = load(spec(GatysPreset::Improved), &opts, &Device::Cpu) else { panic!("not a Gatys method") };
        let c = &g.config;
        assert_eq!((c.max_seconds, c.scales, c.gram_shift), (None, 3, -1.0));
        assert_eq!(c.style_layers.len(), g.vgg.layer_names().len(), "improved: every layer of VGG16");
        // Basic with its own defaults; the same VGG file, now from the cache.
        let Ok(Method::Gatys(b)) = load(spec(GatysPreset::Basic), &opts, &Device::Cpu) else { panic!("not Gatys") };
        let basic = GatysConfig::basic();
        assert_eq!((b.config.iterations, b.config.max_seconds, b.config.style_layers.len()), (basic.iterations, None, 5));
        // Iterations and budget are the request's: out-of-range values are
        // argument errors from the one check every front end goes through.
        for (it, secs) in [(Some(0), None), (None, Some(0.0)), (None, Some(-1.0)), (None, Some(f64::NAN)), (None, Some(f64::INFINITY))] {
            let r = crate::request::Request { iterations: it, max_seconds: secs, ..Default::default() };
            let e = r.validate().unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{it:?} {secs:?}: {e}");
        }
        // An explicit VGG file is used as given.
        assert_eq!(crate::method::open::gatys_vgg_file(Some(onnx.to_str().unwrap()), &opts).unwrap(), onnx);
    }

    #[test]
    fn method_names_round_trip_and_unknown_names_list_the_choices() {
        for k in MethodKind::ALL {
            assert_eq!(k.name().parse::<MethodKind>().unwrap(), k);
        }
        let e = "van-gogh".parse::<MethodKind>().unwrap_err().to_string();
        assert!(e.contains("van-gogh") && e.contains("multistyle26") && e.contains("gatys-improved"), "{e}");
        assert_eq!(MethodKind::default_for(true), MethodKind::Arbitrary);
        assert_eq!(MethodKind::default_for(false), MethodKind::Fast);
    }

    #[test]
    fn options_that_do_not_apply_are_refused() {
        let with = |f: fn(&mut MethodOptions)| {
            let mut o = MethodOptions::default();
            f(&mut o);
            o
        };
        let model = with(|o| o.model = Some("candy".into()));
        let blend = with(|o| o.style_blend = Some("3".into()));
        let adain = with(|o| o.adain_vgg = Some("v.pth".into()));
        for (kind, opts) in [(MethodKind::MultiStyle26, &model), (MethodKind::Arbitrary, &blend), (MethodKind::Fast, &adain)] {
            let e = MethodSpec::new(kind, opts).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains(kind.name()), "{kind}: {e}");
        }
        assert!(MethodSpec::new(MethodKind::Fast, &model).is_ok());
        assert!(MethodSpec::new(MethodKind::GatysImproved, &model).is_ok(), "gatys takes a VGG as its model");
        let small = with(|o| o.tiling = Some(Tiling { tile: 32, overlap: 8 }));
        assert!(MethodSpec::new(MethodKind::Arbitrary, &small).is_err());
        // A blend given as weights is checked and normalised once, here.
        let mut w = vec![0.0; multistyle::NUM_STYLES];
        w[3] = 1.0;
        w[12] = 3.0;
        let o = MethodOptions { style_weights: Some(w), ..Default::default() };
        let MethodSpec::MultiStyle26 { style_weights, .. } = MethodSpec::new(MethodKind::MultiStyle26, &o).unwrap() else { unreachable!() };
        assert_eq!((style_weights[3], style_weights[12]), (0.25, 0.75));
        let bad = MethodOptions { style_weights: Some(vec![f32::NAN; multistyle::NUM_STYLES]), ..Default::default() };
        assert!(MethodSpec::new(MethodKind::MultiStyle26, &bad).is_err());
        for k in MethodKind::ALL {
            assert_eq!(MethodSpec::new(k, &MethodOptions::default()).unwrap().kind(), k);
        }
    }

    #[test]
    fn fast_model_by_name_from_the_weights_folder() {
        // A network stored under its own name, as `restyle weights import` does.
        let t = tempfile::tempdir().unwrap();
        let opts = isolated(t.path());
        let src = t.path().join("my-style.safetensors");
        std::fs::write(&src, BUILTIN_MODELS[0].1).unwrap();
        let catalog = restyle_weights::catalog::Catalog::builtin();
        let stored = restyle_weights::import::import_file(&src, &catalog, &opts.models_dir().unwrap(), Some("my-style")).unwrap();
        assert!(stored.iter().any(|r| r.model == "fast-my-style"), "{stored:?}");
        for name in ["my-style", "fast-my-style"] {
            let m = load(MethodSpec::Fast { model: Some(name.into()), tiling: tiling() }, &opts, &Device::Cpu);
            assert!(matches!(m, Ok(Method::Fast(..))), "{name}: {:?}", m.err());
        }
    }

    /// Found by fuzzing the C ABI: a Gatys call without a style loaded VGG16
    /// (5 s) before failing. The check needs no weights, so it can come first.
    #[test]
    fn a_method_that_copies_a_style_needs_one_before_any_weights_load() {
        let none = crate::request::Request::default();
        for kind in [MethodKind::Gatys, MethodKind::GatysImproved, MethodKind::AdaIN, MethodKind::Arbitrary] {
            let e = kind.check_request(&none).expect_err("no style");
            assert!(e.to_string().contains("needs a style image"), "{kind}: {e}");
        }
        assert!(MethodKind::Fast.check_request(&none).is_ok());
        assert!(MethodKind::MultiStyle26.check_request(&none).is_ok());
        let vector = crate::request::Request { style_vector: Some(vec![0.0; 100]), ..Default::default() };
        assert!(MethodKind::Arbitrary.check_request(&vector).is_ok());
        assert!(MethodKind::Gatys.check_request(&vector).is_err(), "Gatys takes no style vector");
    }
}
