"""The analytics consumer: every event, counted once, into metrics kept in Redis.

``Analytics.attach(bus)`` subscribes :meth:`Analytics.handle` to every event type in the
consumer group ``analytics``. Each event is applied by one Lua script that first records
its id in a sorted set of processed ids (``ZADD NX``) and, only if the id is new, applies
every metric update of that event; so an event redelivered by the bus (a retry, a dead
consumer's pending entries claimed by another) changes nothing but the duplicate count.
The processed ids are trimmed to the newest ``processed_ids_kept``.

Keys (under the namespace ``ns``)::

    ns:analytics:processed                  zset: event id -> when handled (epoch ms)
    ns:analytics:trades                     zset: TradeRecord JSON -> filled_at (epoch s),
                                            the newest ``trades_kept``
    ns:analytics:strategies                 set: strategy names with fills
    ns:analytics:models                     set: "model@version" with fills
    ns:analytics:metrics:total              hash: metrics of every fill (fields below)
    ns:analytics:metrics:strategy:<name>    hash: metrics of one strategy
    ns:analytics:metrics:model:<m>@<v>      hash: metrics of one model version
    ns:analytics:pal_strategies             set: strategies with Profit Amplification fills
    ns:analytics:metrics:pal:<strategy>     hash: metrics of a strategy's PAL fills (ids
                                            with ":pal:": its adds and partial profits)
    ns:analytics:daily:total|strategy:<name>|model:<m>@<v>
                                            hash: UTC day (YYYY-MM-DD) -> net PnL
    ns:analytics:system                     hash: events, duplicates, rejections,
                                            ess_trips, policy_changes, model_promotions
    ns:analytics:system:events              hash: event type -> count
    ns:analytics:system:rejections          hash: check (or reason) -> count
    ns:analytics:system:ess_trips           hash: REDUCING|HALTED -> trips into it
    ns:analytics:system:ess_transitions     hash: "ACTIVE->HALTED" -> count
    ns:analytics:system:policy_hourly       hash: "YYYY-MM-DDTHH:00Z" -> policy writes
    ns:analytics:system:policy_authors      hash: by -> policy writes
    ns:analytics:system:policy_fields       hash: top-level policy field -> writes changing it
    ns:analytics:system:health              hash: status -> changes into it
    ns:analytics:system:strategy_promotions hash: to_state -> count
    ns:analytics:system:production_models   hash: model -> version in production
    ns:analytics:recent:rejections          list: RejectionRecord JSON, newest first
    ns:analytics:recent:ess_trips           list: EssTripRecord JSON, newest first

Metric fields of a ``metrics:*`` hash: ``fills``, ``trades``, ``wins``, ``losses``
(integers), ``pnl``, ``fees``, ``volume``, ``win_pnl``, ``loss_pnl``, ``peak``,
``max_drawdown`` (round-trip float text), ``first_at``, ``last_at`` (epoch seconds).

Accounting. The ledger's ``realized_pnl`` of a fill is already net of that fill's fee
(``closed_qty * (price - avg) * sign - fee``; an opening fill realises ``-fee``), so the
net PnL of a strategy is ``sum(realized_pnl)`` over its fills: entry and exit fees are
both in it, and ``fees`` is reported beside it (``gross = pnl + fees``). Sums are done in
Lua doubles, in the order events are handled, and stored as round-trip text, so with one
consumer they equal ``sum(f.realized_pnl for f in ledger.fills() if ...)`` in Python
exactly (and the total equals the ledger account's ``realized_pnl``). Subtracting
``fee`` again would count every fee twice.

A *trade* (for win rate) is a fill that realised a price gain or loss, i.e. closed or
reduced a position: ``realized_pnl + fee != 0``. (An opening fill has
``realized_pnl == -fee`` exactly; a close at exactly the average price is
indistinguishable from an opening fill and is not counted.) Its result is its
``realized_pnl``, net of the exit fee; the entry fee was booked on the opening fill.

Model attribution (per-model-version metrics), first match wins:

1. the payload has a ``model_version`` field (not in ``TradeExecuted`` today; a producer
   that adds it gets per-version metrics with no change here): the model is the
   strategy's mapped model name, or the strategy name itself;
2. the strategy is ``<ml strategy>@<version>`` (``"ml@v7"``): that version;
3. the strategy is one of ``AnalyticsConfig.ml_strategies`` (``{"ml": "ml"}``: strategy
   ``ml`` trades model ``ml``): the version in production as of the last
   ``model.promoted`` event analytics handled (``"unknown"`` before the first). Events
   of different types are read from different streams, so a fill right after a
   promotion can be handled before it; (1) or (2) are exact.

Otherwise a fill is not attributed to any model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, Self

import redis
from pydantic import BaseModel, ConfigDict, Field

from components.analytics.metrics import daily_pnl_series, sharpe_ratio, window_drawdown
from components.analytics.models import (
    EssTripRecord,
    ModelMetrics,
    RejectionRecord,
    StrategyMetrics,
    SystemMetrics,
    TradeMetrics,
    TradeRecord,
)
from components.analytics.report import AnalyticsReport
from components.clock import Clock, SystemClock
from components.errors import DataError, TemporaryError
from components.events.bus import ALL_TYPES, EventBus
from components.events.models import Event
from components.events.types import (
    ESS_STATE_CHANGED,
    HEALTH_STATUS_CHANGED,
    MODEL_PROMOTED,
    ORDER_REJECTED,
    POLICY_UPDATED,
    STRATEGY_PROMOTED,
    TRADE_EXECUTED,
    EssStateChanged,
    HealthStatusChanged,
    ModelPromoted,
    OrderRejected,
    PolicyUpdated,
    StrategyPromoted,
    TradeExecuted,
)
from components.pal.config import PAL_ORDER_MARK
from components.redis import LUA_NUM, namespaced
from components.regime.controller import PerformanceSnapshot

if TYPE_CHECKING:
    from components.settings import Settings

log = logging.getLogger(__name__)

UNATTRIBUTED = "unattributed"
UNKNOWN_VERSION = "unknown"
TRIP_STATES = frozenset({"REDUCING", "HALTED"})
_REASON_KEY_CHARS = 80

# KEYS: 1 processed ids, 2 system hash, 3.. the keys the ops name by index
# ARGV: 1 event id, 2 now (epoch ms), 3 processed ids kept, then 4-tuples of
#       (op, key index, a, b):
#   incr  HINCRBY key a b            add   key.a += b (a double, round-trip text)
#   min   key.a = min(key.a, b)      max   key.a = max(key.a, b)
#   pnl   key.pnl += b, then key.peak and key.max_drawdown of the cumulative PnL
#   hset  HSET key a b               sadd  SADD key b
#   zadd  ZADD key a b               ztrim keep the b highest-scored members of key
#   push  LPUSH key b, keep the newest a
_HANDLE_SCRIPT = (
    LUA_NUM
    + r"""
