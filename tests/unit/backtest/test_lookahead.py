"""Lookahead and recursion checks catch strategies that peek or depend on their start, and
pass every built-in strategy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from components.backtest import (
    LookaheadError,
    UnstableSignalError,
    check_no_lookahead,
    check_recursion,
)
from components.errors import ConfigurationError, DataError
from components.strategies import STRATEGIES, Strategy, create_strategy
from tests.unit.backtest.builders import (
    MARKER_VOLUME,
    AboveFullSampleMean,
    AboveRunningMean,
    PeekNextClose,
    PeekOnce,
    causal_side,
    random_walk,
)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return random_walk(2_000, seed=1)


def random_params(cls: type[Strategy[Any]], rng: np.random.Generator) -> dict[str, Any]:
    """Params drawn within the strategy's bounds until they make a valid strategy."""
    while True:
        params: dict[str, Any] = {}
        for name, bound in cls.param_bounds().items():
            if bound.kind == "bool":
                params[name] = bool(rng.integers(0, 2))
            elif bound.kind == "int":
                params[name] = int(rng.integers(int(bound.low), int(bound.high) + 1))
            else:
                params[name] = float(rng.uniform(bound.low, bound.high))
        try:
            cls(params)
        except ConfigurationError:
            continue
        return params


# --- lookahead --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_builtin_strategy_passes_the_exhaustive_lookahead_check(
    name: str, bars: pd.DataFrame
) -> None:
    rng = np.random.default_rng(len(name))
    cls = STRATEGIES[name]
    for params in [{}, *(random_params(cls, rng) for _ in range(3))]:
        strategy = cls(params)
        report = check_no_lookahead(strategy, bars)

        assert report.passed
        direction = strategy.signal_arrays(*(bars[c].to_numpy() for c in bars.columns)).direction
        changes = np.flatnonzero(np.diff(direction[strategy.warmup - 1 : -1])) + strategy.warmup
        assert set(changes) | set(changes - 1) <= set(report.cuts)  # each change and the bar before
        assert report.compared > 2 * len(report.cuts)
        assert report.seconds > 0


def test_a_peek_at_a_single_signal_is_caught_at_every_seed() -> None:
    for seed in range(100):
        bars = random_walk(5_000, seed=seed)
        side = causal_side(bars["close"].to_numpy()[np.newaxis, :])[0]
        # a flat bar next to a flat bar: the peek's +-1 there is a new signal (between two
        # longs, a peeked long would only fill a dip and change no signal at all)
        bar = np.arange(20, len(side) - 1)
        flat = bar[(side[bar] == 0) & ((side[bar - 1] == 0) | (side[bar + 1] == 0))]
        at = int(np.random.default_rng(seed).choice(flat))
        bars.iloc[at, bars.columns.get_loc("volume")] = MARKER_VOLUME

        report = check_no_lookahead(PeekOnce(), bars, raise_error=False)

        assert not report.passed, f"seed {seed}: the peek at bar {at} passed"
        assert report.first_difference is not None
        assert report.first_difference.bar == at


def test_the_same_strategy_without_the_planted_condition_passes() -> None:
    report = check_no_lookahead(PeekOnce(), random_walk(5_000, seed=1))

    assert report.passed


def test_a_strategy_reading_the_next_close_is_rejected_at_the_first_cut() -> None:
    bars = random_walk(500, seed=2)
    strategy = PeekNextClose({"lag": 1})

    with pytest.raises(LookaheadError) as caught:
        check_no_lookahead(strategy, bars)

    report = caught.value.report
    first = report.first_difference
    assert first is not None
    assert first.bar == first.cut == min(report.cuts)  # its next close is another one
    assert first.at == bars.index[first.bar].to_pydatetime()
    message = str(caught.value)
    assert "peek_next_close(lag=1) looks ahead" in message
    assert f"bar {first.bar} ({bars.index[first.bar]})" in message
    assert f"when the bars after bar {first.cut} change" in message
    assert isinstance(caught.value, DataError)


