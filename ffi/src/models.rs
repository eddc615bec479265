//! The fast (Johnson) networks a host can offer in its dialog: the ones
//! compiled into the library first, then those `restyle weights import`
//! stored under their own name (`fast-NAME`) in the context's weights
//! folders or the user's restyle cache — the same places, in the same
//! order, where `restyle_core::method::fast_model` looks for a name.

use crate::context::Context;
use crate::status::{guard, FfiError, FfiResult};
use crate::Status;
use restyle_core::method::open::BUILTIN_MODELS;
use restyle_weights::store::{canonical_model_of, read_record};
use std::ffi::{c_char, c_void, CString};
use std::path::{Path, PathBuf};

/// Called once per model: its display name and the `model_path` that
/// selects it (a built-in name or a file).
pub type RestyleFastModelFn = Option<unsafe extern "C" fn(user_data: *mut c_void, name: *const c_char, model_path: *const c_char)>;

/// One found network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FastModel {
    /// What a dialog shows (`candy` for `fast-candy`).
    pub name: String,
    /// What `restyle_params.model_path` takes: a built-in name or a file.
    pub model_path: String,
}

const PREFIX: &str = "fast-";

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

fn c_string(s: &str, what: &str) -> FfiResult<CString> {
    CString::new(s).map_err(|_| FfiError::invalid(format!("{what} '{s}' contains a NUL byte")))
}

/// Calls `callback(user_data, name, model_path)` for each fast network
/// `ctx` can load, the built-in one first. The strings live for the call.
///
/// # Safety
/// `ctx` is NULL or from `restyle_context_new`; `callback` is NULL or a
/// function with that signature, safe to call with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn restyle_fast_models(ctx: *const Context, callback: RestyleFastModelFn, user_data: *mut c_void) -> Status {
    guard(|| {
        // SAFETY: the caller passes NULL or a live context (see above).
        let ctx = unsafe { ctx.as_ref() }.ok_or_else(|| FfiError::null("ctx"))?;
        let callback = callback.ok_or_else(|| FfiError::null("callback"))?;
        let weights = ctx.weights_options();
        // No cache folder (no home, say) only means nothing cached to list.
        let models_dir = weights.models_dir().ok();
        for m in fast_models(&weights.weights_dirs(), models_dir.as_deref()) {
            let (name, path) = (c_string(&m.name, "model name")?, c_string(&m.model_path, "model path")?);
            // SAFETY: the caller vouches for callback and user_data; the
            // strings are NUL-terminated and outlive the call.
            unsafe { callback(user_data, name.as_ptr(), path.as_ptr()) };
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    unsafe extern "C" fn collect(user_data: *mut c_void, name: *const c_char, path: *const c_char) {
        // SAFETY: the test passes a &mut Vec as user_data; the library passes NUL-terminated strings.
        let v = unsafe { &mut *user_data.cast::<Vec<(String, String)>>() };
        let s = |p| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned();
        v.push((s(name), s(path)));
    }

    #[test]
    fn a_model_in_the_weights_folder_is_listed_after_the_embedded_one() {
        let t = tempfile::tempdir().unwrap();
        let weights = t.path().join("weights");
        std::fs::create_dir_all(&weights).unwrap();
        // A real network imported the way a user does it, then moved into a weights folder.
        let src = t.path().join("mine.safetensors");
        std::fs::write(&src, BUILTIN_MODELS[0].1).unwrap();
        let catalog = restyle_weights::catalog::Catalog::builtin();
        let stored = restyle_weights::import::import_file(&src, &catalog, &t.path().join("import"), Some("mine")).unwrap();
        let file = &stored.iter().find(|r| r.model == "fast-mine").unwrap().path;
        std::fs::copy(file, weights.join("fast-mine.safetensors")).unwrap();
        // Not a fast network, and a file named after another model: both ignored.
        std::fs::write(weights.join("notes.safetensors"), b"junk").unwrap();
        std::fs::copy(file, weights.join("renamed.safetensors")).unwrap();

        let dir = CString::new(weights.to_str().unwrap()).unwrap();
        let mut ctx = std::ptr::null_mut();
        let mut got: Vec<(String, String)> = Vec::new();
        // SAFETY: valid pointers; the callback matches the user data.
        unsafe {
            assert_eq!(crate::restyle_context_new(dir.as_ptr(), &mut ctx), crate::RESTYLE_OK);
            let st = restyle_fast_models(ctx, Some(collect), (&mut got as *mut Vec<(String, String)>).cast());
            assert_eq!(st, crate::RESTYLE_OK);
            assert_eq!(restyle_fast_models(ctx, None, std::ptr::null_mut()), crate::RESTYLE_ERR_NULL_POINTER);
            assert_eq!(restyle_fast_models(std::ptr::null(), Some(collect), std::ptr::null_mut()), crate::RESTYLE_ERR_NULL_POINTER);
            crate::restyle_context_free(ctx);
        }
        let want_path = weights.join("fast-mine.safetensors").to_string_lossy().into_owned();
        // The user's own cache may add more after these; the folder's come first.
        assert_eq!(got[..2], [("starry_night".into(), "starry_night".into()), ("mine".into(), want_path)]);
        assert!(!got.iter().any(|(n, _)| n == "renamed" || n == "notes"), "{got:?}");
    }

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
