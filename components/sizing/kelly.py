"""Fractional Kelly: how much of the equity a strategy's track record says to risk.

For a win rate ``p`` and a win/loss ratio ``b`` (average win over average loss), the
Kelly fraction is ``f* = p - (1 - p) / b = (p * b - (1 - p)) / b``. Full Kelly is too
aggressive for estimated inputs, so callers take a ``fraction`` of it (half Kelly by
default) and ``cap`` the result.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from components.errors import ConfigurationError
from components.indicators import FloatArray


def kelly_fraction(
    win_rate: float, win_loss_ratio: float, *, fraction: float = 0.5, cap: float = 0.25
) -> float:
    """Fractional Kelly ``fraction * (p - (1 - p) / b)``, clipped to ``[0, cap]``.

    Parameters
    ----------
    win_rate
        ``p``, the share of winning trades, in [0, 1].
    win_loss_ratio
        ``b``, the average win over the average loss, > 0.
    fraction
        Share of full Kelly to take, in (0, 1].
    cap
        Largest result, in (0, 1].

    Returns
    -------
    float
        In ``[0, cap]``; 0 when the edge ``p * b - (1 - p)`` is not positive or the inputs
        are degenerate (NaN, infinite, ``p`` outside [0, 1], ``b <= 0``). Never
        decreasing in ``win_rate``.

    Raises
    ------
    ConfigurationError
        ``fraction`` or ``cap`` is outside (0, 1].

    Example: ``kelly_fraction(0.55, 1.5)`` -> ``0.125`` (half of full Kelly, 0.25).
    """
    return float(kelly_fractions(win_rate, win_loss_ratio, fraction=fraction, cap=cap))


def kelly_fractions(
    win_rate: npt.ArrayLike,
    win_loss_ratio: npt.ArrayLike,
    *,
    fraction: float = 0.5,
    cap: float = 0.25,
) -> FloatArray:
    """:func:`kelly_fraction` element-wise over broadcastable arrays.

    Example: ``kelly_fractions([0.4, 0.6], 1.0)`` -> ``[0.0, 0.1]``.
    """
    _check_unit("fraction", fraction)
    _check_unit("cap", cap)
    p = np.asarray(win_rate, dtype=np.float64)
    b = np.asarray(win_loss_ratio, dtype=np.float64)
    valid = kelly_inputs_valid(p, b)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # The edge first, so its sign (not a rounding of p - (1 - p) / b) decides "no edge".
        edge = p * b - (1.0 - p)
        full = np.where(valid & (edge > 0), edge / b, 0.0)
    return np.asarray(np.clip(fraction * full, 0.0, cap), dtype=np.float64)


def kelly_inputs_valid(
    win_rate: npt.ArrayLike, win_loss_ratio: npt.ArrayLike
) -> npt.NDArray[np.bool_]:
    """Where ``win_rate`` is finite in [0, 1] and ``win_loss_ratio`` finite and > 0."""
    p = np.asarray(win_rate, dtype=np.float64)
    b = np.asarray(win_loss_ratio, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.isfinite(p) & (p >= 0) & (p <= 1) & np.isfinite(b) & (b > 0)


def _check_unit(name: str, value: float) -> None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not (math.isfinite(number) and 0 < number <= 1):
        raise ConfigurationError(f"{name}={value!r} is invalid: it must be in (0, 1]")
