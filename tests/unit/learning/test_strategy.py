"""The ``ml`` strategy keeps the Strategy contract: no lookahead, bounded params, the
registry of strategies, and signals from the model's calibrated probability."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.errors import ConfigurationError
from components.learning import (
    MLStrategy,
    ModelNotFoundError,
    ModelRegistry,
    PredictionModel,
    register_ml_strategy,
)
from components.market.base import BAR_COLUMNS
from components.strategies import ParamBound, create_strategy, latest_signal
from components.strategies import registry as strategies_registry
from tests.unit.learning.builders import ar_bars

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def fixed(model: PredictionModel) -> Any:
    """A loader that always gives ``model``."""
    return lambda name, version: model


def columns(n: int, seed: int = 0) -> list[np.ndarray]:
    bars = ar_bars(n, phi=0.3, seed=seed)
    return [bars[c].to_numpy() for c in BAR_COLUMNS]


# --- no lookahead -----------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    n=st.integers(80, 300),
    cuts=st.lists(st.integers(1, 300), min_size=1, max_size=4),
    seed=st.integers(0, 20),
    threshold=st.floats(0.5, 0.7),
)
def test_signals_on_truncated_history_equal_the_prefix_of_signals_on_full_history(
    signal_model: PredictionModel, n: int, cuts: list[int], seed: int, threshold: float
) -> None:
    strategy = MLStrategy({"threshold": threshold}, loader=fixed(signal_model))
    bars = ar_bars(n, phi=0.3, seed=seed)
    full = strategy.signals(bars)

    for cut in cuts:
        cut = min(cut, n)
        assert strategy.signals(bars.iloc[:cut]).equals(full.iloc[:cut])


# --- signals from the probability --------------------------------------------------------------


def test_direction_follows_the_probability_and_confidence_is_its_probability(
    signal_model: PredictionModel,
) -> None:
    o, h, lo, c, v = columns(600)
    p_up = signal_model.probabilities(o, h, lo, c, v)

    direction, confidence = MLStrategy(
        {"threshold": 0.55}, loader=fixed(signal_model)
    ).signal_arrays(o, h, lo, c, v)

    long, short = p_up >= 0.55, (1 - p_up) >= 0.55
    assert long.any() and short.any()
    np.testing.assert_array_equal(direction, np.where(long, 1, np.where(short, -1, 0)))
    np.testing.assert_allclose(confidence[long], p_up[long])
    np.testing.assert_allclose(confidence[short], 1 - p_up[short])
    assert (direction[: signal_model.warmup - 1] == 0).all()


def test_long_only_never_goes_short(signal_model: PredictionModel) -> None:
    strategy = MLStrategy({"long_only": True}, loader=fixed(signal_model))

    direction, _ = strategy.signal_arrays(*columns(500))

    assert set(np.unique(direction)) <= {0, 1}


def test_symbols_x_time_input_gives_each_row_its_own_signals(signal_model: PredictionModel) -> None:
    strategy = MLStrategy(loader=fixed(signal_model))
    one, two = columns(300, seed=1), columns(300, seed=2)

    both = strategy.signal_arrays(*(np.vstack([a, b]) for a, b in zip(one, two, strict=True)))

    np.testing.assert_array_equal(both.direction[1], strategy.signal_arrays(*two).direction)


# --- the strategy protocol and the registry of strategies ---------------------------------------


def test_params_are_bounded_for_the_generator() -> None:
    bounds = MLStrategy.param_bounds()

    assert bounds == {
        "threshold": ParamBound(0.5, 0.99, "float"),
        "long_only": ParamBound(0, 1, "bool"),
        "version": ParamBound(0, 9_999, "int"),
    }
    with pytest.raises(ConfigurationError, match=r"threshold=0.3 is invalid.*0.5..0.99"):
        MLStrategy({"threshold": 0.3})


def test_register_ml_strategy_makes_create_strategy_work(
    signal_model: PredictionModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(strategies_registry, "STRATEGIES", dict(strategies_registry.STRATEGIES))
    monkeypatch.setattr(MLStrategy, "default_loader", None)

    register_ml_strategy(fixed(signal_model))
    strategy = create_strategy("ml", {"threshold": 0.6})

    assert isinstance(strategy, MLStrategy)
    assert strategy.with_params(threshold=0.65).params.threshold == 0.65
    direction, _ = strategy.with_params(threshold=0.51).signal_arrays(*columns(300))
    assert direction.any()


def test_without_a_loader_the_strategy_says_how_to_get_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(MLStrategy, "default_loader", None)

    with pytest.raises(ConfigurationError, match="register_ml_strategy"):
        MLStrategy().signal_arrays(*columns(200))


def test_the_engine_gets_its_latest_signal_like_any_strategy(signal_model: PredictionModel) -> None:
    bars = ar_bars(300, phi=0.3, seed=4)

    signal = latest_signal(MLStrategy({"threshold": 0.5}, loader=fixed(signal_model)), "X", bars)

    assert signal is not None and signal.strategy == "ml"
    assert signal.direction in (-1, 1) and signal.confidence >= 0.5


# --- models from the registry --------------------------------------------------------------------


def test_the_strategy_trades_the_production_model_of_the_registry(
    registry: ModelRegistry, signal_model: PredictionModel, noise_model: PredictionModel
) -> None:
    registry.register("price_direction", noise_model, trained_at=NOW)
    registry.register("price_direction", signal_model, trained_at=NOW)
    registry.promote("price_direction", "v0002", now=NOW)
    bars = columns(400)

    live = MLStrategy(loader=registry).signal_arrays(*bars)
    pinned = MLStrategy({"version": 1}, loader=registry).signal_arrays(*bars)

    expected = MLStrategy(loader=fixed(signal_model)).signal_arrays(*bars)
    np.testing.assert_array_equal(live.direction, expected.direction)
    np.testing.assert_array_equal(
        pinned.direction, MLStrategy(loader=fixed(noise_model)).signal_arrays(*bars).direction
    )


def test_the_strategy_is_flat_while_no_model_is_in_production(registry: ModelRegistry) -> None:
    direction, confidence = MLStrategy(loader=registry).signal_arrays(*columns(300))

    assert not direction.any() and not confidence.any()


def test_a_pinned_version_that_does_not_exist_is_an_error(registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError, match="no version v0042"):
        MLStrategy({"version": 42}, loader=registry).signal_arrays(*columns(300))
