"""Tasks of the trading engine: one coarse task per cycle (a task per symbol or per order
would cost more than the cycle, and a session must stay flat in memory)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from components.clock import SystemClock
from components.engine import TradingEngine, build_engine
from components.engine.lease import EngineLease, LeaseHolder
from components.engine.sim_clock import engine_clock
from components.errors import ConfigurationError
from components.market import ManualClock, open_market
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime

_engines: dict[tuple[Settings, float, int], TradingEngine] = {}


def engine_for(settings: Settings, speed: float) -> TradingEngine:
    """The engine of this process for ``settings`` and its market (the engine's state
    lives in Redis, so any new one continues where the last stopped)."""
    from components.learning import register_ml_strategy
    from tasks.learning import registry_for

    rt = runtime(settings)
    key = (settings, speed, id(rt.market))
    if key not in _engines:
        register_ml_strategy(registry_for(settings))  # a policy that allows "ml" can trade it
        market = rt.market
        if speed != 1:
            clock = engine_clock(rt.client, settings.namespace, speed=speed, start=rt.clock)
            market = open_market(settings.market, clock=clock)
        _engines[key] = build_engine(settings, market, bus=rt.bus)
    return _engines[key]


@io_task("run_engine_cycle", retries=0)
def run_engine_cycle(settings: Settings, speed: float, cycle: int) -> dict[str, Any]:
    """One cycle; returns its report as plain data (nothing heavy kept per cycle)."""
    report = engine_for(settings, speed).run_cycle(cycle)
    return report.model_dump(mode="json", exclude={"skipped"}) | {"summary": report.summary()}


@io_task("advance_simulated_clock", retries=0)
def advance_simulated_clock(settings: Settings, minutes: float) -> None:
    """Move the market's manual clock forward (accelerated simulation, e.g. the demo).

    Raises
    ------
    ConfigurationError
        The market runs on a clock that cannot be moved by hand.
    """
    clock = runtime(settings).clock
    if not isinstance(clock, ManualClock):
        raise ConfigurationError(
            "step_minutes needs a market on a manual (simulated) clock; "
            f"this one runs on {type(clock).__name__}"
        )
    clock.advance(timedelta(minutes=minutes))


def engine_lease(settings: Settings) -> EngineLease:
    """The engine lease of ``settings``' namespace (one trading session at a time)."""
    return EngineLease(runtime(settings).client, namespace=settings.namespace)


def lease_holder(session: str) -> LeaseHolder:
    """This process as the holder of the engine lease for ``session``."""
    return LeaseHolder.this_process(session, now=SystemClock().now())
