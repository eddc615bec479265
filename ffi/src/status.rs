//! Status codes, the thread-local last-error message, and the guard that
//! turns errors and panics into both.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// `restyle_status` in restyle.h (an `int32_t`): what every export returns.
pub type Status = i32;

/// The status codes, typed: every error maps to one of these in one place
/// ([`From<restyle_core::Error>`]); exports hand C its `i32` value.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestyleStatus {
    Ok = 0,
    NullPointer = 1,
    InvalidArgument = 2,
    UnsupportedFormat = 3,
    StructSize = 4,
    Io = 5,
    Weights = 6,
    Device = 7,
    Cancelled = 8,
    UnsupportedMethod = 9,
    Internal = 10,
}

impl RestyleStatus {
    pub const ALL: [RestyleStatus; 11] = [
        RestyleStatus::Ok,
        RestyleStatus::NullPointer,
        RestyleStatus::InvalidArgument,
        RestyleStatus::UnsupportedFormat,
        RestyleStatus::StructSize,
        RestyleStatus::Io,
        RestyleStatus::Weights,
        RestyleStatus::Device,
        RestyleStatus::Cancelled,
        RestyleStatus::UnsupportedMethod,
        RestyleStatus::Internal,
    ];

    /// The value C sees.
    pub const fn code(self) -> Status {
        self as Status
    }

    /// A value from C (any `int`: never transmuted).
    pub fn from_code(code: Status) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The macro's name in restyle.h.
    pub fn name(self) -> &'static std::ffi::CStr {
        match self {
            RestyleStatus::Ok => c"RESTYLE_OK",
            RestyleStatus::NullPointer => c"RESTYLE_ERR_NULL_POINTER",
            RestyleStatus::InvalidArgument => c"RESTYLE_ERR_INVALID_ARGUMENT",
            RestyleStatus::UnsupportedFormat => c"RESTYLE_ERR_UNSUPPORTED_FORMAT",
            RestyleStatus::StructSize => c"RESTYLE_ERR_STRUCT_SIZE",
            RestyleStatus::Io => c"RESTYLE_ERR_IO",
            RestyleStatus::Weights => c"RESTYLE_ERR_WEIGHTS",
            RestyleStatus::Device => c"RESTYLE_ERR_DEVICE",
            RestyleStatus::Cancelled => c"RESTYLE_ERR_CANCELLED",
            RestyleStatus::UnsupportedMethod => c"RESTYLE_ERR_UNSUPPORTED_METHOD",
            RestyleStatus::Internal => c"RESTYLE_ERR_INTERNAL",
        }
    }
}

// restyle.h's macros, as Rust constants of the C type (tests, clients).
pub const RESTYLE_OK: Status = RestyleStatus::Ok.code();
pub const RESTYLE_ERR_NULL_POINTER: Status = RestyleStatus::NullPointer.code();
pub const RESTYLE_ERR_INVALID_ARGUMENT: Status = RestyleStatus::InvalidArgument.code();
pub const RESTYLE_ERR_UNSUPPORTED_FORMAT: Status = RestyleStatus::UnsupportedFormat.code();
pub const RESTYLE_ERR_STRUCT_SIZE: Status = RestyleStatus::StructSize.code();
pub const RESTYLE_ERR_IO: Status = RestyleStatus::Io.code();
pub const RESTYLE_ERR_WEIGHTS: Status = RestyleStatus::Weights.code();
pub const RESTYLE_ERR_DEVICE: Status = RestyleStatus::Device.code();
pub const RESTYLE_ERR_CANCELLED: Status = RestyleStatus::Cancelled.code();
pub const RESTYLE_ERR_UNSUPPORTED_METHOD: Status = RestyleStatus::UnsupportedMethod.code();
pub const RESTYLE_ERR_INTERNAL: Status = RestyleStatus::Internal.code();

/// An error on its way to the C caller.
#[derive(Debug)]
pub struct FfiError {
    pub status: RestyleStatus,
    pub message: String,
}

impl FfiError {
    pub fn new(status: RestyleStatus, message: impl Into<String>) -> Self {
        FfiError { status, message: message.into() }
    }
    pub fn null(what: &str) -> Self {
        Self::new(RestyleStatus::NullPointer, format!("{what} is NULL"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(RestyleStatus::InvalidArgument, message)
    }
}

impl From<restyle_core::Error> for FfiError {
    fn from(e: restyle_core::Error) -> Self {
        use restyle_core::Error as E;
        let status = match &e {
            E::ImageRead { .. } | E::ImageWrite { .. } | E::Io { .. } => RestyleStatus::Io,
            E::InvalidImage(_) | E::InvalidArgument(_) => RestyleStatus::InvalidArgument,
            E::Device(_) => RestyleStatus::Device,
            E::Weights(_) => RestyleStatus::Weights,
            E::Cancelled => RestyleStatus::Cancelled,
            _ => RestyleStatus::Internal,
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
            e.status.code()
        }
        Err(payload) => {
            set_last_error(&format!("internal error (bug in restyle, please report): {}", panic_message(&*payload)));
            RESTYLE_ERR_INTERNAL
        }
    }
}
