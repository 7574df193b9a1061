"""What every built-in strategy promises: the output contract, no lookahead, one code path."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import Field

from components.errors import ConfigurationError, DataError
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.strategies import STRATEGIES, ParamBound, Strategy, StrategyParams
from tests.unit.strategies.builders import random_walk

NAMES = sorted(STRATEGIES)
MAX_TEST_WINDOW = 40  # keep lookbacks short enough that 60-250 bars carry signals


@st.composite
def valid_params(draw: st.DrawFn, cls: type[Strategy[Any]]) -> dict[str, Any]:
    """Random params within ``cls.param_bounds()`` that its params model accepts."""
    values: dict[str, Any] = {}
    for name, bound in cls.param_bounds().items():
        if bound.kind == "bool":
            values[name] = draw(st.booleans())
        elif bound.kind == "int":
            high = max(int(bound.low), min(int(bound.high), MAX_TEST_WINDOW))
            values[name] = draw(st.integers(int(bound.low), high))
        else:
            # often near the low end, where thresholds are small enough to fire on 250 bars
            low_end = bound.low + (bound.high - bound.low) / 10
            values[name] = draw(st.floats(bound.low, bound.high) | st.floats(bound.low, low_end))
    try:
        cls.params_type(**values)
    except ValueError:
        assume(False)
    return values


def first_lookahead_bar(strategy: Strategy[Any], bars: pd.DataFrame, ts: list[int]) -> int | None:
    """The first sampled bar whose signal changes when later bars are cut off."""
    full = strategy.signals(bars)
    for t in sorted(ts):
        cut = strategy.signals(bars.iloc[: t + 1])
        if not cut.equals(full.iloc[: t + 1]):
            return t
    return None


# --- no lookahead ------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), name=st.sampled_from(NAMES), n=st.integers(60, 250), seed=st.integers(0, 99))
def test_signals_on_truncated_bars_equal_signals_on_full_history(
    data: st.DataObject, name: str, n: int, seed: int
) -> None:
    cls = STRATEGIES[name]
    strategy = cls(data.draw(valid_params(cls), label="params"))
    bars = random_walk(n, seed=seed, volatility=0.02)
    ts = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=6), label="t")
    assert first_lookahead_bar(strategy, bars, ts) is None


class _PeekingParams(StrategyParams):
    lookback: int = Field(5, ge=1, le=10)


class _PeekingStrategy(Strategy[_PeekingParams]):
    """Long when tomorrow's close is higher: the bug the lookahead check exists for."""

    name: ClassVar[str] = "peeking"
    params_type: ClassVar[type[StrategyParams]] = _PeekingParams

    @property
    def warmup(self) -> int:
        return 1

    def _signals(
        self, open: FloatArray, high: FloatArray, low: FloatArray, close: FloatArray, volume: Any
    ) -> tuple[npt.NDArray[Any], FloatArray]:
        tomorrow = np.roll(close, -1, axis=-1)
        return np.sign(tomorrow - close), np.ones_like(close)


def test_the_lookahead_check_catches_a_strategy_that_peeks() -> None:
    bars = random_walk(100, seed=3)

    assert first_lookahead_bar(_PeekingStrategy(), bars, [10, 50, 98]) == 10


