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
    ns:ledger:bars        hash: symbol -> open time (epoch us) of the last bar processed
    ns:ledger:bar_step    hash: symbol -> spacing (us) of the last two bars processed
    ns:events:trade.executed / ns:events:order.rejected   the event streams

Every change is one Lua script, so it happens whole or not at all and concurrent
writers (several processes filling different symbols) lose nothing. Applying a fill
moves cash, updates the position and realised PnL, removes the filled order, records
the fill and appends its ``trade.executed`` event, in one script; it is idempotent by
client order id (a second fill for an id returns the first). Numbers are stored as
round-trip text (``%.17g``), so a new :class:`Ledger` on the same namespace, in this
process or another, reads exactly the same state.

Accounting (signed quantity ``q``, average price ``a``; a fill of signed quantity ``d``
at price ``p`` with fee ``f``):

- cash changes by ``-d * p - f``;
- opening or adding: ``a`` becomes the quantity-weighted average; the fill realises
  ``-f`` (a fee is a realised cost when paid);
- reducing: ``min(|d|, |q|) * (p - a) * sign(q) - f`` is realised; ``a`` is unchanged;
- going through zero closes the position (into ``ns:ledger:closed``) and opens the rest
  in the new direction at ``p``, with the fee split pro rata.

So ``equity = cash + sum(q * mark) = initial_cash + realized_pnl + unrealized_pnl``.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

import redis

from components.errors import DataError, TemporaryError
from components.events.bus import EventBus
from components.events.models import Event, encode_event, new_event_id, stored_event
from components.events.redis_bus import stats_key, stream_key
from components.events.types import ORDER_REJECTED, TRADE_EXECUTED
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

log = logging.getLogger(__name__)

DEFAULT_INITIAL_CASH = 10_000.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# Shared Lua helpers: numbers as shortest round-trip text, optional values as JSON null.
_LUA_HELPERS = (
    LUA_NUM
    + r"""
local function opt_num(x) if x == nil then return 'null' end return num(x) end
local function opt_text(s) if s == nil or s == '' then return 'null' end return cjson.encode(s) end
local function arg_num(s) if s == '' then return nil end return tonumber(s) end
local function present(v) if v == cjson.null then return nil end return v end
local function decode_position(raw)
  local pos = cjson.decode(raw)
  pos.stop_loss = present(pos.stop_loss)
  pos.take_profit = present(pos.take_profit)
  pos.strategy = present(pos.strategy)
  return pos
end
local function encode_position(pos)
  return '{"id":' .. cjson.encode(pos.id) .. ',"symbol":' .. cjson.encode(pos.symbol)
    .. ',"quantity":' .. num(pos.quantity) .. ',"average_price":' .. num(pos.average_price)
    .. ',"realized_pnl":' .. num(pos.realized_pnl) .. ',"fees":' .. num(pos.fees)
    .. ',"stop_loss":' .. opt_num(pos.stop_loss) .. ',"take_profit":'
    .. opt_num(pos.take_profit) .. ',"strategy":' .. opt_text(pos.strategy)
    .. ',"opened_at":' .. cjson.encode(pos.opened_at) .. ',"updated_at":'
    .. cjson.encode(pos.updated_at) .. '}'
end
"""
)

