"""Prometheus metrics of one namespace, read from Redis at scrape time.

:class:`MetricsCollector` is a ``prometheus_client`` collector: each scrape reads the
policy, the Emergency Stop, the ledger, the engine's heartbeat and telemetry, the health
record and the event streams, so what ``/metrics`` shows is what Redis holds at that
moment (a halted ESS shows at the next scrape, whichever process halted it). Names follow
Prometheus conventions: the ``quantum_trader_`` prefix, base units (seconds, ratios; money
in the account's quote currency), ``_total`` for counters, states as labelled 0/1 gauges::

    registry = CollectorRegistry(auto_describe=True)
    registry.register(MetricsCollector.connect(settings, clock=SystemClock()))
    text = generate_latest(registry)
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from components.engine.heartbeat import read_heartbeat
from components.events import RedisEventBus, event_types, stream_key
from components.execution import Ledger
from components.health import HealthStatus, HealthStore
from components.market import Clock
from components.monitoring.telemetry import Telemetry
from components.policy import PolicyStore
from components.risk.emergency import EmergencyStop, EssState
from components.settings import RiskMode, Settings

PREFIX = "quantum_trader_"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsCollector(Collector):
    """Yields every Quantum Trader metric of one namespace (see the module docstring)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        policy: PolicyStore,
        ess: EmergencyStop,
        ledger: Ledger,
        bus: RedisEventBus,
        clock: Clock,
    ) -> None:
        self._client = client
        self._r: Any = client
        self.namespace = namespace
        self.policy = policy
        self.ess = ess
        self.ledger = ledger
        self.bus = bus
        self.health = HealthStore(client, namespace=namespace)
        self.telemetry = Telemetry(client, namespace=namespace)
        self.clock = clock

    @classmethod
    def connect(cls, settings: Settings, *, clock: Clock) -> MetricsCollector:
        from components.redis import connect

        client = connect(settings)
        return cls(
            client,
            namespace=settings.namespace,
            policy=PolicyStore(client, namespace=settings.namespace, settings=settings),
            ess=EmergencyStop(client, namespace=settings.namespace),
            ledger=Ledger(
                client, namespace=settings.namespace, initial_cash=settings.paper.initial_cash
            ),
            bus=RedisEventBus(client, namespace=settings.namespace),
            clock=clock,
        )

    def describe(self) -> list[Metric]:
        return []  # described by collecting: the labels depend on what Redis holds

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now()
        yield from self._account()
        yield from self._policy()
        yield from self._ess()
        yield from self._engine(now)
        yield from self._events()
        yield from self._health(now)
        runs = GaugeMetricFamily(
            PREFIX + "deployment_last_success_age_seconds",
            "Seconds since the flow of each deployment last completed successfully.",
            labels=["deployment"],
        )
        for name, at in sorted(self.telemetry.last_successes().items()):
            runs.add_metric([name], max(0.0, (now - at).total_seconds()))
        yield runs

    # --- families ---------------------------------------------------------------------
    def _account(self) -> Iterator[Metric]:
        state = self.ledger.state(fills=0)
        heartbeat = read_heartbeat(self._client, self.namespace)
        report = heartbeat["report"] if heartbeat else {}
        # The engine marks every position to the last close each cycle; before its first
        # cycle the positions are valued at their average price.
        equity = float(report.get("equity") or state.equity)
        unrealized = equity - state.initial_cash - state.realized_pnl
        yield _gauge(
            "equity", "Account equity (quote currency), as of the last engine cycle.", equity
        )
        yield _gauge("cash", "Account cash (quote currency).", state.cash)
        yield _gauge(
            "realized_pnl", "Realised PnL net of fees (quote currency).", state.realized_pnl
        )
        yield _gauge("unrealized_pnl", "Unrealised PnL at the last cycle's marks.", unrealized)
        yield _gauge("fees_paid", "Fees paid (quote currency).", state.fees_paid)
        yield _gauge("open_positions", "Open positions.", len(state.positions))
        yield _gauge("open_orders", "Orders waiting for their fill.", len(state.open_orders))

    def _policy(self) -> Iterator[Metric]:
        policy = self.policy.get()
        yield _gauge("policy_version", "Version of the global policy.", policy.version)
        yield _states(
            "risk_mode", "The policy's risk mode (1 = current).", "mode",
            [m.value for m in RiskMode], policy.risk_mode.value,
        )  # fmt: skip
        yield _gauge(
            "emergency_active",
            "1 while the policy's emergency flag is set.",
            policy.emergency.active,
        )
        yield _gauge("max_positions", "The policy's position limit.", policy.max_positions)
        yield _gauge(
            "max_risk_per_trade_ratio", "The policy's risk per trade.", policy.max_risk_per_trade
        )

    def _ess(self) -> Iterator[Metric]:
        status = self.ess.status()
        yield _states(
            "ess_state", "The Emergency Stop's state (1 = current).", "state",
            [s.value for s in EssState], status.state.value,
        )  # fmt: skip
        yield _gauge(
            "drawdown_ratio", "Drawdown of equity below its peak, as the ESS last saw it.",
            status.drawdown,
        )  # fmt: skip
        yield _gauge("loss_streak", "Losing trades in a row (ESS).", status.loss_streak)

    def _engine(self, now: Any) -> Iterator[Metric]:
        histogram = self.telemetry.cycle_histogram()
        family = HistogramMetricFamily(
            PREFIX + "engine_cycle_duration_seconds",
            "Duration of the engine's trading cycles.",
            buckets=[(_le(bound), count) for bound, count in histogram.buckets],
            sum_value=histogram.sum,
        )
        yield family
        heartbeat = read_heartbeat(self._client, self.namespace)
        if heartbeat is not None:
            yield _gauge(
                "engine_heartbeat_age_seconds", "Seconds since the engine's last cycle ended.",
                max(0.0, (now - heartbeat["at"]).total_seconds()),
            )  # fmt: skip
            yield _gauge("engine_cycle", "Number of the engine's last cycle.", heartbeat["cycle"])

    def _events(self) -> Iterator[Metric]:
        types = event_types()
        pipe = self._r.pipeline(transaction=False)
        for event_type in types:
            pipe.xlen(stream_key(self.namespace, event_type))
        lengths = pipe.execute()
        length = GaugeMetricFamily(
            PREFIX + "event_stream_length", "Entries kept in each event stream.", labels=["type"]
        )
        for event_type, value in zip(types, lengths, strict=True):
            length.add_metric([event_type], float(value))
        yield length
        pending = GaugeMetricFamily(
            PREFIX + "events_pending",
            "Events delivered to a consumer group but not yet acknowledged.",
            labels=["type", "group"],
        )
        for event_type in types:
            try:
                groups = self._r.xinfo_groups(stream_key(self.namespace, event_type))
            except redis.ResponseError:  # no such stream yet
                continue
            for info in groups:
                pending.add_metric([event_type, info["name"]], float(info["pending"]))
        yield pending
        counters = self.bus.counters()
        dead = CounterMetricFamily(
            PREFIX + "events_dead_lettered",
            "Events moved to the dead-letter stream after their last failed delivery.",
            labels=["type"],
        )
        for event_type in types:
            dead.add_metric([event_type], float(counters.get(f"dead_lettered:{event_type}", 0)))
        yield dead
        for name, text in (
            ("published", "Events published."),
            ("delivered", "Events delivered to a handler that succeeded."),
            ("failed", "Handler failures (each retry counts)."),
        ):
            yield CounterMetricFamily(PREFIX + f"events_{name}", text, value=counters.get(name, 0))

    def _health(self, now: Any) -> Iterator[Metric]:
        record = self.health.get()
        yield _states(
            "health_status", "The health check's verdict (1 = current; all 0 before the first).",
            "status", [s.value for s in HealthStatus], record.status.value if record else None,
        )  # fmt: skip
        if record is not None:
            yield _gauge(
                "health_checked_age_seconds", "Seconds since the health check last ran.",
                max(0.0, (now - record.checked_at).total_seconds()),
            )  # fmt: skip


def render(collector: Collector) -> bytes:
    """The text exposition of ``collector``'s metrics (what ``/metrics`` serves)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)


def _gauge(name: str, documentation: str, value: float | int | bool) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, value=float(value))


def _states(
    name: str, documentation: str, label: str, values: list[str], current: str | None
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(PREFIX + name, documentation, labels=[label])
    for value in values:
        family.add_metric([value], 1.0 if value == current else 0.0)
    return family


def _le(bound: float) -> str:
    return "+Inf" if bound == float("inf") else repr(bound)
