"""What the engine and the flows leave behind for monitoring: cycle latency, the equity
of every cycle, and when each flow last succeeded.

Keys (under the namespace ``ns``)::

    ns:monitoring:cycle_seconds   hash: ``le:<bound>`` -> cycles that took at most that
                                  long (per bucket, not cumulative), ``count``, ``sum``
    ns:monitoring:equity          stream: one entry per engine cycle (``at`` = market
                                  time, ``equity``, ``cash``), trimmed to ~``equity_points``
    ns:monitoring:marks           JSON: the closes the engine marked positions at in its
                                  last cycle (``at`` = market time, ``marks`` by symbol)
    ns:monitoring:last_success    hash: flow name -> ISO time of its last successful run

Every write is one pipelined round trip, and a failure to write is logged, never raised:
monitoring must not stop trading.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from components.redis import namespaced

log = logging.getLogger(__name__)

# Engine cycles take ~0.05-3 s (50-500 symbols); bounds in seconds, Prometheus style.
CYCLE_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class Histogram:
    """Cumulative bucket counts (``(upper bound, cycles <= bound)``, ``+Inf`` last), as
    Prometheus exposes them."""

    buckets: list[tuple[float, int]]
    count: int
    sum: float


@dataclass(frozen=True)
class EquityPoint:
    at: datetime
    equity: float
    cash: float


class Telemetry:
    """Record and read the monitoring keys of one namespace (see the module docstring).

    >>> telemetry = Telemetry(client, namespace="qt")
    >>> telemetry.record_cycle(at=now, seconds=0.21, equity=10_050.0, cash=9_000.0)
    >>> telemetry.cycle_histogram().count
    1
    """

    def __init__(self, client: redis.Redis, *, namespace: str, equity_points: int = 20_000) -> None:
        self._r: Any = client
        self._cycles = namespaced(namespace, "monitoring", "cycle_seconds")
        self._equity = namespaced(namespace, "monitoring", "equity")
        self._runs = namespaced(namespace, "monitoring", "last_success")
        self._marks = namespaced(namespace, "monitoring", "marks")
        self._equity_points = equity_points

    # --- writing ------------------------------------------------------------------------
    def record_cycle(
        self,
        *,
        at: datetime,
        seconds: float,
        equity: float | None,
        cash: float | None,
        marks: Mapping[str, float] | None = None,
    ) -> None:
        """One engine cycle: its duration, the account's equity at its end, and the closes
        it marked the symbols at."""
        index = bisect.bisect_left(CYCLE_BUCKETS, seconds)
        bound = _bound(CYCLE_BUCKETS[index]) if index < len(CYCLE_BUCKETS) else "+Inf"
        try:
            pipe = self._r.pipeline(transaction=False)
            pipe.hincrby(self._cycles, f"le:{bound}", 1)
            pipe.hincrby(self._cycles, "count", 1)
            pipe.hincrbyfloat(self._cycles, "sum", seconds)
            if equity is not None and cash is not None and math.isfinite(equity):
                pipe.xadd(
                    self._equity,
                    {"at": at.isoformat(), "equity": repr(equity), "cash": repr(cash)},
                    maxlen=self._equity_points,
                    approximate=True,
                )
            if marks is not None:
                pipe.set(self._marks, json.dumps({"at": at.isoformat(), "marks": dict(marks)}))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("cannot record the cycle's telemetry: %s", type(exc).__name__)

    def record_success(self, flow: str, at: datetime) -> None:
        """``flow`` completed a run at ``at``."""
        try:
            self._r.hset(self._runs, flow, at.isoformat())
        except redis.RedisError as exc:
            log.warning("cannot record the success of %s: %s", flow, type(exc).__name__)

    # --- reading ------------------------------------------------------------------------
    def cycle_histogram(self) -> Histogram:
        raw = self._r.hgetall(self._cycles)
        buckets: list[tuple[float, int]] = []
        running = 0
        for bound in (*CYCLE_BUCKETS, math.inf):
            running += int(raw.get(f"le:{_bound(bound)}", 0))
            buckets.append((bound, running))
        return Histogram(buckets, int(raw.get("count", 0)), float(raw.get("sum", 0.0)))

    def equity_history(self, limit: int = 20_000) -> list[EquityPoint]:
        """The newest ``limit`` per-cycle equities, oldest first."""
        entries = self._r.xrevrange(self._equity, count=limit)
        return [
            EquityPoint(
                datetime.fromisoformat(fields["at"]),
                float(fields["equity"]),
                float(fields["cash"]),
            )
            for _, fields in reversed(entries)
        ]

    def last_marks(self) -> dict[str, float]:
        """The closes of the engine's last cycle, by symbol (empty before its first)."""
        raw = self._r.get(self._marks)
        return {k: float(v) for k, v in json.loads(raw)["marks"].items()} if raw else {}

    def last_successes(self) -> dict[str, datetime]:
        return {
            name: datetime.fromisoformat(at) for name, at in self._r.hgetall(self._runs).items()
        }


def _bound(value: float) -> str:
    return "+Inf" if math.isinf(value) else repr(float(value))
