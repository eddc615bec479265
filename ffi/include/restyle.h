/*
 * restyle.h — C ABI of restyle, neural style transfer on candle.
 *
 * The library is `librestyle.so` / `librestyle.dylib` / `restyle.dll`
 * (crate restyle-ffi, built with `cargo build -p restyle-ffi --release`),
 * or the static `librestyle.a`.
 *
 * Overview
 * --------
 *   restyle_context *ctx;
 *   if (restyle_context_new("/path/to/weights", &ctx) != RESTYLE_OK) {
 *       fprintf(stderr, "%s\n", restyle_last_error());
 *   }
 *   restyle_params p;
 *   restyle_params_init(&p, sizeof p);          // defaults: arbitrary, strength 1
 *   p.style_path = "starry_night.jpg";
 *   restyle_image img = { pixels, width, height, stride, RESTYLE_FORMAT_RGBA8 };
 *   restyle_status s = restyle_stylize(ctx, &img, NULL, &p);   // in place
 *   restyle_context_free(ctx);
 *
 * Conventions
 * -----------
 * - Every function that can fail returns a restyle_status; RESTYLE_OK is 0.
 *   On failure, restyle_last_error() returns a message for the calling
 *   thread. Each status-returning call resets it to "" first.
 * - No function ever aborts the process or lets a Rust panic reach the
 *   caller: an internal failure returns RESTYLE_ERR_INTERNAL.
 * - Strings are UTF-8 and NUL-terminated. Pointers the library returns are
 *   owned by the library.
 * - Buffers are owned by the caller and only used during the call.
 * - Calls on one restyle_context from several threads are safe: they run
 *   one after the other (the context holds a lock). Separate contexts run
 *   in parallel. restyle_context_free must not race with other calls.
 * - Requests are checked against a memory limit before anything large is
 *   allocated (RESTYLE_MAX_MEMORY, e.g. "4G"; default half the physical
 *   memory): an over-large working_size or image returns
 *   RESTYLE_ERR_INVALID_ARGUMENT with the estimate and the limit.
 * - The progress callback is always called on the thread that called
 *   restyle_stylize, so it may touch the host's UI.
 *
 * Compatibility
 * -------------
 * RESTYLE_ABI_VERSION changes on every incompatible change. A host should
 * check that restyle_abi_version() equals the RESTYLE_ABI_VERSION it was
 * built against. restyle_params only grows at its end; callers set
 * struct_size (restyle_params_init does), and the library refuses sizes it
 * does not know with RESTYLE_ERR_STRUCT_SIZE instead of misreading them.
 * Appending a field or adding a RESTYLE_METHOD_* value is compatible and
 * keeps RESTYLE_ABI_VERSION; a library accepts every struct_size an earlier
 * header had, and fields past a caller's struct_size take their defaults.
 *   struct_size                              fields up to
 *   offsetof(restyle_params, max_seconds)    progress_user_data (first release)
 *   sizeof(restyle_params)                   max_seconds
 * A host that must also run with a library older than its header can pass
 * the first size (then max_seconds is 0). An unknown method is reported as
 * RESTYLE_ERR_UNSUPPORTED_METHOD, so a host can offer a method only when
 * the loaded library has it.
 *
 * This header is checked against the Rust definitions by
 * tests/tests/ffi_c_client.rs (a C client compiled with the system C
 * compiler that reports sizes, offsets and constants).
 */
#ifndef RESTYLE_H
#define RESTYLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI version implemented by the library this header describes. */
#define RESTYLE_ABI_VERSION 1u

/* ------------------------------------------------------------------------ */
/* Status codes                                                             */
/* ------------------------------------------------------------------------ */

/** 0 on success, otherwise one of RESTYLE_ERR_*. */
typedef int32_t restyle_status;

#define RESTYLE_OK 0
/** A required pointer argument was NULL. */
#define RESTYLE_ERR_NULL_POINTER 1
/** An argument is out of range (size 0, stride too small, strength > 1, …). */
#define RESTYLE_ERR_INVALID_ARGUMENT 2
/** restyle_image.format is not a RESTYLE_FORMAT_* value. */
#define RESTYLE_ERR_UNSUPPORTED_FORMAT 3
/** restyle_params.struct_size is not a size this library knows. */
#define RESTYLE_ERR_STRUCT_SIZE 4
/** A file (style image, …) could not be read or decoded. */
#define RESTYLE_ERR_IO 5
/** Network weights are missing or do not match the method. */
#define RESTYLE_ERR_WEIGHTS 6
/** The requested device (cuda, metal) is not available. */
#define RESTYLE_ERR_DEVICE 7
/** The progress callback asked to stop; the image is unchanged. */
#define RESTYLE_ERR_CANCELLED 8
/** The method is unknown or not compiled into this library. */
#define RESTYLE_ERR_UNSUPPORTED_METHOD 9
/** A bug in restyle (including a caught panic); please report it. */
#define RESTYLE_ERR_INTERNAL 10

