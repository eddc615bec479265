/*
 * A C client of restyle.h, compiled with the system C compiler by
 * tests/tests/ffi_c_client.rs and linked against the built librestyle.
 *
 *   client layout                 print sizes, offsets and constants as the
 *                                 header declares them ("name value" lines)
 *   client misuse                 misuse cases: NULLs, bad stride, unknown
 *                                 format, wrong struct_size, cancel
 *   client stylize WEIGHTS STYLE  stylize a synthetic 64x48 RGBA image with
 *                                 the arbitrary network, with a mask, and
 *                                 check RGB changed where masked, alpha kept
 *   client gatys WEIGHTS STYLE PHOTO.rgba W H
 *                                 optimisation (improved and basic presets)
 *                                 on a photo given as raw RGBA8 bytes:
 *                                 progress, cancel mid-run, time budget,
 *                                 luminance preservation, an old-size params
 *   client adain WEIGHTS STYLE    AdaIN with the weights in WEIGHTS
 *   client adain-missing EMPTY_DIR STYLE
 *                                 AdaIN without its files: RESTYLE_ERR_WEIGHTS
 *                                 naming them
 *   client video DIR              a video stream with the embedded fast
 *                                 network (DIR: any folder): misuse, sensor
 *                                 noise flicker damped, bad frames leave the
 *                                 image and the stream's state unchanged
 *
 * Exit status 0 when every check passed; failures are printed.
 */
#include "restyle.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (!(cond)) {                                                          \
            failures++;                                                         \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

#define P(name, value) printf("%s %llu\n", name, (unsigned long long)(value))
#define OFF(type, field) P(#type "." #field, offsetof(type, field))

static int layout(void) {
    P("sizeof.restyle_image", sizeof(restyle_image));
    OFF(restyle_image, pixels);
    OFF(restyle_image, width);
    OFF(restyle_image, height);
    OFF(restyle_image, stride);
    OFF(restyle_image, format);
    P("sizeof.restyle_mask", sizeof(restyle_mask));
    OFF(restyle_mask, data);
    OFF(restyle_mask, stride);
    P("sizeof.restyle_params", sizeof(restyle_params));
    OFF(restyle_params, struct_size);
    OFF(restyle_params, method);
    OFF(restyle_params, strength);
    OFF(restyle_params, preserve_color);
    OFF(restyle_params, working_size);
    OFF(restyle_params, iterations);
    OFF(restyle_params, seed);
    OFF(restyle_params, device);
    OFF(restyle_params, style_path);
    OFF(restyle_params, style_image);
    OFF(restyle_params, style_weights);
    OFF(restyle_params, style_weights_len);
    OFF(restyle_params, model_path);
    OFF(restyle_params, progress);
    OFF(restyle_params, progress_user_data);
    OFF(restyle_params, max_seconds);
    P("sizeof.restyle_status", sizeof(restyle_status));
    P("RESTYLE_ABI_VERSION", RESTYLE_ABI_VERSION);
    P("RESTYLE_OK", RESTYLE_OK);
    P("RESTYLE_ERR_NULL_POINTER", RESTYLE_ERR_NULL_POINTER);
    P("RESTYLE_ERR_INVALID_ARGUMENT", RESTYLE_ERR_INVALID_ARGUMENT);
    P("RESTYLE_ERR_UNSUPPORTED_FORMAT", RESTYLE_ERR_UNSUPPORTED_FORMAT);
    P("RESTYLE_ERR_STRUCT_SIZE", RESTYLE_ERR_STRUCT_SIZE);
    P("RESTYLE_ERR_IO", RESTYLE_ERR_IO);
    P("RESTYLE_ERR_WEIGHTS", RESTYLE_ERR_WEIGHTS);
    P("RESTYLE_ERR_DEVICE", RESTYLE_ERR_DEVICE);
    P("RESTYLE_ERR_CANCELLED", RESTYLE_ERR_CANCELLED);
    P("RESTYLE_ERR_UNSUPPORTED_METHOD", RESTYLE_ERR_UNSUPPORTED_METHOD);
    P("RESTYLE_ERR_INTERNAL", RESTYLE_ERR_INTERNAL);
    P("RESTYLE_FORMAT_RGBA8", RESTYLE_FORMAT_RGBA8);
    P("RESTYLE_FORMAT_BGRA8", RESTYLE_FORMAT_BGRA8);
    P("RESTYLE_FORMAT_RGB8", RESTYLE_FORMAT_RGB8);
    P("RESTYLE_FORMAT_RGBA16", RESTYLE_FORMAT_RGBA16);
    P("RESTYLE_FORMAT_BGRA16", RESTYLE_FORMAT_BGRA16);
    P("RESTYLE_FORMAT_RGBAF16", RESTYLE_FORMAT_RGBAF16);
    P("RESTYLE_FORMAT_RGBAF32", RESTYLE_FORMAT_RGBAF32);
    P("RESTYLE_METHOD_ARBITRARY", RESTYLE_METHOD_ARBITRARY);
    P("RESTYLE_METHOD_MULTISTYLE26", RESTYLE_METHOD_MULTISTYLE26);
    P("RESTYLE_METHOD_FAST", RESTYLE_METHOD_FAST);
    P("RESTYLE_METHOD_GATYS", RESTYLE_METHOD_GATYS);
    P("RESTYLE_METHOD_GATYS_IMPROVED", RESTYLE_METHOD_GATYS_IMPROVED);
    P("RESTYLE_METHOD_ADAIN", RESTYLE_METHOD_ADAIN);
    P("RESTYLE_PRESERVE_NONE", RESTYLE_PRESERVE_NONE);
    P("RESTYLE_PRESERVE_LUMINANCE", RESTYLE_PRESERVE_LUMINANCE);
    P("RESTYLE_PRESERVE_HISTOGRAM", RESTYLE_PRESERVE_HISTOGRAM);
    P("sizeof.restyle_video_params", sizeof(restyle_video_params));
    OFF(restyle_video_params, struct_size);
    OFF(restyle_video_params, temporal);
    OFF(restyle_video_params, temporal_strength);
    OFF(restyle_video_params, flow_preset);
    P("RESTYLE_TEMPORAL_FLOW", RESTYLE_TEMPORAL_FLOW);
    P("RESTYLE_TEMPORAL_EMA", RESTYLE_TEMPORAL_EMA);
    P("RESTYLE_TEMPORAL_NONE", RESTYLE_TEMPORAL_NONE);
    P("RESTYLE_FLOW_DEFAULT", RESTYLE_FLOW_DEFAULT);
    P("RESTYLE_FLOW_ULTRAFAST", RESTYLE_FLOW_ULTRAFAST);
    P("RESTYLE_FLOW_FAST", RESTYLE_FLOW_FAST);
    P("RESTYLE_FLOW_MEDIUM", RESTYLE_FLOW_MEDIUM);
    /* what the library itself reports */
    P("lib.abi_version", restyle_abi_version());
    for (uint32_t f = 1; f <= 7; f++) printf("lib.bytes_per_pixel.%u %u\n", f, restyle_format_bytes_per_pixel(f));
    return 0;
}