def test_a_strategy_peeking_several_bars_ahead_is_caught_at_or_before_the_cut() -> None:
    report = check_no_lookahead(
        PeekNextClose({"lag": 5}), random_walk(500, seed=2), raise_error=False
    )

    assert not report.passed
    first = report.first_difference
    assert first is not None
    assert first.bar <= first.cut <= first.bar + 4


def test_a_full_sample_statistic_is_lookahead() -> None:
    with pytest.raises(LookaheadError, match="above_full_sample_mean"):
        check_no_lookahead(AboveFullSampleMean(), random_walk(500, seed=3))


def test_cuts_are_split_into_blocks_within_the_cell_budget(bars: pd.DataFrame) -> None:
    strategy = create_strategy("momentum")

    whole = check_no_lookahead(strategy, bars)
    small = check_no_lookahead(strategy, bars, max_cells=10_000)

    assert whole.cuts == small.cuts and whole.passed and small.passed
    with pytest.raises(LookaheadError):
        check_no_lookahead(PeekNextClose({"lag": 1}), bars, max_cells=1)


def test_a_peek_beyond_the_horizon_is_caught_by_the_cuts_of_the_whole_history() -> None:
    bars = random_walk(1_000, seed=4)

    near = check_no_lookahead(PeekNextClose({"lag": 50}), bars, horizon=8, raise_error=False)
    blind = check_no_lookahead(
        PeekNextClose({"lag": 50}), bars, horizon=8, long_cuts=0, raise_error=False
    )

    assert not near.passed
    assert blind.passed  # what the whole-history cuts are for


def test_too_short_bars_are_refused() -> None:
    strategy = create_strategy("momentum", {"lookback": 10})  # warm-up 11

    assert check_no_lookahead(strategy, random_walk(20)).cuts[0] == 10
    with pytest.raises(DataError, match="too few"):
        check_no_lookahead(strategy, random_walk(11))
    with pytest.raises(ConfigurationError, match="max_cells"):
        check_no_lookahead(strategy, random_walk(20), max_cells=0)
    with pytest.raises(ConfigurationError, match="horizon"):
        check_no_lookahead(strategy, random_walk(20), horizon=0)


# --- recursion ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_builtin_strategy_is_stable_over_the_engines_history(
    name: str, bars: pd.DataFrame
) -> None:
    report = check_recursion(create_strategy(name), bars, history=500)

    assert report.passed
    assert report.mismatches == 0
    assert len(report.windows) == 20


def test_a_running_statistic_from_the_first_bar_is_unstable() -> None:
    bars = random_walk(2_000, seed=1)

    assert check_no_lookahead(AboveRunningMean(), bars).passed  # causal, yet:
    with pytest.raises(UnstableSignalError) as caught:
        check_recursion(AboveRunningMean(), bars, history=500)

    report = caught.value.report
    assert report.mismatches > 0
    assert report.first_difference is not None
    assert report.first_difference.bar in report.windows
    assert "above_running_mean() is unstable over 500 bars" in str(caught.value)


def test_a_history_shorter_than_the_warmup_is_named_in_the_error() -> None:
    strategy = create_strategy("sma_crossover", {"fast": 5, "slow": 60, "wait_for_cross": False})

    with pytest.raises(UnstableSignalError, match="shorter than its warm-up of 60 bars"):
        check_recursion(strategy, random_walk(1_000, seed=4), history=40)


def test_a_tolerated_mismatch_rate_passes_with_a_report() -> None:
    bars = random_walk(2_000, seed=1)

    report = check_recursion(AboveRunningMean(), bars, history=500, max_mismatch_rate=1.0)

    assert report.passed
    assert 0 < report.mismatch_rate <= 1


def test_recursion_needs_more_bars_than_the_history() -> None:
    with pytest.raises(DataError, match="too few"):
        check_recursion(create_strategy("momentum"), random_walk(400), history=500)
    with pytest.raises(ConfigurationError, match="history"):
        check_recursion(create_strategy("momentum"), random_walk(400), history=0)
