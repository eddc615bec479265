"""restyle: neural style transfer for Python.

A thin front end over restyle's core (the same entry point as the ``restyle``
command line and the C ABI): method names, defaults and every check come
from the library, and its errors arrive as :class:`restyle.Error`
subclasses with the library's message.

    >>> import restyle, numpy as np
    >>> out = restyle.stylize(np.zeros((64, 64, 3), np.uint8))          # embedded fast network
    >>> out = restyle.stylize("photo.jpg", style="painting.jpg")        # arbitrary network
    >>> s = restyle.Stylizer("multistyle26"); out = s(img, style={3: .5, 12: .5})
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

# candle runs element-wise ops on a global pool of threads that it starts
# once per process; a process forked after that (multiprocessing, DataLoader
# workers) inherits the pool without its threads and would wait for them
# forever. With CANDLE_NUM_THREADS=1 that pool has no threads and
# element-wise ops run on the calling thread; the convolutions (most of the
# time) run on each Stylizer's own pool, which is restarted in a forked
# child. Set CANDLE_NUM_THREADS yourself to keep candle's pool (then never
# fork after the first call).
os.environ.setdefault("CANDLE_NUM_THREADS", "1")

from . import _restyle  # noqa: E402
from ._errors import CancelledError, DeviceError, Error, InvalidInputError, WeightsError

__version__ = _restyle.__version__

__all__ = [
    "stylize",
    "Stylizer",
    "methods",
    "random_style",
    "Error",
    "InvalidInputError",
    "WeightsError",
    "CancelledError",
    "DeviceError",
    "__version__",
]


def methods() -> Dict[str, str]:
    """The method names restyle accepts, with a one-line summary of each."""
    return dict(_restyle.methods())


def _key(seed: Any) -> int:
    """A 64-bit key from an int, the caller's RNG (numpy Generator or
    RandomState, random.Random, anything with ``integers``/``randint``/
    ``getrandbits``), or None (fresh entropy)."""
    if seed is None:
        import secrets

        return secrets.randbits(64)
    if isinstance(seed, bool):
        raise InvalidInputError("seed: expected an int or a random generator, got a bool")
    if isinstance(seed, (int, np.integer)):
        k = int(seed)
        if not 0 <= k < 2**64:
            raise InvalidInputError(f"seed: expected 0 <= seed < 2**64, got {k}")
        return k
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**64, dtype=np.uint64))
    if isinstance(seed, np.random.RandomState):
        return int(seed.randint(0, 2**63, dtype=np.int64)) * 2 + int(seed.randint(0, 2))
    if hasattr(seed, "getrandbits"):
        return int(seed.getrandbits(64))
    raise InvalidInputError(f"seed: expected an int, a numpy Generator or RandomState, or a random.Random, got {type(seed).__name__}")


def random_style(seed: Any = None, distribution: Optional[os.PathLike] = None) -> np.ndarray:
    """A random style vector (100 float32) for the arbitrary method, drawn
    from the shipped distribution of paintings (N(μ, Σ) of the style vectors
    of 14 paintings, as in Style Augmentation), or from ``distribution``, a
    file written by ``restyle-augment fit-styles``.

    seed: an int (the same int gives the same vector, and the same vector
    ``restyle-augment --random-style`` draws for that key), the caller's
    RNG (a numpy Generator or RandomState, a random.Random: one 64-bit draw
    from it), or None (fresh entropy). ``stylize(img, style="random",
    seed=S)`` is ``stylize(img, style=random_style(S), seed=S)``.
    """
    path = os.fspath(distribution) if distribution is not None else None
    return np.asarray(_restyle.random_style(_key(seed), path), dtype=np.float32)


# --- inputs ---------------------------------------------------------------

_PIL_MODES = {"L", "LA", "RGB", "RGBA", "I;16", "F"}


def _is_pil(obj: Any) -> bool:
    # Without importing Pillow (optional): any PIL.Image.Image subclass.
    return any(c.__module__.startswith("PIL.") and c.__name__ == "Image" for c in type(obj).__mro__)


def _pil_to_array(img: Any) -> np.ndarray:
    if img.mode not in _PIL_MODES:
        has_alpha = "A" in img.mode or "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
    return np.asarray(img)


def _is_path(obj: Any) -> bool:
    return isinstance(obj, (str, os.PathLike))


def _style_kwargs(style: Any, seed: int = 0) -> Dict[str, Any]:
    """One style, as the keyword the extension takes (``seed`` draws
    ``"random"``)."""
    if style is None:
        return {}
    if isinstance(style, bool):
        raise InvalidInputError("style: expected a painting, a multistyle26 id or blend, or a style vector, got a bool")
    if isinstance(style, (int, np.integer)):
        return {"style_blend": str(int(style))}
    if isinstance(style, str) and style == "random":
        # A keyword, not a file: a file named "random" is Path("random").
        return {"style_vector": _floats(random_style(seed))}
    if isinstance(style, dict):
        # core parses and checks the blend ("3:0.5,12:0.5")
        return {"style_blend": ",".join(f"{k}:{v}" for k, v in style.items())}
    if _is_path(style):
        return {"style_path": os.fspath(style)}
    if _is_pil(style):
        return {"style_image": _pil_to_array(style)}
    if isinstance(style, np.ndarray):
        if style.ndim == 1:
            return {"style_vector": _floats(style)}
        return {"style_image": style}
    if isinstance(style, (list, tuple)):
        return {"style_vector": _floats(style)}
    raise InvalidInputError(
        f"style: expected a painting (path, PIL image, array), a multistyle26 id or blend dict, "
        f"or a style vector, got {type(style).__name__}"
    )


def _floats(values: Any) -> list:
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError) as e:
        raise InvalidInputError(f"style vector: expected numbers ({e})") from None


# --- the stylizer ---------------------------------------------------------


class Stylizer:
    """A configured method, loaded once (lazily, in each process) and called
    like :func:`stylize`::

        s = restyle.Stylizer("arbitrary", weights_dir="weights/")
        out = s(image, style="painting.jpg", strength=0.8)
        v = s.style_vector("painting.jpg")      # 100 floats
        out = s(image, style=v)

    ``method=None`` picks the library's default per call: ``arbitrary`` when
    a painting or style vector is given, ``multistyle26`` for a style id or
    blend, else ``fast`` (the embedded network, no weights needed).

    A Stylizer pickles by its configuration (method, model, device,
    weights_dir, num_threads): a copy in another process (spawn,
    DataLoader workers, Ray) loads its networks there on first use. After a
    fork it starts a thread pool of its own and never uses the parent's.
    ``num_threads=None`` uses every core (or ``RAYON_NUM_THREADS``).
    """

    def __init__(
        self,
        method: Optional[str] = None,
        *,
        model: Optional[str] = None,
        device: str = "auto",
        weights_dir: Optional[os.PathLike] = None,
        num_threads: Optional[int] = None,
    ) -> None:
        self.method = method
        self.model = model
        self.device = device
        self.weights_dir = os.fspath(weights_dir) if weights_dir is not None else None
        self.num_threads = num_threads
        self._engines: Dict[str, Any] = {}
        self._lock = threading.Lock()
        # Check everything now (method name, model, device, weights folder),
        # before any network loads.
        self._engine(_restyle.resolve_method(method, False, False) if method is not None else "fast")

    def _engine(self, method: str):
        with self._lock:
            e = self._engines.get(method)
            if e is None:
                e = _restyle.Engine(
                    method,
                    model=self.model,
                    device=self.device,
                    weights_dir=self.weights_dir,
                    num_threads=self.num_threads,
                )
                self._engines[method] = e
            return e

    def load(self) -> "Stylizer":
        """Loads the networks now rather than on the first call (needs ``method``)."""
        if self.method is None:
            raise InvalidInputError("load() needs a method: with method=None it is picked per call")
        self._engine(_restyle.resolve_method(self.method, False, False)).load()
        return self

    def __call__(
        self,
        image: Any,
        style: Any = None,
        *,
        strength: float = 1.0,
        preserve_color: Optional[str] = None,
        size: Optional[int] = None,
        seed: Any = 0,
        style_size: Optional[int] = None,
        iterations: Optional[int] = None,
        max_seconds: Optional[float] = None,
        progress: Optional[Callable[[str, int, int], Optional[bool]]] = None,
    ) -> Any:
        seed = _key(seed)  # an int, or one draw from the caller's RNG (None: fresh entropy)
        kw = _style_kwargs(style, seed)
        has_blend = "style_blend" in kw
        method = _restyle.resolve_method(self.method, bool(kw) and not has_blend, has_blend)
        engine = self._engine(method)
        pil = _is_pil(image)
        arr = _pil_to_array(image) if pil else (os.fspath(image) if _is_path(image) else image)
        out = engine.stylize(
            arr,
            strength=strength,
            preserve_color=preserve_color,
            size=size,
            style_size=style_size,
            seed=seed,
            iterations=iterations,
            max_seconds=max_seconds,
            progress=progress,
            **kw,
        )
        if pil:
            from PIL import Image

            return Image.fromarray(out)
        return out

    def stylize(self, image: Any, style: Any = None, **kwargs: Any) -> Any:
        """Same as calling the stylizer."""
        return self(image, style, **kwargs)

    def map(self, images: Any, style: Any = None, **kwargs: Any) -> list:
        """Stylizes each of ``images`` with the same settings; a list of results."""
        return [self(im, style, **kwargs) for im in images]

    def style_vector(self, painting: Any, style_size: Optional[int] = None) -> np.ndarray:
        """The style vector (100 float32) of a painting (path, PIL image or
        array), for the arbitrary method: pass it back as ``style=``, blend or
        perturb it."""
        if self.method is not None and _restyle.resolve_method(self.method, True, False) != "arbitrary":
            raise InvalidInputError(f"the {self.method} method has no style vectors (use the arbitrary method)")
        arr = _pil_to_array(painting) if _is_pil(painting) else (os.fspath(painting) if _is_path(painting) else painting)
        return np.asarray(self._engine("arbitrary").style_vector(arr, style_size), dtype=np.float32)

    # Pickling: the configuration only; networks reload lazily in the new process.
    def _config(self) -> Dict[str, Any]:
        return {
            "method": self.method,
            "model": self.model,
            "device": self.device,
            "weights_dir": self.weights_dir,
            "num_threads": self.num_threads,
        }

    def __getstate__(self) -> Dict[str, Any]:
        return self._config()

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._engines = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._config().items() if v is not None)
        return f"restyle.Stylizer({args})"


# --- the one-call function ------------------------------------------------

_CACHE: "OrderedDict[Tuple, Stylizer]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def _cached(method: Optional[str], device: str, weights_dir: Optional[str]) -> Stylizer:
    key = (method, device, weights_dir)
    with _CACHE_LOCK:
        s = _CACHE.get(key)
        if s is not None:
            _CACHE.move_to_end(key)
            return s
    s = Stylizer(method, device=device, weights_dir=weights_dir)
    with _CACHE_LOCK:
        _CACHE[key] = s
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return s


def stylize(
    image: Any,
    style: Any = None,
    method: Optional[str] = None,
    strength: float = 1.0,
    preserve_color: Optional[str] = None,
    size: Optional[int] = None,
    device: str = "auto",
    seed: Any = 0,
    weights_dir: Optional[os.PathLike] = None,
    **kwargs: Any,
) -> Any:
    """Stylizes one image and returns the result in the input's form.

    image: a path (result: an array in the file's bit depth and colour mode),
        a PIL image (result: a PIL image of the same mode), or an H×W[×C]
        numpy array, C in 1..4, uint8, uint16 or float32 in 0..1 (result: the
        same dtype and shape; alpha copied untouched). Any strides.
    style: a painting (path, PIL image or array), a multistyle26 id (``7``)
        or blend (``{3: .5, 12: .5}``), a style vector (100 floats, see
        :meth:`Stylizer.style_vector`), or ``"random"``: the style vector
        :func:`random_style` draws for ``seed``. None for methods with
        built-in styles.
    method: ``arbitrary``, ``fast``, ``multistyle26``, ``adain``, ``gatys``,
        ``gatys-improved`` (:func:`methods`); None: the library's default
        (see :class:`Stylizer`).
    strength: 0..1. preserve_color: None, ``"luminance"`` or ``"histogram"``.
    size: work at this longest side (result scaled back to the input's size);
        None: the method's default. seed: for anything random (the random
        style, the network's noise): an int (same seed, same output), the
        caller's RNG (numpy Generator, random.Random: one draw), or None
        (fresh entropy).
    weights_dir: a folder of weight files (else ``RESTYLE_WEIGHTS_DIR``, the
        user cache, then a download unless ``RESTYLE_OFFLINE=1``).
    Also: ``style_size``, ``iterations`` and ``max_seconds`` (gatys), and
    ``progress``: called as ``progress(stage, step, total)`` while the image
    is stylized (from a worker thread, with the GIL); returning False
    cancels the call (:class:`CancelledError`), an exception it raises
    cancels and is raised. Ctrl-C (KeyboardInterrupt) cancels a call at
    its next progress check (every iteration of ``gatys``).

    Loaded networks are kept for the next call with the same method, device
    and weights_dir. The GIL is released while the image is stylized.
    """
    wd = os.fspath(weights_dir) if weights_dir is not None else None
    return _cached(method, device, wd)(
        image, style, strength=strength, preserve_color=preserve_color, size=size, seed=seed, **kwargs
    )