local function hnum(key, f) return tonumber(redis.call('HGET', KEYS[key], f) or '0') end

if redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1]) == 0 then
  redis.call('HINCRBY', KEYS[2], 'duplicates', 1)
  return 0
end
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -tonumber(ARGV[3]) - 1)
local i = 4
while i <= #ARGV do
  local op, k, a, b = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3]
  local key = KEYS[k]
  if op == 'incr' then
    redis.call('HINCRBY', key, a, b)
  elseif op == 'add' then
    redis.call('HSET', key, a, num(hnum(k, a) + tonumber(b)))
  elseif op == 'min' or op == 'max' then
    local old, x = redis.call('HGET', key, a), tonumber(b)
    if not old or (op == 'min' and x < tonumber(old)) or (op == 'max' and x > tonumber(old)) then
      redis.call('HSET', key, a, b)
    end
  elseif op == 'pnl' then
    local pnl = hnum(k, 'pnl') + tonumber(b)
    local peak = math.max(hnum(k, 'peak'), pnl)
    local dd = math.max(hnum(k, 'max_drawdown'), peak - pnl)
    redis.call('HSET', key, 'pnl', num(pnl), 'peak', num(peak), 'max_drawdown', num(dd))
  elseif op == 'hset' then
    redis.call('HSET', key, a, b)
  elseif op == 'sadd' then
    redis.call('SADD', key, b)
  elseif op == 'zadd' then
    redis.call('ZADD', key, a, b)
  elseif op == 'ztrim' then
    redis.call('ZREMRANGEBYRANK', key, 0, -tonumber(b) - 1)
  elseif op == 'push' then
    redis.call('LPUSH', key, b)
    redis.call('LTRIM', key, 0, tonumber(a) - 1)
  else
    return redis.error_reply('unknown analytics op ' .. op)
  end
  i = i + 4
