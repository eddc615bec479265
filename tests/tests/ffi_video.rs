//! The video stream of the C ABI driven as a host drives it: the cdylib
//! loaded at run time with libloading, the structs declared from restyle.h.
//! AdaIN with the PyTorch-written test network (its style statistics are
//! computed once in restyle_video_new): with temporal NONE every frame is
//! byte-identical to restyle_stylize on it (the image path encodes the style
//! on every call); with flow, a frame of another size mid-stream is refused
//! and leaves the frame and the stream's state unchanged.

use libloading::{Library, Symbol};
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::PathBuf;

#[repr(C)]
#[derive(Clone, Copy)]
struct Image {
    pixels: *mut c_void,
    width: u32,
    height: u32,
    stride: usize,
    format: u32,
}

type ProgressFn = Option<unsafe extern "C" fn(*mut c_void, *const c_char, f32) -> c_int>;

#[repr(C)]
#[derive(Clone, Copy)]
struct Params {
    struct_size: usize,
    method: u32,
    strength: f32,
    preserve_color: u32,
    working_size: u32,
    iterations: u32,
    seed: u64,
    device: *const c_char,
    style_path: *const c_char,
    style_image: *const Image,
    style_weights: *const f32,
    style_weights_len: u32,
    model_path: *const c_char,
    progress: ProgressFn,
    progress_user_data: *mut c_void,
    max_seconds: f64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct VideoParams {
    struct_size: usize,
    temporal: u32,
    temporal_strength: f32,
    flow_preset: u32,
}

const OK: i32 = 0;
const ERR_INVALID_ARGUMENT: i32 = 2;
const RGBA8: u32 = 1;
const METHOD_ADAIN: u32 = 6;
const TEMPORAL_NONE: u32 = 2;

type Stylize = unsafe extern "C" fn(*mut c_void, *const Image, *const c_void, *const Params) -> i32;

struct Api {
    last_error: Symbol<'static, unsafe extern "C" fn() -> *const c_char>,
    params_init: Symbol<'static, unsafe extern "C" fn(*mut Params, usize) -> i32>,
    context_new: Symbol<'static, unsafe extern "C" fn(*const c_char, *mut *mut c_void) -> i32>,
    context_free: Symbol<'static, unsafe extern "C" fn(*mut c_void)>,
    stylize: Symbol<'static, Stylize>,
    video_params_init: Symbol<'static, unsafe extern "C" fn(*mut VideoParams, usize) -> i32>,
    video_new: Symbol<'static, unsafe extern "C" fn(*mut c_void, *const Params, *const VideoParams, *mut *mut c_void) -> i32>,
    video_frame: Symbol<'static, unsafe extern "C" fn(*mut c_void, *const Image) -> i32>,
    video_free: Symbol<'static, unsafe extern "C" fn(*mut c_void)>,
}

fn api() -> Api {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let name = libloading::library_filename("restyle");
    let path = [deps.join(&name), deps.join("..").join(&name)].into_iter().find(|p| p.is_file()).expect("librestyle next to the test");
    // SAFETY: loading our own cdylib (its initialisers are Rust statics
    // only), leaked so the symbols stay valid; the signatures are restyle.h's.
    unsafe {
        let lib: &'static Library = Box::leak(Box::new(Library::new(path).expect("load librestyle")));
        Api {
            last_error: lib.get(b"restyle_last_error").unwrap(),
            params_init: lib.get(b"restyle_params_init").unwrap(),
            context_new: lib.get(b"restyle_context_new").unwrap(),
            context_free: lib.get(b"restyle_context_free").unwrap(),
            stylize: lib.get(b"restyle_stylize").unwrap(),
            video_params_init: lib.get(b"restyle_video_params_init").unwrap(),
            video_new: lib.get(b"restyle_video_new").unwrap(),
            video_frame: lib.get(b"restyle_video_frame").unwrap(),
            video_free: lib.get(b"restyle_video_free").unwrap(),
        }
    }
}

/// A 44×36 RGBA8 frame, a texture panned by `shift` px; alpha varies.
fn frame(shift: usize) -> Vec<u8> {
    let (w, h) = (44, 36);
    let mut px = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            let v = 0.5 + 0.35 * (0.31 * (x as f32 - shift as f32)).sin() * (0.23 * y as f32).cos();
            px.extend([v, 0.7 * v + 0.2, 1.0 - v].map(|c| (c * 255.0).round() as u8));
            px.push((90 + x) as u8);
        }
    }
    px
}

