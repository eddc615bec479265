//! The cdylib driven exactly as a host program drives it: loaded at run time
//! with libloading, structs declared from restyle.h (not taken from the
//! crate), real weights, a real photo.

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

#[repr(C)]
struct Mask {
    data: *const u8,
    stride: usize,
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
}

const OK: i32 = 0;
const ERR_CANCELLED: i32 = 8;
const ERR_IO: i32 = 5;
const RGBA8: u32 = 1;
const BGRA8: u32 = 2;
const RGB8: u32 = 3;
const RGBA16: u32 = 4;
const BGRA16: u32 = 5;
const RGBAF16: u32 = 6;
const RGBAF32: u32 = 7;

struct Api {
    _lib: &'static Library,
    abi_version: Symbol<'static, unsafe extern "C" fn() -> u32>,
    last_error: Symbol<'static, unsafe extern "C" fn() -> *const c_char>,
    params_init: Symbol<'static, unsafe extern "C" fn(*mut Params, usize) -> i32>,
    context_new: Symbol<'static, unsafe extern "C" fn(*const c_char, *mut *mut c_void) -> i32>,
    context_free: Symbol<'static, unsafe extern "C" fn(*mut c_void)>,
    stylize: Symbol<'static, unsafe extern "C" fn(*mut c_void, *const Image, *const Mask, *const Params) -> i32>,
}

// SAFETY: the symbols are plain C functions of a library that stays loaded
// (leaked) for the whole test process; the library documents them as
// callable from any thread (contexts are not shared between threads here).
unsafe impl Sync for Api {}
unsafe impl Send for Api {}

fn lib_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap().to_path_buf();
    let name = libloading::library_filename("restyle");
    [deps.join(&name), deps.join("..").join(&name)]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("librestyle not found next to {}", exe.display()))
}

fn api() -> &'static Api {
    static API: std::sync::OnceLock<Api> = std::sync::OnceLock::new();
    API.get_or_init(|| {
        // SAFETY: loading our own cdylib; its initialisers are Rust statics only.
        let lib: &'static Library = Box::leak(Box::new(unsafe { Library::new(lib_path()) }.expect("load librestyle")));
        // SAFETY: the signatures are those declared in restyle.h.
        unsafe {
            Api {
                _lib: lib,
                abi_version: lib.get(b"restyle_abi_version").unwrap(),
                last_error: lib.get(b"restyle_last_error").unwrap(),
                params_init: lib.get(b"restyle_params_init").unwrap(),
                context_new: lib.get(b"restyle_context_new").unwrap(),
                context_free: lib.get(b"restyle_context_free").unwrap(),
                stylize: lib.get(b"restyle_stylize").unwrap(),
            }
        }
    })
}

fn last_error() -> String {
    // SAFETY: never NULL, valid until the next call on this thread.
    unsafe { CStr::from_ptr((api().last_error)()) }.to_string_lossy().into_owned()
}

fn params() -> Params {
    let mut p = std::mem::MaybeUninit::<Params>::zeroed();
    // SAFETY: p has size_of::<Params>() writable bytes.
    let s = unsafe { (api().params_init)(p.as_mut_ptr(), std::mem::size_of::<Params>()) };
    assert_eq!(s, OK, "{}", last_error());
    // SAFETY: initialised by restyle_params_init.
    unsafe { p.assume_init() }
}

struct Ctx(*mut c_void);
impl Ctx {
    fn new(dir: &str) -> Ctx {
        let dir = CString::new(dir).unwrap();
        let mut ctx = std::ptr::null_mut();
        // SAFETY: valid string and out pointer.
        let s = unsafe { (api().context_new)(dir.as_ptr(), &mut ctx) };
        assert_eq!(s, OK, "{}", last_error());
        Ctx(ctx)
    }
    fn stylize(&self, img: &Image, mask: Option<&Mask>, p: &Params) -> i32 {
        // SAFETY: buffers outlive the call and match their descriptions.
        unsafe { (api().stylize)(self.0, img, mask.map_or(std::ptr::null(), |m| m as *const Mask), p) }
    }
}
impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: from restyle_context_new, freed once.
        unsafe { (api().context_free)(self.0) }
    }
}

struct Fixture {
    weights: String,
    style: CString,
    /// 96×64 crop of a real photo, RGBA8 with an alpha ramp.
    rgba: Vec<u8>,
}

const W: usize = 96;
const H: usize = 64;

