//! The fast (Johnson) networks a host can offer in its dialog, as core's
//! `method::fast_models` lists them for the context's weights folders and
//! the user's cache.

use crate::context::Context;
use crate::status::{guard, FfiError, FfiResult};
use crate::Status;
use restyle_core::method::fast_models::fast_models;
#[cfg(test)]
use restyle_core::method::open::BUILTIN_MODELS;
use std::ffi::{c_char, c_void, CString};

/// Called once per model: its display name and the `model_path` that
/// selects it (a built-in name or a file).
pub type RestyleFastModelFn = Option<unsafe extern "C" fn(user_data: *mut c_void, name: *const c_char, model_path: *const c_char)>;

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
}
