"""ctypes binding of restyle's C ABI (ffi/include/restyle.h), shared by the
GIMP and Krita plug-ins. Pure Python, no host imports, no numpy.

The library is looked up in this order: $RESTYLE_LIB, then the file next
to this module (where `plugin/install.py` puts it). Weights: $RESTYLE_WEIGHTS_DIR,
then `weights/` next to this module.
"""

import ctypes
import os
import sys

ABI_VERSION = 1

OK = 0
ERR_CANCELLED = 8

FORMAT_RGBA8, FORMAT_BGRA8, FORMAT_RGB8, FORMAT_RGBA16, FORMAT_BGRA16, FORMAT_RGBAF16, FORMAT_RGBAF32 = range(1, 8)
BYTES_PER_PIXEL = {1: 4, 2: 4, 3: 3, 4: 8, 5: 8, 6: 8, 7: 16}

METHOD_ARBITRARY, METHOD_MULTISTYLE26, METHOD_FAST, METHOD_GATYS, METHOD_GATYS_IMPROVED, METHOD_ADAIN = range(1, 7)
METHODS = {"arbitrary": 1, "multistyle26": 2, "fast": 3, "gatys": 4, "gatys-improved": 5, "adain": 6}
# Methods that take a style image (the others have their styles built in).
STYLE_METHODS = ("arbitrary", "adain", "gatys", "gatys-improved")
PRESERVE = {"none": 0, "luminance": 1, "histogram": 2}
MULTISTYLE26_STYLES = 26

HERE = os.path.dirname(os.path.abspath(__file__))