static int cancel_now(void *user, const char *stage, float fraction) {
    (void)fraction;
    int *calls = (int *)user;
    (*calls)++;
    return stage != NULL; /* cancel at the first report */
}

static int misuse(void) {
    CHECK(restyle_abi_version() == RESTYLE_ABI_VERSION, "abi %u", restyle_abi_version());
    CHECK(strlen(restyle_version()) > 0, "empty version");

    restyle_context *ctx = (restyle_context *)1;
    restyle_status s = restyle_context_new("/nonexistent/restyle-weights", &ctx);
    CHECK(s == RESTYLE_ERR_WEIGHTS && ctx == NULL, "status %d", s);
    CHECK(strstr(restyle_last_error(), "/nonexistent/restyle-weights") != NULL, "msg '%s'", restyle_last_error());
    s = restyle_context_new(NULL, NULL);
    CHECK(s == RESTYLE_ERR_NULL_POINTER, "status %d", s);

    /* a context on a real but empty folder: argument checks come first */
    s = restyle_context_new(".", &ctx);
    CHECK(s == RESTYLE_OK && ctx != NULL, "status %d: %s", s, restyle_last_error());
    CHECK(strcmp(restyle_last_error(), "") == 0, "stale message '%s'", restyle_last_error());

    uint8_t px[8 * 4 * 4] = {0};
    restyle_image img = {px, 8, 4, 32, RESTYLE_FORMAT_RGBA8};
    restyle_params p;
    CHECK(restyle_params_init(&p, sizeof p) == RESTYLE_OK, "init");
    CHECK(p.struct_size == sizeof p && p.method == RESTYLE_METHOD_ARBITRARY && p.strength == 1.0f, "defaults");
    CHECK(restyle_params_init(NULL, sizeof p) == RESTYLE_ERR_NULL_POINTER, "init NULL");
    CHECK(restyle_params_init(&p, 8) == RESTYLE_ERR_STRUCT_SIZE, "init small");
    restyle_params_init(&p, sizeof p);

    CHECK(restyle_stylize(NULL, &img, NULL, &p) == RESTYLE_ERR_NULL_POINTER, "NULL ctx");
    CHECK(strstr(restyle_last_error(), "ctx") != NULL, "msg '%s'", restyle_last_error());
    CHECK(restyle_stylize(ctx, NULL, NULL, &p) == RESTYLE_ERR_NULL_POINTER, "NULL image");
    CHECK(restyle_stylize(ctx, &img, NULL, NULL) == RESTYLE_ERR_NULL_POINTER, "NULL params");
    restyle_image nopx = img;
    nopx.pixels = NULL;
    CHECK(restyle_stylize(ctx, &nopx, NULL, &p) == RESTYLE_ERR_NULL_POINTER, "NULL pixels");

    restyle_image narrow = img;
    narrow.stride = 31;
    s = restyle_stylize(ctx, &narrow, NULL, &p);
    CHECK(s == RESTYLE_ERR_INVALID_ARGUMENT, "stride<width: %d", s);
    CHECK(strstr(restyle_last_error(), "stride") != NULL, "msg '%s'", restyle_last_error());

    restyle_image unknown = img;
    unknown.format = 42;
    s = restyle_stylize(ctx, &unknown, NULL, &p);
    CHECK(s == RESTYLE_ERR_UNSUPPORTED_FORMAT, "format: %d", s);
    CHECK(restyle_format_bytes_per_pixel(42) == 0, "bpp of unknown");

    restyle_params wrong = p;
    wrong.struct_size = sizeof p + 8;
    s = restyle_stylize(ctx, &img, NULL, &wrong);
    CHECK(s == RESTYLE_ERR_STRUCT_SIZE, "struct_size: %d", s);
    CHECK(strstr(restyle_last_error(), "struct_size") != NULL, "msg '%s'", restyle_last_error());

    restyle_params bad = p;
    bad.strength = 1.5f;
    CHECK(restyle_stylize(ctx, &img, NULL, &bad) == RESTYLE_ERR_INVALID_ARGUMENT, "strength");
    bad = p;
    bad.method = 77;
    bad.style_path = NULL;
    s = restyle_stylize(ctx, &img, NULL, &bad);
    CHECK(s == RESTYLE_ERR_UNSUPPORTED_METHOD, "method: %d (%s)", s, restyle_last_error());

    restyle_mask mask = {NULL, 8};
    CHECK(restyle_stylize(ctx, &img, &mask, &p) == RESTYLE_ERR_NULL_POINTER, "NULL mask data");

    int calls = 0;
    restyle_params c = p;
    /* A valid request (the built-in fast network needs no style): an
       invalid one is refused before the first progress call. */
    c.method = RESTYLE_METHOD_FAST;
    c.progress = cancel_now;
    c.progress_user_data = &calls;
    s = restyle_stylize(ctx, &img, NULL, &c);
    CHECK(s == RESTYLE_ERR_CANCELLED && calls == 1, "cancel: %d after %d calls", s, calls);
    CHECK(strstr(restyle_last_error(), "cancel") != NULL, "msg '%s'", restyle_last_error());
    for (size_t i = 0; i < sizeof px; i++) CHECK(px[i] == 0, "pixel %zu written after an error", i);

    CHECK(strcmp(restyle_status_name(RESTYLE_ERR_CANCELLED), "RESTYLE_ERR_CANCELLED") == 0, "name");
    restyle_context_free(ctx);
    restyle_context_free(NULL);
    return 0;
}

