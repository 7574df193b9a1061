"""Orchestrator policy: which signals a cycle keeps, in what order, and why the rest go."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from components.engine import OrchestratorConfig, OrchestratorResult, select_signals
from components.engine.orchestrator import may_enter, settle_entries
from components.policy import Emergency, GlobalPolicy
from components.settings import load_settings
from components.trading.types import Signal

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
UNIVERSE = ["BTC/USDT", "ETH/USDT", "SOL/USDT"]


def signal(
    symbol: str = "BTC/USDT",
    strategy: str = "momentum",
    direction: int = 1,
    confidence: float = 0.8,
) -> Signal:
    return Signal(
        strategy=strategy,
        symbol=symbol,
        direction=direction,
        confidence=confidence,
        at=AT,
        price=100.0,
    )


def policy(**changes: Any) -> GlobalPolicy:
    values: dict[str, Any] = {
        "active_universe": UNIVERSE,
        "global_min_confidence": 0.7,
        "opp_rankings": {"BTC/USDT": 0.9, "ETH/USDT": 0.6, "SOL/USDT": 0.75},
    }
    return GlobalPolicy(**{**values, **changes})


def reasons(result: OrchestratorResult) -> dict[str, str]:
    return {f"{s.strategy}@{s.symbol}": reason for s, reason in result.dropped}


# --- per-signal filters ---------------------------------------------------------------
def test_a_signal_that_passes_every_rule_is_accepted() -> None:
    result = select_signals([signal()], policy())
    assert result.accepted == [signal()]
    assert result.shadow == [] and result.dropped == []


def test_a_blocked_strategy_is_dropped_even_if_allowed() -> None:
    result = select_signals([signal()], policy(blocked_strategies=["momentum"]))
    assert result.accepted == []
    assert reasons(result)["momentum@BTC/USDT"] == (
        "blocked: strategy 'momentum' is in blocked_strategies"
    )


def test_a_strategy_not_in_allowed_strategies_is_dropped() -> None:
    result = select_signals([signal()], policy(allowed_strategies=["breakout"]))
    assert reasons(result)["momentum@BTC/USDT"].startswith("not_allowed:")


def test_a_retired_strategy_is_dropped() -> None:
    result = select_signals([signal()], policy(strategy_states={"momentum": "retired"}))
    assert reasons(result)["momentum@BTC/USDT"].startswith("retired:")


def test_a_signal_below_the_minimum_confidence_is_dropped_and_one_at_it_is_kept() -> None:
    low, at = signal(confidence=0.69), signal("ETH/USDT", confidence=0.7)
    result = select_signals([low, at], policy())
    assert result.accepted == [at]
    assert reasons(result)["momentum@BTC/USDT"] == (
        "min_confidence: confidence 0.690 is below global_min_confidence 0.700"
    )


def test_a_symbol_outside_the_active_universe_is_dropped() -> None:
    result = select_signals([signal("DOGE/USDT")], policy())
    assert reasons(result)["momentum@DOGE/USDT"] == (
        "universe: DOGE/USDT is not in the active universe"
    )


def test_a_signal_that_closes_an_open_position_is_kept_outside_the_universe() -> None:
    flat = signal("DOGE/USDT", direction=0)
    short = signal("XRP/USDT", direction=-1)
    add = signal("ADA/USDT", direction=1)
    held = {"DOGE/USDT": 100.0, "XRP/USDT": 50.0, "ADA/USDT": 10.0}
    result = select_signals([flat, short, add], policy(), open_positions=held)
    assert {s.symbol for s in result.accepted} == {"DOGE/USDT", "XRP/USDT"}
    assert reasons(result)["momentum@ADA/USDT"].startswith("universe:")
    # with symbol names only, the side is unknown: the signal may close it, so it stays
    names_only = select_signals([add], policy(), open_positions={"ADA/USDT"})
    assert names_only.accepted == [add]


def test_a_signal_that_closes_a_position_need_not_clear_the_confidence_bar() -> None:
    flat = signal(direction=0, confidence=0.0)  # flat signals carry confidence 0
    opposite = signal(symbol="ETH/USDT", direction=-1, confidence=0.3)
    entry = signal(symbol="SOL/USDT", direction=1, confidence=0.3)
    held = {"BTC/USDT": 1.5, "ETH/USDT": 2.0}
    result = select_signals(
        [flat, opposite, entry],
        policy(active_universe=["BTC/USDT", "ETH/USDT", "SOL/USDT"]),
        open_positions=held,
    )
    assert {s.symbol for s in result.accepted} == {"BTC/USDT", "ETH/USDT"}
    assert reasons(result)["momentum@SOL/USDT"].startswith("min_confidence")


def test_a_flat_signal_without_an_open_position_is_dropped() -> None:
    result = select_signals([signal(direction=0)], policy())
    assert reasons(result)["momentum@BTC/USDT"].startswith("flat:")
    kept = select_signals([signal(direction=0)], policy(), open_positions=["BTC/USDT"])
    assert kept.accepted == [signal(direction=0)]


# --- stop and emergency -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "prefix"),
    [
        ({"stop_all_trading": True}, "stop_all_trading:"),
        ({"emergency": Emergency(active=True, reason="health CRITICAL")}, "emergency:"),
    ],
)
def test_nothing_passes_when_trading_is_stopped_and_each_signal_says_why(
    changes: dict[str, Any], prefix: str
) -> None:
    signals = [signal(), signal("ETH/USDT", direction=0), signal(strategy="breakout")]
    result = select_signals(
        signals,
        policy(strategy_states={"breakout": "shadow"}, **changes),
        open_positions=["ETH/USDT"],
    )
    assert result.accepted == [] and result.shadow == []
    assert len(result.dropped) == 3
    assert all(reason.startswith(prefix) for _, reason in result.dropped)
    if "emergency" in changes:
        assert result.dropped[0].reason == "emergency: health CRITICAL"


# --- ranking --------------------------------------------------------------------------
def test_accepted_signals_are_ordered_by_ranking_then_confidence_then_symbol() -> None:
    rankings = {"BTC/USDT": 0.5, "ETH/USDT": 0.9, "SOL/USDT": 0.5, "ADA/USDT": 0.5}
    universe = [*UNIVERSE, "ADA/USDT", "XRP/USDT"]
    signals = [
        signal("XRP/USDT", confidence=0.99),  # unranked: last
        signal("SOL/USDT", confidence=0.8),
        signal("ADA/USDT", confidence=0.8),
        signal("BTC/USDT", confidence=0.85),
        signal("ETH/USDT", confidence=0.71),
    ]
    result = select_signals(signals, policy(opp_rankings=rankings, active_universe=universe))
    assert [s.symbol for s in result.accepted] == [
        "ETH/USDT",
        "BTC/USDT",
        "ADA/USDT",
        "SOL/USDT",
        "XRP/USDT",
    ]


signals_strategy = st.lists(
    st.builds(
        signal,
        symbol=st.sampled_from([*UNIVERSE, "DOGE/USDT"]),
        strategy=st.sampled_from(["momentum", "breakout", "mean_reversion", "evolved_1"]),
        direction=st.sampled_from([-1, 0, 1]),
        confidence=st.floats(0.5, 1.0),
    ),
    max_size=12,
)


@given(signals=signals_strategy, data=st.data())
def test_the_result_does_not_depend_on_the_order_of_the_signals(
    signals: list[Signal], data: st.DataObject
) -> None:
    rules = policy(strategy_states={"evolved_1": "shadow"})
    held = {"ETH/USDT": 1.0, "DOGE/USDT": -2.0}
    shuffled = data.draw(st.permutations(signals))
    first = select_signals(signals, rules, open_positions=held)
    second = select_signals(shuffled, rules, open_positions=held)
    assert first.accepted == second.accepted
    assert first.shadow == second.shadow
    assert sorted(first.dropped, key=repr) == sorted(second.dropped, key=repr)
    assert len(first.accepted) + len(first.shadow) + len(first.dropped) == len(signals)
    symbols = [s.symbol for s in first.accepted]
    assert len(symbols) == len(set(symbols))  # one signal per symbol


@given(
    signals=st.lists(
        st.builds(
            signal,
            symbol=st.sampled_from([*UNIVERSE, "DOGE/USDT"]),
            strategy=st.sampled_from(["momentum", "breakout", "evolved_1"]),
            direction=st.sampled_from([-1, 0, 1]),
            confidence=st.floats(0.0, 1.0),
        ),
        max_size=12,
    )
)
def test_only_signals_on_held_symbols_or_that_may_enter_can_be_chosen(
    signals: list[Signal],
) -> None:
    """What the engine relies on to make Signal objects only for those rows."""
    rules = policy(strategy_states={"evolved_1": "shadow"})
    held = {"ETH/USDT": 1.0, "DOGE/USDT": -2.0}
    direction = np.array([s.direction for s in signals], dtype=np.int8)
    confidence = np.array([s.confidence for s in signals], dtype=np.float64)
    entering = may_enter(direction, confidence, rules)
    kept = [s for s, e in zip(signals, entering, strict=True) if e or s.symbol in held]

    every = select_signals(signals, rules, open_positions=held)
    some = select_signals(kept, rules, open_positions=held)

    assert (some.accepted, some.shadow) == (every.accepted, every.shadow)


STRATEGIES = ["momentum", "breakout", "mean_reversion", "evolved_1", "evolved_2"]
SYMBOLS = [*UNIVERSE, "DOGE/USDT"]


@settings(max_examples=300)
@given(
    names=st.lists(st.sampled_from(STRATEGIES), min_size=1, max_size=5, unique=True),
    data=st.data(),
    held=st.sampled_from([{}, {"ETH/USDT": 1.0, "DOGE/USDT": -2.0}, {"BTC/USDT": 0.5}]),
    stopped=st.booleans(),
    margin=st.sampled_from([0.0, 0.05, 0.2]),
)
def test_settling_entries_on_arrays_chooses_as_the_orchestrator_on_every_signal(
    names: list[str],
    data: st.DataObject,
    held: dict[str, float],
    stopped: bool,
    margin: float,
) -> None:
    """What the engine relies on to make objects only for the signal kept on a symbol:
    the same accepted and shadow signals, and the same count of drops by rule."""
    rules = policy(
        allowed_strategies=["momentum", "breakout", "mean_reversion", "evolved_2"],
        blocked_strategies=["evolved_2"],
        strategy_states={"evolved_1": "shadow"},
        stop_all_trading=stopped,
    )
    config = OrchestratorConfig(disagreement_margin=margin)
    shape = (len(names), len(SYMBOLS))
    confidences = st.sampled_from([0.0, 0.7, 0.75, 0.8, 0.9]) | st.floats(0, 1)  # ties too
    direction = np.array(
        data.draw(st.lists(st.sampled_from([-1, 0, 1]), min_size=shape[0] * shape[1],
                           max_size=shape[0] * shape[1])),
        dtype=np.int8,
    ).reshape(shape)  # fmt: skip
    confidence = np.array(
        data.draw(
            st.lists(confidences, min_size=shape[0] * shape[1], max_size=shape[0] * shape[1])
        ),
        dtype=np.float64,
    ).reshape(shape)
    held_mask = np.array([s in held for s in SYMBOLS])

    def made(mask: np.ndarray) -> list[Signal]:
        return [
            signal(SYMBOLS[j], names[i], int(direction[i, j]), float(confidence[i, j]))
            for i, j in zip(*np.nonzero(mask), strict=True)
        ]

    every = select_signals(
        made(may_enter(direction, confidence, rules) | held_mask),
        rules, open_positions=held, config=config,
    )  # fmt: skip
    settled = settle_entries(names, SYMBOLS, direction, confidence, held_mask, rules, config)
    some = select_signals(made(settled.make), rules, open_positions=held, config=config)

    assert (some.accepted, some.shadow) == (every.accepted, every.shadow)
    assert set(made(settled.kept)) <= set(some.accepted)
    rule = Counter(reason.split(":", 1)[0] for _, reason in every.dropped)
    assert Counter(reason.split(":", 1)[0] for _, reason in some.dropped) + settled.dropped == rule


# --- disagreement -------------------------------------------------------------------------
def test_agreeing_strategies_keep_the_most_confident_signal() -> None:
    best, other = signal(confidence=0.9), signal(strategy="breakout", confidence=0.8)
    result = select_signals([other, best], policy())
    assert result.accepted == [best]
    assert reasons(result)["breakout@BTC/USDT"] == (
        "superseded: breakout (0.800) agrees with momentum (0.900) on BTC/USDT"
    )


def test_a_clearly_more_confident_signal_outvotes_the_opposite_one() -> None:
    long, short = signal(confidence=0.9), signal(strategy="breakout", direction=-1, confidence=0.75)
    result = select_signals([long, short], policy())
    assert result.accepted == [long]
    assert reasons(result)["breakout@BTC/USDT"].startswith(
        "superseded: breakout (0.750) is outvoted"
    )


def test_opposite_signals_with_near_equal_confidence_are_both_dropped() -> None:
    long, short = (
        signal(confidence=0.80),
        signal(strategy="breakout", direction=-1, confidence=0.78),
    )
    result = select_signals([long, short, signal("ETH/USDT")], policy())
    assert [s.symbol for s in result.accepted] == ["ETH/USDT"]
    dropped = reasons(result)
    assert dropped["momentum@BTC/USDT"] == dropped["breakout@BTC/USDT"]
    assert dropped["momentum@BTC/USDT"] == (
        "conflict: momentum (long, 0.800) and breakout (short, 0.780) disagree on BTC/USDT "
        "within 0.050; neither is traded"
    )
    wider = select_signals(
        [long, short], policy(), config=OrchestratorConfig(disagreement_margin=0)
    )
    assert wider.accepted == [long]


# --- shadow ---------------------------------------------------------------------------
def test_a_shadow_strategy_is_kept_apart_and_never_accepted() -> None:
    shadow = signal(strategy="evolved_7", direction=-1, confidence=0.95)
    live = signal(confidence=0.75)
    rules = policy(strategy_states={"evolved_7": "shadow"})
    result = select_signals([shadow, live], rules)
    assert result.shadow == [shadow]
    assert result.accepted == [live]  # the shadow signal does not outvote a live one
    assert result.dropped == []


def test_shadow_signals_still_meet_the_confidence_universe_and_block_rules() -> None:
    rules = policy(
        strategy_states={"evolved_7": "shadow", "evolved_8": "shadow"},
        blocked_strategies=["evolved_8"],
    )
    signals = [
        signal(strategy="evolved_7", confidence=0.6),
        signal("DOGE/USDT", strategy="evolved_7"),
        signal(strategy="evolved_8"),
    ]
    result = select_signals(signals, rules)
    assert result.shadow == []
    assert sorted(reason.split(":")[0] for _, reason in result.dropped) == [
        "blocked",
        "min_confidence",
        "universe",
    ]


def test_the_config_reads_settings_and_is_bounded() -> None:
    assert load_settings().orchestrator == OrchestratorConfig()
    with pytest.raises(ValueError, match="disagreement_margin"):
        OrchestratorConfig(disagreement_margin=2)
