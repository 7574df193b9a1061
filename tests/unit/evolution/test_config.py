"""GeneticConfig: the defaults of the daily run, bounded fields, searchable strategies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.evolution import DEFAULT_STRATEGIES, GeneticConfig
from components.settings import load_settings
from components.strategies import STRATEGIES


def test_the_defaults_are_the_daily_run() -> None:
    config = GeneticConfig()

    assert (config.population, config.generations) == (64, 20)
    assert config.strategies == DEFAULT_STRATEGIES
    assert set(DEFAULT_STRATEGIES) == set(STRATEGIES) - {"ml"}
    assert config.engine_history_bars == 300


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"population": 2}, "population"),
        ({"mutation_rate": 1.5}, "mutation_rate"),
        ({"folds": 1}, "folds"),
        ({"elitism": 8, "population": 8}, "elitism=8 must be below population=8"),
        ({"strategies": ("momentum", "nope")}, "unknown strategies ['nope']"),
        ({"strategies": ()}, "strategies"),
        ({"strategies": ("momentum", "momentum")}, "name one strategy twice"),
        ({"unknown_knob": 1}, "unknown_knob"),
    ],
)
def test_a_value_out_of_range_is_refused_naming_the_field(
    changes: dict[str, object], needle: str
) -> None:
    with pytest.raises(ValidationError, match=needle.replace("[", r"\[").replace("]", r"\]")):
        GeneticConfig(**changes)


def test_the_ml_strategy_cannot_be_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STRATEGIES, "ml", STRATEGIES["momentum"])

    with pytest.raises(ValidationError, match="cannot be searched"):
        GeneticConfig(strategies=("ml",))


def test_from_settings_trades_as_the_engine_and_the_paper_broker() -> None:
    settings = load_settings(engine_history_bars=500, engine_allow_short=False)

    config = GeneticConfig.from_settings(settings, seed=9)

    assert config.engine_history_bars == 500
    assert config.backtest.allow_short is False
    assert config.backtest.cash == settings.paper.initial_cash
    assert config.seed == 9