class RestyleError(RuntimeError):
    """A failed call: `status` is the RESTYLE_ERR_* code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.cancelled = status == ERR_CANCELLED


class Image(ctypes.Structure):
    _fields_ = [("pixels", ctypes.c_void_p), ("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("stride", ctypes.c_size_t), ("format", ctypes.c_uint32)]


class Mask(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("stride", ctypes.c_size_t)]


PROGRESS = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_float)
FAST_MODEL = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p)


class Params(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_size_t), ("method", ctypes.c_uint32), ("strength", ctypes.c_float),
                ("preserve_color", ctypes.c_uint32), ("working_size", ctypes.c_uint32),
                ("iterations", ctypes.c_uint32), ("seed", ctypes.c_uint64), ("device", ctypes.c_char_p),
                ("style_path", ctypes.c_char_p), ("style_image", ctypes.POINTER(Image)),
                ("style_weights", ctypes.POINTER(ctypes.c_float)), ("style_weights_len", ctypes.c_uint32),
                ("model_path", ctypes.c_char_p), ("progress", PROGRESS), ("progress_user_data", ctypes.c_void_p),
                ("max_seconds", ctypes.c_double)]


def library_file_name():
    if sys.platform == "win32":
        return "restyle.dll"
    if sys.platform == "darwin":
        return "librestyle.dylib"
    return "librestyle.so"


def library_path():
    return os.environ.get("RESTYLE_LIB") or os.path.join(HERE, library_file_name())


def weights_dir():
    # RESTYLE_WEIGHTS_DIR is a list of folders: the library parses it (NULL
    # weights folder), as the CLI and augment do.
    if os.environ.get("RESTYLE_WEIGHTS_DIR"):
        return None
    local = os.path.join(HERE, "weights")
    return local if os.path.isdir(local) else None


_lib = None


def load():
    """Loads the library once; raises RestyleError with a readable message."""
    global _lib
    if _lib is not None:
        return _lib
    path = library_path()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise RestyleError(-1, "cannot load the restyle library %s: %s (reinstall the plug-in or set RESTYLE_LIB)"
                           % (path, e))
    lib.restyle_abi_version.restype = ctypes.c_uint32
    lib.restyle_abi_version.argtypes = []
    version = lib.restyle_abi_version()
    if version != ABI_VERSION:
        raise RestyleError(-1, "%s implements restyle ABI %d, this plug-in needs %d: install matching versions"
                           % (path, version, ABI_VERSION))
    lib.restyle_last_error.restype = ctypes.c_char_p
    lib.restyle_last_error.argtypes = []
    lib.restyle_params_init.restype = ctypes.c_int32
    lib.restyle_params_init.argtypes = [ctypes.POINTER(Params), ctypes.c_size_t]
    lib.restyle_context_new.restype = ctypes.c_int32
    lib.restyle_context_new.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.restyle_context_free.restype = None
    lib.restyle_context_free.argtypes = [ctypes.c_void_p]
    # Dialog helpers (added to ABI 1 later): absent in an older library.
    if hasattr(lib, "restyle_multistyle26_style_name"):
        lib.restyle_multistyle26_style_count.restype = ctypes.c_uint32
        lib.restyle_multistyle26_style_count.argtypes = []
        lib.restyle_multistyle26_style_name.restype = ctypes.c_char_p
        lib.restyle_multistyle26_style_name.argtypes = [ctypes.c_uint32]
        lib.restyle_device_available.restype = ctypes.c_int32
        lib.restyle_device_available.argtypes = [ctypes.c_char_p]
    if hasattr(lib, "restyle_fast_models"):
        lib.restyle_fast_models.restype = ctypes.c_int32
        lib.restyle_fast_models.argtypes = [ctypes.c_void_p, FAST_MODEL, ctypes.c_void_p]
    lib.restyle_stylize.restype = ctypes.c_int32
    lib.restyle_stylize.argtypes = [ctypes.c_void_p, ctypes.POINTER(Image), ctypes.POINTER(Mask),
                                    ctypes.POINTER(Params)]
    _lib = lib
    return lib


def style_names():
    """The 26 built-in style names, by id, as the library (core) names them."""
    lib = load()
    if not hasattr(lib, "restyle_multistyle26_style_name"):
        return ["style %d" % i for i in range(MULTISTYLE26_STYLES)]
    return [lib.restyle_multistyle26_style_name(i).decode() for i in range(lib.restyle_multistyle26_style_count())]


def devices():
    """The devices to offer: "cpu", plus "cuda" when this library build opens it."""
    lib = load()
    found = ["cpu"]
    if hasattr(lib, "restyle_device_available") and lib.restyle_device_available(b"cuda"):
        found.append("cuda")
    return found


def fast_models(weights=None):
    """(name, model_path) of each fast network the library finds (restyle_fast_models:
    the built-in one first, then fast-NAME.safetensors in the weights folders and the cache)."""
    lib = load()
    if not hasattr(lib, "restyle_fast_models"):
        return [("starry_night", "starry_night")]
    with Context(weights) as ctx:
        return ctx.fast_models()


def thumbnails_path():
    """The committed sprite of the built-in styles (plugin/thumbnails/), or None."""
    for d in (os.path.join(HERE, "thumbnails"), os.path.join(HERE, "..", "thumbnails")):
        p = os.path.join(d, "multistyle26.jpg")
        if os.path.isfile(p):
            return p
    return None


THUMB_SIDE = 64  # side of one tile in the sprite; tiles in one row, by id


def weights_file_exists(*names):
    """True when one of `names` is in a weights folder this binding will use."""
    dirs = [d for d in (os.environ.get("RESTYLE_WEIGHTS_DIR") or "").split(os.pathsep) if d]
    if weights_dir():
        dirs.append(weights_dir())
    return any(os.path.isfile(os.path.join(d, n)) for d in dirs for n in names)


# AdaIN's two files (naoto0804/pytorch-AdaIN), found by name in a weights folder.
ADAIN_FILES = ("vgg_normalised.pth", "decoder.pth")
# Longest side of a dialog preview: small enough to appear in about a second on a CPU.
PREVIEW_SIDE = 160
# Gatys methods optimise: a preview gets this budget at most.
PREVIEW_GATYS_SECONDS = 2.0


def preview_size(width, height, side=PREVIEW_SIDE):
    """The size to read a layer at for a preview (aspect kept, never upscaled)."""
    scale = min(1.0, float(side) / max(width, height, 1))
    return max(1, int(round(width * scale))), max(1, int(round(height * scale))), scale


def layer_name(method, style_path=None, builtin_style=None, model_path=None):
    """The name of a result layer: after the style (file, built-in name or model)."""
    if method == "multistyle26" and builtin_style is not None:
        names = style_names()
        style = builtin_style if isinstance(builtin_style, str) else names[int(builtin_style)]
    elif method == "fast":
        style = os.path.splitext(os.path.basename(model_path))[0] if model_path else "starry_night"
        style = style[len("fast-"):] if style.startswith("fast-") else style
    elif style_path:
        style = os.path.splitext(os.path.basename(style_path))[0]
    else:
        style = method
    return "restyle: %s" % style


def _check(lib, status):
    if status != OK:
        raise RestyleError(status, lib.restyle_last_error().decode("utf-8", "replace"))


def _enc(s):
    return None if s is None else os.fsencode(s) if not isinstance(s, bytes) else s


class Context:
    """A loaded weights folder; reuse it for several images."""
    busy = False

    def __init__(self, weights=None):
        self.lib = load()
        self.ptr = ctypes.c_void_p()
        _check(self.lib, self.lib.restyle_context_new(_enc(weights or weights_dir()), ctypes.byref(self.ptr)))

    def close(self):
        if self.ptr:
            self.lib.restyle_context_free(self.ptr)
            self.ptr = ctypes.c_void_p()

    def fast_models(self):
        """See the module's fast_models()."""
        found = []

        def on_model(_user, name, path):
            found.append((name.decode("utf-8", "replace"), os.fsdecode(path)))

        _check(self.lib, self.lib.restyle_fast_models(self.ptr, FAST_MODEL(on_model), None))
        return found

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def stylize(self, pixels, width, height, fmt, stride=None, mask=None, mask_stride=None, method="arbitrary",
                style_path=None, builtin_style=None, strength=1.0, preserve_color="none", working_size=0,
                iterations=0, max_seconds=0.0, seed=0, device=None, progress=None, model_path=None):
        """Stylizes `pixels` (a writable bytearray) in place; alpha is untouched.

        `mask` (bytes, one per pixel, 0..255) limits the change to a selection.
        `iterations` and `max_seconds` (a time budget, 0 = none) are for the gatys methods.
        `builtin_style`: multistyle26's style, an id or a name from style_names().
        `model_path`: the fast method's network file (None: the embedded one).
        `progress(stage, fraction)` is called on this thread; return True to cancel.
        Raises RestyleError (`.cancelled` when the callback cancelled).
        """
        bpp = BYTES_PER_PIXEL[fmt]
        stride = stride or width * bpp
        if len(pixels) < stride * (height - 1) + width * bpp:
            raise RestyleError(2, "pixel buffer is smaller than %dx%d" % (width, height))
        buf = (ctypes.c_uint8 * len(pixels)).from_buffer(pixels)
        img = Image(ctypes.cast(buf, ctypes.c_void_p), width, height, stride, fmt)
        p = Params()
        _check(self.lib, self.lib.restyle_params_init(ctypes.byref(p), ctypes.sizeof(Params)))
        p.method = METHODS[method] if isinstance(method, str) else int(method)
        p.strength = float(strength)
        p.preserve_color = PRESERVE[preserve_color] if isinstance(preserve_color, str) else int(preserve_color)
        p.working_size = int(working_size)
        p.iterations = int(iterations)
        p.max_seconds = float(max_seconds)
        p.seed = int(seed)
        p.device = _enc(device)
        p.style_path = _enc(style_path)
        p.model_path = _enc(model_path)
        keep = []
        if builtin_style is not None:
            if isinstance(builtin_style, str) and not builtin_style.isdigit():
                names = style_names()
                if builtin_style not in names:
                    raise RestyleError(2, "unknown built-in style %r (known: %s)" % (builtin_style, ", ".join(names)))
                builtin_style = names.index(builtin_style)
            if not 0 <= int(builtin_style) < MULTISTYLE26_STYLES:
                raise RestyleError(2, "built-in style %s is out of range 0..%d" % (builtin_style, MULTISTYLE26_STYLES - 1))
            weights = (ctypes.c_float * MULTISTYLE26_STYLES)()
            weights[int(builtin_style)] = 1.0
            keep.append(weights)
            p.style_weights = ctypes.cast(weights, ctypes.POINTER(ctypes.c_float))
            p.style_weights_len = MULTISTYLE26_STYLES

        def on_progress(_user, stage, fraction):
            try:
                return 1 if progress(stage.decode("utf-8", "replace"), fraction) else 0
            except Exception:  # a host UI error must not unwind through C
                return 1

        if progress is not None:
            p.progress = PROGRESS(on_progress)  # referenced by p until the call returns
        mask_struct = None
        if mask is not None:
            mbuf = (ctypes.c_uint8 * len(mask)).from_buffer_copy(mask)
            keep.append(mbuf)
            mask_struct = Mask(ctypes.cast(mbuf, ctypes.c_void_p), mask_stride or width)
        if self.busy:
            # A host event loop pumped from the progress callback (a preview
            # timer) must not re-enter: the context's lock would deadlock.
            raise RestyleError(2, "this restyle context is busy with another image")
        self.busy = True
        try:
            status = self.lib.restyle_stylize(self.ptr, ctypes.byref(img),
                                              ctypes.byref(mask_struct) if mask_struct is not None else None,
                                              ctypes.byref(p))
            _check(self.lib, status)
        finally:
            self.busy = False
            del buf, img

    def preview(self, pixels, width, height, fmt, mask=None, progress=None, **options):
        """A stylized copy of a small image (read by the host at preview_size):
        returns a new bytearray, `pixels` and the document are never touched.
        Gatys methods get at most PREVIEW_GATYS_SECONDS."""
        out = bytearray(pixels)
        options = dict(options, working_size=0)
        if options.get("method") in ("gatys", "gatys-improved"):
            budget = options.get("max_seconds") or PREVIEW_GATYS_SECONDS
            options["max_seconds"] = min(budget, PREVIEW_GATYS_SECONDS)
        self.stylize(out, width, height, fmt, mask=mask, progress=progress, **options)
        return out
