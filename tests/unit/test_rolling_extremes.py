"""The trailing rolling extremes behind the Donchian channel."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from numpy.lib.stride_tricks import sliding_window_view

from components.indicators import rolling_max, rolling_min


@given(n=st.integers(1, 12), length=st.integers(0, 60), seed=st.integers(0, 999))
def test_rolling_extremes_equal_a_brute_force_trailing_window(
    n: int, length: int, seed: int
) -> None:
    x = np.random.default_rng(seed).normal(size=(2, length))
    expected_max = np.full_like(x, np.nan)
    expected_min = np.full_like(x, np.nan)
    if length >= n:
        windows = sliding_window_view(x, n, axis=-1)
        expected_max[:, n - 1 :] = windows.max(axis=-1)
        expected_min[:, n - 1 :] = windows.min(axis=-1)

    np.testing.assert_array_equal(rolling_max(x, n), expected_max)
    np.testing.assert_array_equal(rolling_min(x, n), expected_min)


def test_a_nan_spoils_every_window_that_holds_it() -> None:
    x = np.array([np.nan, 1.0, 5.0, 2.0, 3.0, np.nan, 1.0, 1.0, 1.0])

    np.testing.assert_array_equal(
        rolling_max(x, 3), [np.nan, np.nan, np.nan, 5.0, 5.0, np.nan, np.nan, np.nan, 1.0]
    )