end
return 1
"""
)


class AnalyticsConfig(BaseModel):
    """Retention and attribution of :class:`Analytics`.

    >>> AnalyticsConfig(starting_cash=25_000.0, ml_strategies={"ml": "direction"})
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    starting_cash: float = Field(
        10_000.0, gt=0, le=1e12, description="Equity before the first fill (quote currency)."
    )
    processed_ids_kept: int = Field(
        200_000, ge=1_000, le=10_000_000, description="Event ids remembered for de-duplication."
    )
    trades_kept: int = Field(
        250_000, ge=100, le=10_000_000, description="Fills kept in the trade log (newest)."
    )
    recent_kept: int = Field(
        100, ge=1, le=10_000, description="Recent rejections and ESS trips listed."
    )
    ml_strategies: dict[str, str] = Field(
        default_factory=lambda: {"ml": "ml"},
        description="Strategy name -> the prediction model its signals come from.",
    )
    periods_per_year: int = Field(365, ge=1, le=366, description="Sharpe annualisation (days).")

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> Self:
        """Starting cash from ``QT_PAPER_INITIAL_CASH``; ``overrides`` win."""
        values: dict[str, Any] = {"starting_cash": settings.paper.initial_cash}
        values.update(overrides)
        return cls(**values)


@dataclass
class _Ops:
    """The argument list of one run of the handle script."""

    keys: list[str]
    args: list[str] = field(default_factory=list)

    def add(self, op: str, key: str, a: str = "", b: str | float | int = "") -> None:
        try:
            index = self.keys.index(key) + 1
        except ValueError:
            self.keys.append(key)
            index = len(self.keys)
        self.args += [op, str(index), a, b if isinstance(b, str) else _text(b)]


def _text(value: float | int) -> str:
    return str(value) if isinstance(value, int) else repr(float(value))


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _hour_bucket(at: datetime) -> str:
    return f"{_aware(at).astimezone(UTC):%Y-%m-%dT%H}:00Z"