/* ------------------------------------------------------------------------ */
/* Images                                                                   */
/* ------------------------------------------------------------------------ */

/*
 * Pixel formats. Channels are stored in the order named, in the machine's
 * native byte order; alpha is straight (not premultiplied). Integer formats
 * span 0..max; float formats are read as 0..1 (values outside are clamped,
 * NaN reads as 0). Colours are taken as they are (sRGB-encoded values give
 * the intended result; the networks were trained on sRGB images).
 *
 *   format                   bytes/pixel  typical source
 *   RESTYLE_FORMAT_RGBA8     4            GIMP "R'G'B'A u8", most libraries
 *   RESTYLE_FORMAT_BGRA8     4            Krita RGBA/U8 pixelData, Cairo/Qt ARGB32 (little-endian)
 *   RESTYLE_FORMAT_RGB8      3            GIMP "R'G'B' u8", layers without alpha
 *   RESTYLE_FORMAT_RGBA16    8            GIMP "R'G'B'A u16"
 *   RESTYLE_FORMAT_BGRA16    8            Krita RGBA/U16
 *   RESTYLE_FORMAT_RGBAF16   8            Krita RGBA/F16, GIMP "R'G'B'A half"
 *   RESTYLE_FORMAT_RGBAF32  16            Krita RGBA/F32, GIMP "R'G'B'A float"
 */
#define RESTYLE_FORMAT_RGBA8 1u
#define RESTYLE_FORMAT_BGRA8 2u
#define RESTYLE_FORMAT_RGB8 3u
#define RESTYLE_FORMAT_RGBA16 4u
#define RESTYLE_FORMAT_BGRA16 5u
#define RESTYLE_FORMAT_RGBAF16 6u
#define RESTYLE_FORMAT_RGBAF32 7u

/**
 * A caller-owned image. Row y starts at (uint8_t *)pixels + y * stride and
 * holds width pixels; stride must be at least width * bytes per pixel, and
 * the buffer at least stride * (height - 1) + width * bytes per pixel bytes.
 * Padding between rows is never read or written.
 */
typedef struct restyle_image {
    void *pixels;
    uint32_t width;
    uint32_t height;
    size_t stride;   /**< bytes from one row start to the next */
    uint32_t format; /**< RESTYLE_FORMAT_* */
} restyle_image;

/**
 * An 8-bit coverage mask with the size of the image it goes with (a
 * selection): 0 keeps the original pixel byte for byte, 255 takes the
 * stylized one, values between blend linearly.
 */
typedef struct restyle_mask {
    const uint8_t *data;
    size_t stride; /**< bytes from one row start to the next, >= width */
} restyle_mask;

/* ------------------------------------------------------------------------ */
/* Parameters                                                               */
/* ------------------------------------------------------------------------ */

/** Arbitrary style transfer (Ghiasi et al.): any style image, one pass. */
#define RESTYLE_METHOD_ARBITRARY 1u
/** The 26-style network (Dumoulin et al.): style_weights blend built-in styles. */
#define RESTYLE_METHOD_MULTISTYLE26 2u
/** A trained fast network (Johnson et al.): model_path is a file or a
 *  built-in model name; NULL = the built-in default. */