# KEYS: account, positions, orders, fills, fill log, closed, trade stream, rejected stream,
#       bus stats
# ARGV: 1 client order id, 2 symbol, 3 side sign, 4 quantity, 5 price, 6 fee, 7 filled at,
#       8 strategy, 9 reduce only, 10 position id it must trade against ('' = any),
#       11 stop loss, 12 take profit (explicit, '' = none), 13 default stop loss,
#       14 default take profit, 15 reason, 16 must be an open order, 17 event id,
#       18 source, 19 stream maxlen, 20 initial cash, 21 closed kept, 22 rejected event id
_FILL_SCRIPT = (
    _LUA_HELPERS
    + r"""
local coid, symbol = ARGV[1], ARGV[2]
local previous = redis.call('HGET', KEYS[4], coid)
if previous then return {'duplicate', previous} end
if ARGV[16] == '1' and redis.call('HEXISTS', KEYS[3], coid) == 0 then
  return {'skipped', 'order ' .. coid .. ' is not open (cancelled, or never accepted)'}
end
local sign, qty = tonumber(ARGV[3]), tonumber(ARGV[4])
local price, fee = tonumber(ARGV[5]), tonumber(ARGV[6])
local at, strategy, reason = ARGV[7], ARGV[8], ARGV[15]
local side = 'sell'
if sign > 0 then side = 'buy' end

local pos = nil
local raw = redis.call('HGET', KEYS[2], symbol)
if raw then pos = decode_position(raw) end
local q = 0
if pos then q = pos.quantity end
if ARGV[10] ~= '' and (pos == nil or pos.id ~= ARGV[10]) then
  return {'skipped', 'position ' .. ARGV[10] .. ' is no longer open'}
end
if ARGV[9] == '1' then
  if q == 0 or (q > 0) == (sign > 0) then
    local why = 'reduce-only order would open or grow a position'
    redis.call('HDEL', KEYS[3], coid)
    local rejected = '{"client_order_id":' .. cjson.encode(coid) .. ',"symbol":'
      .. cjson.encode(symbol) .. ',"side":"' .. side .. '","quantity":' .. num(qty)
      .. ',"reason":' .. cjson.encode(why) .. ',"check":"reduce_only","strategy":'
      .. opt_text(strategy) .. '}'
    redis.call('XADD', KEYS[8], 'MAXLEN', '~', ARGV[19], '*', 'id', ARGV[22], 'type',
      'order.rejected', 'source', ARGV[18], 'at', at, 'cid', coid, 'payload', rejected)
    redis.call('HINCRBY', KEYS[9], 'published', 1)
    return {'skipped', why, rejected}
  end
  if qty > math.abs(q) then
    fee = fee * math.abs(q) / qty
    qty = math.abs(q)
  end
end

local account = KEYS[1]
redis.call('HSETNX', account, 'initial_cash', ARGV[20])
redis.call('HSETNX', account, 'cash', ARGV[20])
local d = sign * qty
local cash = tonumber(redis.call('HGET', account, 'cash')) - d * price - fee
local realized = -fee
local sl, tp = arg_num(ARGV[11]), arg_num(ARGV[12])
local default_sl, default_tp = arg_num(ARGV[13]), arg_num(ARGV[14])
local position_id = coid
local closed = nil

local function open_position(quantity, opening_fee)
  local s = nil
  if strategy ~= '' then s = strategy end
  return {id = coid, symbol = symbol, quantity = quantity, average_price = price,
          realized_pnl = -opening_fee, fees = opening_fee, stop_loss = sl or default_sl,
          take_profit = tp or default_tp, strategy = s, opened_at = at}
end

if q == 0 then
  pos = open_position(d, fee)
elseif (q > 0) == (d > 0) then
  position_id = pos.id
  local total = q + d
  pos.average_price = (q * pos.average_price + d * price) / total
  pos.quantity = total
  pos.realized_pnl = pos.realized_pnl - fee
  pos.fees = pos.fees + fee
  pos.stop_loss = sl or pos.stop_loss or default_sl
  pos.take_profit = tp or pos.take_profit or default_tp
else
  position_id = pos.id
  local direction = 1
  if q < 0 then direction = -1 end
  local gain = math.min(qty, math.abs(q)) * (price - pos.average_price) * direction
  realized = gain - fee
  local rest = q + d
  if math.abs(rest) <= 1e-9 * math.abs(q) then rest = 0 end  -- float dust: closed
  if rest ~= 0 and (rest > 0) == (q > 0) then
    pos.quantity = rest
    pos.realized_pnl = pos.realized_pnl + realized
    pos.fees = pos.fees + fee
  else
    local opening_fee = 0
    if rest ~= 0 then opening_fee = fee * math.abs(rest) / qty end
    local closing_fee = fee - opening_fee
    local kind = 'long'
    if q < 0 then kind = 'short' end
    closed = '{"id":' .. cjson.encode(pos.id) .. ',"symbol":' .. cjson.encode(symbol)
      .. ',"direction":"' .. kind .. '","average_price":' .. num(pos.average_price)
      .. ',"exit_price":' .. num(price)
      .. ',"realized_pnl":' .. num(pos.realized_pnl + gain - closing_fee)
      .. ',"fees":' .. num(pos.fees + closing_fee) .. ',"strategy":' .. opt_text(pos.strategy)
      .. ',"opened_at":' .. cjson.encode(pos.opened_at) .. ',"closed_at":' .. cjson.encode(at)
      .. ',"exit_order_id":' .. cjson.encode(coid) .. '}'
    if rest == 0 then pos = nil else pos = open_position(rest, opening_fee) end
  end
end

if pos then
  pos.updated_at = at
  redis.call('HSET', KEYS[2], symbol, encode_position(pos))
else
  redis.call('HDEL', KEYS[2], symbol)
end
if closed then
  redis.call('LPUSH', KEYS[6], closed)
  redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[21]) - 1)
end

local total_realized = tonumber(redis.call('HGET', account, 'realized_pnl') or '0') + realized
local total_fees = tonumber(redis.call('HGET', account, 'fees') or '0') + fee
redis.call('HSET', account, 'cash', num(cash), 'realized_pnl', num(total_realized),
  'fees', num(total_fees))
redis.call('HINCRBY', account, 'fills', 1)

local common = '"client_order_id":' .. cjson.encode(coid) .. ',"symbol":' .. cjson.encode(symbol)
  .. ',"side":"' .. side .. '","quantity":' .. num(qty) .. ',"price":' .. num(price)
  .. ',"fee":' .. num(fee) .. ',"realized_pnl":' .. num(realized) .. ',"filled_at":'
  .. cjson.encode(at) .. ',"strategy":' .. opt_text(strategy)
local payload = '{' .. common .. '}'
local fill = '{' .. common .. ',"position_id":' .. cjson.encode(position_id) .. ',"reason":'
  .. cjson.encode(reason) .. '}'
redis.call('HDEL', KEYS[3], coid)
redis.call('HSET', KEYS[4], coid, fill)
redis.call('RPUSH', KEYS[5], coid)
redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[19], '*', 'id', ARGV[17], 'type',
  'trade.executed', 'source', ARGV[18], 'at', at, 'cid', coid, 'payload', payload)
redis.call('HINCRBY', KEYS[9], 'published', 1)
return {'filled', fill, payload}
"""
)