fn fixture() -> Option<Fixture> {
    let predict = restyle_weights::testing::real_weights("magenta-arbitrary-predict-int8.onnx")?;
    restyle_weights::testing::real_weights("magenta-arbitrary-transform-int8.onnx")?;
    let data = restyle_weights::testing::shared_data_dir();
    let photo = restyle_core::image::load(data.join("content/chicago.jpg")).expect("content photo");
    let small = photo.rgb.resize(W, H).unwrap();
    let rgba = small
        .data
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, c)| [c[0], c[1], c[2]].map(|v| (v * 255.0).round() as u8).into_iter().chain([(i % 256) as u8]))
        .collect();
    Some(Fixture {
        weights: predict.parent().unwrap().to_str().unwrap().to_string(),
        style: CString::new(data.join("style/starry_night.jpg").to_str().unwrap()).unwrap(),
        rgba,
    })
}

/// The fixture in another pixel format (exact conversions from 8 bit).
fn convert(rgba8: &[u8], format: u32) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    for p in rgba8.chunks_exact(4) {
        let (r, g, b, a) = (p[0], p[1], p[2], p[3]);
        let f = |v: u8| v as f32 / 255.0;
        match format {
            RGBA8 => out.extend([r, g, b, a]),
            BGRA8 => out.extend([b, g, r, a]),
            RGB8 => out.extend([r, g, b]),
            RGBA16 => [r, g, b, a].iter().for_each(|&v| out.extend((v as u16 * 257).to_ne_bytes())),
            BGRA16 => [b, g, r, a].iter().for_each(|&v| out.extend((v as u16 * 257).to_ne_bytes())),
            RGBAF16 => [r, g, b, a].iter().for_each(|&v| out.extend(half::f16::from_f32(f(v)).to_bits().to_ne_bytes())),
            RGBAF32 => [r, g, b, a].iter().for_each(|&v| out.extend(f(v).to_ne_bytes())),
            _ => unreachable!(),
        }
    }
    let bpp = out.len() / (W * H);
    (out, bpp)
}

/// R, G, B, A of every pixel as 0..1 floats.
fn read(buf: &[u8], format: u32) -> Vec<[f32; 4]> {
    let bpp = buf.len() / (W * H);
    buf.chunks_exact(bpp)
        .map(|p| {
            let u16s = |i: usize| u16::from_ne_bytes([p[2 * i], p[2 * i + 1]]) as f32 / 65535.0;
            let h = |i: usize| half::f16::from_bits(u16::from_ne_bytes([p[2 * i], p[2 * i + 1]])).to_f32();
            let f32s = |i: usize| f32::from_ne_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
            let b = |i: usize| p[i] as f32 / 255.0;
            match format {
                RGBA8 => [b(0), b(1), b(2), b(3)],
                BGRA8 => [b(2), b(1), b(0), b(3)],
                RGB8 => [b(0), b(1), b(2), 1.0],
                RGBA16 => [u16s(0), u16s(1), u16s(2), u16s(3)],
                BGRA16 => [u16s(2), u16s(1), u16s(0), u16s(3)],
                RGBAF16 => [h(0), h(1), h(2), h(3)],
                RGBAF32 => [f32s(0), f32s(1), f32s(2), f32s(3)],
                _ => unreachable!(),
            }
        })
        .collect()
}

fn stylize_as(ctx: &Ctx, fx: &Fixture, format: u32) -> (Vec<u8>, Vec<u8>) {
    let (mut buf, bpp) = convert(&fx.rgba, format);
    let before = buf.clone();
    let img = Image { pixels: buf.as_mut_ptr().cast(), width: W as u32, height: H as u32, stride: W * bpp, format };
    let mut p = params();
    p.style_path = fx.style.as_ptr();
    p.device = c"cpu".as_ptr();
    let s = ctx.stylize(&img, None, &p);
    assert_eq!(s, OK, "format {format}: {}", last_error());
    (before, buf)
}

#[test]
fn every_pixel_format_gives_the_same_picture_and_keeps_alpha() {
    // SAFETY: plain function.
    assert_eq!(unsafe { (api().abi_version)() }, 1);
    let Some(fx) = fixture() else { return };
    let ctx = Ctx::new(&fx.weights);
    let (before, reference) = stylize_as(&ctx, &fx, RGBA8);
    let (ref_px, before_px) = (read(&reference, RGBA8), read(&before, RGBA8));
    let changed = ref_px.iter().zip(&before_px).filter(|(a, b)| (0..3).any(|c| (a[c] - b[c]).abs() > 0.02)).count();
    assert!(changed > W * H * 8 / 10, "only {changed} of {} pixels visibly changed", W * H);
    for format in [BGRA8, RGB8, RGBA16, BGRA16, RGBAF16, RGBAF32] {
        let (before, after) = stylize_as(&ctx, &fx, format);
        let (b, a) = (read(&before, format), read(&after, format));
        // Alpha untouched, byte for byte.
        let bpp = before.len() / (W * H);
        if format != RGB8 {
            let alpha = |buf: &[u8]| -> Vec<u8> { buf.chunks_exact(bpp).flat_map(|p| p[bpp * 3 / 4..].to_vec()).collect() };
            assert_eq!(alpha(&before), alpha(&after), "format {format}: alpha changed");
        }
        // Same input values → same picture, up to the format's rounding
        // (F16 has 11 bits of mantissa).
        let tol = if format == RGBAF16 { 2.0 / 255.0 } else { 1.0 / 255.0 + 1e-4 };
        let worst = a.iter().zip(&ref_px).flat_map(|(x, y)| (0..3).map(move |c| (x[c] - y[c]).abs())).fold(0f32, f32::max);
        assert!(worst <= tol, "format {format}: differs from RGBA8 by {worst}");
        assert!(b.iter().zip(&a).any(|(x, y)| x[0] != y[0]), "format {format}: nothing changed");
    }
}