/* A context on `weights` and default params for a CPU run with `style`. */
static restyle_context *open_cpu(const char *weights, const char *style, restyle_params *p) {
    restyle_context *ctx = NULL;
    /* "-": no folder, the library reads RESTYLE_WEIGHTS_DIR (a list). */
    restyle_status s = restyle_context_new(strcmp(weights, "-") == 0 ? NULL : weights, &ctx);
    CHECK(s == RESTYLE_OK, "context: %s", restyle_last_error());
    restyle_params_init(p, sizeof *p);
    p->style_path = style;
    p->device = "cpu";
    return ctx;
}

static int progress_calls = 0;
static int count_progress(void *user, const char *stage, float fraction) {
    (void)user;
    (void)stage;
    CHECK(fraction >= 0.0f && fraction <= 1.0f, "fraction %f", fraction);
    progress_calls++;
    return 0;
}

static int stylize(const char *weights, const char *style) {
    enum { W = 64, H = 48, STRIDE = W * 4 + 12 };
    uint8_t *px = calloc(STRIDE * H, 1);
    uint8_t mask_px[W * H];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t *p = px + y * STRIDE + x * 4;
            p[0] = (uint8_t)(x * 4);
            p[1] = (uint8_t)(y * 5);
            p[2] = 200;
            p[3] = x < 32 ? 255 : 128;
            mask_px[y * W + x] = (x >= 8 && x < 40 && y >= 8 && y < 32) ? 255 : 0;
        }
    uint8_t *before = malloc(STRIDE * H);
    memcpy(before, px, STRIDE * H);

    restyle_params p;
    restyle_context *ctx = open_cpu(weights, style, &p);
    p.progress = count_progress;
    restyle_image img = {px, W, H, STRIDE, RESTYLE_FORMAT_RGBA8};
    restyle_mask mask = {mask_px, W};
    restyle_status s = restyle_stylize(ctx, &img, &mask, &p);
    CHECK(s == RESTYLE_OK, "stylize: %s: %s", restyle_status_name(s), restyle_last_error());
    CHECK(progress_calls >= 1, "progress never called");

    long changed_in = 0, changed_out = 0, alpha_changed = 0, pad_changed = 0;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            const uint8_t *a = before + y * STRIDE + x * 4, *b = px + y * STRIDE + x * 4;
            int diff = a[0] != b[0] || a[1] != b[1] || a[2] != b[2];
            if (mask_px[y * W + x]) changed_in += diff; else changed_out += diff;
            alpha_changed += a[3] != b[3];
        }
        pad_changed += memcmp(before + y * STRIDE + W * 4, px + y * STRIDE + W * 4, STRIDE - W * 4) != 0;
    }
    printf("changed inside mask %ld/%d, outside %ld, alpha changed %ld\n", changed_in, 32 * 24, changed_out, alpha_changed);
    CHECK(changed_in > 32 * 24 * 9 / 10, "only %ld masked pixels changed", changed_in);
    CHECK(changed_out == 0 && alpha_changed == 0 && pad_changed == 0, "out %ld alpha %ld pad %ld", changed_out,
          alpha_changed, pad_changed);

    /* a missing style file is an error, not a crash, and leaves the image alone */
    memcpy(before, px, STRIDE * H);
    p.style_path = "/nonexistent/style.jpg";
    s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_ERR_IO, "missing style: %s", restyle_status_name(s));
    CHECK(strstr(restyle_last_error(), "/nonexistent/style.jpg") != NULL, "msg '%s'", restyle_last_error());
    CHECK(memcmp(before, px, STRIDE * H) == 0, "image changed by a failed call");

    restyle_context_free(ctx);
    free(px);
    free(before);
    return 0;
}

