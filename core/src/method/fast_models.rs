//! The fast (Johnson) networks a front end can offer by name: the ones
//! compiled into the library first, then those `restyle weights import`
//! stored under their own name (`fast-NAME`) in the weights folders or the
//! user's restyle cache — the same places, in the same order, where
//! [`super::fast_model`] looks for a name. The C ABI's
//! `restyle_fast_models` and the plug-ins' dialogs list these.

use super::open::BUILTIN_MODELS;
use restyle_weights::store::{canonical_model_of, read_record};
use std::path::{Path, PathBuf};

/// One found network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastModel {
    /// What a dialog shows (`candy` for `fast-candy`).
    pub name: String,
    /// What `restyle_params.model_path` takes: a built-in name or a file.
    pub model_path: String,
}

/// What a fast network's model name starts with in the weights store.
pub const PREFIX: &str = "fast-";

/// Built-in networks, then the weights folders, then the cache; a name seen
/// earlier hides a later one (as the resolver picks the first).
pub fn fast_models(weights_dirs: &[PathBuf], models_dir: Option<&Path>) -> Vec<FastModel> {
    let mut out: Vec<FastModel> =
        BUILTIN_MODELS.iter().map(|(n, _)| FastModel { name: n.to_string(), model_path: n.to_string() }).collect();
    // Weights folders: files named after the model they hold, as the resolver requires.
    let in_dirs = weights_dirs.iter().flat_map(|d| {
        safetensors_in(d).into_iter().filter_map(|p| {
            let model = canonical_model_of(&p)?;
            (p.file_stem()?.to_str()? == model).then_some((model, p))
        })
    });
    // The cache: files whose import record names a fast network.
    let in_cache = models_dir
        .map(|d| safetensors_in(d).into_iter().filter_map(|p| read_record(&p).map(|r| (r.model, p))).collect::<Vec<_>>())
        .unwrap_or_default();
    for (model, path) in in_dirs.chain(in_cache) {
        let Some(name) = model.strip_prefix(PREFIX) else { continue };
        if name.is_empty() || out.iter().any(|m| m.name == name) {
            continue;
        }
        out.push(FastModel { name: name.to_string(), model_path: path.to_string_lossy().into_owned() });
    }
    out
}

/// `*.safetensors` files directly in `dir`, sorted (a stable dialog order);
/// empty when the folder cannot be read.
fn safetensors_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "safetensors"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_model_comes_first_with_nothing_found() {
        let t = tempfile::tempdir().unwrap();
        let got = fast_models(&[t.path().join("missing")], Some(&t.path().join("no-cache")));
        assert_eq!(got, vec![FastModel { name: "starry_night".into(), model_path: "starry_night".into() }]);
    }

    #[test]
    fn a_cached_model_is_listed_once_the_folder_copy_first() {
        let t = tempfile::tempdir().unwrap();
        let (weights, cache) = (t.path().join("w"), t.path().join("c"));
        std::fs::create_dir_all(&weights).unwrap();
        let src = t.path().join("x.safetensors");
        std::fs::write(&src, BUILTIN_MODELS[0].1).unwrap();
        let catalog = restyle_weights::catalog::Catalog::builtin();
        for name in ["dup", "only-cached"] {
            restyle_weights::import::import_file(&src, &catalog, &cache, Some(name)).unwrap();
        }
        std::fs::copy(cache.join("fast-dup.safetensors"), weights.join("fast-dup.safetensors")).unwrap();
        let got = fast_models(&[weights.clone()], Some(&cache));
        let names: Vec<&str> = got.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["starry_night", "dup", "only-cached"]);
        assert_eq!(got[1].model_path, weights.join("fast-dup.safetensors").to_string_lossy());
        assert_eq!(got[2].model_path, cache.join("fast-only-cached.safetensors").to_string_lossy());
    }
}
