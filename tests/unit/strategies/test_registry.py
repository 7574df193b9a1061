"""create_strategy: built-ins by name, errors that say what to fix, nothing half-made."""

from __future__ import annotations

import pytest

from components.errors import ConfigurationError
from components.strategies import (
    STRATEGIES,
    BreakoutStrategy,
    MeanReversionStrategy,
    MomentumStrategy,
    SmaCrossoverStrategy,
    TrendFollowingStrategy,
    create_strategy,
)
from components.strategies.names import BUILTIN_STRATEGIES


def test_the_registry_holds_the_five_built_ins_by_name() -> None:
    built_ins = {
        "momentum": MomentumStrategy,
        "mean_reversion": MeanReversionStrategy,
        "trend_following": TrendFollowingStrategy,
        "breakout": BreakoutStrategy,
        "sma_crossover": SmaCrossoverStrategy,
    }

    # register_ml_strategy() adds "ml" to the registry of a process that uses models
    assert {name: STRATEGIES[name] for name in built_ins} == built_ins
    assert set(STRATEGIES) - set(built_ins) <= {"ml"}


def test_the_names_a_command_checks_first_are_the_registrys_built_ins() -> None:
    assert set(BUILTIN_STRATEGIES) == set(STRATEGIES) - {"ml"}
    assert list(BUILTIN_STRATEGIES) == sorted(BUILTIN_STRATEGIES)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_create_strategy_without_params_uses_the_defaults(name: str) -> None:
    strategy = create_strategy(name)

    assert strategy.name == name
    assert strategy == STRATEGIES[name]()


def test_create_strategy_applies_the_given_params() -> None:
    strategy = create_strategy("breakout", {"lookback": 55, "long_only": True})

    assert isinstance(strategy, BreakoutStrategy)
    assert strategy.params.lookback == 55
    assert strategy.params.long_only is True
    assert strategy.params.exit_lookback == 10


def test_an_unknown_strategy_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_strategy("martingale")

    message = str(caught.value)
    assert "unknown strategy 'martingale'" in message
    for name in STRATEGIES:
        assert name in message


def test_a_param_out_of_range_is_named_with_its_allowed_range() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_strategy("momentum", {"threshold": 0.9})

    message = str(caught.value)
    assert message.startswith("momentum: threshold=0.9 is invalid")
    assert "less than or equal to 0.5" in message
    assert "(allowed 0.001..0.5)" in message


def test_a_param_of_the_wrong_type_is_named() -> None:
    with pytest.raises(ConfigurationError, match="mean_reversion: lookback='long' is invalid"):
        create_strategy("mean_reversion", {"lookback": "long"})


def test_an_unknown_param_is_named_with_the_strategys_params() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_strategy("sma_crossover", {"n1": 10})

    assert "unknown param 'n1'" in str(caught.value)
    assert "fast, slow, long_only, wait_for_cross" in str(caught.value)


@pytest.mark.parametrize("name", ["sma_crossover", "trend_following"])
def test_a_fast_average_not_below_the_slow_one_is_refused(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}: fast=30 must be below slow=20"):
        create_strategy(name, {"fast": 30, "slow": 20})


def test_every_bad_param_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_strategy("breakout", {"lookback": 1, "atr_multiple": -1})

    assert "lookback=1" in str(caught.value)
    assert "atr_multiple=-1" in str(caught.value)


def test_params_that_are_not_a_mapping_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="params must be a MomentumParams or a mapping"):
        MomentumStrategy([("lookback", 5)])  # type: ignore[arg-type]