#define RESTYLE_METHOD_FAST 3u
/**
 * Optimisation (Gatys et al. 2016): the image itself is optimised against a
 * VGG loss network, for any style image (style_path or style_image). Slow
 * (minutes at 512 px on a CPU): bound it with max_seconds.
 * - iterations: optimiser (L-BFGS) steps, 0 = the preset's 300 (per scale);
 * - max_seconds: wall-clock budget (0 = none); the run stops before a step
 *   that would end past it and keeps the best image, status RESTYLE_OK;
 * - working_size: 0 = 512 px, but never larger than the image (the result
 *   is scaled back to the image's size);
 * - model_path: the VGG weights, a file or a catalog name (vgg19-tv,
 *   vgg16-tv, vgg16); NULL = vgg19-tv when it is already on this machine
 *   (weights folder or cache; never downloaded), else vgg16
 *   (vgg16-keras-imagenet.onnx in the weights folder, or imported with
 *   `restyle weights import`);
 * - strength blends the result with the image; preserve_color applies;
 * - progress: one report per step, stage "optimise" or "scale i/n (W×H)"
 *   (coarse-to-fine); fraction = steps done / iterations of that stage, or
 *   with max_seconds the share of the budget spent so far (whole run).
 *   Cancelling discards the result: RESTYLE_ERR_CANCELLED and the image is
 *   unchanged.
 * The loaded VGG stays in the context; iterations and max_seconds may
 * differ from call to call without reloading it.
 */
#define RESTYLE_METHOD_GATYS 4u
/** Optimisation with the improvements of Novak & Nikulin (all VGG layers,
 *  depth-weighted, shifted Grams) and 3 coarse-to-fine scales: the highest
 *  quality restyle offers, and the slowest; everything said for
 *  RESTYLE_METHOD_GATYS applies. */
#define RESTYLE_METHOD_GATYS_IMPROVED 5u
/**
 * AdaIN (Huang & Belongie 2017): any style image (style_path or
 * style_image), one pass; strength is the paper's alpha. Needs the two files
 * of naoto0804/pytorch-AdaIN (vgg_normalised.pth, decoder.pth) in the weights
 * folder or imported into the cache with `restyle weights import FILE`;
 * without them RESTYLE_ERR_WEIGHTS, with a message naming both files. The
 * image is processed at its size (working_size 0), in tiles when large.
 */
#define RESTYLE_METHOD_ADAIN 6u

#define RESTYLE_PRESERVE_NONE 0u
/** Stylize luminance only, keep the content's colours. */
#define RESTYLE_PRESERVE_LUMINANCE 1u
/** Match the style's colour statistics to the content first. */
#define RESTYLE_PRESERVE_HISTOGRAM 2u

/**
 * Progress callback: `stage` names the running stage ("prepare",
 * "stylize", "optimise", "tile 3/8", …), `fraction` is 0..1 within it.
 * Return 0 to continue, non-zero to cancel (restyle_stylize then returns
 * RESTYLE_ERR_CANCELLED and leaves the image unchanged). Called on the
 * calling thread; `stage` is valid only during the call.
 */
typedef int (*restyle_progress_fn)(void *user_data, const char *stage, float fraction);

/**
 * What to do. Initialise with restyle_params_init(&p, sizeof p), then set
 * the fields you need. Pointers are borrowed for the duration of the call.
 */
typedef struct restyle_params {
    /** sizeof(restyle_params) as the caller compiled it. Always first. */
    size_t struct_size;
    /** RESTYLE_METHOD_*; default RESTYLE_METHOD_ARBITRARY. */
    uint32_t method;
    /** 0..1, how strongly to apply the style; default 1. */
    float strength;
    /** RESTYLE_PRESERVE_*; default RESTYLE_PRESERVE_NONE. */
    uint32_t preserve_color;
    /** Work with the longest side at this many pixels, 0 = method default. */
    uint32_t working_size;
    /** Optimisation steps per scale (Gatys methods), 0 = method default. */
    uint32_t iterations;
    /** Seed for anything random; same seed, same result. */
    uint64_t seed;
    /** "auto" (NULL), "cpu", "cuda", "cuda:N", "metal". */
    const char *device;
    /** Style image file (JPEG, PNG, WebP, TIFF), or NULL. */
    const char *style_path;
    /** Style image as pixels instead of style_path, or NULL. */
    const restyle_image *style_image;
    /** RESTYLE_METHOD_MULTISTYLE26: style_weights_len (26) non-negative blend
     *  weights, normalised to sum 1 by the library. */
    const float *style_weights;
    uint32_t style_weights_len;
    /** RESTYLE_METHOD_FAST: the trained network's file or name. Gatys
     *  methods: the VGG file or catalog name. Other methods: unused. */
    const char *model_path;
    /** Optional progress callback and the pointer it is given. */
    restyle_progress_fn progress;
    void *progress_user_data;
    /* ---- appended after the first release (see Compatibility) ---- */
    /** Gatys methods: wall-clock budget in seconds for the whole run, 0 = no
     *  budget (iterations only); negative, NaN or infinite values are
     *  RESTYLE_ERR_INVALID_ARGUMENT. Default 0. */
    double max_seconds;
} restyle_params;