/* ---- optimisation and AdaIN ------------------------------------------- */

/* What the progress callback saw, and when it should cancel. */
typedef struct {
    int calls;
    int optimise_calls; /* reports from the optimisation itself */
    int saw_scale;      /* a coarse-to-fine "scale i/n" stage */
    int cancel_after;   /* cancel at this optimisation report; 0 = never */
    int bad_fraction;
    float last_fraction;
} watch;

static int watch_progress(void *user, const char *stage, float fraction) {
    watch *w = (watch *)user;
    w->calls++;
    if (!(fraction >= 0.0f && fraction <= 1.0f)) w->bad_fraction++;
    w->last_fraction = fraction;
    if (strcmp(stage, "prepare") != 0) {
        w->optimise_calls++;
        if (strncmp(stage, "scale ", 6) == 0) w->saw_scale = 1;
    }
    return w->cancel_after > 0 && w->optimise_calls >= w->cancel_after;
}

static uint8_t *read_file(const char *path, size_t size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *buf = malloc(size);
    size_t got = fread(buf, 1, size, f);
    fclose(f);
    if (got != size) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Mean absolute RGB difference (0..255) and whether any alpha byte differs. */
static double rgb_diff(const uint8_t *a, const uint8_t *b, size_t pixels, int *alpha_changed) {
    double sum = 0;
    *alpha_changed = 0;
    for (size_t i = 0; i < pixels; i++) {
        for (int c = 0; c < 3; c++) sum += abs((int)a[i * 4 + c] - (int)b[i * 4 + c]);
        *alpha_changed |= a[i * 4 + 3] != b[i * 4 + 3];
    }
    return sum / (3.0 * pixels);
}

/* Mean absolute difference of the BT.601 chroma (Cb, Cr) of two images. */
static double chroma_diff(const uint8_t *a, const uint8_t *b, size_t pixels) {
    double sum = 0;
    for (size_t i = 0; i < pixels; i++) {
        const uint8_t *p = a + i * 4, *q = b + i * 4;
        double cb = -0.168736 * (p[0] - q[0]) - 0.331264 * (p[1] - q[1]) + 0.5 * (p[2] - q[2]);
        double cr = 0.5 * (p[0] - q[0]) - 0.418688 * (p[1] - q[1]) - 0.081312 * (p[2] - q[2]);
        sum += (cb < 0 ? -cb : cb) + (cr < 0 ? -cr : cr);
    }
    return sum / (2.0 * pixels);
}

static int gatys(const char *weights, const char *style, const char *photo, int w, int h) {
    size_t bytes = (size_t)w * h * 4, pixels = (size_t)w * h;
    uint8_t *orig = read_file(photo, bytes);
    CHECK(orig != NULL, "cannot read %zu bytes from %s", bytes, photo);
    if (!orig) return 1;
    for (size_t i = 0; i < pixels; i++) orig[i * 4 + 3] = (uint8_t)(i % 251); /* alpha must survive */
    uint8_t *px = malloc(bytes);
    restyle_image img = {px, (uint32_t)w, (uint32_t)h, (size_t)w * 4, RESTYLE_FORMAT_RGBA8};
    int alpha_changed = 0;

    restyle_params p;
    restyle_context *ctx = open_cpu(weights, style, &p);
    CHECK(p.max_seconds == 0.0, "default max_seconds %f", p.max_seconds);
    p.method = RESTYLE_METHOD_GATYS_IMPROVED;
    p.iterations = 3;
    watch wt = {0};
    p.progress = watch_progress;
    p.progress_user_data = &wt;

    /* 1. the improved preset runs its coarse-to-fine scales and changes the photo */
    memcpy(px, orig, bytes);
    restyle_status s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_OK, "improved: %s: %s", restyle_status_name(s), restyle_last_error());
    double d = rgb_diff(orig, px, pixels, &alpha_changed);
    printf("improved: %d reports (%d from the optimisation), mean |change| %.2f/255\n", wt.calls, wt.optimise_calls, d);
    CHECK(wt.optimise_calls >= 2 && wt.saw_scale && wt.bad_fraction == 0, "progress: %d optimise reports, scale %d, bad %d",
          wt.optimise_calls, wt.saw_scale, wt.bad_fraction);
    CHECK(d > 4.0, "the photo barely changed (%.2f/255)", d);
    CHECK(!alpha_changed, "alpha written");
    uint8_t *improved = malloc(bytes);
    memcpy(improved, px, bytes);

    /* 2. cancel from the callback in the middle of the optimisation */
    memcpy(px, orig, bytes);
    watch wc = {0};
    wc.cancel_after = 2;
    p.progress_user_data = &wc;
    s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_ERR_CANCELLED, "cancel: %s: %s", restyle_status_name(s), restyle_last_error());
    CHECK(wc.optimise_calls == 2, "%d reports after a cancel at the 2nd", wc.optimise_calls);
    CHECK(memcmp(px, orig, bytes) == 0, "the image changed after a cancel");

    /* 3. a time budget ends a run of (nearly) unbounded iterations */
    watch wb = {0};
    p.progress_user_data = &wb;
    p.iterations = 1000000;
    p.max_seconds = 0.5;
    memcpy(px, orig, bytes);
    s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_OK, "budget: %s: %s", restyle_status_name(s), restyle_last_error());
    CHECK(wb.optimise_calls >= 2 && wb.optimise_calls < 1000, "%d steps in a 0.5 s budget", wb.optimise_calls);
    CHECK(rgb_diff(orig, px, pixels, &alpha_changed) > 1.0, "nothing changed within the budget");
    /* the fraction is the share of the budget spent, not of the 10^6 iterations */
    CHECK(wb.last_fraction > 0.5f, "last fraction %f with a spent budget", wb.last_fraction);
    printf("budget 0.5 s: %d steps, last fraction %.2f\n", wb.optimise_calls, wb.last_fraction);

    /* 4. a bad budget is refused before any work; the image stays */
    memcpy(px, orig, bytes);
    p.max_seconds = -1.0;
    s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_ERR_INVALID_ARGUMENT, "max_seconds -1: %s", restyle_status_name(s));
    CHECK(strstr(restyle_last_error(), "max_seconds") != NULL, "msg '%s'", restyle_last_error());
    CHECK(memcmp(px, orig, bytes) == 0, "image changed by a refused call");

    /* 5. luminance preservation (basic preset): the photo's colours (chroma) stay */
    p.method = RESTYLE_METHOD_GATYS;
    p.max_seconds = 0.0;
    p.iterations = 3;
    p.preserve_color = RESTYLE_PRESERVE_LUMINANCE;
    p.progress = NULL;
    memcpy(px, orig, bytes);
    s = restyle_stylize(ctx, &img, NULL, &p);
    CHECK(s == RESTYLE_OK, "luminance: %s: %s", restyle_status_name(s), restyle_last_error());
    double kept = chroma_diff(orig, px, pixels), free_ = chroma_diff(orig, improved, pixels);
    printf("chroma change: luminance mode %.2f, colour mode %.2f (/255)\n", kept, free_);
    CHECK(rgb_diff(orig, px, pixels, &alpha_changed) > 2.0, "luminance mode changed nothing");
    CHECK(kept < free_ / 2, "chroma moved %.2f with luminance preservation vs %.2f without", kept, free_);

    /* 6. a caller compiled against the first header (no max_seconds), basic
       preset; the bytes past its struct_size are never read */
    restyle_params old;
    memset(&old, 0xff, sizeof old);
    CHECK(restyle_params_init(&old, offsetof(restyle_params, max_seconds)) == RESTYLE_OK, "init old size: %s",
          restyle_last_error());
    CHECK(isnan(old.max_seconds), "restyle_params_init wrote past the old struct_size");
    old.method = RESTYLE_METHOD_GATYS;
    old.style_path = style;
    old.device = "cpu";
    old.iterations = 2;
    memcpy(px, orig, bytes);
    s = restyle_stylize(ctx, &img, NULL, &old);
    CHECK(s == RESTYLE_OK, "old-size params: %s: %s", restyle_status_name(s), restyle_last_error());
    CHECK(rgb_diff(orig, px, pixels, &alpha_changed) > 2.0, "basic preset changed nothing");
    CHECK(!alpha_changed, "alpha written");

    /* a struct_size between the two known sizes is refused */
    old.struct_size = offsetof(restyle_params, max_seconds) + 4;
    CHECK(restyle_stylize(ctx, &img, NULL, &old) == RESTYLE_ERR_STRUCT_SIZE, "odd struct_size accepted");

    restyle_context_free(ctx);
    free(orig);
    free(px);
    free(improved);
    return 0;
}

