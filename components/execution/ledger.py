"""The order and position ledger: cash, positions, open orders and fills, in Redis.

Keys (under the namespace ``ns``)::

    ns:ledger:account     hash: cash, initial_cash, realized_pnl, fees, fills, order_seq
    ns:ledger:positions   hash: symbol -> open position (JSON)
    ns:ledger:orders      hash: client order id -> open order (JSON)
    ns:ledger:acks        hash: client order id -> the answer to its submit, for every id
                          ever submitted (accepted or not): the idempotency record
    ns:ledger:fills       hash: client order id -> its fill (JSON)
    ns:ledger:fill_log    list: client order ids in fill order
    ns:ledger:closed      list: closed positions (JSON), newest first, trimmed
    ns:ledger:bar_marks   string: the last bar processed of every symbol, as one JSON
                          object grouping the symbols by (open time, spacing of the last
                          two bars) in epoch us: {"<open> <spacing>": [symbol, ...]}, the
                          spacing left out while unknown (see :meth:`Ledger.mark_bars`)
    ns:ledger:trail       hash: symbol -> trailing stop of its position (JSON: position, level)
    ns:events:trade.executed / ns:events:order.rejected   the event streams

Every change is one Lua script, so it happens whole or not at all and concurrent
writers (several processes filling different symbols) lose nothing. The accounting is
Python's (:func:`components.execution.accounting.apply_fill`, the one model the backtester
shares); the scripts only compare and write. Applying a fill computes the position after
it, the closed position (if any), the fill record and its ``trade.executed`` event from
the position as last seen, and one script checks that the stored position is still that
one and then writes them all, moves cash and the account totals, and removes the filled
order; if another writer moved the position in between, the script writes nothing and
the fill is computed again. It is idempotent by client order id (a second fill for an id
returns the first). Events go on their streams through
:data:`components.events.streams.LUA_EMIT`. Numbers are stored as round-trip text, so a
new :class:`Ledger` on the same namespace, in this process or another, reads exactly the
same state: ``equity = cash + sum(q * mark) = initial_cash + realized_pnl +
unrealized_pnl``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any, Literal, cast

import redis

from components.errors import DataError, TemporaryError
from components.events.bus import EventBus
from components.events.models import Event, new_event_id
from components.events.streams import (
    LUA_EMIT,
    decode_event,
    entry_fields,
    event_args,
    stats_key,
    stream_key,
)
from components.events.types import ORDER_REJECTED, TRADE_EXECUTED, TradeExecuted
from components.execution.accounting import Execution, apply_fill
from components.execution.models import (
    ClosedPosition,
    Fill,
    FillReason,
    FillResult,
    LedgerState,
    Order,
    OrderAck,
    Position,
)
from components.redis import LUA_NUM, namespaced
from components.trading.types import PortfolioView, Side

if TYPE_CHECKING:
    from components.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_INITIAL_CASH = 10_000.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# The scripts only compare and write: every number and record they store was computed in
# Python (components.execution.accounting); the account totals are sums kept as round-trip
# text (LUA_NUM). A script finding the position other than Python computed from answers
# 'moved' with the current one, and Python computes again.

# KEYS: account, positions, orders, fills, fill log, closed, event stream, bus stats
# ARGV: 1 client order id, 2 symbol, 3 must be an open order ('1'/'0'), 4 the position text
#       Python computed from ('' = none), 5 what to write: 'fill', 'refuse' (a reduce-only
#       order that would grow: drop the order, publish order.rejected) or 'none';
#   fill:   6 position text after ('' = flat), 7 closed position text ('' = none),
#           8 closed kept, 9 initial cash, 10 signed quantity * price, 11 fee, 12 realised,
#           13 fill text, 14-20 the trade.executed event (LUA_EMIT's arguments)
#   refuse: 6-12 the order.rejected event
_FILL_SCRIPT = (
    LUA_NUM
    + LUA_EMIT
    + r"""
local coid, symbol = ARGV[1], ARGV[2]
local previous = redis.call('HGET', KEYS[4], coid)
if previous then return {'duplicate', previous} end
if ARGV[3] == '1' and redis.call('HEXISTS', KEYS[3], coid) == 0 then
  return {'skipped', 'order ' .. coid .. ' is not open (cancelled, or never accepted)'}
end
local current = redis.call('HGET', KEYS[2], symbol) or ''
if current ~= ARGV[4] then return {'moved', current} end
if ARGV[5] == 'none' then return {'current'} end
if ARGV[5] == 'refuse' then
  redis.call('HDEL', KEYS[3], coid)
  emit_event(KEYS[7], KEYS[8], unpack(ARGV, 6, 12))
  return {'refused'}
end
if ARGV[6] == '' then
  redis.call('HDEL', KEYS[2], symbol)
else
  redis.call('HSET', KEYS[2], symbol, ARGV[6])
