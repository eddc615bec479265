"""Tests of the installed `restyle` wheel (run from a fresh virtual
environment by .ci/python.sh, never against the source tree)."""

import multiprocessing as mp
import os
import pickle
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import restyle

import _workers

RNG = np.random.default_rng(1234)


def rgb8(h=48, w=64):
    return (RNG.random((h, w, 3)) * 255).astype(np.uint8)


def painting(size=96):
    """Diagonal colour stripes: a 'painting' with a clear style."""
    y, x = np.mgrid[0:size, 0:size]
    t = ((x + y) // 8) % 3
    colours = np.array([[220, 40, 30], [30, 60, 200], [240, 210, 40]], np.uint8)
    return colours[t]


# --- the package under test -------------------------------------------------


def test_the_installed_wheel_is_tested_not_the_source_tree():
    here = Path(__file__).resolve().parents[1]
    assert Path(restyle.__file__).resolve().parent != here / "restyle"
    assert "site-packages" in restyle.__file__
    assert restyle.__version__
    assert "fast" in restyle.methods() and "arbitrary" in restyle.methods()


# --- dtype, shape and alpha round trips (embedded fast network) ------------


def test_uint8_rgba_keeps_alpha_byte_identical():
    a = (RNG.random((40, 56, 4)) * 255).astype(np.uint8)
    out = restyle.stylize(a)
    assert out.dtype == np.uint8 and out.shape == a.shape
    assert np.array_equal(out[..., 3], a[..., 3])
    assert not np.array_equal(out[..., :3], a[..., :3])


def test_uint8_rgb_matches_rgba_colours():
    a = rgb8()
    rgba = np.dstack([a, np.full(a.shape[:2], 7, np.uint8)])
    assert np.array_equal(restyle.stylize(a), restyle.stylize(rgba)[..., :3])


def test_uint16_rgb():
    a = (RNG.random((40, 40, 3)) * 65535).astype(np.uint16)
    out = restyle.stylize(a)
    assert out.dtype == np.uint16 and out.shape == a.shape
    # 16-bit results use the range, not just 8-bit steps
    assert len(np.unique(out % 257)) > 1


def test_float32_rgba_in_unit_range_alpha_identical():
    a = RNG.random((32, 48, 4)).astype(np.float32)
    out = restyle.stylize(a)
    assert out.dtype == np.float32 and out.shape == a.shape
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out[..., 3], a[..., 3])


@pytest.mark.parametrize("shape", [(40, 40), (40, 40, 1)])
def test_grayscale_stays_grayscale(shape):
    a = (RNG.random(shape) * 255).astype(np.uint8)
    out = restyle.stylize(a)
    assert out.dtype == np.uint8 and out.shape == shape


def test_gray_alpha_two_channels():
    a = (RNG.random((30, 30, 2)) * 255).astype(np.uint8)
    out = restyle.stylize(a)
    assert out.shape == a.shape and np.array_equal(out[..., 1], a[..., 1])


def test_non_contiguous_arrays_give_the_same_result_as_their_copy():
    base = (RNG.random((64, 80, 4)) * 255).astype(np.uint8)
    views = [
        base[:, :, :3],  # channel slice
        base[::2, ::2, :3],  # strided
        base.transpose(1, 0, 2),  # transposed (Fortran-like)
        base[:, ::-1],  # negative strides
    ]
    for v in views:
        assert not v.flags["C_CONTIGUOUS"]
        assert np.array_equal(restyle.stylize(v), restyle.stylize(np.ascontiguousarray(v)))


def test_input_array_is_not_modified():
    a = rgb8()
    before = a.copy()
    restyle.stylize(a)
    assert np.array_equal(a, before)


def test_pil_images_round_trip_in_their_mode(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rgba = Image.fromarray((RNG.random((30, 40, 4)) * 255).astype(np.uint8))
    out = restyle.stylize(rgba)
    assert isinstance(out, Image.Image) and out.mode == "RGBA" and out.size == rgba.size
    assert np.array_equal(np.asarray(out)[..., 3], np.asarray(rgba)[..., 3])
    gray = Image.fromarray((RNG.random((30, 40)) * 255).astype(np.uint8))
    assert restyle.stylize(gray).mode == "L"


def test_a_path_gives_an_array_in_the_files_depth_and_mode(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    p = tmp_path / "in.png"
    Image.fromarray((RNG.random((30, 40, 4)) * 255).astype(np.uint8)).save(p)
    out = restyle.stylize(p)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 4)
    assert np.array_equal(out[..., 3], np.asarray(Image.open(p))[..., 3])
    assert restyle.stylize(str(p)).shape == (30, 40, 4)


def test_no_weights_at_all_uses_the_embedded_fast_network(tmp_path):
    """A fresh process with empty weights and cache folders, offline."""
    empty = tmp_path / "weights"
    empty.mkdir()
    env = dict(os.environ, RESTYLE_WEIGHTS_DIR=str(empty), RESTYLE_CACHE_DIR=str(tmp_path / "cache"),
               RESTYLE_OFFLINE="1", HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "xdg"))
    code = (
        "import numpy as np, restyle\n"
        "a = np.full((32, 32, 3), 128, np.uint8)\n"
        "o = restyle.stylize(a)\n"
        "assert o.shape == a.shape and not np.array_equal(o, a)\n"
        "print('ok', restyle.Stylizer().method)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ok")
    assert not any((tmp_path / "cache").glob("**/*.safetensors"))