# KEYS: acks, orders, fills, account, rejected stream, bus stats
# ARGV: 1 client order id, 2 ack (JSON), 3 order (JSON without seq; '' = rejected),
#       4 stream maxlen, 5.. the order.rejected event's stream fields when rejected
_SUBMIT_SCRIPT = r"""
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
  redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
  redis.call('HINCRBY', KEYS[6], 'published', 1)
end
return {1, ARGV[2]}
"""

# KEYS: last bar, bar spacing; ARGV: symbol, bar open time (epoch us)
_MARK_BAR_SCRIPT = r"""
local current = redis.call('HGET', KEYS[1], ARGV[1])
local at = tonumber(ARGV[2])
if current then
  current = tonumber(current)
  if at <= current then return 0 end
  redis.call('HSET', KEYS[2], ARGV[1], string.format('%d', at - current))
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

# KEYS: bars, bar steps; ARGV: symbol, open time (us), symbol, open time, ... (forward only)
_MARK_BARS_SCRIPT = r"""
local marked = 0
for i = 1, #ARGV, 2 do
  local symbol, at = ARGV[i], tonumber(ARGV[i + 1])
  local current = redis.call('HGET', KEYS[1], symbol)
  local later = true
  if current then
    current = tonumber(current)
    if at <= current then later = false
    else redis.call('HSET', KEYS[2], symbol, string.format('%d', at - current)) end
  end
  if later then
    redis.call('HSET', KEYS[1], symbol, ARGV[i + 1])
    marked = marked + 1
  end
