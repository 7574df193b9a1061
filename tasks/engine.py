"""Tasks of the trading engine: one coarse task per cycle (a task per symbol or per order
would cost more than the cycle, and a session must stay flat in memory)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from components.engine import TradingEngine
from components.engine.sim_clock import engine_clock
from components.market import MarketConfig, open_market
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@lru_cache(maxsize=4)
def engine_for(settings: Settings, speed: float) -> TradingEngine:
    """The engine of this process (its state lives in Redis, so any new one continues)."""
    rt = runtime(settings)
    market = rt.market
    if speed != 1:
        clock = engine_clock(rt.client, settings.namespace, speed=speed)
        market = open_market(MarketConfig.from_settings(settings), clock=clock)
    return TradingEngine.from_settings(settings, market, bus=rt.bus)


@io_task("run_engine_cycle", retries=0)
def run_engine_cycle(settings: Settings, speed: float, cycle: int) -> dict[str, Any]:
    """One cycle; returns its report as plain data (nothing heavy kept per cycle)."""
    report = engine_for(settings, speed).run_cycle(cycle)
    return report.model_dump(mode="json", exclude={"skipped"}) | {"summary": report.summary()}