# --- the output contract ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data(), name=st.sampled_from(NAMES), n=st.integers(1, 300), seed=st.integers(0, 99))
def test_signals_keep_the_output_contract(
    data: st.DataObject, name: str, n: int, seed: int
) -> None:
    cls = STRATEGIES[name]
    strategy = cls(data.draw(valid_params(cls), label="params"))
    bars = random_walk(n, seed=seed, volatility=0.02)

    out = strategy.signals(bars)

    assert out.index.equals(bars.index)
    assert list(out.columns) == ["direction", "confidence"]
    assert out["direction"].dtype == np.int8
    assert out["confidence"].dtype == np.float64
    assert not out.isna().any().any()
    assert set(np.unique(out["direction"])) <= {-1, 0, 1}
    assert out["confidence"].between(0, 1).all()
    assert (out["confidence"][out["direction"] == 0] == 0).all()
    assert (out["direction"].iloc[: strategy.warmup - 1] == 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_defaults_trade_on_a_long_random_walk(name: str) -> None:
    strategy = STRATEGIES[name]()
    out = strategy.signals(random_walk(3_000, seed=11))

    active = out["direction"] != 0
    assert active.mean() > 0.05
    assert out["confidence"][active].mean() > 0.2


@pytest.mark.parametrize("name", NAMES)
def test_signal_arrays_on_symbols_by_time_equal_each_row_alone(name: str) -> None:
    strategy = STRATEGIES[name]()
    frames = [random_walk(400, seed=s) for s in range(3)]
    stacked = [np.vstack([f[c].to_numpy() for f in frames]) for c in BAR_COLUMNS]

    direction, confidence = strategy.signal_arrays(*stacked)

    assert direction.shape == confidence.shape == (3, 400)
    for row, frame in enumerate(frames):
        alone = strategy.signals(frame)
        np.testing.assert_array_equal(direction[row], alone["direction"].to_numpy())
        np.testing.assert_array_equal(confidence[row], alone["confidence"].to_numpy())


@pytest.mark.parametrize("name", NAMES)
def test_signals_is_a_thin_wrapper_over_signal_arrays(name: str) -> None:
    strategy = STRATEGIES[name]()
    bars = random_walk(300, seed=5)

    direction, confidence = strategy.signal_arrays(*(bars[c].to_numpy() for c in BAR_COLUMNS))
    frame = strategy.signals(bars)

    np.testing.assert_array_equal(frame["direction"].to_numpy(), direction)
    np.testing.assert_array_equal(frame["confidence"].to_numpy(), confidence)


@pytest.mark.parametrize("name", NAMES)
def test_fewer_bars_than_the_warmup_give_no_signal(name: str) -> None:
    strategy = STRATEGIES[name]()
    bars = random_walk(strategy.warmup - 1, seed=1, volatility=0.05)

    assert (strategy.signals(bars)["direction"] == 0).all()


@pytest.mark.parametrize("name", NAMES)
def test_signals_on_no_bars_are_empty(name: str) -> None:
    out = STRATEGIES[name]().signals(random_walk(10).iloc[:0])

    assert out.empty and list(out.columns) == ["direction", "confidence"]


@pytest.mark.parametrize("name", NAMES)
def test_signals_of_100k_bars_come_one_per_bar(name: str) -> None:
    # (their speed is a figure of benchmarks/bench_components.py)
    strategy = STRATEGIES[name]()
    columns = [c.to_numpy() for _, c in random_walk(100_000, seed=2).items()]

    direction, confidence = strategy.signal_arrays(*columns)

    assert len(direction) == len(confidence) == 100_000


# --- bad input ---------------------------------------------------------------------------------


def test_bars_without_a_column_raise_data_error_naming_it() -> None:
    bars = random_walk(50).drop(columns=["volume"])

    with pytest.raises(DataError, match="momentum: bars have no 'volume' column"):
        STRATEGIES["momentum"]().signals(bars)


def test_arrays_of_different_shapes_raise_data_error() -> None:
    a = np.ones(10)

    with pytest.raises(DataError, match="one shape"):
        STRATEGIES["momentum"]().signal_arrays(a, a, a, np.ones(9), a)


def test_arrays_of_three_dimensions_raise_data_error() -> None:
    a = np.ones((2, 2, 2))

    with pytest.raises(DataError, match="1-D"):
        STRATEGIES["momentum"]().signal_arrays(a, a, a, a, a)


# --- params ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_param_is_bounded_and_its_default_within_bounds(name: str) -> None:
    cls = STRATEGIES[name]
    defaults = cls().params.model_dump()
    bounds = cls.param_bounds()

    assert set(bounds) == set(defaults)
    for param, bound in bounds.items():
        assert isinstance(bound, ParamBound)
        assert bound.low <= bound.high
        assert bound.contains(float(defaults[param])), param
        if bound.kind == "bool":
            assert isinstance(defaults[param], bool)


@pytest.mark.parametrize("name", NAMES)
def test_params_are_frozen_and_forbid_unknown_fields(name: str) -> None:
    cls = STRATEGIES[name]
    params = cls().params
    first = next(iter(params.model_dump()))

    with pytest.raises(ValueError, match="frozen"):
        setattr(params, first, 1)
    with pytest.raises(ConfigurationError, match="unknown param 'colour'"):
        cls({"colour": "red"})


def test_with_params_returns_a_new_strategy_and_leaves_the_old_alone() -> None:
    momentum = STRATEGIES["momentum"]()

    faster = momentum.with_params(lookback=5)

    assert faster.params.lookback == 5
    assert momentum.params.lookback == 20
    assert faster.params.threshold == momentum.params.threshold
    assert faster != momentum
    assert momentum.with_params() == momentum
    assert hash(momentum.with_params()) == hash(momentum)


def test_with_params_out_of_range_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"lookback=1 is invalid.*allowed 2\.\.500"):
        STRATEGIES["momentum"]().with_params(lookback=1)


def test_repr_names_the_strategy_and_its_params() -> None:
    text = repr(STRATEGIES["sma_crossover"]({"fast": 5, "slow": 30}))

    assert text == "sma_crossover(fast=5, slow=30, long_only=True, wait_for_cross=True)"


def test_a_strategy_with_an_unbounded_param_is_refused_at_definition() -> None:
    class Unbounded(StrategyParams):
        lookback: int = 5

    with pytest.raises(TypeError, match=r"lookback.*needs Field"):

        class _Bad(Strategy[Unbounded]):
            name: ClassVar[str] = "bad"
            params_type: ClassVar[type[StrategyParams]] = Unbounded

            @property
            def warmup(self) -> int:
                return 1

            def _signals(self, *arrays: FloatArray) -> tuple[npt.NDArray[Any], FloatArray]:
                raise NotImplementedError


@pytest.mark.parametrize("name", NAMES)
def test_rows_padded_with_leading_nan_stay_flat_until_their_own_warmup(name: str) -> None:
    strategy = STRATEGIES[name]()
    short, long = random_walk(250, seed=8, volatility=0.02), random_walk(400, seed=9)
    pad = np.full(150, np.nan)
    stacked = [
        np.vstack([np.concatenate([pad, short[c].to_numpy()]), long[c].to_numpy()])
        for c in BAR_COLUMNS
    ]

    direction, confidence = strategy.signal_arrays(*stacked)

    assert not np.isnan(confidence).any()
    assert (direction[0, : 150 + strategy.warmup - 1] == 0).all()
    np.testing.assert_array_equal(direction[1], strategy.signals(long)["direction"].to_numpy())
    if name in ("momentum", "mean_reversion", "sma_crossover"):  # no true range involved
        np.testing.assert_array_equal(
            direction[0, 150:], strategy.signals(short)["direction"].to_numpy()
        )
