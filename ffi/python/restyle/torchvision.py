"""Style augmentation as a torchvision v2 transform::

    import torch
    from torchvision.transforms import v2
    from restyle.torchvision import StyleAugment

    aug = v2.Compose([
        v2.RandomHorizontalFlip(),
        StyleAugment(styles=["random"], strength=(0.5, 1.0), weights_dir="weights/", p=0.5),
    ])
    out = aug({"image": image, "boxes": boxes, "masks": masks, "labels": labels})

Images are stylized: ``tv_tensors.Image``, plain tensors (C×H×W or a batch
…×C×H×W, C = 1, 3 or 4, uint8 in 0..255 or float in 0..1, on any device)
and PIL images. Everything else (bounding boxes, masks, key points, labels)
passes through untouched, following torchvision's rules for which plain
tensor is the image. Each image of a batch draws its own style.

Randomness (whether it applies, which style, which strength, the seed of
``"random"`` styles) comes from torch's global RNG, so each DataLoader
worker (seeded by torch per worker) draws different styles, and
``torch.manual_seed`` reproduces a run. The transform pickles by its
configuration; networks load in each worker process on first use. Needs
torch and torchvision (v2 transforms), imported here and nowhere else in
restyle.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

try:
    import torch
    from torchvision import tv_tensors
    from torchvision.transforms import v2
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("restyle.torchvision needs torch and torchvision (0.16 or newer): pip install torchvision") from e

import numpy as np

from . import InvalidInputError, Stylizer
from ._augment import strength_range, style_list

__all__ = ["StyleAugment"]

# Float dtypes are stylized in float32 and returned in their own dtype.
_FLOATS = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _is_pure_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor) and not isinstance(x, tv_tensors.TVTensor)


def _is_pil(x: Any) -> bool:
    return any(c.__module__.startswith("PIL.") and c.__name__ == "Image" for c in type(x).__mro__)


class StyleAugment(v2.Transform):
    """Stylizes images with a style drawn from ``styles``.

    styles: what :func:`restyle.stylize` takes as ``style`` (paintings as
        paths or arrays, multistyle26 ids or blends, style vectors,
        ``"random"`` for a style vector drawn from the shipped distribution
        of paintings); one is drawn per image. None: the method's built-in
        style (by default the embedded fast network: no weights, only the
        strength varies).
    strength: a number, or a ``(low, high)`` range drawn from uniformly.
    method, size, weights_dir, device, num_threads: as for
        :class:`restyle.Stylizer` and :func:`restyle.stylize`;
        ``num_threads=1`` suits one DataLoader worker per core.
    p: the probability that an image is stylized.
    """

    # Only these reach transform(): boxes, masks, key points and videos pass
    # through, and of the plain tensors only the one torchvision takes for
    # the image (none when the sample has a tv_tensors.Image or PIL image).
    _transformed_types = (tv_tensors.Image, _is_pure_tensor, _is_pil)

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
        super().__init__()
        self.styles = style_list(styles)
        lo, hi = strength_range(strength)
        if not 0.0 <= lo <= hi <= 1.0:
            raise InvalidInputError(f"strength: expected 0 <= low <= high <= 1, got {strength!r}")
        if not 0.0 <= p <= 1.0:
            raise InvalidInputError(f"p: expected a probability in 0..1, got {p!r}")
        self.strength = strength
        self._range = (lo, hi)
        self.method = method
        self.size = size
        self.weights_dir = weights_dir
        self.device = device
        self.num_threads = num_threads
        self.p = p
        self._stylizer = Stylizer(method, device=device, weights_dir=weights_dir, num_threads=num_threads)

    # How many images one input holds: a batch …×C×H×W holds the product of
    # its leading dimensions; every image of the sample shares the draws.
    @staticmethod
    def _count(x: Any) -> int:
        if isinstance(x, torch.Tensor) and x.ndim > 3:
            return math.prod(x.shape[:-3])
        return 1

    def make_params(self, flat_inputs: List[Any]) -> Dict[str, Any]:
        n = max([self._count(x) for x in flat_inputs if isinstance(x, (tv_tensors.Image, torch.Tensor))] + [1])
        lo, hi = self._range
        params = {
            "apply": (torch.rand(n) < self.p).tolist(),
            "strength": (lo + (hi - lo) * torch.rand(n, dtype=torch.float64)).tolist(),
            "seed": torch.randint(0, 2**63 - 1, (n,), dtype=torch.int64).tolist(),
        }
        params["style"] = torch.randint(0, len(self.styles), (n,)).tolist() if self.styles is not None else [None] * n
        return params

    def transform(self, inpt: Any, params: Dict[str, Any]) -> Any:
        if _is_pil(inpt):
            return self._one(inpt, params, 0) if params["apply"][0] else inpt
        if not any(params["apply"]):
            return inpt
        return self._tensor(inpt, params)

    # torchvision before 0.21 calls these names.
    _get_params = make_params
    _transform = transform

    def _one(self, image: Any, params: Dict[str, Any], i: int) -> Any:
        k = params["style"][i]
        style = None if k is None else self.styles[k]
        return self._stylizer(image, style, strength=params["strength"][i], size=self.size, seed=params["seed"][i])

    def _tensor(self, t: torch.Tensor, params: Dict[str, Any]) -> torch.Tensor:
        if t.ndim < 3 or t.shape[-3] not in (1, 3, 4):
            raise InvalidInputError(f"StyleAugment: expected an image tensor …×C×H×W with C = 1, 3 or 4, got shape {tuple(t.shape)}")
        if t.dtype != torch.uint8 and t.dtype not in _FLOATS:
            raise InvalidInputError(f"StyleAugment: expected a uint8 or float image tensor, got {t.dtype}")
        work = t.detach().cpu()
        if work.dtype != torch.uint8 and work.dtype != torch.float32:
            work = work.to(torch.float32)
        flat = work.reshape(-1, *work.shape[-3:])
        outs = []
        for i in range(flat.shape[0]):
            img = flat[i]
            j = i if i < len(params["apply"]) else 0
            if not params["apply"][j]:
                outs.append(img)
                continue
            # C×H×W → H×W×C as a strided view (no copy); the library reads any strides.
            out = self._one(img.permute(1, 2, 0).numpy(), params, j)
            outs.append(torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1))))
        out = torch.stack(outs).reshape(t.shape).to(device=t.device, dtype=t.dtype)
        return tv_tensors.wrap(out, like=t) if isinstance(t, tv_tensors.TVTensor) else out

    def extra_repr(self) -> str:
        args = {"styles": self.styles, "strength": self.strength, "method": self.method, "size": self.size,
                "weights_dir": self.weights_dir, "device": self.device, "num_threads": self.num_threads, "p": self.p}
        return ", ".join(f"{k}={v!r}" for k, v in args.items() if v is not None)
