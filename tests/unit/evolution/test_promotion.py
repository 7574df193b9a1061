"""Shadow and promotion decisions, case by case: candidates enter shadow on out-of-sample
fitness; shadow goes live on evidence; live below its floor is retired."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.errors import ConfigurationError
from components.events import Event
from components.evolution import (
    PromotionConfig,
    ShadowRecord,
    Transition,
    enter_shadow,
    policy_patch,
    review,
)
from components.policy import GlobalPolicy, PolicyStore
from components.policy.model import StrategyState
from components.regime.config import STRATEGY_NAME_PATTERN
from components.settings import Settings
from tests.unit.evolution.builders import evaluation, store_candidates

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CONFIG = PromotionConfig(
    min_shadow_period=timedelta(days=7),
    max_shadow_period=timedelta(days=28),
    min_trades=20,
    promote_sharpe=1.0,
    promote_return=0.0,
    min_live_period=timedelta(days=7),
    retire_sharpe=0.0,
    retire_return=-0.05,
)


def record(
    days: float = 10,
    *,
    trades: int = 40,
    sharpe: float | None = 1.5,
    pnl: float = 300.0,
    capital: float | None = 10_000.0,
) -> ShadowRecord:
    return ShadowRecord(
        since=NOW - timedelta(days=days),
        trades=trades,
        fills=2 * trades,
        pnl=pnl,
        sharpe=sharpe,
        win_rate=0.55,
        max_drawdown=120.0,
        capital=capital,
    )


def policy(**states: str) -> GlobalPolicy:
    return GlobalPolicy(
        allowed_strategies=["momentum", *(n for n, s in states.items() if s == "live")],
        strategy_states=states,
    )


# --- entering shadow --------------------------------------------------------------------------


def test_the_fittest_candidates_enter_shadow_with_their_evidence() -> None:
    best = [
        evaluation("momentum", 2.0, lookback=30),
        evaluation("breakout", 1.5, lookback=40),
        evaluation("mean_reversion", 1.0, lookback=50),
    ]

    entry = enter_shadow(best, GlobalPolicy(), CONFIG, run_id="run-1")

    assert entry.names == [best[0].candidate_name, best[1].candidate_name]  # max_new_shadow 2
    assert "no room" in entry.skipped[best[2].candidate_name]
    first = entry.transitions[0]
    assert (first.from_state, first.to_state) == (None, StrategyState.SHADOW)
    assert re.match(STRATEGY_NAME_PATTERN, first.strategy)
    assert first.evidence["fitness"] == 2.0
    assert first.evidence["run_id"] == "run-1"
    assert first.evidence["params"] == best[0].genome.params
    assert first.evidence["out_of_sample"]["score"] == 2.0
    assert first.evidence["in_sample"]["score"] == 3.0  # reported apart, not used


def test_entering_shadow_patches_the_states_only() -> None:
    best = [evaluation("momentum", 2.0, lookback=30)]
    current = GlobalPolicy()

    patch = policy_patch(enter_shadow(best, current, CONFIG).transitions, current)

    assert patch == {"strategy_states": {best[0].candidate_name: "shadow"}}


@pytest.mark.parametrize(
    ("candidate", "states", "needle"),
    [
        (evaluation("momentum", 0.2, lookback=30), {}, "below min_fitness"),
        (evaluation("momentum", float("-inf"), rejected="looks ahead"), {}, "rejected by a gate"),
        (evaluation("momentum", 2.0, lookback=31), "retired", "already retired"),
        (evaluation("momentum", 2.0, lookback=32), "shadow", "already shadow"),
    ],
)
def test_a_candidate_that_does_not_qualify_is_skipped_with_the_reason(
    candidate: Any, states: Any, needle: str
) -> None:
    current = policy(**({candidate.candidate_name: states} if states else {}))

    entry = enter_shadow([candidate], current, CONFIG)

    assert entry.transitions == ()
    assert needle in entry.skipped[candidate.candidate_name]


def test_one_candidate_per_kind_of_strategy_enters_per_run() -> None:
    best = [evaluation("momentum", 2.0, lookback=30), evaluation("momentum", 1.9, lookback=31)]

    entry = enter_shadow(best, GlobalPolicy(), CONFIG)

    assert entry.names == [best[0].candidate_name]
    assert "a fitter momentum candidate" in entry.skipped[best[1].candidate_name]


def test_no_candidate_enters_when_the_shadow_slots_are_full() -> None:
    config = CONFIG.model_copy(update={"max_shadow": 2})
    current = policy(a_1="shadow", b_2="shadow")

    entry = enter_shadow([evaluation("momentum", 3.0)], current, config)

    assert entry.transitions == ()


# --- shadow -> live, shadow -> retired ----------------------------------------------------------


def test_a_shadow_strategy_clearing_the_thresholds_goes_live_with_evidence() -> None:
    current = policy(momentum_aaaa0001="shadow")

    (t,) = review(current.strategy_states, {"momentum_aaaa0001": record()}, NOW, CONFIG)

    assert (t.strategy, t.from_state, t.to_state) == (
        "momentum_aaaa0001",
        StrategyState.SHADOW,
        StrategyState.LIVE,
    )
    assert "cleared the thresholds" in t.reason
    assert t.evidence["record"]["sharpe"] == 1.5
    assert t.evidence["record"]["return"] == pytest.approx(0.03)
    assert t.evidence["record"]["trades"] == 40
    assert t.evidence["record"]["days"] == 10
    assert t.evidence["thresholds"]["promote_sharpe"] == 1.0
    assert policy_patch([t], current) == {
        "strategy_states": {"momentum_aaaa0001": "live"},
        "allowed_strategies": ["momentum", "momentum_aaaa0001"],
    }


@pytest.mark.parametrize(
    "evidence",
    [
        record(days=3),  # not long enough in shadow
        record(trades=5),  # too few trades
        record(sharpe=0.5),  # above the floor, below the bar
        record(sharpe=None),  # no Sharpe yet
        record(capital=None),  # no capital: the return is unknown
        record(pnl=-100.0),  # a loss, above the floor
        record(pnl=-5e-324),  # a loss too small for pnl / capital: still a loss
    ],
)
def test_a_shadow_strategy_without_enough_evidence_stays_in_shadow(evidence: ShadowRecord) -> None:
    assert review({"x_1": "shadow"}, {"x_1": evidence}, NOW, CONFIG) == []


@pytest.mark.parametrize(
    ("evidence", "needle"),
    [
        (record(sharpe=-0.5), "sharpe -0.500 < retire_sharpe 0"),
        (record(pnl=-800.0, sharpe=0.1), "return -8.00% < retire_return -5.00%"),
        (record(pnl=-500.0000001, sharpe=0.1), "< retire_return -5.00%"),  # just below
    ],
)
def test_a_shadow_strategy_below_the_floor_is_retired(evidence: ShadowRecord, needle: str) -> None:
    (t,) = review({"x_1": "shadow"}, {"x_1": evidence}, NOW, CONFIG)

    assert t.to_state is StrategyState.RETIRED
    assert needle in t.reason


def test_a_shadow_strategy_not_promoted_in_time_is_retired() -> None:
    (t,) = review({"x_1": "shadow"}, {"x_1": record(days=30, sharpe=0.5)}, NOW, CONFIG)

    assert t.to_state is StrategyState.RETIRED
    assert "not promoted within max_shadow_period" in t.reason


# --- live -> retired --------------------------------------------------------------------------


def test_a_live_strategy_below_the_floor_is_retired_and_leaves_allowed_strategies() -> None:
    current = policy(momentum_aaaa0001="live")

    (t,) = review(current.strategy_states, {"momentum_aaaa0001": record(sharpe=-1.0)}, NOW, CONFIG)

    assert (t.from_state, t.to_state) == (StrategyState.LIVE, StrategyState.RETIRED)
    assert "below the floor live" in t.reason
    assert policy_patch([t], current) == {
        "strategy_states": {"momentum_aaaa0001": "retired"},
        "allowed_strategies": ["momentum"],
    }


@pytest.mark.parametrize(
    "evidence",
    [record(sharpe=0.5), record(days=2, sharpe=-3.0), record(trades=3, sharpe=-3.0)],
)
def test_a_live_strategy_above_its_floor_or_too_young_to_judge_stays(
    evidence: ShadowRecord,
) -> None:
    assert review({"x_1": "live"}, {"x_1": evidence}, NOW, CONFIG) == []


def test_retired_and_unrecorded_strategies_are_left_alone() -> None:
    states = {"a_1": "retired", "b_2": "shadow", "c_3": "live"}

    assert review(states, {"a_1": record(sharpe=-5.0)}, NOW, CONFIG) == []


def test_review_needs_an_aware_now() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        review({}, {}, datetime(2026, 3, 1), CONFIG)


def test_the_config_refuses_inconsistent_periods_and_floors() -> None:
    with pytest.raises(ValidationError, match="must exceed min_shadow_period"):
        PromotionConfig(min_shadow_period=timedelta(days=30), max_shadow_period=timedelta(days=7))
    with pytest.raises(ValidationError, match=r"retire_sharpe=2\.0 must not exceed"):
        PromotionConfig(retire_sharpe=2.0, promote_sharpe=1.0)


@settings(max_examples=100, deadline=None)
@given(
    days=st.floats(0, 60),
    trades=st.integers(0, 100),
    sharpe=st.none() | st.floats(-5, 5),
    pnl=st.floats(-2_000, 2_000),
)
@example(days=10, trades=40, sharpe=1.5, pnl=-5e-324)  # the quotient underflows to -0.0
def test_nothing_goes_live_without_time_trades_sharpe_and_return(
    days: float, trades: int, sharpe: float | None, pnl: float
) -> None:
    evidence = record(days, trades=trades, sharpe=sharpe, pnl=pnl)

    for t in review({"x_1": "shadow"}, {"x_1": evidence}, NOW, CONFIG):
        if t.to_state is StrategyState.LIVE:
            assert days >= 7 and trades >= 20
            assert sharpe is not None and sharpe >= 1.0 and pnl >= 0


# --- the whole cycle on a real policy store ------------------------------------------------------


def test_transitions_patch_the_policy_store_and_make_strategy_promoted_events(
    client: redis.Redis, settings: Settings
) -> None:
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    best = [evaluation("momentum", 2.0, lookback=30)]
    store_candidates(client, settings.namespace, best)
    entry = enter_shadow(best, store.get(), CONFIG)
    current = store.patch(
        policy_patch(entry.transitions, store.get()), by="strategy-generation", reason="shadow"
    )
    name = entry.names[0]
    assert current.strategy_states[name] is StrategyState.SHADOW

    promoted = review(current.strategy_states, {name: record()}, NOW, CONFIG)
    after = store.patch(
        policy_patch(promoted, current),
        by="strategy-generation",
        reason="promote",
        expected_version=current.version,
    )

    assert after.strategy_states[name] is StrategyState.LIVE
    assert after.strategy_allowed(name)
    events = [
        Event.create("strategy.promoted", t.payload(), source="tests")
        for t in [*entry.transitions, *promoted]
    ]
    assert [(e.payload.from_state, e.payload.to_state) for e in events] == [  # type: ignore[attr-defined]
        (None, "shadow"),
        ("shadow", "live"),
    ]
    assert "cleared the thresholds" in events[1].payload.evidence["reason"]  # type: ignore[attr-defined]


def test_a_record_comes_from_analytics_strategy_metrics() -> None:
    class Metrics:  # the fields of analytics' StrategyMetrics that a record reads
        fills, trades, pnl, sharpe, win_rate, max_drawdown = 10, 5, 42.0, 1.2, 0.6, 7.0

    made = ShadowRecord.from_metrics(Metrics(), since=NOW, capital=1_000.0)

    assert (made.trades, made.fills, made.pnl, made.sharpe) == (5, 10, 42.0, 1.2)
    assert made.total_return == pytest.approx(0.042)


def test_a_transition_payload_names_both_states() -> None:
    t = Transition(
        strategy="x_1",
        from_state=StrategyState.LIVE,
        to_state=StrategyState.RETIRED,
        reason="r",
        evidence={"k": 1},
    )

    payload = t.payload()

    assert (payload.from_state, payload.to_state) == ("live", "retired")
    assert payload.evidence == {"reason": "r", "k": 1}
