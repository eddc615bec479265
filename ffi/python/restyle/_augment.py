"""Argument handling shared by the pipeline transforms (torchvision,
albumentations): the style list and the strength range, one place."""

from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._errors import InvalidInputError


def style_list(styles: Optional[Sequence[Any]]) -> Optional[List[Any]]:
    """The styles to draw from, or None for the method's built-in style."""
    if styles is None:
        return None
    out = list(styles)
    if not out:
        raise InvalidInputError("styles: give at least one style, or None for the method's built-in style")
    return out


def strength_range(strength: Union[float, Tuple[float, float]]) -> Tuple[float, float]:
    """`(low, high)` of a strength given as a number or a range."""
    if isinstance(strength, (int, float, np.floating)):
        return float(strength), float(strength)
    lo, hi = strength
    return float(lo), float(hi)
