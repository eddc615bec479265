//! Status codes, the thread-local last-error message, and the guard that
//! turns errors and panics into both.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `restyle_status` in restyle.h: 0 is success, everything else an error
/// whose message is in `restyle_last_error()`.
pub type Status = i32;

pub const RESTYLE_OK: Status = 0;
pub const RESTYLE_ERR_NULL_POINTER: Status = 1;
pub const RESTYLE_ERR_INVALID_ARGUMENT: Status = 2;
pub const RESTYLE_ERR_UNSUPPORTED_FORMAT: Status = 3;
pub const RESTYLE_ERR_STRUCT_SIZE: Status = 4;
pub const RESTYLE_ERR_IO: Status = 5;
pub const RESTYLE_ERR_WEIGHTS: Status = 6;
pub const RESTYLE_ERR_DEVICE: Status = 7;
pub const RESTYLE_ERR_CANCELLED: Status = 8;
pub const RESTYLE_ERR_UNSUPPORTED_METHOD: Status = 9;
pub const RESTYLE_ERR_INTERNAL: Status = 10;

/// An error on its way to the C caller.
#[derive(Debug)]
pub struct FfiError {
    pub status: Status,
    pub message: String,
}

impl FfiError {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        FfiError { status, message: message.into() }
    }
    pub fn null(what: &str) -> Self {
        Self::new(RESTYLE_ERR_NULL_POINTER, format!("{what} is NULL"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(RESTYLE_ERR_INVALID_ARGUMENT, message)
    }
}

impl From<restyle_core::Error> for FfiError {
    fn from(e: restyle_core::Error) -> Self {
        use restyle_core::Error as E;
        let status = match &e {
            E::ImageRead { .. } | E::ImageWrite { .. } | E::Io { .. } => RESTYLE_ERR_IO,
            E::InvalidImage(_) | E::InvalidArgument(_) => RESTYLE_ERR_INVALID_ARGUMENT,
            E::Device(_) => RESTYLE_ERR_DEVICE,
            E::Weights(_) => RESTYLE_ERR_WEIGHTS,
            E::Cancelled => RESTYLE_ERR_CANCELLED,
            _ => RESTYLE_ERR_INTERNAL,
        };
        FfiError::new(status, e.to_string())
    }
}

pub type FfiResult<T> = Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub fn set_last_error(message: &str) {
    // Interior NULs would truncate the C string; show them instead.
    let c = CString::new(message.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Pointer to this thread's last message; valid until the next restyle call
/// on this thread (the CString is only replaced by later calls).
pub fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Runs the body of an exported function: clears the last error, converts an
/// error into its status + message, and stops panics at the boundary (a
/// panic unwinding into C is undefined behaviour, and in Krita the library
/// lives inside the editor's process).
pub fn guard(body: impl FnOnce() -> FfiResult<()>) -> Status {
    set_last_error("");
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => RESTYLE_OK,
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            set_last_error(&format!("internal error (bug in restyle, please report): {}", panic_message(&*payload)));
            RESTYLE_ERR_INTERNAL
        }
    }
}
