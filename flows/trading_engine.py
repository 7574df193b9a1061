"""trading-engine (long-running, one at a time): trade on what the scheduled flows decide.

A Prefect flow keeps every task run of its life in memory, so one run lasts a bounded
session (``session_minutes``) and returns; its deployment re-launches it on a short
interval with a concurrency limit of one (``CANCEL_NEW``), so exactly one is trading and
nothing is lost between sessions (the ledger, the ESS and the policy live in Redis).
A session trades only while it holds the account's engine lease in Redis
(:mod:`components.engine.lease`), so two sessions never trade one account at once, whatever
started them; a session whose process died loses the lease within its TTL.
Prefect cancellation (SIGTERM) or Ctrl-C finishes the current cycle and stops cleanly.
"""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow, get_run_logger
from prefect.runtime import flow_run

from components.engine.session import SessionReport
from components.errors import TemporaryError
from components.settings import load_settings
from tasks.artifacts import publish_markdown
from tasks.engine import advance_simulated_clock, engine_lease, lease_holder, run_engine_cycle
from tasks.monitoring import record_success

NAME = "trading-engine"


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGTERM or SIGINT, so the cycle in progress can finish first."""
    stop = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    on_completion=[record_success],  # for the last-success metric
)
def trading_engine(
    session_minutes: float | None = None,
    interval_seconds: float | None = None,
    speed: float = 1.0,
    max_cycles: int | None = None,
    step_minutes: float | None = None,
) -> SessionReport:
    """Run engine cycles for one session.

    Parameters
    ----------
    session_minutes
        How long this run trades before returning (default ``QT_ENGINE_SESSION_MINUTES``).
    interval_seconds
        Real seconds between cycle starts (default ``QT_ENGINE_INTERVAL_S``).
    speed
        Simulated seconds per real second for the synthetic market (1 = real time).
    max_cycles
        Stop after this many cycles (for a bounded foreground run).
    step_minutes
        Simulation only: after each cycle, move the market's manual clock this far
        (the demo runs a simulated day this way, as fast as the cycles go).
    """
    settings = load_settings()
    log = get_run_logger()
    session = (session_minutes or settings.engine.session_minutes) * 60
    interval = interval_seconds if interval_seconds is not None else settings.engine.interval_s
    deadline = time.monotonic() + session
    cycles = orders = failed = 0
    lease = engine_lease(settings)
    holder = lease_holder(flow_run.get_id() or f"local-{uuid.uuid4().hex[:12]}")
    with stop_on_signals() as stop:
        other = lease.acquire(holder)
        if other is not None:
            log.warning("waiting: another engine session trades this account: %s", other.describe())
        while other is not None and not stop.wait(min(5.0, lease.ttl_ms / 3000)):
            if time.monotonic() >= deadline or (other := lease.acquire(holder)) is None:
                break
        if other is not None:
            reason = f"another session kept the engine lease ({other.describe()})"
            log.info("%s: this session did not trade", reason)
            return _ended(SessionReport(cycles=0, orders=0, failed_cycles=0, ended=reason))
        with lease.hold(holder) as held:
            while not stop.is_set() and time.monotonic() < deadline:
                if max_cycles is not None and cycles >= max_cycles:
                    break
                if held.lost_to is not None:  # fail closed: someone else trades now
                    break
                started = time.monotonic()
                try:
                    if not held.is_held():
                        raise TemporaryError("the engine lease could not be renewed")
                    report = run_engine_cycle(settings, speed, cycles)
                    orders += sum(1 for o in report["orders"] if o["outcome"] == "submitted")
                    log.info(report["summary"])
                except TemporaryError as exc:  # Redis away: nothing was placed; try next cycle
                    failed += 1
                    log.error("cycle %d placed no orders (fail closed): %s", cycles, exc)
                cycles += 1
                if step_minutes:
                    advance_simulated_clock(settings, step_minutes)
                stop.wait(max(0.0, interval - (time.monotonic() - started)))
        if held.lost_to is not None:
            reason = f"lost the engine lease to {held.lost_to.describe()}"
        else:
            reason = "stopped" if stop.is_set() else "session over"
    log.info("%s after %d cycles, %d orders, %d failed cycles", reason, cycles, orders, failed)
    return _ended(SessionReport(cycles=cycles, orders=orders, failed_cycles=failed, ended=reason))


def _ended(report: SessionReport) -> SessionReport:
    publish_markdown("trading-engine", report.render_markdown(), f"Session: {report.ended}"[:250])
    return report


if __name__ == "__main__":
    trading_engine()
