"""Tasks of the health check and the emergency response."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from components.engine import read_heartbeat
from components.errors import QuantumTraderError
from components.health import HealthRecord, HealthStatus, HealthStore
from components.health.check import HealthConfig, HealthInputs, assess_health
from components.market.validation import timeframe_delta
from components.redis import namespaced
from components.risk.emergency import EmergencyStop, EssStatus
from components.settings import Settings
from tasks.common import compute_task, io_task
from tasks.runtime import runtime

log = logging.getLogger(__name__)


@io_task("measure_health", retries=0)
def measure_health(settings: Settings) -> HealthInputs:
    """Redis latency, bus lag, market-data age, engine heartbeat, new dead letters.

    Never raises for what it measures: Redis not answering is itself the finding.
    """
    rt = runtime(settings)
    try:
        started = time.perf_counter()
        rt.client.ping()
        latency = (time.perf_counter() - started) * 1000
    except Exception:
        return HealthInputs(redis_latency_ms=None)
    now = rt.clock.now()
    heartbeat = read_heartbeat(rt.client, settings.namespace)
    stats = rt.bus.stats()
    seen_key = namespaced(settings.namespace, "health", "dead_letters_seen")
    seen = int(rt.client.getset(seen_key, stats.dead_lettered) or stats.dead_lettered)
    return HealthInputs(
        redis_latency_ms=latency,
        bus_lag=stats.lag,
        market_data_age_s=_market_data_age(settings, now),
        heartbeat_age_s=(now - heartbeat["at"]).total_seconds() if heartbeat else None,
        engine_fail_closed=heartbeat["report"].get("fail_closed") if heartbeat else None,
        engine_down=_engine_down(settings, now),
        new_dead_letters=max(0, stats.dead_lettered - seen),
        model_issues=_model_issues(settings),
        modules_held_back=_modules_held_back(settings),
    )


def _engine_down(settings: Settings, now: datetime) -> str | None:
    """Why the engine's deployment is not running, as Prefect tells (None: it runs, is
    between sessions, is not deployed, or Prefect cannot tell)."""
    from prefect.client.orchestration import get_client

    from tasks.liveness import engine_liveness

    try:
        with get_client(sync_client=True) as client:
            verdict = engine_liveness(client, settings.namespace, now=now)
    except Exception as exc:  # no Prefect API here: the heartbeat age still speaks
        log.debug("engine liveness unknown: %s", exc)
        return None
    return verdict.reason if verdict.status.value == "down" else None


def _modules_held_back(settings: Settings) -> dict[str, str]:
    from tasks.modules import modes_store

    return {
        status.module: status.override.reason
        for status in modes_store(settings).statuses(settings)
        if status.override is not None and status.effective is not status.configured
    }


def _model_issues(settings: Settings) -> list[str]:
    from tasks.learning import registry_for

    record = registry_for(settings).supervision(settings.clm.model_name)
    return list(record["reasons"]) if record and not record["ok"] else []


def _market_data_age(settings: Settings, now: datetime) -> float | None:
    market = runtime(settings).market
    symbols = market.symbols()
    if not symbols:
        return None
    try:
        bars = market.bars(symbols[0], settings.engine.timeframe, limit=1)
    except QuantumTraderError:
        return None
    if bars.empty:
        return None
    closed = bars.index[-1] + timeframe_delta(settings.engine.timeframe)
    return max(0.0, (market.now() - closed.to_pydatetime()).total_seconds())


@compute_task("assess_health")
def judge_health(settings: Settings, inputs: HealthInputs) -> Any:
    return assess_health(inputs, HealthConfig.from_settings(settings))


@io_task("record_health")
def record_health(
    settings: Settings, status: HealthStatus, reasons: list[str], checks: dict[str, Any]
) -> tuple[HealthRecord, bool]:
    """Store the verdict; True when the status changed (and its event was published)."""
    rt = runtime(settings)
    store = HealthStore(rt.client, namespace=settings.namespace)
    record, event = store.record(status, now=rt.clock.now(), reasons=reasons, checks=checks)
    if event is not None:
        rt.bus.notify_written([event])  # the Prefect event that can trigger emergency-response
    return record, event is not None


@io_task("critical_reason")
def critical_reason(settings: Settings) -> str:
    """Why health went CRITICAL: the newest CRITICAL ``health.status_changed`` event (what
    triggered the emergency response), not the current record, which a later check may
    already have changed."""
    for event in reversed(runtime(settings).bus.tail("health.status_changed", count=50)):
        payload: Any = event.payload
        if payload.status == HealthStatus.CRITICAL.value:
            return f"health CRITICAL: {'; '.join(payload.reasons) or 'no reason given'}"
    record = HealthStore(runtime(settings).client, namespace=settings.namespace).get()
    status = record.status.value if record is not None else "unknown"
    return f"emergency response without a CRITICAL event (health {status})"


@io_task("halt_trading")
def halt_trading(settings: Settings, reason: str, by: str) -> EssStatus:
    """Put the Emergency Stop in HALTED (a no-op when it already is)."""
    rt = runtime(settings)
    return EmergencyStop.connect(settings, bus=rt.bus).halt(reason, by=by)
