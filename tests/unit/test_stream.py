"""Streams: indicators and strategies updated bar by bar give exactly the full computation."""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components import indicators as ind
from components.errors import DataError
from components.strategies import (
    STRATEGIES,
    BreakoutStrategy,
    MeanReversionStrategy,
    MomentumStrategy,
    SmaCrossoverStrategy,
    TrendFollowingStrategy,
)
from components.strategies.base import Strategy
from components.stream import Stream


def ohlcv(rows: int, length: int, seed: int) -> list[np.ndarray]:
    """A random walk per row with consistent bars (and flat stretches, where exact
    equalities make strategies decide on ties)."""
    rng = np.random.default_rng(seed)
    steps = rng.standard_normal((rows, length)) * 0.01
    steps[rng.random((rows, length)) < 0.1] = 0.0  # some bars that do not move
    close = 100 * np.exp(np.cumsum(steps, axis=1))
    open_ = np.concatenate([close[:, :1], close[:, :-1]], axis=1)
    wick = np.abs(rng.standard_normal((2, rows, length))) * 0.003
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(5, 1, (rows, length))
    return [open_, high, low, close, volume]


def chunked(length: int, cuts: list[int]) -> list[slice]:
    bounds = sorted({0, length, *(c % (length + 1) for c in cuts)})
    return [slice(a, b) for a, b in pairwise(bounds)]


def assert_streams_like_the_whole(
    fn: Callable[..., Any], arrays: list[np.ndarray], cuts: list[int]
) -> None:
    whole = fn(*arrays)
    stream = Stream(fn)
    parts = [
        stream.update(*(a[:, part] for a in arrays)) for part in chunked(arrays[0].shape[1], cuts)
    ]
    if isinstance(whole, tuple):
        for i, expected in enumerate(whole):
            np.testing.assert_array_equal(np.concatenate([p[i] for p in parts], axis=1), expected)
    else:
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)


INDICATORS: dict[str, Callable[[list[np.ndarray], int], Callable[..., Any]]] = {
    "sma": lambda a, n: lambda o, h, lo, c, v: ind.sma(c, n),
    "rolling_std": lambda a, n: lambda o, h, lo, c, v: ind.rolling_std(c, max(n, 2)),
    "ema": lambda a, n: lambda o, h, lo, c, v: ind.ema(c, n),
    "rma": lambda a, n: lambda o, h, lo, c, v: ind.rma(c, n),
    "atr": lambda a, n: lambda o, h, lo, c, v: ind.atr(h, lo, c, n),
    "rsi": lambda a, n: lambda o, h, lo, c, v: ind.rsi(c, n),
    "dm": lambda a, n: (
        lambda o, h, lo, c, v: tuple(
            getattr(ind.directional_movement(h, lo, c, n), f)
            for f in ("plus_di", "minus_di", "dx", "adx")
        )
    ),
    "efficiency_ratio": lambda a, n: lambda o, h, lo, c, v: ind.efficiency_ratio(c, n),
    "realized_volatility": lambda a, n: (
        lambda o, h, lo, c, v: ind.realized_volatility(c, max(n, 2))
    ),
    "returns": lambda a, n: lambda o, h, lo, c, v: ind.returns(c, n),
    "log_returns": lambda a, n: lambda o, h, lo, c, v: ind.log_returns(c, n),
    "true_range": lambda a, n: lambda o, h, lo, c, v: ind.true_range(h, lo, c),
    "rolling_max": lambda a, n: lambda o, h, lo, c, v: ind.rolling_max(h, n),
    "rolling_min": lambda a, n: lambda o, h, lo, c, v: ind.rolling_min(lo, n),
}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(INDICATORS)),
    rows=st.integers(1, 4),
    length=st.integers(1, 120),
    n=st.integers(1, 30),
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 120), max_size=8),
    gaps=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 119)), max_size=3),
)
def test_every_indicator_streamed_bar_by_bar_equals_the_whole_computation(
    name: str,
    rows: int,
    length: int,
    n: int,
    seed: int,
    cuts: list[int],
    gaps: list[tuple[int, int]],
) -> None:
    arrays = ohlcv(rows, length, seed)
    for row, bar in gaps:  # missing values (leading or inside) follow the same rules
        if row < rows and bar < length:
            for a in arrays:
                a[row, bar] = np.nan

    assert_streams_like_the_whole(INDICATORS[name](arrays, n), arrays, cuts)


@st.composite
def strategies(draw: st.DrawFn) -> Strategy[Any]:
    cls = draw(st.sampled_from([c for c in STRATEGIES.values() if c.streams]))
    while True:
        params: dict[str, Any] = {}
        for field, bound in cls.param_bounds().items():
            if bound.kind == "bool":
                params[field] = draw(st.booleans())
            elif bound.kind == "int":
                params[field] = draw(st.integers(int(bound.low), min(int(bound.high), 60)))
            else:
                params[field] = draw(st.floats(bound.low, bound.high))
        try:
            return cls(params)
        except Exception:  # an invalid combination (fast >= slow): draw again
            continue


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    strategy=strategies(),
    rows=st.integers(1, 5),
    length=st.integers(1, 260),
    seed=st.integers(0, 1000),
    cuts=st.lists(st.integers(0, 260), max_size=10),
)
def test_every_streaming_strategy_gives_the_signals_of_the_whole_computation(
    strategy: Strategy[Any], rows: int, length: int, seed: int, cuts: list[int]
) -> None:
    arrays = ohlcv(rows, length, seed)

    assert_streams_like_the_whole(strategy.signal_arrays, arrays, cuts)


BUILT_IN = [
    BreakoutStrategy,
    MeanReversionStrategy,
    MomentumStrategy,
    SmaCrossoverStrategy,
    TrendFollowingStrategy,
]


def test_every_built_in_strategy_streams() -> None:
    assert all(cls.streams for cls in BUILT_IN)


def test_one_bar_at_a_time_over_a_long_series_stays_exact() -> None:
    arrays = ohlcv(3, 700, seed=5)
    for cls in BUILT_IN:
        assert_streams_like_the_whole(cls().signal_arrays, arrays, list(range(300, 700)))


def test_a_function_that_changes_the_order_of_its_building_blocks_is_refused() -> None:
    calls = iter([True, False])

    def fickle(c: np.ndarray) -> np.ndarray:
        return ind.sma(c, 3) if next(calls) else ind.ema(c, 3)

    stream = Stream(fickle)
    stream.update(np.ones((1, 5)))

    with pytest.raises(DataError, match="same order"):
        stream.update(np.ones((1, 2)))


def test_a_failed_update_leaves_the_stream_as_it_was() -> None:
    close = ohlcv(2, 60, seed=1)[3]
    fail = [False]

    def sometimes_failing(c: np.ndarray) -> np.ndarray:
        out = ind.ema(c, 5)
        if fail[0]:
            raise RuntimeError("boom")
        return ind.sma(out, 4)

    stream = Stream(sometimes_failing)
    stream.update(close[:, :40])
    fail[0] = True
    with pytest.raises(RuntimeError):
        stream.update(close[:, 40:50])
    fail[0] = False
    rest = stream.update(close[:, 40:])

    np.testing.assert_array_equal(rest, sometimes_failing(close)[:, 40:])


def test_a_stream_refuses_other_rows_or_shapes() -> None:
    stream = Stream(lambda c: ind.sma(c, 2))
    stream.update(np.ones((2, 3)))

    with pytest.raises(DataError, match="2 rows"):
        stream.update(np.ones((3, 1)))
    with pytest.raises(DataError, match="2-D"):
        stream.update(np.ones(3))