/* A 40x30 RGBA test card for AdaIN. */
static uint8_t *card(uint8_t *px, int w, int h) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *q = px + (y * w + x) * 4;
            q[0] = (uint8_t)(x * 6);
            q[1] = (uint8_t)(y * 8);
            q[2] = (uint8_t)((x + y) * 3);
            q[3] = (uint8_t)(200 + x);
        }
    return px;
}

static int adain(const char *weights, const char *style, int expect_missing) {
    enum { W = 40, H = 30 };
    uint8_t px[W * H * 4], orig[W * H * 4];
    memcpy(orig, card(px, W, H), sizeof px);
    restyle_image img = {px, W, H, W * 4, RESTYLE_FORMAT_RGBA8};
    restyle_params p;
    restyle_context *ctx = open_cpu(weights, style, &p);
    p.method = RESTYLE_METHOD_ADAIN;
    p.progress = count_progress;
    restyle_status s = restyle_stylize(ctx, &img, NULL, &p);
    if (expect_missing) {
        const char *e = restyle_last_error();
        printf("missing AdaIN weights: %s\n%s\n", restyle_status_name(s), e);
        CHECK(s == RESTYLE_ERR_WEIGHTS, "status %s", restyle_status_name(s));
        CHECK(strstr(e, "vgg_normalised.pth") && strstr(e, "decoder.pth") && strstr(e, "restyle weights import"),
              "message does not say which files to bring and how: '%s'", e);
        CHECK(memcmp(px, orig, sizeof px) == 0, "image changed by a failed call");
    } else {
        CHECK(s == RESTYLE_OK, "adain: %s: %s", restyle_status_name(s), restyle_last_error());
        int alpha_changed = 0;
        double d = rgb_diff(orig, px, W * H, &alpha_changed);
        printf("adain: mean |change| %.2f/255, %d progress reports\n", d, progress_calls);
        CHECK(d > 4.0 && !alpha_changed && progress_calls >= 2, "change %.2f, alpha %d, reports %d", d, alpha_changed,
              progress_calls);
        /* no style image: a clear argument error */
        p.style_path = NULL;
        memcpy(px, orig, sizeof px);
        s = restyle_stylize(ctx, &img, NULL, &p);
        CHECK(s == RESTYLE_ERR_INVALID_ARGUMENT && strstr(restyle_last_error(), "style"), "no style: %s: %s",
              restyle_status_name(s), restyle_last_error());
        CHECK(memcmp(px, orig, sizeof px) == 0, "image changed by a failed call");
    }
    restyle_context_free(ctx);
    return 0;
}