end
if ARGV[7] ~= '' then
  redis.call('LPUSH', KEYS[6], ARGV[7])
  redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[8]) - 1)
end
local account = KEYS[1]
redis.call('HSETNX', account, 'initial_cash', ARGV[9])
redis.call('HSETNX', account, 'cash', ARGV[9])
local fee = tonumber(ARGV[11])
local cash = tonumber(redis.call('HGET', account, 'cash')) - tonumber(ARGV[10]) - fee
local realized = tonumber(redis.call('HGET', account, 'realized_pnl') or '0') + tonumber(ARGV[12])
local fees = tonumber(redis.call('HGET', account, 'fees') or '0') + fee
redis.call('HSET', account, 'cash', num(cash), 'realized_pnl', num(realized), 'fees', num(fees))
redis.call('HINCRBY', account, 'fills', 1)
redis.call('HDEL', KEYS[3], coid)
redis.call('HSET', KEYS[4], coid, ARGV[13])
redis.call('RPUSH', KEYS[5], coid)
emit_event(KEYS[7], KEYS[8], unpack(ARGV, 14, 20))
return {'filled'}
"""
)

# KEYS: positions; ARGV: symbol, the position text Python computed from, the new text
_PUT_POSITION_SCRIPT = r"""
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return {'moved', current} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return {'written'}
"""

# KEYS: acks, orders, fills, account, rejected stream, bus stats
# ARGV: 1 client order id, 2 ack (JSON), 3 order (JSON without seq; '' = rejected),
#       4-10 the order.rejected event when rejected (LUA_EMIT's arguments)
_SUBMIT_SCRIPT = (
    LUA_EMIT
    + r"""
local known = redis.call('HGET', KEYS[1], ARGV[1])
if known then return {0, known} end
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 1 then
  return {0, '{"accepted":true,"reason":"already filled"}'}
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then
  local seq = redis.call('HINCRBY', KEYS[4], 'order_seq', 1)
  redis.call('HSET', KEYS[2], ARGV[1], string.sub(ARGV[3], 1, -2) .. ',"seq":' .. seq .. '}')
else
  emit_event(KEYS[5], KEYS[6], unpack(ARGV, 4, 10))
end
return {1, ARGV[2]}
"""
)

# KEYS: bar marks, trailing stops, and the two hashes that held the bars before the
#       marks (read once by Python when no marks are stored, dropped at the first write)
# ARGV: 1 the marks text Python computed from ('' = none), 2 the marks text to store
#       ('' = unchanged: only trailing stops), then pairs symbol, trailing stop (JSON).
# The marks are one value, not a hash field per symbol: a cycle rewrites every symbol's,
# and a hash of up to 512 fields is a flat list in Redis, so HMGET and HSET of n fields
# cost n^2 there (500 symbols: ~10 ms a cycle; the text: well under 1 ms).
_MARK_BARS_SCRIPT = r"""
if ARGV[2] ~= '' then
  local current = redis.call('GET', KEYS[1]) or ''
  if current ~= ARGV[1] then return {'moved', current} end
  redis.call('SET', KEYS[1], ARGV[2])
  if current == '' then redis.call('DEL', KEYS[3], KEYS[4]) end
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return {'ok'}
"""

_MAX_ATTEMPTS = 20
_TRADE_FIELDS = set(TradeExecuted.model_fields)  # a trade.executed payload: of its fill


@dataclass(slots=True)
class _FillPlan:
    """What one attempt of a fill asks the fill script to do: ``fill`` (write ``args``),
    ``refuse`` (a reduce-only order that would grow: publish ``event``) or ``none``
    (nothing to write, for ``reason``); either way only if the position is unchanged."""

    action: Literal["fill", "refuse", "none"]
    args: list[str] = field(default_factory=list)
    event: Event | dict[str, str] | None = None  # the event, or its stream fields
    reason: str = ""
    fill: Fill | None = None
    position: Position | None = None
    position_text: str = ""


@dataclass(frozen=True, slots=True)
class TrailingStop:
    """Where a position's trailing stop stands after the last bar processed."""

    position_id: str
    level: float

    def to_json(self) -> str:
        return json.dumps({"position": self.position_id, "level": self.level})

    @classmethod
    def from_json(cls, text: str) -> TrailingStop:
        stored = json.loads(text)
        return cls(str(stored["position"]), float(stored["level"]))


@dataclass(frozen=True)
class BarView:
    """The ledger as the broker reads it for one batch of bars (:meth:`Ledger.bar_view`)."""

    last_bars: dict[str, tuple[datetime | None, timedelta | None]]
    orders: list[Order]
    positions: dict[str, Position]
    trailing: dict[str, TrailingStop]
    """The stored trailing stop by symbol (check its ``position_id``: it may be an older
    position's)."""


