"""Style augmentation as an albumentations transform::

    import albumentations as A
    from restyle.albumentations import StyleAugment

    aug = A.Compose([
        A.HorizontalFlip(p=0.5),
        StyleAugment(styles=["a.jpg", "b.jpg"], strength=(0.5, 1.0), weights_dir="weights/", p=0.5),
    ], bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]), seed=1)

An ``ImageOnlyTransform``: the image is stylized, boxes, masks and keypoints
pass through untouched. Its randomness (whether it applies, which style,
which strength, the seed) comes from albumentations' own seeded generator,
so ``Compose(..., seed=N)`` reproduces a run. It pickles by its
configuration; the networks load in each worker process on first use.
Needs albumentations (2.x), imported here and nowhere else in restyle.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

try:
    from albumentations.core.transforms_interface import ImageOnlyTransform
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("restyle.albumentations needs albumentations: pip install albumentations") from e

import numpy as np

from . import Stylizer
from ._augment import strength_range, style_list

__all__ = ["StyleAugment"]


class StyleAugment(ImageOnlyTransform):
    """Stylizes the image with a style drawn from ``styles``.

    styles: what :func:`restyle.stylize` takes as ``style`` (paintings as
        paths or arrays, multistyle26 ids or blends, style vectors,
        ``"random"`` for a style vector drawn from the shipped distribution
        of paintings with the image's seed); one is drawn per image. None: the method's built-in style (by default the
        embedded fast network, which needs no weights).
    strength: a number, or a ``(low, high)`` range drawn from uniformly.
    method, size, weights_dir, device, num_threads: as for
        :class:`restyle.Stylizer` and :func:`restyle.stylize`;
        ``num_threads=1`` suits one DataLoader worker per core.
    p: the probability of applying the transform.
    """

    def __init__(
        self,
        styles: Optional[Sequence[Any]] = None,
        strength: Union[float, Tuple[float, float]] = (0.5, 1.0),
        method: Optional[str] = None,
        size: Optional[int] = None,
        weights_dir: Optional[str] = None,
        device: str = "cpu",
        num_threads: Optional[int] = 1,
        p: float = 0.5,
    ) -> None:
        super().__init__(p=p)
        self.styles = style_list(styles)
        self.strength = strength
        self.method = method
        self.size = size
        self.weights_dir = weights_dir
        self.device = device
        self.num_threads = num_threads
        self._stylizer = Stylizer(method, device=device, weights_dir=weights_dir, num_threads=num_threads)

    def get_params(self) -> dict:
        lo, hi = strength_range(self.strength)
        return {
            "strength": lo + (hi - lo) * self.py_random.random(),
            "style_index": None if self.styles is None else self.py_random.randrange(len(self.styles)),
            "seed": self.py_random.randrange(2**32),
        }

    def apply(self, img: np.ndarray, strength: float = 1.0, style_index: Optional[int] = None, seed: int = 0, **params: Any) -> np.ndarray:
        style = None if style_index is None else self.styles[style_index]
        return self._stylizer(img, style, strength=strength, size=self.size, seed=seed)

    def get_transform_init_args_names(self) -> Tuple[str, ...]:
        return ("styles", "strength", "method", "size", "weights_dir", "device", "num_threads")