fn image(px: &mut [u8], w: u32) -> Image {
    Image { pixels: px.as_mut_ptr().cast(), width: w, height: (px.len() / 4 / w as usize) as u32, stride: w as usize * 4, format: RGBA8 }
}

#[test]
fn adain_stream_matches_the_image_path_and_refuses_a_size_change() {
    let api = api();
    let err = || unsafe { CStr::from_ptr((api.last_error)()) }.to_string_lossy().into_owned();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/adain");
    let style = restyle_weights::testing::shared_data_dir().join("style/starry_night.jpg");
    let dir = CString::new(fixtures.to_str().unwrap()).unwrap();
    let style = CString::new(style.to_str().unwrap()).unwrap();
    let cpu = CString::new("cpu").unwrap();
    // SAFETY: every pointer handed to the library below lives until the
    // call returns (the style path and device for the whole test); the
    // handles are freed once, streams before their context.
    unsafe {
        let mut ctx = std::ptr::null_mut();
        assert_eq!((api.context_new)(dir.as_ptr(), &mut ctx), OK, "{}", err());
        let mut p = std::mem::zeroed::<Params>();
        assert_eq!((api.params_init)(&mut p, std::mem::size_of::<Params>()), OK);
        p.method = METHOD_ADAIN;
        p.strength = 0.8;
        p.style_path = style.as_ptr();
        p.device = cpu.as_ptr();
        let mut v = std::mem::zeroed::<VideoParams>();
        assert_eq!((api.video_params_init)(&mut v, std::mem::size_of::<VideoParams>()), OK);
        v.temporal = TEMPORAL_NONE;
        let mut stream = std::ptr::null_mut();
        assert_eq!((api.video_new)(ctx, &p, &v, &mut stream), OK, "{}", err());
        for i in 0..3 {
            let mut streamed = frame(3 * i);
            let mut alone = streamed.clone();
            assert_eq!((api.video_frame)(stream, &image(&mut streamed, 44)), OK, "{}", err());
            assert_eq!((api.stylize)(ctx, &image(&mut alone, 44), std::ptr::null(), &p), OK, "{}", err());
            assert!(streamed == alone, "frame {i}: the stream (statistics computed once) differs from restyle_stylize");
            assert!(streamed != frame(3 * i), "frame {i} unchanged");
        }
        (api.video_free)(stream);

        // Flow (the defaults): a size change mid-stream is refused, the
        // frame untouched, and the stream goes on as if it had not happened.
        let run = |bad_at: Option<usize>| {
            let mut s = std::ptr::null_mut();
            assert_eq!((api.video_new)(ctx, &p, std::ptr::null(), &mut s), OK, "{}", err());
            let mut outs = Vec::new();
            for i in 0..3 {
                if bad_at == Some(i) {
                    let mut small = frame(0)[..40 * 36 * 4].to_vec();
                    let before = small.clone();
                    assert_eq!((api.video_frame)(s, &image(&mut small, 40)), ERR_INVALID_ARGUMENT);
                    assert!(err().contains("40×36") && err().contains("44×36"), "{}", err());
                    assert!(small == before, "a refused frame was written");
                }
                let mut f = frame(2 * i);
                assert_eq!((api.video_frame)(s, &image(&mut f, 44)), OK, "{}", err());
                outs.push(f);
            }
            (api.video_free)(s);
            outs
        };
        assert!(run(Some(2)) == run(None), "the refused frame changed the stream's state");
        (api.context_free)(ctx);
    }
}
