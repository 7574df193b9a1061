"""Trailing rolling extremes, for the Donchian channel of the breakout strategy.

# TODO(lead): move to components/indicators.py (as ``rolling_max`` / ``rolling_min``,
# beside ``sma`` and ``rolling_std``); components/indicators.py has no rolling extreme yet.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, minimum_filter1d

from components.indicators import FloatArray


# TODO(lead): move to components/indicators.py
def rolling_max(x: FloatArray, n: int) -> FloatArray:
    """Maximum of the last ``n`` values along the last axis (the current one included);
    the first ``n - 1`` values are NaN, and so is every window holding a NaN.

    Example: ``rolling_max(np.array([1.0, 3.0, 2.0]), 2)`` -> ``[nan, 3.0, 3.0]``.
    """
    return _trailing(x, n, maximum=True)


# TODO(lead): move to components/indicators.py
def rolling_min(x: FloatArray, n: int) -> FloatArray:
    """Minimum of the last ``n`` values along the last axis (the current one included);
    the first ``n - 1`` values are NaN, and so is every window holding a NaN.

    Example: ``rolling_min(np.array([1.0, 3.0, 2.0]), 2)`` -> ``[nan, 1.0, 2.0]``.
    """
    return _trailing(x, n, maximum=False)


def _trailing(x: FloatArray, n: int, *, maximum: bool) -> FloatArray:
    if n < 1:
        raise ValueError(f"window must be >= 1, got {n}")
    if x.shape[-1] == 0:
        return np.empty_like(x)
    # scipy's O(length) filter, its window moved from centred to trailing by ``origin``:
    # the output at t covers t - n + 1 .. t, never a later bar.
    filt = maximum_filter1d if maximum else minimum_filter1d
    out: FloatArray = filt(x, n, axis=-1, mode="nearest", origin=(n - 1) // 2)
    out[..., : n - 1] = np.nan
    missing = np.isnan(x)
    if missing.any():
        # As the rolling windows in components.indicators: a NaN spoils its window.
        counts = np.cumsum(missing, axis=-1)
        in_window = counts.copy()
        in_window[..., n:] -= counts[..., :-n]
        out[in_window > 0] = np.nan
    return out