def test_strength_zero_returns_the_content():
    a = rgb8()
    out = restyle.stylize(a, strength=0.0)
    assert np.abs(out.astype(int) - a.astype(int)).max() <= 1


def test_size_works_smaller_and_returns_the_input_size():
    a = rgb8(96, 128)
    out = restyle.stylize(a, size=48)
    assert out.shape == a.shape


# --- the arbitrary and multistyle26 networks with real weights -------------


def test_arbitrary_with_weights_dir(weights_dir):
    s = restyle.Stylizer("arbitrary", weights_dir=weights_dir)
    a = rgb8(64, 64)
    out = s(a, style=painting())
    assert out.shape == a.shape and out.dtype == np.uint8
    v = s.style_vector(painting())
    assert v.shape == (100,) and v.dtype == np.float32
    # the painting's vector gives the painting's result
    assert np.abs(s(a, style=v).astype(int) - out.astype(int)).max() <= 1
    # a list of floats is a style vector too
    assert np.array_equal(s(a, style=list(v)), s(a, style=v))
    # the default method with a painting is arbitrary
    assert np.array_equal(restyle.stylize(a, style=painting(), weights_dir=weights_dir), out)


def test_a_painting_from_a_path_and_preserve_color(weights_dir, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    p = tmp_path / "style.png"
    Image.fromarray(painting()).save(p)
    a = rgb8(64, 64)
    out = restyle.stylize(a, style=p, weights_dir=weights_dir)
    assert np.array_equal(out, restyle.stylize(a, style=painting(), weights_dir=weights_dir))
    kept = restyle.stylize(a, style=p, weights_dir=weights_dir, preserve_color="luminance")
    assert kept.shape == a.shape and not np.array_equal(kept, out)


def test_multistyle26_ids_and_blends(weights_dir):
    a = rgb8(64, 64)
    seven = restyle.stylize(a, style=7, weights_dir=weights_dir)
    three = restyle.stylize(a, style=3, weights_dir=weights_dir)
    blend = restyle.stylize(a, style={3: 0.5, 12: 0.5}, weights_dir=weights_dir)
    assert not np.array_equal(seven, three) and not np.array_equal(blend, three)
    assert np.array_equal(restyle.stylize(a, style={7: 1.0}, weights_dir=weights_dir), seven)
    # 26 blend weights as a vector (normalised by the library)
    w = np.zeros(26, np.float32)
    w[7] = 2.0
    assert np.array_equal(restyle.Stylizer("multistyle26", weights_dir=weights_dir)(a, style=w), seven)
    with pytest.raises(restyle.InvalidInputError, match="out of range"):
        restyle.stylize(a, style=26, weights_dir=weights_dir)
    with pytest.raises(restyle.InvalidInputError, match="multistyle26"):
        restyle.Stylizer("arbitrary", weights_dir=weights_dir)(a, style=7)


def test_same_seed_same_output():
    a = rgb8()
    assert np.array_equal(restyle.stylize(a, seed=5), restyle.stylize(a, seed=5))
    s1, s2 = restyle.Stylizer("fast"), restyle.Stylizer("fast")
    assert np.array_equal(s1(a, seed=3), s2(a, seed=3))


def test_same_seed_same_output_arbitrary(weights_dir):
    a = rgb8(64, 64)
    s = restyle.Stylizer("arbitrary", weights_dir=weights_dir)
    assert np.array_equal(s(a, style=painting(), seed=9), s(a, style=painting(), seed=9))


# --- threads and processes --------------------------------------------------


def test_the_gil_is_released_during_a_call():
    s = restyle.Stylizer("fast", num_threads=1)
    a = (RNG.random((384, 384, 3)) * 255).astype(np.uint8)
    s(a[:32, :32])  # load first
    count = 0
    stop = threading.Event()
    started = threading.Event()

    def counter():
        nonlocal count
        started.set()
        while not stop.is_set():
            count += 1

    t = threading.Thread(target=counter)
    t.start()
    started.wait()
    before = count
    t0 = time.perf_counter()
    s(a)
    elapsed = time.perf_counter() - t0
    during = count - before
    stop.set()
    t.join()
    # With the GIL held for the whole call the counter would stand still
    # (Python switches threads only between bytecodes).
    assert elapsed > 0.05
    assert during > 10_000, (during, elapsed)


def test_calls_from_several_threads_at_once():
    s = restyle.Stylizer("fast", num_threads=1)
    imgs = [rgb8(40, 40) for _ in range(4)]
    expect = [s(im) for im in imgs]
    results = [None] * 4

    def run(i):
        results[i] = s(imgs[i])

    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(np.array_equal(r, e) for r, e in zip(results, expect))


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_a_multiprocessing_pool_finishes(start):
    if start not in mp.get_all_start_methods():
        pytest.skip(f"no {start} here")
    # Use the library in the parent first, so that a forked child inherits
    # loaded networks and a thread pool that has run.
    expect = _workers.with_module_function(0)
    s = restyle.Stylizer("fast", num_threads=1)
    s(_workers.image(0))
    ctx = mp.get_context(start)
    with ctx.Pool(2) as pool:
        got = pool.map_async(_workers.with_module_function, [0, 1, 2, 3]).get(timeout=240)
        got2 = pool.map_async(_workers.with_stylizer, [(s, i) for i in range(4)]).get(timeout=240)
    assert got[0] == expect and got2[0] == expect
    assert len(set(got)) == 4


def test_pickling_a_stylizer_keeps_its_configuration():
    s = restyle.Stylizer("fast", device="cpu", num_threads=2)
    a = rgb8()
    out = s(a)
    t = pickle.loads(pickle.dumps(s))
    assert repr(t) == repr(s) and t.method == "fast" and t.num_threads == 2
    assert np.array_equal(t(a), out)


def test_pickling_keeps_an_unloaded_stylizer_unloaded(tmp_path, monkeypatch):
    # weights are looked up only on first use, in the process that uses them
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "empty-cache"))
    s = restyle.Stylizer("arbitrary", weights_dir=tmp_path)
    t = pickle.loads(pickle.dumps(s))
    assert t.weights_dir == str(tmp_path)
    with pytest.raises(restyle.WeightsError):
        t(rgb8(), style=painting())