class Keep(Enum):
    """Leave a level as it is (the default of :meth:`Ledger.set_stops`)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _aware(at: datetime, what: str) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise DataError(f"{what}={at.isoformat()} has no time zone; pass a tz-aware (UTC) time")
    return at


def epoch_us(at: datetime) -> int:
    """``at`` as whole microseconds since the epoch (how bar times are stored)."""
    return (_aware(at, "time") - _EPOCH) // _MICROSECOND


def _from_epoch_us(value: str | int) -> datetime:
    return _EPOCH + int(value) * _MICROSECOND


def _finite(value: float, what: str, *, positive: bool = False) -> float:
    number = float(value)
    if not math.isfinite(number) or (positive and number <= 0) or (not positive and number < 0):
        bound = "> 0" if positive else ">= 0"
        raise DataError(f"{what}={value!r} must be a finite number {bound}")
    return number


@dataclass(frozen=True, slots=True)
class _BarMarks:
    """The bar marks as stored (``text``, '' when none) and parsed: symbol -> (open time
    of its last bar processed, spacing of its last two or None), in epoch us."""

    text: str
    marks: dict[str, tuple[int, int | None]]


def _moved_on(
    marks: dict[str, tuple[int, int | None]], bars: Mapping[str, int]
) -> tuple[dict[str, tuple[int, int | None]], int]:
    """``marks`` with each symbol of ``bars`` (symbol -> open time, epoch us) moved forward
    to its bar (an older or equal bar changes nothing), and how many moved."""
    moved: dict[str, tuple[int, int | None]] = {}
    after: dict[tuple[tuple[int, int | None] | None, int], tuple[int, int | None]] = {}
    for symbol, at in bars.items():
        before = marks.get(symbol)
        if before is not None and at <= before[0]:
            continue
        mark = after.get((before, at))  # a cycle's symbols move alike: one tuple for them
        if mark is None:
            mark = after[before, at] = (at, None if before is None else at - before[0])
        moved[symbol] = mark
    return ({**marks, **moved} if moved else marks), len(moved)


def _marks_text(marks: Mapping[str, tuple[int, int | None]]) -> str:
    """The stored form of ``marks`` (the module docstring): grouped by mark."""
    groups: dict[tuple[int, int | None], list[str]] = {}
    for symbol, mark in marks.items():
        groups.setdefault(mark, []).append(symbol)
    return json.dumps(
        {f"{last}" if step is None else f"{last} {step}": s for (last, step), s in groups.items()},
        separators=(",", ":"),
    )


def _mark_of(key: str) -> tuple[int, int | None]:
    last, _, step = key.partition(" ")
    return int(last), int(step) if step else None


def _bar_times(mark: tuple[int, int | None] | None) -> tuple[datetime | None, timedelta | None]:
    """A mark as (open time of the last bar, spacing of the last two)."""
    if mark is None:
        return None, None
    last, step = mark
    return _from_epoch_us(last), None if step is None else step * _MICROSECOND


class Ledger:
    """Cash, positions, open orders and fills of one namespace, kept in Redis.

    >>> ledger = Ledger(client, namespace="qt")
    >>> ledger.snapshot({"BTC/USDT": 50_000.0}).equity

    Parameters
    ----------
    client
        A Redis client that decodes responses (``components.redis.connect`` makes one).
    namespace
        Prefix of every key.
    initial_cash
        Cash of a ledger that has never been written (``initialize`` or the first fill
        stores it).
    stream_maxlen
        Approximate entries kept per event stream.
    closed_kept
        Closed positions kept in the ledger's history.
    bus
        Optional: each event the ledger writes is also handed to this bus's mirrors.
    source
        The ``source`` of the events the ledger writes.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        initial_cash: float = DEFAULT_INITIAL_CASH,
        stream_maxlen: int = 100_000,
        closed_kept: int = 10_000,
        bus: EventBus | None = None,
        source: str = "paper-broker",
    ) -> None:
        if not namespace:
            raise DataError("namespace must not be empty")
        self.client = client
        self._r: Any = client  # redis-py's response types are unions; this client decodes
        self.namespace = namespace
        self.initial_cash = _finite(initial_cash, "initial_cash", positive=True)
        self._maxlen = stream_maxlen
        self._closed_kept = closed_kept
        self._bus = bus
        self.source = source

        def key(*parts: str) -> str:
            return namespaced(namespace, "ledger", *parts)

        self.keys = {
            name: key(name)
            for name in (
                "account", "positions", "orders", "acks", "fills",
                "fill_log", "closed", "bar_marks", "trail", "bars", "bar_step",
            )
        }  # fmt: skip
        self._trade_stream = stream_key(namespace, TRADE_EXECUTED)
        self._rejected_stream = stream_key(namespace, ORDER_REJECTED)
        self._stats = stats_key(namespace)
        self._fill = client.register_script(_FILL_SCRIPT)
        self._submit = client.register_script(_SUBMIT_SCRIPT)
        self._mark_bars = client.register_script(_MARK_BARS_SCRIPT)
        self._put_position = client.register_script(_PUT_POSITION_SCRIPT)
        # The position text of each symbol as last read or written here ('' = none): what
        # a fill is computed from first. The scripts compare it with the stored one, so a
        # stale entry (another process wrote) costs one more call, never a wrong write.
        self._known: dict[str, str] = {}
        self._parsed: dict[str, tuple[str, Position | None]] = {}  # symbol -> (text, position)
        self._bar_marks: _BarMarks | None = None  # as last read or written here (likewise)

    @classmethod
    def connect(cls, settings: Settings, *, bus: EventBus | None = None) -> Ledger:
        """The ledger of ``settings.namespace`` on the configured server; initial cash from
        ``QT_PAPER_INITIAL_CASH``."""
        from components.redis import connect

        return cls(
            connect(settings),
            namespace=settings.namespace,
            initial_cash=settings.paper.initial_cash,
            stream_maxlen=settings.bus.stream_maxlen,
            bus=bus,
        )

    # --- account --------------------------------------------------------------------------
    def initialize(self, cash: float | None = None) -> bool:
        """Store the starting cash unless the ledger already has one. True if it was stored.

        Example: ``ledger.initialize(25_000.0)`` on a fresh namespace.
        """
        amount = repr(_finite(self.initial_cash if cash is None else cash, "cash", positive=True))
        pipe = self._r.pipeline(transaction=True)
        pipe.hsetnx(self.keys["account"], "initial_cash", amount)
        pipe.hsetnx(self.keys["account"], "cash", amount)
        stored, _ = self._call(pipe.execute, "initialize the ledger")
        return bool(stored)

    def cash(self) -> float:
        """Cash now (the initial cash before the first write)."""
        value = self._call(lambda: self._r.hget(self.keys["account"], "cash"), "read cash")
        return self.initial_cash if value is None else float(value)

    # --- orders -----------------------------------------------------------------------------
    def record_order(
        self, order: Order, *, rejected: str | None = None, check: str | None = None
    ) -> OrderAck:
        """Remember ``order``'s client order id with the answer to it, in one script: open
        the order, or (``rejected`` = the reason) record the refusal and publish
        ``order.rejected``. An id seen before changes nothing and returns the first answer
        with ``duplicate=True``.

        Example: ``ledger.record_order(Order.from_intent(intent, eligible_after=t)).accepted``.
        """
        coid = order.client_order_id
        ack = {"accepted": rejected is None, "reason": rejected or ""}
        args: list[Any] = [coid, json.dumps(ack), ""]
        event = None
        if rejected is None:
            args[2] = order.model_dump_json(exclude={"seq"})
        else:
            event = Event.create(
                ORDER_REJECTED,
                {
                    "client_order_id": coid,
                    "symbol": order.symbol,
                    "side": order.side.value,
                    "quantity": order.quantity,
                    "reason": rejected,
                    "check": check,
                    "strategy": order.strategy,
                },
                source=self.source,
                occurred_at=order.created_at,
                correlation_id=order.correlation_id or coid,
            )
            args += event_args(event, self._maxlen)
        keys = [self.keys[k] for k in ("acks", "orders", "fills", "account")]
        keys += [self._rejected_stream, self._stats]
        fresh, answer = self._call(lambda: self._submit(keys=keys, args=args), "record an order")
        stored = json.loads(answer)
        if fresh and event is not None:
            self._written(event)
        return OrderAck(
            client_order_id=coid,
            accepted=bool(stored["accepted"]),
            duplicate=not fresh,
            reason=str(stored["reason"]),
        )

    def ack(self, client_order_id: str) -> OrderAck | None:
        """The answer given when ``client_order_id`` was submitted, or None if never seen."""
        raw = self._call(
            lambda: self._r.hget(self.keys["acks"], client_order_id), "read an order ack"
        )
        if raw is None:
            return None
        stored = json.loads(raw)
        return OrderAck(
            client_order_id=client_order_id,
            accepted=bool(stored["accepted"]),
            reason=str(stored["reason"]),
        )

    def seen(self, client_order_id: str) -> bool:
        """Whether the id was ever submitted or filled (open, filled, cancelled or refused)."""
        pipe = self._r.pipeline(transaction=False)
        pipe.hexists(self.keys["acks"], client_order_id)
        pipe.hexists(self.keys["fills"], client_order_id)
        return any(self._call(pipe.execute, "check an order id"))

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``, or all) in submission order."""
        raw = self._call(lambda: self._r.hvals(self.keys["orders"]), "read open orders")
        return self._orders(raw, symbol)

    def cancel_order(self, client_order_id: str) -> bool:
        """Cancel an open order. False when it is not open (filled, cancelled, unknown)."""
        removed = self._call(
            lambda: self._r.hdel(self.keys["orders"], client_order_id), "cancel an order"
        )
        return bool(removed)

    def cancel_orders(self, symbol: str | None = None) -> list[str]:
        """Cancel every open order (of ``symbol``, or all); returns the ids cancelled."""
        orders = self.open_orders(symbol)
        if not orders:
            return []
        pipe = self._r.pipeline(transaction=False)
        for order in orders:
            pipe.hdel(self.keys["orders"], order.client_order_id)
        removed = self._call(pipe.execute, "cancel orders")
        return [o.client_order_id for o, n in zip(orders, removed, strict=True) if n]

    # --- fills ------------------------------------------------------------------------------
    def apply_fill(
        self,
        *,
        client_order_id: str,
        symbol: str,
        side: Side,
        quantity: float,
        price: float,
        fee: float,
        filled_at: datetime,
        strategy: str | None = None,
        reduce_only: bool = False,
        position_id: str | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
        default_stop_loss: float | None = None,
        default_take_profit: float | None = None,
        reason: FillReason = FillReason.ORDER,
        require_open_order: bool = False,
    ) -> FillResult:
        """Apply one fill atomically (see the module docstring for the accounting).

        Parameters
        ----------
        reduce_only
            Never grow the position: skip the fill if it would open or add (publishing
            ``order.rejected``), and cut it (and its fee, pro rata) to the position's size.
        position_id
            Apply only while this position is open (exits: a replay after the position
            closed, or was replaced, is skipped).
        stop_loss, take_profit
            Explicit levels for the position this fill opens or adds to.
        default_stop_loss, default_take_profit
            Levels for a position that has none yet (ATR-based defaults).
        require_open_order
            Fill only while ``client_order_id`` is an open order (a cancel wins the race).

        Returns
        -------
        FillResult
            ``filled``, ``duplicate`` (the id was filled before: its first fill), or
            ``skipped`` with the reason.

        Example: ``ledger.apply_fill(client_order_id="o1", symbol="BTC/USDT", side=Side.BUY,
        quantity=0.1, price=50_000.0, fee=5.0, filled_at=at).fill``.
        """
        if not client_order_id or not symbol:
            raise DataError("apply_fill needs a client_order_id and a symbol")
        where = f"fill {client_order_id} of {symbol}"
        quantity = _finite(quantity, f"{where}: quantity", positive=True)
        price = _finite(price, f"{where}: price", positive=True)
        fee = _finite(fee, f"{where}: fee")
        for name, level in (
            ("stop_loss", stop_loss), ("take_profit", take_profit),
            ("default_stop_loss", default_stop_loss), ("default_take_profit", default_take_profit),
        ):  # fmt: skip
            if level is not None:
                _finite(level, f"{where}: {name}", positive=True)
        _aware(filled_at, f"{where}: filled_at")
        execution = Execution(
            client_order_id=client_order_id, symbol=symbol, quantity=side.sign * quantity,
            price=price, fee=fee, at=filled_at, strategy=strategy or None,
            stop_loss=stop_loss, take_profit=take_profit,
            default_stop_loss=default_stop_loss, default_take_profit=default_take_profit,
        )  # fmt: skip
        keys = [self.keys[k] for k in ("account", "positions", "orders", "fills", "fill_log")]
        keys.append(self.keys["closed"])
        common: list[str] = [client_order_id, symbol, "1" if require_open_order else "0"]
        for _ in range(_MAX_ATTEMPTS):
            known, position = self._current(symbol)
            plan = self._plan_fill(position, execution, side, reduce_only, position_id, reason)
            stream = self._rejected_stream if plan.action == "refuse" else self._trade_stream
            args = [*common, known, plan.action, *plan.args]
            result = self._call(
                lambda args=args, stream=stream: self._fill(
                    keys=[*keys, stream, self._stats], args=args
                ),
                f"apply {where}",
            )
            status = result[0]
            if status == "moved":  # another writer changed the position: compute again
                self._known[symbol] = result[1]
                continue
            if status == "duplicate":
                return FillResult(status="duplicate", fill=Fill.model_validate_json(result[1]))
            if status == "skipped":
                return FillResult(status="skipped", reason=result[1])
            if status in ("current", "refused"):
                if plan.event is not None:
                    self._written(plan.event)
                return FillResult(status="skipped", reason=plan.reason)
            self._known[symbol] = plan.position_text
            self._parsed[symbol] = (plan.position_text, plan.position)
            fill = cast(Fill, plan.fill)  # a 'fill' plan always has its fill
            log.info(
                "filled %s: %s %s %g @ %g (fee %g, realised %g)",
                client_order_id, symbol, fill.side, fill.quantity, fill.price, fill.fee,
                fill.realized_pnl,
            )  # fmt: skip
            if plan.event is not None:
                self._written(plan.event)
            return FillResult(status="filled", fill=fill, position=plan.position)
        raise TemporaryError(
            f"cannot apply {where}: the position kept changing under {_MAX_ATTEMPTS} attempts"
        )

    def _plan_fill(
        self,
        position: Position | None,
        execution: Execution,
        side: Side,
        reduce_only: bool,
        position_id: str | None,
        reason: FillReason,
    ) -> _FillPlan:
        """What applying ``execution`` to ``position`` writes (or why it writes nothing)."""
        coid, symbol = execution.client_order_id, execution.symbol
        if position_id and (position is None or position.id != position_id):
            return _FillPlan("none", reason=f"position {position_id} is no longer open")
        if reduce_only:
            if position is None or (position.quantity > 0) == (execution.quantity > 0):
                why = "reduce-only order would open or grow a position"
                rejected = Event.create(
                    ORDER_REJECTED,
                    {
                        "client_order_id": coid, "symbol": symbol, "side": side.value,
                        "quantity": abs(execution.quantity), "reason": why,
                        "check": "reduce_only", "strategy": execution.strategy,
                    },
                    source=self.source, occurred_at=execution.at, correlation_id=coid,
                )  # fmt: skip
                args = event_args(rejected, self._maxlen)
                return _FillPlan("refuse", args, rejected, reason=why)
            held = abs(position.quantity)
            if abs(execution.quantity) > held:  # cut to the position, and the fee pro rata
                execution = execution._replace(
                    quantity=side.sign * held,
                    fee=execution.fee * held / abs(execution.quantity),
                )
        applied = apply_fill(position, execution)
        quantity, price, fee = abs(execution.quantity), execution.price, execution.fee
        # Every value was checked above (apply_fill's arguments): no second validation.
        fill = Fill.model_construct(
            client_order_id=coid, symbol=symbol, side=side, quantity=quantity, price=price,
            fee=fee, realized_pnl=applied.realised, filled_at=execution.at,
            strategy=execution.strategy, position_id=applied.position_id, reason=reason,
        )  # fmt: skip
        # The event's payload is the validated fill's own fields: no second model here.
        event = entry_fields(
            new_event_id(), TRADE_EXECUTED, source=self.source, at=execution.at.isoformat(),
            payload=fill.model_dump_json(include=_TRADE_FIELDS), correlation_id=coid,
        )  # fmt: skip
        after = applied.position.model_dump_json() if applied.position is not None else ""
        closed = applied.closed.model_dump_json() if applied.closed is not None else ""
        args = [
            after, closed, str(self._closed_kept), repr(self.initial_cash),
            repr(execution.quantity * price), repr(fee), repr(applied.realised),
            fill.model_dump_json(), *event_args(event, self._maxlen),
        ]  # fmt: skip
        return _FillPlan("fill", args, event, fill=fill, position=applied.position,
                         position_text=after)  # fmt: skip

    def _current(self, symbol: str) -> tuple[str, Position | None]:
        """(the position text of ``symbol`` as last seen here, read when unknown; that
        position), parsed once per text."""
        known = self._known.get(symbol)
        if known is None:
            raw = self._call(lambda: self._r.hget(self.keys["positions"], symbol), "read positions")
            known = self._known[symbol] = raw or ""
        parsed = self._parsed.get(symbol)
        if parsed is not None and parsed[0] == known:
            return parsed
        position = Position.model_validate_json(known) if known else None
        self._parsed[symbol] = (known, position)
        return known, position

    def fill(self, client_order_id: str) -> Fill | None:
        """The fill of ``client_order_id``, or None."""
        raw = self._call(lambda: self._r.hget(self.keys["fills"], client_order_id), "read a fill")
        return None if raw is None else Fill.model_validate_json(raw)

    def fills(self, limit: int | None = None) -> list[Fill]:
        """Fills in the order they happened: all, or the last ``limit``."""
        if limit is not None and limit <= 0:
            return []
        start = 0 if limit is None else -limit
        ids = self._call(lambda: self._r.lrange(self.keys["fill_log"], start, -1), "read fills")
        if not ids:
            return []
        raw = self._call(lambda: self._r.hmget(self.keys["fills"], ids), "read fills")
        return [Fill.model_validate_json(entry) for entry in raw if entry is not None]

    # --- positions --------------------------------------------------------------------------
    def positions(self) -> dict[str, Position]:
        """Open positions by symbol."""
        raw = self._call(lambda: self._r.hgetall(self.keys["positions"]), "read positions")
        self._known = {**dict.fromkeys(self._known, ""), **raw}
        return {symbol: Position.model_validate_json(text) for symbol, text in sorted(raw.items())}

    def position(self, symbol: str) -> Position | None:
        """The open position in ``symbol``, or None."""
        raw = self._call(lambda: self._r.hget(self.keys["positions"], symbol), "read a position")
        self._known[symbol] = raw or ""
        return None if raw is None else Position.model_validate_json(raw)

    def set_stops(
        self,
        symbol: str,
        *,
        position_id: str | None = None,
        stop_loss: float | Keep | None = KEEP,
        take_profit: float | Keep | None = KEEP,
    ) -> Position | None:
        """Move a position's stop-loss and/or take-profit (``None`` removes one; leave an
        argument out to keep it). With ``position_id``, only while that position is open.
        Returns the updated position, or None when there is no such position.

        Example: ``ledger.set_stops("BTC/USDT", stop_loss=48_000.0)`` (trailing a stop).
        """
        levels: dict[str, float | None] = {}
        for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit)):
            if not isinstance(value, Keep):
                if value is not None:
                    _finite(value, f"{symbol}: {name}", positive=True)
                levels[name] = value
        self._known.pop(symbol, None)  # read it afresh: a stale "none" must not answer None
        for _ in range(_MAX_ATTEMPTS):
            known, position = self._current(symbol)
            if position is None or (position_id and position.id != position_id):
                return None
            moved = position.model_copy(update=levels)
            text = moved.model_dump_json()
            result = self._call(
                lambda known=known, text=text: self._put_position(
                    keys=[self.keys["positions"]], args=[symbol, known, text]
                ),
                "set stops",
            )
            if result[0] == "written":
                self._known[symbol] = text
                return moved
            self._known[symbol] = result[1]
        raise TemporaryError(
            f"cannot set the stops of {symbol}: the position kept changing under "
            f"{_MAX_ATTEMPTS} attempts"
        )

    def closed_positions(self, limit: int = 100) -> list[ClosedPosition]:
        """The last ``limit`` closed positions, newest first."""
        if limit <= 0:
            return []
        raw = self._call(
            lambda: self._r.lrange(self.keys["closed"], 0, limit - 1), "read closed positions"
        )
        return [ClosedPosition.model_validate_json(entry) for entry in raw]

    # --- bars processed (for the broker's next-bar rule) ------------------------------------
    def mark_bar(self, symbol: str, at: datetime) -> bool:
        """Record that the bar of ``symbol`` opening at ``at`` was processed. Time only moves
        forward: an older or equal ``at`` changes nothing (returns False). Each call writes
        the marks of every symbol: mark many bars with one :meth:`mark_bars`."""
        return self.mark_bars({symbol: at}) == 1

    def mark_bars(
        self,
        bars: Mapping[str, datetime],
        trailing: Mapping[str, TrailingStop] | None = None,
    ) -> int:
        """:meth:`mark_bar` for many symbols in one script call, storing the trailing stops
        that moved (by symbol) in the same call; returns how many bars moved.

        The marks of every symbol are one stored value: Python moves them on from the value
        it last read or wrote, and the script stores the result only if the stored value is
        still that one (else Python computes again from the current one), so concurrent
        writers lose nothing. Nothing moved and no trailing stop: no call at all."""
        trailing = trailing or {}
        stamps: dict[datetime, int] = {}  # a cycle's bars share a few times
        wanted: dict[str, int] = {}
        for symbol, at in bars.items():
            stamp = stamps.get(at)
            if stamp is None:
                stamp = stamps[at] = epoch_us(at)
            wanted[symbol] = stamp
        stops = [part for symbol, stop in trailing.items() for part in (symbol, stop.to_json())]
        keys = [self.keys[k] for k in ("bar_marks", "trail", "bars", "bar_step")]
        known = self._bar_marks or self._read_marks(
            self._call(lambda: self._r.get(keys[0]), "read the bars processed")
        )
        for _ in range(_MAX_ATTEMPTS):
            marks, moved = _moved_on(known.marks, wanted)
            if not moved and not stops:
                return 0
            text = _marks_text(marks) if moved else ""
            args = [known.text, text, *stops]
            reply = self._call(lambda args=args: self._mark_bars(keys=keys, args=args), "mark bars")
            if reply[0] == "ok":
                if moved:
                    self._bar_marks = _BarMarks(text, marks)
                return moved
            known = self._read_marks(reply[1])  # another writer moved them: compute again
        raise TemporaryError(
            f"cannot mark bars: the marks kept changing under {_MAX_ATTEMPTS} attempts"
        )

    def bar_view(self, symbols: Sequence[str]) -> BarView:
        """What the broker needs to process a bar of each of ``symbols``, read in one
        transaction (one round trip, whatever the number of symbols): the last bar
        processed and its spacing, every open order, every open position and every stored
        trailing stop."""
        pipe = self._r.pipeline(transaction=True)
        pipe.get(self.keys["bar_marks"])
        pipe.hvals(self.keys["orders"])
        pipe.hgetall(self.keys["positions"])
        pipe.hgetall(self.keys["trail"])
        text, orders, positions, trails = self._call(pipe.execute, "read the ledger for the bars")
        marks = self._read_marks(text).marks
        names = list(symbols)
        self._known.update(dict.fromkeys(names, ""))
        self._known.update(positions)
        seen: dict[tuple[int, int | None] | None, tuple[datetime | None, timedelta | None]] = {}
        last_bars = {}
        for symbol in names:
            mark = marks.get(symbol)
            pair = seen.get(mark)  # a cycle's symbols share a few (last, step)
            if pair is None:
                pair = seen[mark] = _bar_times(mark)
            last_bars[symbol] = pair
        return BarView(
            last_bars=last_bars,
            orders=self._orders(orders, None),
            positions={s: Position.model_validate_json(t) for s, t in positions.items()},
            trailing={s: TrailingStop.from_json(t) for s, t in trails.items()},
        )

    def last_bar(self, symbol: str) -> tuple[datetime | None, timedelta | None]:
        """(open time of the last bar processed for ``symbol``, spacing of the last two)."""
        text = self._call(lambda: self._r.get(self.keys["bar_marks"]), "read the last bar")
        return _bar_times(self._read_marks(text).marks.get(symbol))

    def _read_marks(self, text: str | None) -> _BarMarks:
        """The marks stored as ``text`` (parsed once: the last text seen is kept); with none
        stored, those of the two hashes that held them before, if any."""
        text = text or ""
        if self._bar_marks is not None and text == self._bar_marks.text:
            return self._bar_marks
        if text:
            marks = {
                symbol: pair
                for key, symbols in json.loads(text).items()
                for pair in (_mark_of(key),)
                for symbol in symbols
            }
        else:
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(self.keys["bars"])
            pipe.hgetall(self.keys["bar_step"])
            lasts, steps = self._call(pipe.execute, "read the bars processed")
            marks = {
                s: (int(last), None if steps.get(s) is None else int(steps[s]))
                for s, last in lasts.items()
            }
        self._bar_marks = read = _BarMarks(text, marks)
        return read

    # --- views ------------------------------------------------------------------------------
    def state(self, marks: Mapping[str, float] | None = None, *, fills: int = 100) -> LedgerState:
        """Everything at once, read atomically, valued at ``marks`` (a position without a
        mark is valued at its average price and listed in ``unmarked``); the last
        ``fills`` fills.

        Example: ``ledger.state({"BTC/USDT": 50_000.0}).unrealized_pnl``.
        """
        marks = dict(marks or {})
        pipe = self._r.pipeline(transaction=True)
        pipe.hgetall(self.keys["account"])
        pipe.hgetall(self.keys["positions"])
        pipe.hvals(self.keys["orders"])
        account, raw_positions, raw_orders = self._call(pipe.execute, "read the ledger")
        positions = {
            symbol: Position.model_validate_json(text)
            for symbol, text in sorted(raw_positions.items())
        }
        used: dict[str, float] = {}
        unmarked: list[str] = []
        for symbol, position in positions.items():
            mark = marks.get(symbol)
            if mark is None or not math.isfinite(mark) or mark <= 0:
                if mark is not None:
                    raise DataError(f"mark of {symbol}={mark!r} must be a finite price > 0")
                unmarked.append(symbol)
                mark = position.average_price
            used[symbol] = float(mark)
        initial = float(account.get("initial_cash", self.initial_cash))
        return LedgerState(
            cash=float(account.get("cash", initial)),
            initial_cash=initial,
            realized_pnl=float(account.get("realized_pnl", 0.0)),
            fees_paid=float(account.get("fees", 0.0)),
            positions=positions,
            marks=used,
            open_orders=self._orders(raw_orders, None),
            fills=self.fills(fills) if fills > 0 else [],
            unmarked=unmarked,
        )

    def snapshot(self, marks: Mapping[str, float] | None = None) -> PortfolioView:
        """Cash, positions at ``marks`` and the open-order count, as the risk checks read
        them; ``equity = cash + sum(quantity * mark)``.

        Example: ``ledger.snapshot({"BTC/USDT": 50_000.0}).equity``.
        """
        return self.state(marks, fills=0).portfolio_view()

    # --- internals --------------------------------------------------------------------------
    @staticmethod
    def _orders(raw: Iterable[str], symbol: str | None) -> list[Order]:
        orders = [Order.model_validate_json(text) for text in raw]
        if symbol is not None:
            orders = [o for o in orders if o.symbol == symbol]
        return sorted(orders, key=lambda o: o.seq)

    @staticmethod
    def _call(action: Any, what: str) -> Any:
        try:
            return action()
        except redis.RedisError as exc:
            raise TemporaryError(f"cannot {what}: {type(exc).__name__}: {exc}") from None

    def _written(self, event: Event | dict[str, str]) -> None:
        if self._bus is not None:  # the event is on its stream; tell the bus
            written = event if isinstance(event, Event) else decode_event(event)
            self._bus.notify_written([written])