/* A static 48x36 RGBA scene with per-frame "sensor noise" of +-4 levels
 * (a fixed LCG), as a still camera delivers it. */
enum { VW = 48, VH = 36, VN = 10 };
static void noisy_frame(uint8_t *px, unsigned frame) {
    uint32_t r = 12345u + frame * 7919u;
    for (int y = 0; y < VH; y++)
        for (int x = 0; x < VW; x++) {
            uint8_t *q = px + (y * VW + x) * 4;
            /* triangle waves (no libm needed): a smooth texture to track */
            double v = 0.15 + 0.35 * (abs(x * 2 % 40 - 20) / 20.0) + 0.35 * (abs(y * 3 % 34 - 17) / 17.0);
            double c[3] = {v, 0.7 * v + 0.2, 1.0 - v};
            for (int k = 0; k < 3; k++) {
                r = r * 1664525u + 1013904223u;
                int n = (int)(r >> 24) % 9 - 4;
                int val = (int)(c[k] * 255.0 + 0.5) + n;
                q[k] = (uint8_t)(val < 0 ? 0 : val > 255 ? 255 : val);
            }
            q[3] = (uint8_t)(100 + x);
        }
}

/* Mean |a - b| over RGB of two RGBA frames, in levels. */
static double frame_diff(const uint8_t *a, const uint8_t *b) {
    double d = 0;
    for (int i = 0; i < VW * VH; i++)
        for (int k = 0; k < 3; k++) d += fabs((double)a[i * 4 + k] - (double)b[i * 4 + k]);
    return d / (VW * VH * 3);
}