/* ------------------------------------------------------------------------ */
/* Functions                                                                */
/* ------------------------------------------------------------------------ */

/** The ABI version of the loaded library; compare with RESTYLE_ABI_VERSION. */
uint32_t restyle_abi_version(void);

/** The library's version string, e.g. "0.1.0" (static). */
const char *restyle_version(void);

/**
 * The message of the last failed call on this thread, "" if the last call
 * succeeded. Valid until the next restyle call on this thread; never NULL.
 */
const char *restyle_last_error(void);

/** A static name for a status, e.g. "RESTYLE_ERR_CANCELLED". Never NULL. */
const char *restyle_status_name(restyle_status status);

/** Bytes per pixel of a RESTYLE_FORMAT_*, 0 if the format is unknown. */
uint32_t restyle_format_bytes_per_pixel(uint32_t format);

/**
 * Fills `params` with defaults and sets params->struct_size = struct_size.
 * Pass sizeof(restyle_params) (or an earlier size, see Compatibility: then
 * only that many bytes are written).
 * Errors: RESTYLE_ERR_NULL_POINTER, RESTYLE_ERR_STRUCT_SIZE.
 */
restyle_status restyle_params_init(restyle_params *params, size_t struct_size);

/** Opaque: a weights folder and the networks loaded from it so far. */
typedef struct restyle_context restyle_context;

/**
 * Creates a context reading network weights from `weights_dir` (NULL: the
 * RESTYLE_WEIGHTS_DIR environment variable, else the user's restyle cache;
 * the library never downloads). Networks load on first use and stay loaded
 * until restyle_context_free. On failure *out is NULL.
 * Errors: RESTYLE_ERR_NULL_POINTER (out), RESTYLE_ERR_WEIGHTS (no such
 * folder), RESTYLE_ERR_INVALID_ARGUMENT (not UTF-8).
 */
restyle_status restyle_context_new(const char *weights_dir, restyle_context **out);

/** Frees a context and its networks. NULL is ignored. */
void restyle_context_free(restyle_context *ctx);

/**
 * Stylizes `image` in place: R, G and B are replaced, alpha is never
 * written, the size stays the same. With a `mask` (NULL = whole image) only
 * covered pixels change. On any status other than RESTYLE_OK the image is
 * left exactly as it was.
 * Errors: RESTYLE_ERR_NULL_POINTER, RESTYLE_ERR_INVALID_ARGUMENT,
 * RESTYLE_ERR_UNSUPPORTED_FORMAT, RESTYLE_ERR_STRUCT_SIZE, RESTYLE_ERR_IO
 * (style image unreadable), RESTYLE_ERR_WEIGHTS, RESTYLE_ERR_DEVICE,
 * RESTYLE_ERR_CANCELLED, RESTYLE_ERR_UNSUPPORTED_METHOD, RESTYLE_ERR_INTERNAL.
 */
restyle_status restyle_stylize(restyle_context *ctx, const restyle_image *image, const restyle_mask *mask,
                               const restyle_params *params);

/* ------------------------------------------------------------------------ */
/* Dialog helpers: built-in style names, devices                            */
/* ------------------------------------------------------------------------ */

/** Number of RESTYLE_METHOD_MULTISTYLE26 built-in styles (26). */
uint32_t restyle_multistyle26_style_count(void);

/**
 * The name of built-in style `id` (0-based; the index to set to 1 in
 * style_weights), e.g. "crimson"; static, NULL when out of range. The same
 * names the CLI takes in --style-id and lists in `restyle info`.
 */
const char *restyle_multistyle26_style_name(uint32_t id);

/**
 * 1 when `device` ("cpu", "cuda", "cuda:1", "metal", "auto") is compiled in
 * and opens, else 0 with restyle_last_error() saying why. Lets a host offer
 * only the devices that work.
 */
int32_t restyle_device_available(const char *device);

/** Called once per fast network: a name to show and the value for
 *  restyle_params.model_path that selects it (valid during the call). */
typedef void (*restyle_fast_model_fn)(void *user_data, const char *name, const char *model_path);

