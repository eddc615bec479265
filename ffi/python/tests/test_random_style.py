"""style="random": style vectors drawn from the shipped distribution of
paintings (core's style_distribution, the same draws as restyle-augment
--random-style)."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

import restyle

SHIPPED = Path(__file__).resolve().parents[3] / "core" / "styles" / "default-style-distribution.json"


def test_a_seed_gives_one_vector_and_other_seeds_others():
    v = restyle.random_style(5)
    assert v.shape == (100,) and v.dtype == np.float32 and np.isfinite(v).all()
    assert np.array_equal(v, restyle.random_style(5))
    assert not np.array_equal(v, restyle.random_style(6))
    assert np.array_equal(restyle.random_style(2**64 - 1), restyle.random_style(np.uint64(2**64 - 1)))
    assert not np.array_equal(restyle.random_style(), restyle.random_style())  # fresh entropy


def test_draws_follow_the_shipped_distribution():
    d = json.loads(SHIPPED.read_text())
    mu = np.array(d["mean"])
    sigma = np.array(d["covariance"]).reshape(100, 100)
    n = 3000
    draws = np.stack([restyle.random_style(k) for k in range(n)]).astype(np.float64)
    se = np.sqrt(np.diag(sigma) / n)
    assert np.all(np.abs(draws.mean(0) - mu) < 5 * se + 1e-4)
    cov = np.cov(draws, rowvar=False)
    # the 14 paintings span a 13-dimensional subspace: so do the draws (up to the tiny ridge)
    eig = np.sort(np.linalg.eigvalsh(cov))[::-1]
    assert eig[12] > 1e3 * eig[14], eig[:16]
    assert np.abs(cov - sigma).max() < 0.15 * np.abs(sigma).max()


def test_the_callers_rng_drives_the_draw():
    a = [restyle.random_style(np.random.default_rng(3)) for _ in range(2)]
    assert np.array_equal(a[0], a[1])
    g = np.random.default_rng(3)
    first, second = restyle.random_style(g), restyle.random_style(g)
    assert np.array_equal(first, a[0]) and not np.array_equal(first, second)
    r1, r2 = random.Random(7), random.Random(7)
    assert np.array_equal(restyle.random_style(r1), restyle.random_style(r2))
    assert np.array_equal(restyle.random_style(np.random.RandomState(1)), restyle.random_style(np.random.RandomState(1)))


def test_a_fitted_distribution_file(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(json.dumps({"source": "test", "count": 2, "dim": 3, "mean": [1.0, -2.0, 3.0],
                             "covariance": [1e-10, 0, 0, 0, 1e-10, 0, 0, 0, 1e-10]}))
    v = restyle.random_style(1, distribution=p)
    assert v.shape == (3,) and np.allclose(v, [1.0, -2.0, 3.0], atol=1e-3)
    bad = tmp_path / "bad.json"
    bad.write_text('{"dim": 2}')
    with pytest.raises(restyle.InvalidInputError, match="bad.json.*not a style distribution"):
        restyle.random_style(1, distribution=bad)
    with pytest.raises(restyle.InvalidInputError, match="cannot read style distribution"):
        restyle.random_style(1, distribution=tmp_path / "missing.json")


@pytest.mark.parametrize("seed", [-1, 2**64, True, "3", 1.5])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(restyle.InvalidInputError, match="seed"):
        restyle.random_style(seed)
    with pytest.raises(restyle.InvalidInputError, match="seed"):
        restyle.stylize(np.zeros((8, 8, 3), np.uint8), seed=seed)


def test_stylize_with_a_random_style(weights_dir):
    a = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    out = restyle.stylize(a, style="random", seed=4, weights_dir=weights_dir)
    assert out.shape == a.shape and out.dtype == np.uint8
    # "random" is the vector random_style draws for the seed, on the arbitrary network
    s = restyle.Stylizer("arbitrary", weights_dir=weights_dir)
    assert np.array_equal(out, s(a, style=restyle.random_style(4), seed=4))
    assert np.array_equal(out, s(a, style="random", seed=4))
    other = restyle.stylize(a, style="random", seed=5, weights_dir=weights_dir)
    assert np.abs(other.astype(int) - out.astype(int)).mean() > 2
    # the caller's RNG: same state, same result
    assert np.array_equal(s(a, style="random", seed=np.random.default_rng(9)),
                          s(a, style="random", seed=np.random.default_rng(9)))


def test_albumentations_draws_random_styles(weights_dir):
    A = pytest.importorskip("albumentations")
    from restyle.albumentations import StyleAugment

    a = (np.random.default_rng(1).random((48, 48, 3)) * 255).astype(np.uint8)
    aug = A.Compose([StyleAugment(styles=["random"], strength=1.0, weights_dir=weights_dir, p=1)], seed=0)
    outs = [aug(image=a)["image"] for _ in range(3)]
    assert all(o.shape == a.shape for o in outs)
    assert not np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[1], outs[2])