end
return marked
"""

# KEYS: positions; ARGV: 1 symbol, 2 position id ('' = any), 3 'set'|'keep' and
# 4 stop loss ('' = none), 5 'set'|'keep' and 6 take profit
_SET_STOPS_SCRIPT = (
    _LUA_HELPERS
    + r"""
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return false end
local pos = decode_position(raw)
if ARGV[2] ~= '' and pos.id ~= ARGV[2] then return false end
if ARGV[3] == 'set' then pos.stop_loss = arg_num(ARGV[4]) end
if ARGV[5] == 'set' then pos.take_profit = arg_num(ARGV[6]) end
local text = encode_position(pos)
redis.call('HSET', KEYS[1], ARGV[1], text)
return text
"""
)


@dataclass(frozen=True)
class BarView:
    """The ledger as the broker reads it for one batch of bars (:meth:`Ledger.bar_view`)."""

    last_bars: dict[str, tuple[datetime | None, timedelta | None]]
    orders: list[Order]
    positions: dict[str, Position]


class Keep(Enum):
    """Leave a level as it is (the default of :meth:`Ledger.set_stops`)."""

    KEEP = "keep"


KEEP = Keep.KEEP


def _iso(at: datetime) -> str:
    return at.isoformat()


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


def _arg(value: float | None) -> str:
    return "" if value is None else repr(float(value))


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
                "fill_log", "closed", "bars", "bar_step",
            )
        }  # fmt: skip
        self._trade_stream = stream_key(namespace, TRADE_EXECUTED)
        self._rejected_stream = stream_key(namespace, ORDER_REJECTED)
        self._stats = stats_key(namespace)
        self._fill = client.register_script(_FILL_SCRIPT)
        self._submit = client.register_script(_SUBMIT_SCRIPT)
        self._mark_bar = client.register_script(_MARK_BAR_SCRIPT)
        self._mark_bars = client.register_script(_MARK_BARS_SCRIPT)
        self._set_stops = client.register_script(_SET_STOPS_SCRIPT)

    @classmethod
    def connect(cls, settings: Any, *, bus: EventBus | None = None) -> Ledger:
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
        args: list[Any] = [coid, json.dumps(ack), "", self._maxlen]
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
            args += [item for pair in encode_event(event).items() for item in pair]
        keys = [self.keys[k] for k in ("acks", "orders", "fills", "account")]
        keys += [self._rejected_stream, self._stats]
        fresh, answer = self._call(lambda: self._submit(keys=keys, args=args), "record an order")
        stored = json.loads(answer)
        if fresh and event is not None:
            self._mirror([event])
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
        at = _iso(_aware(filled_at, f"{where}: filled_at"))
        event_id, rejected_id = new_event_id(), new_event_id()
        keys = [self.keys[k] for k in ("account", "positions", "orders", "fills", "fill_log")]
        keys += [self.keys["closed"], self._trade_stream, self._rejected_stream, self._stats]
        args: list[str | int] = [
            client_order_id, symbol, side.sign, repr(quantity), repr(price), repr(fee), at,
            strategy or "", "1" if reduce_only else "0", position_id or "",
            _arg(stop_loss), _arg(take_profit), _arg(default_stop_loss),
            _arg(default_take_profit), reason.value, "1" if require_open_order else "0",
            event_id, self.source, self._maxlen, repr(self.initial_cash), self._closed_kept,
            rejected_id,
        ]  # fmt: skip
        result = self._call(lambda: self._fill(keys=keys, args=args), f"apply {where}")
        status = result[0]
        if status == "skipped":
            if len(result) > 2:  # a reduce-only order was refused: mirror its event
                self._mirror_fields(rejected_id, ORDER_REJECTED, at, client_order_id, result[2])
            return FillResult(status="skipped", reason=result[1])
        fill = Fill.model_validate_json(result[1])
        if status == "filled":
            log.info(
                "filled %s: %s %s %g @ %g (fee %g, realised %g)",
                client_order_id, symbol, fill.side, fill.quantity, fill.price, fill.fee,
                fill.realized_pnl,
            )  # fmt: skip
            self._mirror_fields(event_id, TRADE_EXECUTED, at, client_order_id, result[2])
        return FillResult(status=status, fill=fill)

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
        return {symbol: Position.model_validate_json(text) for symbol, text in sorted(raw.items())}

    def position(self, symbol: str) -> Position | None:
        """The open position in ``symbol``, or None."""
        raw = self._call(lambda: self._r.hget(self.keys["positions"], symbol), "read a position")
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
        args = [symbol, position_id or ""]
        for name, value in (("stop_loss", stop_loss), ("take_profit", take_profit)):
            if isinstance(value, Keep):
                args += ["keep", ""]
            else:
                if value is not None:
                    _finite(value, f"{symbol}: {name}", positive=True)
                args += ["set", _arg(value)]
        raw = self._call(
            lambda: self._set_stops(keys=[self.keys["positions"]], args=args), "set stops"
        )
        return Position.model_validate_json(raw) if raw else None

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
        forward: an older or equal ``at`` changes nothing (returns False)."""
        keys = [self.keys["bars"], self.keys["bar_step"]]
        changed = self._call(
            lambda: self._mark_bar(keys=keys, args=[symbol, str(epoch_us(at))]), "mark a bar"
        )
        return bool(changed)

    def mark_bars(self, bars: Mapping[str, datetime]) -> int:
        """:meth:`mark_bar` for many symbols in one script call; returns how many moved."""
        if not bars:
            return 0
        args = [part for symbol, at in bars.items() for part in (symbol, str(epoch_us(at)))]
        keys = [self.keys["bars"], self.keys["bar_step"]]
        marked = self._call(lambda: self._mark_bars(keys=keys, args=args), "mark bars")
        return int(marked)

    def bar_view(self, symbols: Sequence[str]) -> BarView:
        """What the broker needs to process a bar of each of ``symbols``, read in one
        transaction (one round trip, whatever the number of symbols): the last bar
        processed and its spacing, every open order, every open position."""
        pipe = self._r.pipeline(transaction=True)
        names = list(symbols)
        if names:
            pipe.hmget(self.keys["bars"], names)
            pipe.hmget(self.keys["bar_step"], names)
        pipe.hvals(self.keys["orders"])
        pipe.hgetall(self.keys["positions"])
        replies = self._call(pipe.execute, "read the ledger for the bars")
        lasts, steps = (replies[0], replies[1]) if names else ([], [])
        orders, positions = replies[-2], replies[-1]
        return BarView(
            last_bars={
                symbol: (
                    None if last is None else _from_epoch_us(last),
                    None if step is None else int(step) * _MICROSECOND,
                )
                for symbol, last, step in zip(names, lasts, steps, strict=True)
            },
            orders=self._orders(orders, None),
            positions={s: Position.model_validate_json(t) for s, t in positions.items()},
        )

    def last_bar(self, symbol: str) -> tuple[datetime | None, timedelta | None]:
        """(open time of the last bar processed for ``symbol``, spacing of the last two)."""
        pipe = self._r.pipeline(transaction=True)
        pipe.hget(self.keys["bars"], symbol)
        pipe.hget(self.keys["bar_step"], symbol)
        last, step = self._call(pipe.execute, "read the last bar")
        return (
            None if last is None else _from_epoch_us(last),
            None if step is None else int(step) * _MICROSECOND,
        )

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

    def _mirror_fields(
        self, event_id: str, event_type: str, at: str, correlation: str, payload: str
    ) -> None:
        if self._bus is None:
            return
        self._mirror([stored_event(event_id, event_type, source=self.source, at=at,
                                   payload=payload, correlation_id=correlation)])  # fmt: skip

    def _mirror(self, events: list[Event]) -> None:
        if self._bus is not None:  # the events are on the stream; the mirrors see them too
            self._bus.notify_mirrors(events)
