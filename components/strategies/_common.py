"""Small vectorised building blocks the built-in strategies share."""

from __future__ import annotations

import numpy as np

from components.indicators import FloatArray, forward_fill
from components.strategies.base import BoolArray, Int8Array
from components.stream import bar_index


def from_bar(shape: tuple[int, ...], first: int) -> BoolArray:
    """A mask of ``shape`` (symbols x time) that is True from bar ``first`` of the series
    on (in a stream, bars are counted from the stream's start).

    Example: ``from_bar((1, 4), 2)`` -> ``[[False, False, True, True]]``.
    """
    return np.broadcast_to(bar_index(shape[-1]) >= first, shape)


def hold(enter: BoolArray, leave: BoolArray) -> BoolArray:
    """A position state along the last axis: on at a bar where ``enter`` holds, off at a
    bar where ``leave`` holds (``enter`` wins a tie), otherwise as on the bar before
    (off before the first event). Only past bars matter: a forward fill.

    Example: ``hold([[1, 0, 0, 0]], [[0, 0, 1, 0]])`` -> ``[[True, True, False, False]]``.
    """
    return forward_fill(np.asarray(enter, dtype=np.bool_), enter | leave, False)


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


ENTRY_CONFIDENCE = 0.7
"""The confidence of a setup that just meets its strategy's own entry rule: the bar the
NORMAL risk mode asks for (QT_NORMAL_MIN_CONFIDENCE), so every valid entry trades there,
DEFENSIVE (0.75) asks for a stronger one, and confidences compare across strategies."""


def setup_confidence(strength: FloatArray, threshold: float) -> FloatArray:
    """Confidence from how far ``strength`` is past the entry ``threshold``: 0.7 at the
    threshold, 1 at twice it (capped), falling below 0.7 as a held setup fades; 0 where
    ``strength`` is NaN.

    Example: ``setup_confidence(np.array([2.0, 3.0, 4.0]), 2.0)`` -> ``[0.7, 0.85, 1.0]``.
    """
    step = 1 - ENTRY_CONFIDENCE
    with np.errstate(invalid="ignore"):
        scaled = ENTRY_CONFIDENCE - step + step * strength / threshold
    return np.where(np.isnan(strength), 0.0, np.clip(scaled, 0.0, 1.0))