/**
 * Lists the RESTYLE_METHOD_FAST networks `ctx` can load, the built-in one
 * ("starry_night") first, then networks imported with
 * `restyle weights import FILE --name NAME` (stored as fast-NAME.safetensors)
 * in the context's weights folder(s), then in the user's restyle cache.
 * NULL ctx or callback: RESTYLE_ERR_NULL_POINTER.
 */
restyle_status restyle_fast_models(const restyle_context *ctx, restyle_fast_model_fn callback, void *user_data);

/* ------------------------------------------------------------------------ */
/* Video streams: frames one at a time, flicker-free                         */
/* ------------------------------------------------------------------------ */

/** Each output is blended with the previous output warped along the
 *  optical flow of the source frames, where that flow is trustworthy
 *  (occlusions and scene cuts start afresh). The default. */
#define RESTYLE_TEMPORAL_FLOW 0u
/** A plain moving average of the stylized frames (ghosts on motion). */
#define RESTYLE_TEMPORAL_EMA 1u
/** Per-frame stylization (no state). */
#define RESTYLE_TEMPORAL_NONE 2u

/** The library's default flow preset (currently RESTYLE_FLOW_FAST). */
#define RESTYLE_FLOW_DEFAULT 0u
#define RESTYLE_FLOW_ULTRAFAST 1u
#define RESTYLE_FLOW_FAST 2u
#define RESTYLE_FLOW_MEDIUM 3u

/**
 * How a stream carries state between frames. Initialise with
 * restyle_video_params_init(&v, sizeof v). Fields are only ever appended.
 */
typedef struct restyle_video_params {
    /** sizeof(restyle_video_params) as the caller compiled it. Always first. */
    size_t struct_size;
    /** RESTYLE_TEMPORAL_*; default RESTYLE_TEMPORAL_FLOW. */
    uint32_t temporal;
    /** 0..1: the previous output's weight; default 0.8. */
    float temporal_strength;
    /** RESTYLE_FLOW_*; default RESTYLE_FLOW_DEFAULT. */
    uint32_t flow_preset;
} restyle_video_params;

/** Opaque: a video stream on a context (its network, its style, the
 *  previous frame and output). */
typedef struct restyle_video restyle_video;

/**
 * Fills `params` with the defaults and sets params->struct_size.
 * Errors: RESTYLE_ERR_NULL_POINTER, RESTYLE_ERR_STRUCT_SIZE.
 */
restyle_status restyle_video_params_init(restyle_video_params *params, size_t struct_size);

/**
 * Starts a stream on `ctx` with the style of `params` (as for
 * restyle_stylize; the feed-forward methods only: arbitrary, multistyle26,
 * fast, AdaIN) and the temporal behaviour of `video_params` (NULL: the
 * defaults). The network loads into `ctx` if it is not yet; what depends
 * on the style only (the arbitrary network's style vector, AdaIN's style
 * statistics) is computed here, once, not per frame. `params`' pointers
 * are read during this call only; its progress callback is not used by
 * streams. `ctx` must outlive the stream. On failure *out is NULL.
 * Errors: as restyle_stylize, and RESTYLE_ERR_INVALID_ARGUMENT for a Gatys
 * method or a bad video_params field.
 */
restyle_status restyle_video_new(restyle_context *ctx, const restyle_params *params,
                                 const restyle_video_params *video_params, restyle_video **out);

/**
 * Stylizes the next frame in place (R, G, B; alpha never written) and
 * blends it with the stream's previous output. Every frame of a stream has
 * the first frame's size (another size is RESTYLE_ERR_INVALID_ARGUMENT:
 * start a new stream). A host that skips frames just does not pass them:
 * the flow is computed between the frames given. On any status other than
 * RESTYLE_OK the image is left exactly as it was and the stream's state is
 * unchanged. Calls on one stream (or its context) from several threads are
 * serialised.
 * Errors: RESTYLE_ERR_NULL_POINTER, RESTYLE_ERR_INVALID_ARGUMENT,
 * RESTYLE_ERR_UNSUPPORTED_FORMAT, RESTYLE_ERR_DEVICE, RESTYLE_ERR_INTERNAL.
 */
restyle_status restyle_video_frame(restyle_video *stream, const restyle_image *image);

/** Frees a stream (NULL is ignored); its context stays. */
void restyle_video_free(restyle_video *stream);

#ifdef __cplusplus
}
#endif

#endif /* RESTYLE_H */
