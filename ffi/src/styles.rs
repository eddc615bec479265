//! What a host needs to build its dialog: the names of multistyle26's
//! built-in styles (core's list, so every front end shows the same names)
//! and whether a device can be opened.

use crate::opt_str;
use crate::status::{guard, FfiError};
use restyle_core::device::DeviceChoice;
use restyle_core::models::multistyle::{NUM_STYLES, STYLE_NAMES};
use std::ffi::{c_char, CString};
use std::sync::OnceLock;

/// The names as C strings, made once and kept for the life of the library,
/// so the pointers handed out stay valid.
fn names() -> &'static [CString] {
    static NAMES: OnceLock<Vec<CString>> = OnceLock::new();
    // The names are ASCII constants without NUL (core's test checks), so
    // CString::new cannot fail; an empty string would still be safe.
    NAMES.get_or_init(|| STYLE_NAMES.iter().map(|n| CString::new(*n).unwrap_or_default()).collect())
}

/// Number of multistyle26 built-in styles (26).
#[no_mangle]
pub extern "C" fn restyle_multistyle26_style_count() -> u32 {
    NUM_STYLES as u32
}

/// The name of built-in style `id` (static), NULL when `id` is out of range.
#[no_mangle]
pub extern "C" fn restyle_multistyle26_style_name(id: u32) -> *const c_char {
    std::panic::catch_unwind(|| names().get(id as usize).map_or(std::ptr::null(), |n| n.as_ptr())).unwrap_or(std::ptr::null())
}

/// 1 when `device` ("cpu", "cuda", "cuda:1", …) parses and opens in this
/// library build, 0 otherwise (restyle_last_error says why).
///
/// # Safety
/// `device` is NULL or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn restyle_device_available(device: *const c_char) -> i32 {
    let status = guard(|| {
        let name = opt_str(device, "device")?.ok_or_else(|| FfiError::null("device"))?;
        let choice: DeviceChoice = name.parse()?;
        choice.open()?;
        Ok(())
    });
    (status == crate::RESTYLE_OK) as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    #[test]
    fn names_are_core_names_and_out_of_range_is_null() {
        assert_eq!(restyle_multistyle26_style_count() as usize, STYLE_NAMES.len());
        for (i, n) in STYLE_NAMES.iter().enumerate() {
            // SAFETY: a non-NULL pointer from the library is a static NUL-terminated string.
            let got = unsafe { CStr::from_ptr(restyle_multistyle26_style_name(i as u32)) };
            assert_eq!(got.to_str().unwrap(), *n);
        }
        assert!(restyle_multistyle26_style_name(26).is_null());
        assert!(restyle_multistyle26_style_name(u32::MAX).is_null());
    }

    #[test]
    fn device_available_says_cpu_yes_and_explains_no() {
        // SAFETY: NUL-terminated literals and NULL, as the function allows.
        unsafe {
            assert_eq!(restyle_device_available(c"cpu".as_ptr()), 1);
            assert_eq!(restyle_device_available(c"warp-drive".as_ptr()), 0);
            let msg = CStr::from_ptr(crate::restyle_last_error()).to_string_lossy().into_owned();
            assert!(msg.contains("warp-drive"), "{msg}");
            assert_eq!(restyle_device_available(std::ptr::null()), 0);
        }
    }
}