#[test]
fn two_contexts_in_two_threads() {
    let Some(fx) = fixture() else { return };
    let fx = std::sync::Arc::new(fx);
    let handles: Vec<_> = [RGBA8, BGRA8]
        .into_iter()
        .map(|format| {
            let fx = fx.clone();
            std::thread::spawn(move || {
                let ctx = Ctx::new(&fx.weights);
                let (_, after) = stylize_as(&ctx, &fx, format);
                read(&after, format)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().expect("thread panicked")).collect();
    assert_eq!(results[0], results[1], "the two threads' results differ");
}

unsafe extern "C" fn cancel_on_core_report(user: *mut c_void, stage: *const c_char, _fraction: f32) -> c_int {
    let stages = &mut *(user as *mut Vec<String>);
    stages.push(CStr::from_ptr(stage).to_string_lossy().into_owned());
    // Let "prepare" pass so that the network really starts.
    (stages.len() > 1) as c_int
}

#[test]
fn cancel_from_the_callback_and_missing_style_leave_the_image_unchanged() {
    let Some(fx) = fixture() else { return };
    let ctx = Ctx::new(&fx.weights);
    let (mut buf, _) = convert(&fx.rgba, RGBA8);
    let before = buf.clone();
    let img = Image { pixels: buf.as_mut_ptr().cast(), width: W as u32, height: H as u32, stride: W * 4, format: RGBA8 };
    let mut stages: Vec<String> = Vec::new();
    let mut p = params();
    p.style_path = fx.style.as_ptr();
    p.progress = Some(cancel_on_core_report);
    p.progress_user_data = (&mut stages as *mut Vec<String>).cast();
    let s = ctx.stylize(&img, None, &p);
    assert_eq!(s, ERR_CANCELLED, "stages {stages:?}: {}", last_error());
    assert!(last_error().contains("cancel"), "{}", last_error());
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert_eq!(buf, before);

    let missing = c"/nonexistent/style.png";
    let mut p = params();
    p.style_path = missing.as_ptr();
    let img = Image { pixels: buf.as_mut_ptr().cast(), ..img };
    assert_eq!(ctx.stylize(&img, None, &p), ERR_IO, "{}", last_error());
    assert!(last_error().contains("/nonexistent/style.png"), "{}", last_error());
    assert_eq!(buf, before);

    // And the context still works afterwards, with a mask.
    let mask: Vec<u8> = (0..W * H).map(|i| if i % W < W / 2 { 255 } else { 0 }).collect();
    let m = Mask { data: mask.as_ptr(), stride: W };
    let mut p = params();
    p.style_path = fx.style.as_ptr();
    p.strength = 0.7;
    assert_eq!(ctx.stylize(&img, Some(&m), &p), OK, "{}", last_error());
    for (i, (a, b)) in buf.chunks_exact(4).zip(before.chunks_exact(4)).enumerate() {
        if i % W >= W / 2 {
            assert_eq!(a, b, "pixel {i} outside the mask changed");
        }
        assert_eq!(a[3], b[3], "alpha of pixel {i} changed");
    }
    assert!(buf != before);
}

#[test]
fn multistyle26_blend_and_fast_model() {
    let Some(fx) = fixture() else { return };
    restyle_weights::testing::real_weights("multistyle26.onnx");
    let ctx = Ctx::new(&fx.weights);
    let run = |p: &Params| -> (i32, Vec<u8>) {
        let (mut buf, _) = convert(&fx.rgba, RGBA8);
        let img = Image { pixels: buf.as_mut_ptr().cast(), width: W as u32, height: H as u32, stride: W * 4, format: RGBA8 };
        let s = ctx.stylize(&img, None, p);
        (s, buf)
    };
    let changed = |buf: &[u8]| buf.chunks_exact(4).zip(fx.rgba.chunks_exact(4)).filter(|(a, b)| a[..3] != b[..3]).count();

    let mut blend = [0f32; 26];
    blend[3] = 1.0;
    let mut p = params();
    p.method = 2; // RESTYLE_METHOD_MULTISTYLE26
    p.style_weights = blend.as_ptr();
    p.style_weights_len = 26;
    let (s, one) = run(&p);
    assert_eq!(s, OK, "{}", last_error());
    assert!(changed(&one) > W * H * 8 / 10);
    blend[3] = 0.5;
    blend[17] = 0.5;
    // The pointer is taken again after the writes (the earlier one no longer
    // covers them).
    p.style_weights = blend.as_ptr();
    let (s, mixed) = run(&p);
    assert_eq!(s, OK, "{}", last_error());
    assert_ne!(one, mixed, "a different blend gave the same picture");
    p.style_weights_len = 5;
    assert_eq!(run(&p).0, 2, "wrong blend length: {}", last_error()); // INVALID_ARGUMENT
    assert!(last_error().contains("26"), "{}", last_error());

    let mut p = params();
    p.method = 3; // RESTYLE_METHOD_FAST, built-in default model
    let (s, fast) = run(&p);
    assert_eq!(s, OK, "{}", last_error());
    assert!(changed(&fast) > W * H * 8 / 10);
    for (a, b) in fast.chunks_exact(4).zip(fx.rgba.chunks_exact(4)) {
        assert_eq!(a[3], b[3], "alpha changed");
    }
}

const ERR_INVALID_ARGUMENT: i32 = 2;
const METHOD_FAST: u32 = 3;

/// A 96×64 RGBA8 gradient (no photo or weights needed: the fast method's
/// network is embedded).
fn gradient_rgba() -> Vec<u8> {
    (0..W * H).flat_map(|i| [(i % W * 255 / W) as u8, (i / W * 255 / H) as u8, 128, 200]).collect()
}

#[test]
fn over_large_working_size_is_an_error_not_an_abort() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(tmp.path().to_str().unwrap());
    let mut buf = gradient_rgba();
    let before = buf.clone();
    let img = Image { pixels: buf.as_mut_ptr().cast(), width: W as u32, height: H as u32, stride: W * 4, format: RGBA8 };
    let mut p = params();
    p.method = METHOD_FAST;
    p.device = c"cpu".as_ptr();
    p.working_size = 100_000;
    // Before the memory budget: "memory allocation of … bytes failed" and
    // SIGABRT, taking this test process (the host) with it.
    assert_eq!(ctx.stylize(&img, None, &p), ERR_INVALID_ARGUMENT, "{}", last_error());
    let e = last_error();
    assert!(e.contains("100000×66667") && e.contains("more than the limit") && e.contains("RESTYLE_MAX_MEMORY"), "{e}");
    assert_eq!(buf, before);
    // The context still works.
    p.working_size = 0;
    let img = Image { pixels: buf.as_mut_ptr().cast(), ..img };
    assert_eq!(ctx.stylize(&img, None, &p), OK, "{}", last_error());
    assert_ne!(buf, before);
}

/// The context pointer, shared by threads as a host might by accident.
#[derive(Clone, Copy)]
struct SharedCtx(*mut c_void);
// SAFETY: restyle.h: calls on one context from several threads are
// serialised by the context's lock; the context outlives the threads.
unsafe impl Send for SharedCtx {}

#[test]
fn two_threads_share_one_context() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(tmp.path().to_str().unwrap());
    let shared = SharedCtx(ctx.0);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let shared = shared;
                let mut results = Vec::new();
                barrier.wait();
                // Both threads load the (first) network and stylize at once.
                for _ in 0..3 {
                    let mut buf = gradient_rgba();
                    let img = Image { pixels: buf.as_mut_ptr().cast(), width: W as u32, height: H as u32, stride: W * 4, format: RGBA8 };
                    let mut p = params();
                    p.method = METHOD_FAST;
                    p.device = c"cpu".as_ptr();
                    // SAFETY: valid buffers; the context is alive until both threads are joined.
                    let s = unsafe { (api().stylize)(shared.0, &img, std::ptr::null(), &p) };
                    assert_eq!(s, OK, "{}", last_error());
                    results.push(buf);
                }
                results
            })
        })
        .collect();
    let results: Vec<Vec<Vec<u8>>> = handles.into_iter().map(|h| h.join().expect("thread panicked")).collect();
    let first = &results[0][0];
    assert_ne!(first, &gradient_rgba());
    assert!(results.iter().flatten().all(|r| r == first), "results differ between calls");
    drop(ctx);
}
