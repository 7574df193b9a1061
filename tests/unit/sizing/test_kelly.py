"""Fractional Kelly: the textbook value, capped, zero without an edge, monotone in win rate."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.errors import ConfigurationError
from components.sizing import kelly_fraction, kelly_fractions

rates = st.floats(0, 1)
ratios = st.floats(1e-3, 100)
fractions = st.floats(0.01, 1)
caps = st.floats(0.01, 1)


def test_kelly_fraction_is_the_textbook_value_times_the_fraction() -> None:
    # f* = 0.6 - 0.4 / 2 = 0.4
    assert kelly_fraction(0.6, 2.0, fraction=1.0, cap=1.0) == pytest.approx(0.4)
    assert kelly_fraction(0.6, 2.0, fraction=0.5, cap=1.0) == pytest.approx(0.2)


def test_kelly_fraction_is_capped() -> None:
    assert kelly_fraction(0.9, 3.0) == 0.25
    assert kelly_fraction(1.0, 1.0, fraction=1.0, cap=0.1) == 0.1


@pytest.mark.parametrize(
    ("win_rate", "win_loss_ratio"),
    [(0.5, 1.0), (0.4, 1.0), (1 / 3, 2.0), (0.0, 10.0), (0.2, 0.5)],
)
def test_kelly_fraction_is_zero_without_an_edge(win_rate: float, win_loss_ratio: float) -> None:
    assert kelly_fraction(win_rate, win_loss_ratio) == 0.0


@pytest.mark.parametrize(
    ("win_rate", "win_loss_ratio"),
    [
        (math.nan, 1.5),
        (0.6, math.nan),
        (-0.1, 1.5),
        (1.1, 1.5),
        (0.6, 0.0),
        (0.6, -2.0),
        (0.6, math.inf),
        (math.inf, 1.5),
    ],
)
def test_kelly_fraction_is_zero_on_degenerate_inputs(
    win_rate: float, win_loss_ratio: float
) -> None:
    assert kelly_fraction(win_rate, win_loss_ratio) == 0.0


@pytest.mark.parametrize(("name", "value"), [("fraction", 0.0), ("fraction", 1.5), ("cap", -1.0)])
def test_a_fraction_or_cap_outside_0_1_is_a_configuration_error(name: str, value: float) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}={value!r} is invalid"):
        kelly_fraction(0.6, 2.0, **{name: value})


@given(p=rates, b=ratios, fraction=fractions, cap=caps)
def test_kelly_fraction_lies_in_0_cap(p: float, b: float, fraction: float, cap: float) -> None:
    assert 0.0 <= kelly_fraction(p, b, fraction=fraction, cap=cap) <= cap


@given(p=rates, b=ratios)
def test_kelly_fraction_is_zero_exactly_when_there_is_no_edge(p: float, b: float) -> None:
    f = kelly_fraction(p, b, fraction=1.0, cap=1.0)

    if p * b - (1 - p) <= 0:
        assert f == 0.0
    else:
        assert f >= 0.0


@given(p1=rates, p2=rates, b=ratios, fraction=fractions, cap=caps)
def test_kelly_fraction_never_falls_as_the_win_rate_rises(
    p1: float, p2: float, b: float, fraction: float, cap: float
) -> None:
    low, high = sorted((p1, p2))

    assert kelly_fraction(low, b, fraction=fraction, cap=cap) <= kelly_fraction(
        high, b, fraction=fraction, cap=cap
    )


def test_kelly_fractions_works_element_wise() -> None:
    out = kelly_fractions([0.4, 0.6, math.nan], [1.0, 1.0, 1.0])

    np.testing.assert_allclose(out, [0.0, 0.1, 0.0])
