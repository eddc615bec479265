"""Functions the multiprocessing tests send to worker processes (importable
by name, as spawn needs)."""

import numpy as np

import restyle


def image(seed: int, size: int = 64) -> np.ndarray:
    return (np.random.default_rng(seed).random((size, size, 3)) * 255).astype(np.uint8)


def with_module_function(seed: int) -> tuple:
    out = restyle.stylize(image(seed))
    return out.shape, int(out.sum())


def with_stylizer(args) -> tuple:
    stylizer, seed = args
    out = stylizer(image(seed))
    return out.shape, int(out.sum())