static int video(const char *dir) {
    static uint8_t src[VN][VW * VH * 4], per_frame[VN][VW * VH * 4], streamed[VN][VW * VH * 4];
    restyle_context *ctx = NULL;
    CHECK(restyle_context_new(dir, &ctx) == RESTYLE_OK, "context: %s", restyle_last_error());
    restyle_params p;
    restyle_params_init(&p, sizeof p);
    p.method = RESTYLE_METHOD_FAST; /* the embedded network: no weight files */
    p.device = "cpu";
    restyle_video_params v;
    CHECK(restyle_video_params_init(&v, sizeof v) == RESTYLE_OK, "video init");
    CHECK(v.struct_size == sizeof v && v.temporal == RESTYLE_TEMPORAL_FLOW && v.temporal_strength == 0.8f &&
              v.flow_preset == RESTYLE_FLOW_DEFAULT, "video defaults");
    CHECK(restyle_video_params_init(NULL, sizeof v) == RESTYLE_ERR_NULL_POINTER, "init NULL");
    CHECK(restyle_video_params_init(&v, 3) == RESTYLE_ERR_STRUCT_SIZE, "init small");
    restyle_video_params_init(&v, sizeof v);

    /* misuse of restyle_video_new: *out is NULL after every failure */
    restyle_video *stream = (restyle_video *)1;
    CHECK(restyle_video_new(NULL, &p, &v, &stream) == RESTYLE_ERR_NULL_POINTER && stream == NULL, "NULL ctx");
    CHECK(restyle_video_new(ctx, NULL, &v, &stream) == RESTYLE_ERR_NULL_POINTER, "NULL params");
    CHECK(restyle_video_new(ctx, &p, &v, NULL) == RESTYLE_ERR_NULL_POINTER, "NULL out");
    restyle_params gatys = p;
    gatys.method = RESTYLE_METHOD_GATYS;
    restyle_status s = restyle_video_new(ctx, &gatys, &v, &stream);
    CHECK(s == RESTYLE_ERR_INVALID_ARGUMENT && stream == NULL && strstr(restyle_last_error(), "feed-forward"),
          "gatys: %s: %s", restyle_status_name(s), restyle_last_error());
    restyle_video_params bad = v;
    bad.temporal = 7;
    CHECK(restyle_video_new(ctx, &p, &bad, &stream) == RESTYLE_ERR_INVALID_ARGUMENT &&
              strstr(restyle_last_error(), "RESTYLE_TEMPORAL_"), "temporal 7: %s", restyle_last_error());
    bad = v;
    bad.temporal_strength = 1.5f;
    CHECK(restyle_video_new(ctx, &p, &bad, &stream) == RESTYLE_ERR_INVALID_ARGUMENT, "strength 1.5");
    bad = v;
    bad.flow_preset = 9;
    CHECK(restyle_video_new(ctx, &p, &bad, &stream) == RESTYLE_ERR_INVALID_ARGUMENT, "preset 9");
    bad = v;
    bad.struct_size = 4;
    CHECK(restyle_video_new(ctx, &p, &bad, &stream) == RESTYLE_ERR_STRUCT_SIZE, "video struct_size");

    /* per-frame stylization of the noisy frames, for reference */
    for (unsigned i = 0; i < VN; i++) {
        noisy_frame(src[i], i);
        memcpy(per_frame[i], src[i], sizeof src[i]);
        restyle_image img = {per_frame[i], VW, VH, VW * 4, RESTYLE_FORMAT_RGBA8};
        CHECK(restyle_stylize(ctx, &img, NULL, &p) == RESTYLE_OK, "stylize: %s", restyle_last_error());
    }

    s = restyle_video_new(ctx, &p, NULL /* defaults */, &stream);
    CHECK(s == RESTYLE_OK && stream != NULL, "video_new: %s", restyle_last_error());
    for (unsigned i = 0; i < VN && stream; i++) {
        memcpy(streamed[i], src[i], sizeof src[i]);
        restyle_image img = {streamed[i], VW, VH, VW * 4, RESTYLE_FORMAT_RGBA8};
        if (i == 3) {
            /* bad frames between good ones: status, image and state unchanged */
            CHECK(restyle_video_frame(stream, NULL) == RESTYLE_ERR_NULL_POINTER, "NULL frame");
            CHECK(restyle_video_frame(NULL, &img) == RESTYLE_ERR_NULL_POINTER, "NULL stream");
            restyle_image small = img;
            small.width = VW - 2;
            s = restyle_video_frame(stream, &small);
            CHECK(s == RESTYLE_ERR_INVALID_ARGUMENT && strstr(restyle_last_error(), "46"), "size change: %s: %s",
                  restyle_status_name(s), restyle_last_error());
            restyle_image unknown = img;
            unknown.format = 42;
            CHECK(restyle_video_frame(stream, &unknown) == RESTYLE_ERR_UNSUPPORTED_FORMAT, "format");
            CHECK(memcmp(streamed[i], src[i], sizeof src[i]) == 0, "a failed call changed the frame");
        }
        s = restyle_video_frame(stream, &img);
        CHECK(s == RESTYLE_OK, "frame %u: %s", i, restyle_last_error());
        for (int k = 0; k < VW * VH; k++)
            if (streamed[i][k * 4 + 3] != src[i][k * 4 + 3]) {
                CHECK(0, "alpha written at frame %u", i);
                break;
            }
    }
    restyle_video_free(stream);
    restyle_video_free(NULL);

    /* The first frame has no history: per-frame stylization exactly. */
    CHECK(memcmp(streamed[0], per_frame[0], sizeof src[0]) == 0, "first frame differs from per-frame");
    /* Flicker (mean change between consecutive outputs) once the blend has
     * settled: per-frame stylization amplifies the noise, the stream damps it. */
    double f_per = 0, f_stream = 0, dev = 0;
    for (unsigned i = 3; i < VN; i++) {
        f_per += frame_diff(per_frame[i], per_frame[i - 1]);
        f_stream += frame_diff(streamed[i], streamed[i - 1]);
        dev += frame_diff(streamed[i], per_frame[i]);
    }
    f_per /= VN - 3;
    f_stream /= VN - 3;
    dev /= VN - 3;
    printf("video: flicker per-frame %.2f, stream %.2f levels; stream vs per-frame %.2f levels\n", f_per, f_stream, dev);
    CHECK(f_per > 1.0 && f_stream < 0.6 * f_per, "flicker not damped: %.2f vs %.2f", f_stream, f_per);
    CHECK(dev < f_per, "the stream strays from per-frame stylization: %.2f", dev);

    /* The failed calls at frame 3 changed nothing: a second stream fed only
     * the good frames gives byte-identical outputs. */
    restyle_video *again = NULL;
    CHECK(restyle_video_new(ctx, &p, &v, &again) == RESTYLE_OK, "again: %s", restyle_last_error());
    int same = 1;
    for (unsigned i = 0; i < VN && again; i++) {
        uint8_t f[VW * VH * 4];
        memcpy(f, src[i], sizeof f);
        restyle_image img = {f, VW, VH, VW * 4, RESTYLE_FORMAT_RGBA8};
        CHECK(restyle_video_frame(again, &img) == RESTYLE_OK, "again frame %u", i);
        same &= memcmp(f, streamed[i], sizeof f) == 0;
    }
    CHECK(same, "the failed calls changed the stream's state");
    restyle_video_free(again);

    /* RESTYLE_TEMPORAL_NONE is per-frame stylization. */
    v.temporal = RESTYLE_TEMPORAL_NONE;
    restyle_video *none = NULL;
    CHECK(restyle_video_new(ctx, &p, &v, &none) == RESTYLE_OK, "none: %s", restyle_last_error());
    for (unsigned i = 0; i < 3 && none; i++) {
        uint8_t f[VW * VH * 4];
        memcpy(f, src[i], sizeof f);
        restyle_image img = {f, VW, VH, VW * 4, RESTYLE_FORMAT_RGBA8};
        CHECK(restyle_video_frame(none, &img) == RESTYLE_OK && memcmp(f, per_frame[i], sizeof f) == 0,
              "none differs from per-frame at %u", i);
    }
    restyle_video_free(none);
    restyle_context_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "layout") == 0) return layout();
    if (argc >= 2 && strcmp(argv[1], "misuse") == 0) misuse();
    else if (argc >= 4 && strcmp(argv[1], "stylize") == 0) stylize(argv[2], argv[3]);
    else if (argc >= 7 && strcmp(argv[1], "gatys") == 0) gatys(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]));
    else if (argc >= 4 && strcmp(argv[1], "adain") == 0) adain(argv[2], argv[3], 0);
    else if (argc >= 4 && strcmp(argv[1], "adain-missing") == 0) adain(argv[2], argv[3], 1);
    else if (argc >= 3 && strcmp(argv[1], "video") == 0) video(argv[2]);
    else {
        fprintf(stderr, "usage: client layout | misuse | stylize WEIGHTS_DIR STYLE_IMAGE | gatys WEIGHTS_DIR STYLE PHOTO.rgba W H\n"
                        "       | adain WEIGHTS_DIR STYLE | adain-missing EMPTY_DIR STYLE | video DIR\n");
        return 2;
    }
    if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
    else printf("all checks passed\n");
    return failures ? 1 : 0;
}
