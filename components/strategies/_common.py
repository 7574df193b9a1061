"""Small vectorised building blocks the built-in strategies share."""

from __future__ import annotations

import numpy as np

from components.indicators import FloatArray
from components.strategies.base import BoolArray, Int8Array


def from_bar(shape: tuple[int, ...], first: int) -> BoolArray:
    """A mask of ``shape`` (symbols x time) that is True from column ``first`` on.

    Example: ``from_bar((1, 4), 2)`` -> ``[[False, False, True, True]]``.
    """
    return np.broadcast_to(np.arange(shape[-1]) >= first, shape)


def hold(enter: BoolArray, leave: BoolArray) -> BoolArray:
    """A position state along the last axis: on at a bar where ``enter`` holds, off at a
    bar where ``leave`` holds (``enter`` wins a tie), otherwise as on the bar before
    (off before the first event). Only past bars matter: a forward fill.

    Example: ``hold([[1, 0, 0, 0]], [[0, 0, 1, 0]])`` -> ``[[True, True, False, False]]``.
    """
    event = enter | leave
    positions = np.where(event, np.arange(event.shape[-1]), -1)
    last = np.maximum.accumulate(positions, axis=-1)
    state = np.take_along_axis(enter, np.maximum(last, 0), axis=-1)
    return state & (last >= 0)


def long_short(long: BoolArray, short: BoolArray, *, long_only: bool) -> Int8Array:
    """+1 where ``long``, -1 where ``short`` (unless ``long_only``), 0 elsewhere."""
    direction = long.astype(np.int8)
    if not long_only:
        direction -= short.astype(np.int8)
    return direction


def share(numerator: FloatArray, denominator: float | FloatArray) -> FloatArray:
    """``numerator / denominator`` clipped to [0, 1], 0 where the denominator is not
    positive or either side is NaN: the usual shape of a confidence.

    Example: ``share(np.array([0.5, 3.0]), 2.0)`` -> ``[0.25, 1.0]``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(np.asarray(denominator) > 0, numerator / denominator, 0.0)
    return np.clip(np.nan_to_num(ratio, nan=0.0), 0.0, 1.0)
