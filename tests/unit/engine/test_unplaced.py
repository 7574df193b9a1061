"""When accepted signals make no order, the cycle says why (issue 9: a fresh `up` showed
"2 signals (2 accepted), 0 orders" cycle after cycle, and nothing said why)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from components.engine import CycleReport, build_engine
from components.engine.intents import (
    ALREADY_POSITIONED,
    BELOW_MIN_NOTIONAL,
    NO_SHORTS,
    IntentPlanner,
)
from components.market import ManualClock, SyntheticMarket
from components.policy import GlobalPolicy, PolicyStore
from components.settings import Settings
from components.sizing import PositionSizer, SizingConfig
from components.trading.types import PortfolioView, PositionView, Signal
from tests.builders import T0

AT = datetime(2026, 1, 1, 12, tzinfo=UTC)
START = T0.replace(month=3, day=2)


def signal(symbol: str = "BTC/USDT", direction: int = 1, atr: float | None = 2.0) -> Signal:
    return Signal(
        strategy="momentum",
        symbol=symbol,
        direction=direction,
        confidence=0.8,
        at=AT,
        price=100.0,
        atr=atr,
    )


def planner(**sizing: float) -> IntentPlanner:
    return IntentPlanner(PositionSizer(SizingConfig(**sizing)), allow_short=False)


FLAT = PortfolioView(cash=10_000.0)


def test_a_sized_entry_is_an_intent_and_nothing_is_unplaced() -> None:
    plan = planner().plan_all([signal()], FLAT, GlobalPolicy(), AT)
    assert len(plan.intents) == 1 and plan.unplaced == []


@pytest.mark.parametrize(
    ("made", "portfolio", "sizing", "reason"),
    [
        (signal(direction=-1), FLAT, {}, NO_SHORTS),
        (
            signal(),
            PortfolioView(
                cash=9_000.0,
                positions={
                    "BTC/USDT": PositionView(
                        symbol="BTC/USDT", quantity=10.0, average_price=100.0, mark_price=100.0
                    )
                },
            ),
            {},
            ALREADY_POSITIONED,
        ),
        (signal(atr=40.0), FLAT, {"min_notional_fraction": 0.05}, BELOW_MIN_NOTIONAL),
        (signal(atr=None), FLAT, {}, "sized to zero (bad input)"),
    ],
)
def test_an_accepted_signal_that_makes_no_intent_says_why(
    made: Signal, portfolio: PortfolioView, sizing: dict[str, float], reason: str
) -> None:
    plan = planner(**sizing).plan_all([made], portfolio, GlobalPolicy(), AT)
    assert plan.intents == []
    assert plan.unplaced == [(made, reason)]


@pytest.fixture
def market() -> tuple[SyntheticMarket, ManualClock]:
    clock = ManualClock(START)
    return SyntheticMarket(seed=7, clock=clock), clock


def run_cycles(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock], n: int, **policy: Any
) -> list[CycleReport]:
    """``n`` cycles, 5 minutes apart, on the first 8 symbols under ``policy``."""
    synthetic, clock = market
    PolicyStore.connect(settings).patch(
        {"active_universe": synthetic.symbols()[:8], **policy}, by="tests", reason="a test"
    )
    engine = build_engine(settings, synthetic)
    reports = []
    for cycle in range(n):
        reports.append(engine.run_cycle(cycle))
        clock.advance(timedelta(minutes=5))
    return reports


def test_a_cycle_whose_accepted_signals_make_no_order_says_why(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    # max_positions 0: the RiskGuard refuses every entry
    reports = run_cycles(settings, market, 30, global_min_confidence=0.5, max_positions=0)

    idle = [r for r in reports if r.accepted and not r.submitted]
    assert idle, "30 cycles of 8 symbols should accept some signal"
    for report in idle:
        assert sum(report.unplaced.values()) >= 1
        assert "; no order for accepted signals: " in report.summary()
    reasons = {reason for r in idle for reason in r.unplaced}
    assert "risk refused: max_positions" in reasons


def test_a_cycle_says_why_signals_were_not_accepted(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    reports = run_cycles(settings, market, 12, global_min_confidence=1.0)

    unsure = [r for r in reports if r.signals]
    assert unsure, "12 cycles of 8 symbols should make some signal"
    for report in unsure:
        assert report.accepted == 0 and report.not_accepted["min_confidence"] >= 1
        assert "; not accepted: " in report.summary()


@pytest.mark.parametrize("allow_short", [False, True])
def test_the_entries_the_planner_opens_are_those_its_array_form_names(allow_short: bool) -> None:
    """What the engine relies on to make no object for an accepted short it cannot open."""
    planner = IntentPlanner(PositionSizer(SizingConfig()), allow_short=allow_short)
    signals = [signal("BTC/USDT", 1), signal("ETH/USDT", -1)]
    plan = planner.plan_all(signals, PortfolioView(cash=10_000.0), GlobalPolicy(), AT)
    no_shorts = {s.symbol for s, reason in plan.unplaced if reason == NO_SHORTS}
    opens = planner.opens(np.array([s.direction for s in signals]))
    assert opens.tolist() == [s.symbol not in no_shorts for s in signals]


def test_a_cycle_with_no_signal_says_the_strategies_wait_for_a_setup(
    settings: Settings, market: tuple[SyntheticMarket, ManualClock]
) -> None:
    """A fresh `up` in a quiet market shows no signal for minutes: the report says what
    the engine is waiting for, so a person watching knows it is not stuck."""
    reports = run_cycles(settings, market, 12, allowed_strategies=["mean_reversion"])

    quiet = [r for r in reports if r.signals == 0 and r.positions == 0]
    assert quiet, "12 cycles of mean reversion on 8 symbols should have a quiet one"
    for report in quiet:
        assert report.strategies == ["mean_reversion"]
        assert report.waiting_for == "no setup for mean_reversion on 8 symbols"
        assert report.summary().endswith("; no setup for mean_reversion on 8 symbols")


def test_waiting_for_names_the_commonest_reason_and_is_none_once_a_position_is_held() -> None:
    report = CycleReport(
        cycle=1,
        at=AT,
        policy_version=3,
        ess_state=None,
        symbols=4,
        strategies=["momentum"],
        signals=3,
        not_accepted={"min_confidence": 2},
        unplaced={NO_SHORTS: 1},
    )
    assert report.waiting_for == "2 signals: below the policy's minimum confidence"
    assert report.model_copy(update={"positions": 1}).waiting_for is None
    assert report.model_copy(update={"fail_closed": "ESS HALTED: x"}).waiting_for == (
        "ESS HALTED: x"
    )
    idle = report.model_copy(update={"strategies": [], "signals": 0, "not_accepted": {}})
    assert idle.model_copy(update={"unplaced": {}}).waiting_for == "no strategy allowed"