# --- errors -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.int64, np.float64, np.int8, bool])
def test_wrong_dtype(dtype):
    with pytest.raises(restyle.InvalidInputError, match="dtype"):
        restyle.stylize(np.zeros((8, 8, 3), dtype))


@pytest.mark.parametrize("shape", [(8,), (8, 8, 5), (8, 8, 3, 1), (0, 8, 3)])
def test_wrong_shape(shape):
    with pytest.raises(restyle.InvalidInputError):
        restyle.stylize(np.zeros(shape, np.uint8))


def test_not_an_image():
    with pytest.raises(restyle.InvalidInputError, match="numpy array"):
        restyle.stylize([[1, 2, 3]])


def test_strength_out_of_range():
    with pytest.raises(restyle.InvalidInputError, match="strength must be in 0..1"):
        restyle.stylize(rgb8(), strength=2)


def test_missing_weights_folder():
    with pytest.raises(restyle.WeightsError, match="no such folder"):
        restyle.Stylizer("arbitrary", weights_dir="/no/such/restyle/weights")
    with pytest.raises(restyle.WeightsError, match="no such folder"):
        restyle.stylize(rgb8(), weights_dir="/no/such/restyle/weights")


def test_missing_weights_file(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTYLE_CACHE_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(restyle.WeightsError, match="arbitrary"):
        restyle.Stylizer("arbitrary", weights_dir=tmp_path)(rgb8(), style=painting())


def test_unknown_method_name():
    with pytest.raises(restyle.InvalidInputError, match="unknown method 'nope'.*arbitrary"):
        restyle.Stylizer("nope")
    with pytest.raises(restyle.InvalidInputError, match="unknown method"):
        restyle.stylize(rgb8(), method="nope")


def test_options_the_method_does_not_take():
    with pytest.raises(restyle.InvalidInputError, match="does not take"):
        restyle.Stylizer("fast")(rgb8(), style=painting())
    with pytest.raises(restyle.InvalidInputError, match="does not take"):
        restyle.Stylizer("fast")(rgb8(), iterations=3)
    with pytest.raises(restyle.InvalidInputError, match="preserve_color"):
        restyle.stylize(rgb8(), preserve_color="sepia")
    with pytest.raises(restyle.InvalidInputError, match="device"):
        restyle.Stylizer("fast", device="tpu")


def test_errors_are_restyle_errors_and_value_errors():
    assert issubclass(restyle.InvalidInputError, restyle.Error)
    assert issubclass(restyle.InvalidInputError, ValueError)
    for cls in (restyle.WeightsError, restyle.CancelledError, restyle.DeviceError):
        assert issubclass(cls, restyle.Error)
