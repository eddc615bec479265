//! Loading a method: the one place that turns "which network, which
//! weights" into a [`Method`] ready for a [`crate::stylize::Stylizer`].
//!
//! Every front end (the `restyle` CLI, the C ABI, `restyle-augment`) says
//! *what* to load with a [`MethodSpec`] and *where weights may come from*
//! with a [`restyle_weights::ResolveOptions`]; [`load`] does the rest, so
//! `--weights-dir`, `RESTYLE_WEIGHTS_DIR`, the cache and offline mode behave
//! the same everywhere.
//!
//! Optimisation NST ([`MethodSpec::Gatys`]) is here with its two presets, an
//! iteration count and a time budget: what the C ABI and plug-ins offer. The
//! CLI starts from the same VGG choice ([`Vgg::gatys_weights`]) and preset
//! ([`GatysPreset::config_with`]) and then applies its many other knobs
//! (`core/src/bin/restyle/gatys_args.rs`).
//!
//! A new network adds a variant to [`MethodSpec`] and an arm to [`load`]
//! (and to [`MethodSpec::name`]).

use crate::gatys::{Gatys, GatysConfig};
use crate::stylize::Method;
use crate::tiling::Tiling;
use crate::transformer_net::{TransformerNet, BUILTIN_MODELS, DEFAULT_MODEL};
use crate::vgg::{Pooling, Vgg};
use crate::{adain, arbitrary, multistyle, Error, Result};
use candle_core::Device;
use restyle_weights::ResolveOptions;
use std::path::{Path, PathBuf};

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
    /// a file, `None` = [`Vgg::gatys_weights`]' default; `iterations` (per
    /// scale) and `max_seconds` (wall-clock budget) override the preset's.
    Gatys { preset: GatysPreset, vgg: Option<String>, iterations: Option<usize>, max_seconds: Option<f64> },
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

    /// `preset` with the front end's iteration count and time budget (checked).
    pub fn config_with(self, vgg: &Vgg, iterations: Option<usize>, max_seconds: Option<f64>) -> Result<GatysConfig> {
        let mut cfg = self.config(vgg);
        if let Some(n) = iterations {
            if n == 0 {
                return Err(Error::InvalidArgument("iterations must be at least 1".into()));
            }
            cfg.iterations = n;
        }
        if let Some(s) = max_seconds {
            if !(s > 0.0 && s.is_finite()) {
                return Err(Error::InvalidArgument(format!("max seconds must be a positive number, got {s}")));
            }
            cfg.max_seconds = Some(s);
        }
        Ok(cfg)
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
        match self {
            MethodSpec::Arbitrary(_) => "arbitrary",
            MethodSpec::Fast { .. } => "fast",
            MethodSpec::MultiStyle26 { .. } => "multistyle26",
            MethodSpec::AdaIN { .. } => "adain",
            MethodSpec::Gatys { .. } => "gatys",
        }
    }
}

/// Loads the network(s) of `spec` on `device`, finding weights through
/// `weights` (explicit folder, `RESTYLE_WEIGHTS_DIR`, the cache, the hub
/// unless offline; see `restyle_weights::resolve`).
pub fn load(spec: MethodSpec, weights: &ResolveOptions, device: &Device) -> Result<Method> {
    match spec {
        MethodSpec::Arbitrary(opts) => Ok(Method::Arbitrary(arbitrary::Arbitrary::load(weights, device)?, opts)),
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
            let net = multistyle::MultiStyle26::load(&path, device)?;
            Ok(Method::MultiStyle26(Box::new(net), style_weights, tiling))
        }
        MethodSpec::AdaIN { vgg, decoder, options } => {
            let net = adain::AdaIN::open(vgg.as_deref(), decoder.as_deref(), weights, device).map_err(adain_missing)?;
            Ok(Method::AdaIN(Box::new(net), options))
        }
        MethodSpec::Gatys { preset, vgg, iterations, max_seconds } => {
            let vgg = Vgg::load(&Vgg::gatys_weights(vgg.as_deref(), weights)?, Pooling::Max, device)?;
            let config = preset.config_with(&vgg, iterations, max_seconds)?;
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
        return crate::transformer_net::load_model(name, device);
    }
    let mut tried = vec![name.to_string()];
    if !name.starts_with("fast-") {
        tried.push(format!("fast-{name}"));
    }
    let mut last = None;
    for n in &tried {
        match restyle_weights::resolve(n, weights) {
            Ok(path) => return TransformerNet::load(&path, device),
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
        let gatys = MethodSpec::Gatys { preset: GatysPreset::Improved, vgg: None, iterations: None, max_seconds: None };
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
        let default = Vgg::gatys_weights(None, &opts).unwrap();
        assert!(default.starts_with(t.path()) && default.ends_with("vgg16.safetensors"), "{}", default.display());
        let spec = |preset, iterations, max_seconds| MethodSpec::Gatys { preset, vgg: None, iterations, max_seconds };
        let Ok(Method::Gatys(g)) = load(spec(GatysPreset::Improved, Some(7), Some(2.5)), &opts, &Device::Cpu) else {
            panic!("not a Gatys method")
        };
        let c = &g.config;
        assert_eq!((c.iterations, c.max_seconds, c.scales, c.gram_shift), (7, Some(2.5), 3, -1.0));
        assert_eq!(c.style_layers.len(), g.vgg.layer_names().len(), "improved: every layer of VGG16");
        // Basic with its own defaults; the same VGG file, now from the cache.
        let Ok(Method::Gatys(b)) = load(spec(GatysPreset::Basic, None, None), &opts, &Device::Cpu) else { panic!("not Gatys") };
        let basic = GatysConfig::basic();
        assert_eq!((b.config.iterations, b.config.max_seconds, b.config.style_layers.len()), (basic.iterations, None, 5));
        // Out-of-range overrides are argument errors, not silently ignored.
        for (it, secs) in [(Some(0), None), (None, Some(0.0)), (None, Some(-1.0)), (None, Some(f64::NAN)), (None, Some(f64::INFINITY))] {
            let e = GatysPreset::Basic.config_with(&g.vgg, it, secs).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{it:?} {secs:?}: {e}");
        }
        // An explicit VGG file is used as given.
        assert_eq!(Vgg::gatys_weights(Some(onnx.to_str().unwrap()), &opts).unwrap(), onnx);
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
}
