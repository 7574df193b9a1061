"""The Profit Amplification Layer in the engine's cycle: ENFORCED adds to winners and takes
partial profits through the RiskGuard and the paper broker, and the backtester, replaying
the same decision, gets the same trades; OBSERVE only says so; the DEFENSIVE risk mode
switches it off."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from components.backtest import BacktestConfig, Backtester
from components.backtest.simulation import EXIT_REASONS
from components.config import ModuleMode
from components.engine import CycleReport
from components.execution import CostModel, Ledger
from components.execution.config import BrokerConfig, PaperConfig
from components.execution.models import Fill
from components.pal import PalConfig
from components.policy import PolicyStore
from components.policy.model import RiskMode
from components.redis import connect, delete_namespace
from components.settings import Settings
from components.strategies import create_strategy
from tests.unit.backtest.builders import random_walk
from tests.unit.engine.replay import replay, replay_settings

BARS = random_walk(250, seed=6)
STRATEGY = create_strategy("sma_crossover", {"fast": 5, "slow": 30})


def pal_settings(settings: Settings, mode: ModuleMode) -> Settings:
    """The replay's paper account with a wide target (PAL takes the profits) and PAL on."""
    return replay_settings(
        settings,
        paper=PaperConfig(
            costs=CostModel(fee_bps=10, slippage_bps=2, spread_bps=2),
            broker=BrokerConfig(stop_loss_atr=1.5, take_profit_atr=20.0),
        ),
        pal=PalConfig(mode=mode, partial_r=(1.0, 2.0), scale_in_r=0.5, trail_r=1.0),
    )


def run(
    settings: Settings, tmp_path: Path, mode: ModuleMode, risk_mode: RiskMode | None = None
) -> tuple[list[Fill], list[CycleReport]]:
    settings = pal_settings(settings, mode)
    if risk_mode is not None:
        PolicyStore.connect(settings).set_risk_mode(risk_mode, by="tests", reason="pal test")
    engine, cycles = replay(settings, BARS, tmp_path / "bars", STRATEGY)
    reports = list(cycles)
    return engine.ledger.fills(limit=None), reports


def pal_fills(fills: list[Fill]) -> list[str]:
    return sorted(
        f.client_order_id.split(":pal:")[1] for f in fills if ":pal:" in f.client_order_id
    )


def test_observing_pal_says_what_it_would_do_and_changes_no_trade(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="components.engine.engine")
    observed, reports = run(settings, tmp_path / "observe", ModuleMode.OBSERVE)
    other = settings.model_copy(update={"namespace": f"{settings.namespace}-off"})
    try:
        off, _ = run(other, tmp_path / "off", ModuleMode.OFF)
    finally:
        delete_namespace(connect(other), other.namespace)

    assert pal_fills(observed) == []
    assert sum(r.pal for r in reports) > 0
    assert any("pal (observe) would" in m for m in caplog.messages)
    strip = lambda fs: [(f.client_order_id, f.price, f.quantity) for f in fs]  # noqa: E731
    assert strip(observed) == strip(off)


def test_the_defensive_risk_mode_switches_pal_off(settings: Settings, tmp_path: Path) -> None:
    fills, reports = run(settings, tmp_path, ModuleMode.ENFORCED, RiskMode.DEFENSIVE)

    assert fills, "positions were traded"
    assert pal_fills(fills) == []
    assert sum(r.pal for r in reports) == 0


def test_enforced_pal_adds_and_takes_partials_and_the_backtester_amplifies_alike(
    settings: Settings, tmp_path: Path
) -> None:
    fills, reports = run(settings, tmp_path, ModuleMode.ENFORCED)

    done = pal_fills(fills)
    assert any(a.startswith("add:") for a in done), done
    assert any(a.startswith("partial:") for a in done), done
    assert sum(r.pal for r in reports) >= len(done)
    refused = [
        o
        for r in reports
        for o in r.orders
        if ":pal:" in o.client_order_id and o.outcome != "submitted"
    ]
    assert refused == []  # within the RiskGuard's limits here (it checks every add)

    # the backtester, replaying the same decision, closes the same trades with the same PnL
    closed = Ledger(connect(settings), namespace=settings.namespace).closed_positions(1_000)
    bar_of = {t.to_pydatetime(): k for k, t in enumerate(BARS.index)}
    paper = sorted((bar_of[c.opened_at], bar_of[c.closed_at], c.realized_pnl) for c in closed)
    config = BacktestConfig.from_settings(
        pal_settings(settings, ModuleMode.ENFORCED), sizing="risk", allow_short=False
    )
    result = Backtester(config).run(STRATEGY, BARS)
    t = result.trade_arrays
    shut = t.exit_reason != EXIT_REASONS.index("end")  # still open in the engine: left out
    backtest = sorted(
        zip(
            t.entry_bar[shut].tolist(), t.exit_bar[shut].tolist(), t.pnl[shut].tolist(), strict=True
        )
    )
    assert [p[:2] for p in paper] == [b[:2] for b in backtest]
    np.testing.assert_allclose([p[2] for p in paper], [b[2] for b in backtest], rtol=1e-9)