class Analytics:
    """Metrics of every trade and event, in Redis, fed by the event bus.

    >>> analytics = Analytics(client, namespace="qt"); analytics.attach(bus)

    Parameters
    ----------
    client
        A Redis client that decodes responses (``components.redis.connect`` makes one).
    namespace
        Prefix of every key.
    config
        Retention and model attribution (:class:`AnalyticsConfig`).
    clock
        Returns the current time (aware); used only to age the processed-id record.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        config: AnalyticsConfig | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not namespace:
            raise DataError("namespace must not be empty")
        self.client = client
        self._r: Any = client  # redis-py types responses as unions; this client decodes
        self.namespace = namespace
        self.config = config or AnalyticsConfig()
        self._clock = clock or SystemClock()
        self._script = client.register_script(_HANDLE_SCRIPT)
        self._handler = self._deliver  # one object, so attaching twice is a no-op

    @classmethod
    def connect(cls, settings: Settings, **kwargs: Any) -> Analytics:
        """Analytics of ``settings.namespace`` on the configured server; starting cash from
        ``QT_PAPER_INITIAL_CASH``.

        Example: ``Analytics.connect(load_settings()).report(now)``.
        """
        from components.redis import connect

        kwargs.setdefault("config", AnalyticsConfig.from_settings(settings))
        return cls(connect(settings), namespace=settings.namespace, **kwargs)

    # --- keys -------------------------------------------------------------------------
    def key(self, *parts: str) -> str:
        """The key ``<namespace>:analytics:<parts...>`` (see the module docstring)."""
        return namespaced(self.namespace, "analytics", *parts)

    def _metrics_key(self, kind: str, name: str = "") -> str:
        return self.key("metrics", kind, name) if name else self.key("metrics", kind)

    def _daily_key(self, kind: str, name: str = "") -> str:
        return self.key("daily", kind, name) if name else self.key("daily", kind)

    # --- consuming --------------------------------------------------------------------
    def attach(self, bus: EventBus, *, group: str = "analytics") -> None:
        """Subscribe :meth:`handle` to every event type in consumer ``group`` of ``bus``.

        A new group starts from the oldest event the streams still hold (handling is
        idempotent, so replaying is safe); it persists, so later runs pick up where the
        last one stopped.

        Example: ``analytics.attach(bus); bus.run(stop)``.
        """
        bus.subscribe(ALL_TYPES, self._handler, group=group, from_start=True)

    def _deliver(self, event: Event) -> None:
        self.handle(event)

    def catch_up(self, bus: EventBus, *, max_polls: int = 100_000) -> int:
        """Poll ``bus`` until nothing is left to deliver (for a scheduled report run);
        returns the number of events handled.

        Example: ``analytics.attach(bus); analytics.catch_up(bus); analytics.report(now)``.
        """
        handled = 0
        for _ in range(max_polls):
            count = bus.poll(block_ms=0)
            if count == 0:
                break
            handled += count
        return handled

    def handle(self, event: Event) -> bool:
        """Apply one event to the metrics, exactly once per ``event.id``.

        Returns False when the id was handled before (nothing changed).

        Raises
        ------
        DataError
            A trade carries a non-finite number (the bus retries, then dead-letters it).
        TemporaryError
            Redis cannot be reached (the bus retries).

        Example: ``analytics.handle(Event.create("ess.state_changed", {...}, source="x"))``.
        """
        ops = _Ops(keys=[self.key("processed"), self.key("system")])
        system = self.key("system")
        ops.add("incr", system, "events", 1)
        ops.add("incr", self.key("system", "events"), event.type, 1)
        payload = event.payload
        if event.type == TRADE_EXECUTED and isinstance(payload, TradeExecuted):
            self._trade_ops(ops, event, payload)
        elif event.type == ORDER_REJECTED and isinstance(payload, OrderRejected):
            self._rejection_ops(ops, event, payload)
        elif event.type == ESS_STATE_CHANGED and isinstance(payload, EssStateChanged):
            self._ess_ops(ops, event, payload)
        elif event.type == POLICY_UPDATED and isinstance(payload, PolicyUpdated):
            self._policy_ops(ops, event, payload)
        elif event.type == MODEL_PROMOTED and isinstance(payload, ModelPromoted):
            ops.add("incr", system, "model_promotions", 1)
            ops.add("hset", self.key("system", "production_models"), payload.model, payload.version)
        elif event.type == STRATEGY_PROMOTED and isinstance(payload, StrategyPromoted):
            ops.add("incr", self.key("system", "strategy_promotions"), payload.to_state, 1)
        elif event.type == HEALTH_STATUS_CHANGED and isinstance(payload, HealthStatusChanged):
            ops.add("incr", self.key("system", "health"), payload.status, 1)
        now_ms = int(_aware(self._clock.now()).timestamp() * 1000)
        args = [event.id, str(now_ms), str(self.config.processed_ids_kept), *ops.args]
        try:
            fresh = bool(self._script(keys=ops.keys, args=args))
        except redis.RedisError as exc:
            raise TemporaryError(
                f"cannot record {event.type} event {event.id}: {type(exc).__name__}: {exc}"
            ) from None
        if not fresh:
            log.debug("analytics: %s event %s was handled before; ignored", event.type, event.id)
        return fresh

    def _trade_ops(self, ops: _Ops, event: Event, trade: TradeExecuted) -> None:
        for name, value in (
            ("quantity", trade.quantity), ("price", trade.price), ("fee", trade.fee),
            ("realized_pnl", trade.realized_pnl),
        ):  # fmt: skip
            if not math.isfinite(value):
                raise DataError(
                    f"trade.executed {event.id} ({trade.client_order_id}): {name}={value!r} "
                    "must be a finite number"
                )
        at = _aware(trade.filled_at or event.occurred_at).astimezone(UTC)
        model = self._model_of(trade)
        record = TradeRecord(
            event_id=event.id,
            client_order_id=trade.client_order_id,
            symbol=trade.symbol,
            side=trade.side,
            quantity=trade.quantity,
            price=trade.price,
            fee=trade.fee,
            realized_pnl=trade.realized_pnl,
            strategy=trade.strategy,
            model=model[0] if model else None,
            model_version=model[1] if model else None,
            filled_at=at,
            closing=trade.realized_pnl + trade.fee != 0.0,
        )
        strategy = trade.strategy or UNATTRIBUTED
        groups = [("total", ""), ("strategy", strategy)]
        ops.add("sadd", self.key("strategies"), b=strategy)
        if model is not None:
            label = f"{model[0]}@{model[1]}"
            groups.append(("model", label))
            ops.add("sadd", self.key("models"), b=label)
        if PAL_ORDER_MARK in trade.client_order_id:  # the Profit Amplification Layer's
            groups.append(("pal", strategy))
            ops.add("sadd", self.key("pal_strategies"), b=strategy)
        stamp = at.timestamp()
        day = at.date().isoformat()
        for kind, name in groups:
            key = self._metrics_key(kind, name)
            ops.add("incr", key, "fills", 1)
            ops.add("pnl", key, b=record.realized_pnl)
            ops.add("add", key, "fees", record.fee)
            ops.add("add", key, "volume", record.quantity * record.price)
            ops.add("min", key, "first_at", stamp)
            ops.add("max", key, "last_at", stamp)
            ops.add("add", self._daily_key(kind, name), day, record.realized_pnl)
            if record.closing:
                ops.add("incr", key, "trades", 1)
                if record.realized_pnl > 0:
                    ops.add("incr", key, "wins", 1)
                    ops.add("add", key, "win_pnl", record.realized_pnl)
                elif record.realized_pnl < 0:
                    ops.add("incr", key, "losses", 1)
                    ops.add("add", key, "loss_pnl", record.realized_pnl)
        trades = self.key("trades")
        ops.add("zadd", trades, _text(stamp), record.model_dump_json())
        ops.add("ztrim", trades, b=self.config.trades_kept)

    def _model_of(self, trade: TradeExecuted) -> tuple[str, str] | None:
        """(model, version) the fill is attributed to; see the module docstring."""
        strategy = trade.strategy or ""
        mapped = self.config.ml_strategies
        explicit = getattr(trade, "model_version", None)
        if explicit:
            return mapped.get(strategy, strategy or UNATTRIBUTED), str(explicit)
        base, at_sign, version = strategy.partition("@")
        if at_sign and base in mapped and version:
            return mapped[base], version
        if strategy in mapped:
            model = mapped[strategy]
            current = self._read(
                lambda: self._r.hget(self.key("system", "production_models"), model)
            )
            return model, current or UNKNOWN_VERSION
        return None

    def _rejection_ops(self, ops: _Ops, event: Event, rejected: OrderRejected) -> None:
        reason_key = rejected.check or rejected.reason[:_REASON_KEY_CHARS] or "unspecified"
        ops.add("incr", self.key("system"), "rejections", 1)
        ops.add("incr", self.key("system", "rejections"), reason_key, 1)
        record = RejectionRecord(
            at=event.occurred_at,
            client_order_id=rejected.client_order_id,
            symbol=rejected.symbol,
            check=rejected.check,
            reason=rejected.reason,
            strategy=rejected.strategy,
        )
        recent = self.key("recent", "rejections")
        ops.add("push", recent, str(self.config.recent_kept), record.model_dump_json())

    def _policy_ops(self, ops: _Ops, event: Event, update: PolicyUpdated) -> None:
        ops.add("incr", self.key("system"), "policy_changes", 1)
        ops.add("incr", self.key("system", "policy_hourly"), _hour_bucket(event.occurred_at), 1)
        ops.add("incr", self.key("system", "policy_authors"), update.by, 1)
        # per top-level field: "opp_rankings.BTC/USDT" counts as "opp_rankings"
        for name in sorted({path.split(".", 1)[0] for path in update.changes}):
            ops.add("incr", self.key("system", "policy_fields"), name, 1)

    def _ess_ops(self, ops: _Ops, event: Event, change: EssStateChanged) -> None:
        transition = f"{change.previous or 'NONE'}->{change.state}"
        ops.add("incr", self.key("system", "ess_transitions"), transition, 1)
        if change.state in TRIP_STATES and change.previous != change.state:
            ops.add("incr", self.key("system"), "ess_trips", 1)
            ops.add("incr", self.key("system", "ess_trips"), change.state, 1)
            record = EssTripRecord(
                at=event.occurred_at,
                state=change.state,
                previous=change.previous,
                reason=change.reason,
                by=change.by,
            )
            recent = self.key("recent", "ess_trips")
            ops.add("push", recent, str(self.config.recent_kept), record.model_dump_json())

    # --- reading ----------------------------------------------------------------------
    def trades(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[TradeRecord]:
        """Fills in the trade log with ``since < filled_at <= until``, oldest first.

        Example: ``analytics.trades(since=now - timedelta(days=1), until=now)``.
        """
        low = "-inf" if since is None else f"({_text(_aware(since).timestamp())}"
        high = "+inf" if until is None else _text(_aware(until).timestamp())
        raw = self._read(lambda: self._r.zrangebyscore(self.key("trades"), low, high))
        return [TradeRecord.model_validate_json(text) for text in raw]

    def totals(self) -> TradeMetrics:
        """:class:`TradeMetrics` of every fill, whatever its strategy.

        Example: ``analytics.totals().pnl`` (equals the ledger account's ``realized_pnl``).
        """
        pipe = self._r.pipeline(transaction=True)
        pipe.hgetall(self._metrics_key("total"))
        pipe.hgetall(self._daily_key("total"))
        raw, daily = self._read(pipe.execute)
        return TradeMetrics(**self._metric_values(raw, daily))

    def strategy_metrics(self) -> dict[str, StrategyMetrics]:
        """Metrics per strategy, by name (sorted); fills without one under
        ``"unattributed"``.

        Example: ``analytics.strategy_metrics()["momentum"].pnl``.
        """
        names, rows = self._groups("strategy", self.key("strategies"))
        return {
            name: StrategyMetrics(strategy=name, **self._metric_values(raw, daily))
            for name, (raw, daily) in zip(names, rows, strict=True)
        }

    def pal_metrics(self) -> dict[str, TradeMetrics]:
        """Metrics of the Profit Amplification Layer's own fills per strategy (sorted):
        ``trades`` counts its partial profits and ``pnl`` what they realised net of every
        PAL fee; ``fills - trades`` counts its adds, whose gain or loss is realised later,
        by the position's exit (the backtester measures the whole effect).

        Example: ``analytics.pal_metrics()["momentum"].pnl``.
        """
        names, rows = self._groups("pal", self.key("pal_strategies"))
        return {
            name: TradeMetrics(**self._metric_values(raw, daily))
            for name, (raw, daily) in zip(names, rows, strict=True)
        }

    def model_metrics(self) -> dict[str, ModelMetrics]:
        """Metrics per model version, keyed ``model@version`` (sorted).

        Example: ``analytics.model_metrics()["ml@v3"].win_rate``.
        """
        labels, rows = self._groups("model", self.key("models"))
        production = self._read(lambda: self._r.hgetall(self.key("system", "production_models")))
        result: dict[str, ModelMetrics] = {}
        for label, (raw, daily) in zip(labels, rows, strict=True):
            model, _, version = label.rpartition("@")
            result[label] = ModelMetrics(
                model=model,
                version=version,
                production=production.get(model) == version,
                **self._metric_values(raw, daily),
            )
        return result

    def system_metrics(self) -> SystemMetrics:
        """Counts over every event handled (see :class:`SystemMetrics`).

        Example: ``analytics.system_metrics().rejections_by_check["max_positions"]``.
        """
        names = (
            "events", "rejections", "ess_trips", "ess_transitions", "policy_hourly",
            "policy_authors", "policy_fields", "health", "strategy_promotions",
            "production_models",
        )  # fmt: skip
        pipe = self._r.pipeline(transaction=True)
        pipe.hgetall(self.key("system"))
        for name in names:
            pipe.hgetall(self.key("system", name))
        pipe.lrange(self.key("recent", "rejections"), 0, -1)
        pipe.lrange(self.key("recent", "ess_trips"), 0, -1)
        counters, *hashes, rejections, trips = self._read(pipe.execute)
        h = {
            name: {k: v for k, v in sorted(raw.items())}
            for name, raw in zip(names, hashes, strict=True)
        }

        def counts(name: str) -> dict[str, int]:
            return {k: int(v) for k, v in h[name].items()}

        return SystemMetrics(
            events_total=int(counters.get("events", 0)),
            events_by_type=counts("events"),
            duplicates_ignored=int(counters.get("duplicates", 0)),
            rejections_total=int(counters.get("rejections", 0)),
            rejections_by_check=counts("rejections"),
            recent_rejections=[RejectionRecord.model_validate_json(r) for r in rejections],
            ess_trips=int(counters.get("ess_trips", 0)),
            ess_trips_by_state=counts("ess_trips"),
            ess_transitions=counts("ess_transitions"),
            recent_ess_trips=[EssTripRecord.model_validate_json(r) for r in trips],
            policy_changes_total=int(counters.get("policy_changes", 0)),
            policy_changes_by_hour=counts("policy_hourly"),
            policy_changes_by_author=counts("policy_authors"),
            policy_changes_by_field=counts("policy_fields"),
            health_changes_by_status=counts("health"),
            strategy_promotions_by_state=counts("strategy_promotions"),
            model_promotions=int(counters.get("model_promotions", 0)),
            production_models=dict(h["production_models"]),
        )

    def performance_snapshot(
        self,
        window: timedelta = timedelta(days=7),
        *,
        now: datetime,
        equity: float | None = None,
    ) -> PerformanceSnapshot:
        """Recent performance over ``(now - window, now]``: the MSC's input.

        ``pnl_pct`` is the window's net realised PnL as a fraction of the equity it
        started from; ``drawdown`` is the deepest fall of the realised equity curve in
        the window below its running peak (the start counts as a peak); ``win_rate`` and
        ``trades`` count closing fills. The starting equity is ``equity - window PnL``
        when the current ``equity`` is given (the ledger's, unrealised PnL included),
        otherwise ``starting_cash`` plus every realised PnL before the window.

        Example: ``analytics.performance_snapshot(now=now, equity=ledger.snapshot(m).equity)``.

        Raises
        ------
        DataError
            ``window`` is not positive or ``equity`` is not a finite number > 0.
        """
        if window <= timedelta(0):
            raise DataError(f"window={window} must be positive")
        if equity is not None and not (math.isfinite(equity) and equity > 0):
            raise DataError(f"equity={equity!r} must be a finite number > 0")
        now = _aware(now)
        start = now - window
        later = self.trades(since=start)
        recent = [t for t in later if t.filled_at <= now]
        pnls = [t.realized_pnl for t in sorted(recent, key=lambda t: t.filled_at)]
        window_pnl = sum(pnls)
        if equity is not None:
            base = equity - window_pnl
        else:
            total = self._read(lambda: self._r.hget(self._metrics_key("total"), "pnl"))
            base = (
                self.config.starting_cash + float(total or 0.0) - sum(t.realized_pnl for t in later)
            )
        closing = [t for t in recent if t.closing]
        wins = sum(1 for t in closing if t.realized_pnl > 0)
        if base <= 0:  # the account was wiped out before the window began
            pnl_pct, drawdown = -1.0, 1.0
        else:
            pnl_pct = min(max(window_pnl / base, -1.0), 100.0)
            drawdown = min(max(window_drawdown(base, pnls), 0.0), 1.0)
        return PerformanceSnapshot(
            pnl_pct=pnl_pct,
            win_rate=wins / len(closing) if closing else None,
            drawdown=drawdown,
            trades=len(closing),
        )

    def report(
        self,
        now: datetime,
        *,
        window: timedelta = timedelta(days=7),
        equity: float | None = None,
    ) -> AnalyticsReport:
        """Every metric at ``now`` in one frozen :class:`AnalyticsReport`.

        Example: ``print(analytics.report(now).render_markdown())``.
        """
        return AnalyticsReport(
            generated_at=_aware(now),
            window=window,
            performance=self.performance_snapshot(window, now=now, equity=equity),
            totals=self.totals(),
            strategies=self.strategy_metrics(),
            pal=self.pal_metrics(),
            models=self.model_metrics(),
            system=self.system_metrics(),
        )

    # --- internals --------------------------------------------------------------------
    def _groups(
        self, kind: str, members_key: str
    ) -> tuple[list[str], list[tuple[dict[str, str], dict[str, str]]]]:
        names = sorted(self._read(lambda: self._r.smembers(members_key)))
        if not names:
            return [], []
        pipe = self._r.pipeline(transaction=True)
        for name in names:
            pipe.hgetall(self._metrics_key(kind, name))
            pipe.hgetall(self._daily_key(kind, name))
        values = self._read(pipe.execute)
        return names, list(zip(values[::2], values[1::2], strict=True))

    def _metric_values(self, raw: dict[str, str], daily: dict[str, str]) -> dict[str, Any]:
        by_day = {date.fromisoformat(day): float(pnl) for day, pnl in daily.items()}

        def moment(name: str) -> datetime | None:
            value = raw.get(name)
            return None if value is None else datetime.fromtimestamp(float(value), UTC)

        return {
            **{name: int(raw.get(name, 0)) for name in ("fills", "trades", "wins", "losses")},
            **{
                name: float(raw.get(name, 0.0))
                for name in ("pnl", "fees", "volume", "win_pnl", "loss_pnl", "max_drawdown")
            },
            "sharpe": sharpe_ratio(
                daily_pnl_series(by_day), periods_per_year=self.config.periods_per_year
            ),
            "first_fill_at": moment("first_at"),
            "last_fill_at": moment("last_at"),
        }

    @staticmethod
    def _read(action: Callable[[], Any]) -> Any:
        try:
            return action()
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot read analytics: {type(exc).__name__}: {exc}") from None
