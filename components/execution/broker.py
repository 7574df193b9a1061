"""The Broker protocol and the PaperBroker, which fills orders on bars through the ledger.

Fill rules (prices from :mod:`components.execution.costs`):

- **Next bar only.** An order is filled no earlier than the first bar *after* its
  submission: a bar opening at ``at`` may fill it when ``at`` is later than every bar the
  broker had processed for the symbol at submission, and the bar had not closed before
  the order was created (``at + bar spacing > created_at``; with the spacing still
  unknown, ``at >= created_at``). See :attr:`Order.eligible_after`.
- **Market** orders fill at that bar's open with spread and slippage; **limit** orders when
  the bar trades through the limit, at the limit or the better open; fees in basis points.
- **At the open, as soon as it is known.** :meth:`PaperBroker.on_opens` fills at a bar's
  open while the bar is still forming (the engine asks right after placing its orders);
  :meth:`PaperBroker.on_bars` fills, when the bar closes, whatever the open did not (a
  limit reached inside the bar, or an order whose open was never seen). Either way the
  price is the same open, so a backtest and paper trading agree; the fill is only seen
  minutes sooner.
- **Default exit levels** come from the ATR known at the fill: the bars before the one
  the order fills on (``entry_atr``), never the fill bar's own range.
- **Idempotent.** Submitting a client order id seen before (open, filled, cancelled or
  refused) places nothing and returns the first answer with ``duplicate=True``; a fill
  for an id already filled is a no-op. Both hold across restarts: the state is the
  ledger's, in Redis.
- **Stop-loss and take-profit** per position (from the order, else ``BrokerConfig``'s
  ATR multiples around the fill price) are checked on every bar, the bar of the entry
  included (the entry fills at the open; the rest of the bar comes after it): a bar whose
  range reaches the stop closes the position at the stop (or at the open, if it gapped
  through), plus spread and slippage; the take-profit at the target (or the better
  open). If one bar reaches both, the stop is assumed hit first (the cautious reading).
  The exit's client order id is ``f"{position.id}:sl"`` (or ``:tp``), so a replayed bar
  cannot close a position twice.
- **Reduce-only** orders never grow a position: refused at submission when there is
  nothing to reduce, cut to the position's size at the fill, skipped if it has flipped.

Each fill publishes ``trade.executed`` in the same Lua script that changes the ledger.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol, TypeAlias, runtime_checkable

import numpy as np
import pandas as pd

from components.errors import DataError
from components.execution.config import BrokerConfig
from components.execution.costs import CostModel, limit_fill_price
from components.execution.exits import ExitLevels, entry_levels, exit_along
from components.execution.ledger import BarView, Ledger, TrailingStop
from components.execution.models import (
    Fill,
    FillReason,
    FillResult,
    Order,
    OrderAck,
    Position,
)
from components.indicators import atr as average_true_range
from components.trading.types import OrderIntent, OrderType, Side

log = logging.getLogger(__name__)

_MICROSECOND = timedelta(microseconds=1)


class Bar(NamedTuple):
    """One OHLC bar (the row of a Bars frame), optionally with its spread in bps.

    A named tuple (immutable, and made ten times faster than a frozen dataclass: the
    engine makes one per symbol per cycle)."""

    open: float
    high: float
    low: float
    close: float
    spread_bps: float | None = None

    @classmethod
    def of(cls, value: Bar | Mapping[str, Any] | pd.Series, *, where: str = "bar") -> Bar:
        """A validated bar from a Bars row (``pandas.Series``), a mapping or a :class:`Bar`.

        Raises
        ------
        DataError
            A price is missing, not finite or not positive, or ``high``/``low`` do not
            bracket ``open`` and ``close``; the message names ``where``.

        Example: ``Bar.of(bars.iloc[-1], where="BTC/USDT 2026-01-01T00:00Z")``.
        """
        if isinstance(value, Bar):
            bar = value
        else:
            try:
                prices = {name: float(value[name]) for name in ("open", "high", "low", "close")}
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{where}: needs numeric open, high, low, close ({exc})") from None
            spread = value.get("spread_bps") if hasattr(value, "get") else None
            bar = cls(**prices, spread_bps=None if spread is None else float(spread))
        for name in ("open", "high", "low", "close"):
            price = getattr(bar, name)
            if not math.isfinite(price) or price <= 0:
                raise DataError(f"{where}: {name}={price!r} must be a finite price > 0")
        if not bar.low <= min(bar.open, bar.close) or not bar.high >= max(bar.open, bar.close):
            raise DataError(
                f"{where}: high={bar.high!r} and low={bar.low!r} must bracket "
                f"open={bar.open!r} and close={bar.close!r}"
            )
        return bar


BarLike: TypeAlias = Bar | Mapping[str, Any] | pd.Series


class BarUpdate(NamedTuple):
    """A closed bar of one symbol for :meth:`PaperBroker.on_bars` (a named tuple, as
    :class:`Bar`): the bar, its open time, the ATR through it (``atr``: the trailing stop
    moves by it after the bar), the ATR known before it (``entry_atr``: default exit
    levels of a position it opens at its open), and an observed spread, if any. Without
    them the broker's own ATR of the bars before is used."""

    symbol: str
    bar: BarLike
    at: datetime
    atr: float | None = None
    spread_bps: float | None = None
    entry_atr: float | None = None


class BarOpen(NamedTuple):
    """The open of a bar of one symbol that is still forming, for
    :meth:`PaperBroker.on_opens`: the price, the bar's open time, the ATR known at it
    (default exit levels of the positions it opens) and an observed spread, if any."""

    symbol: str
    price: float
    at: datetime
    atr: float | None = None
    spread_bps: float | None = None


def _by_symbol(orders: Sequence[Order]) -> dict[str, list[Order]]:
    """``orders`` by symbol, each symbol's in the given (submission) order."""
    grouped: dict[str, list[Order]] = {}
    for order in orders:
        grouped.setdefault(order.symbol, []).append(order)
    return grouped


def _checked(update: BarUpdate) -> Bar:
    """``update``'s bar, validated as :meth:`Bar.of` does (its message only when it fails:
    a well-formed :class:`Bar`, the engine's case, costs one comparison chain)."""
    bar, at = update.bar, update.at
    if at.tzinfo is None or at.utcoffset() is None:
        raise DataError(
            f"{update.symbol} bar at {at.isoformat()}: the time has no time zone; "
            "pass a tz-aware (UTC) time"
        )
    # NaN fails every comparison; a finite high above a positive low bounds them all.
    if isinstance(bar, Bar) and (
        0.0 < bar.low <= bar.open <= bar.high < math.inf and bar.low <= bar.close <= bar.high
    ):
        return bar
    return Bar.of(bar, where=f"{update.symbol} bar at {at.isoformat()}")


@runtime_checkable
class Broker(Protocol):
    """Where order intents go. Paper today; an exchange adapter keeps the same surface."""

    def submit(self, intent: OrderIntent) -> OrderAck:
        """Accept (or refuse, with the reason) an order; never twice for one client id."""
        ...

    def cancel(self, client_order_id: str) -> bool:
        """Cancel an open order; False when it is not open."""
        ...

    def cancel_all(self, symbol: str | None = None) -> list[str]:
        """Cancel every open order (of ``symbol``); returns the ids cancelled."""
        ...

    def on_bar(
        self, symbol: str, bar: BarLike, at: datetime, *, atr: float | None = None
    ) -> list[Fill]:
        """Process a closed bar of ``symbol`` opening at ``at`` (``atr``: its ATR, for
        default stops); returns the new fills."""
        ...

    def on_bars(self, updates: Sequence[BarUpdate]) -> list[Fill]:
        """:meth:`on_bar` for the newest bar of many symbols (an engine cycle's)."""
        ...

    def on_opens(self, opens: Sequence[BarOpen]) -> list[Fill]:
        """Fill what the opens of bars still forming fill, as soon as they are known; a
        broker whose fills come from elsewhere (an exchange) gives none."""
        ...

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders in submission order."""
        ...


class PaperBroker:
    """Simulated execution on bars, with its state in a :class:`Ledger` (module docstring).

    >>> broker = PaperBroker(Ledger(client, namespace="qt"), CostModel())
    >>> broker.submit(intent); broker.on_bar("BTC/USDT", bars.iloc[-1], bars.index[-1])
    """

    def __init__(
        self,
        ledger: Ledger,
        cost_model: CostModel | None = None,
        config: BrokerConfig | None = None,
    ) -> None:
        self.ledger = ledger
        self.cost_model = cost_model or CostModel()
        self.config = config or BrokerConfig()
        # Recent bars per symbol for the default-stop ATR (rebuilt from the bars fed in).
        self._history: dict[str, deque[Bar]] = {}

    # --- orders -----------------------------------------------------------------------------
    def submit(self, intent: OrderIntent) -> OrderAck:
        """Accept ``intent`` as an open order, or refuse it with the reason (publishing
        ``order.rejected``). A client order id seen before returns its first answer with
        ``duplicate=True`` and places nothing.

        Example: ``broker.submit(intent).accepted``.
        """
        created = intent.created_at
        if created.tzinfo is None or created.utcoffset() is None:
            raise DataError(
                f"order {intent.client_order_id}: created_at={created.isoformat()} has no "
                "time zone; pass a tz-aware (UTC) time"
            )
        last, step = self.ledger.last_bar(intent.symbol)
        # The bar open at `created` may fill (its close is later); one that closed before
        # it may not. Without a known spacing, only bars opening at or after `created`.
        not_before = created - step if step is not None else created - _MICROSECOND
        eligible_after = max(not_before, last) if last is not None else not_before
        order = Order.from_intent(intent, eligible_after=eligible_after)
        refusal = self._refusal(intent)
        if refusal is not None:
            check, reason = refusal
            ack = self.ledger.record_order(order, rejected=reason, check=check)
            if not ack.duplicate:
                log.warning("refused order %s: %s", intent.client_order_id, reason)
            return ack
        return self.ledger.record_order(order)

    def _refusal(self, intent: OrderIntent) -> tuple[str, str] | None:
        """(check, reason) when the intent cannot be placed as given."""
        if intent.type is OrderType.LIMIT and intent.limit_price is None:
            return "order_type", "a limit order needs a limit_price"
        if intent.type is OrderType.MARKET and intent.limit_price is not None:
            return "order_type", "a market order takes no limit_price; use type=limit"
        if intent.reduce_only:
            position = self.ledger.position(intent.symbol)
            if position is None or position.sign == intent.side.sign:
                return "reduce_only", "reduce-only order would open or grow a position"
            return None
        sign, price = intent.side.sign, intent.limit_price or intent.reference_price
        if intent.stop_loss is not None and (intent.stop_loss - price) * sign >= 0:
            side = "below" if sign > 0 else "above"
            return "stop_loss", (
                f"stop_loss={intent.stop_loss:g} must be {side} the price {price:g} "
                f"for a {intent.side.value}"
            )
        if intent.take_profit is not None and (intent.take_profit - price) * sign <= 0:
            side = "above" if sign > 0 else "below"
            return "take_profit", (
                f"take_profit={intent.take_profit:g} must be {side} the price {price:g} "
                f"for a {intent.side.value}"
            )
        return None

    def cancel(self, client_order_id: str) -> bool:
        """Cancel an open order; False when it is not open (filled, cancelled, unknown).

        Example: ``broker.cancel("momentum:BTC/USDT:2026-01-01T10")``.
        """
        return self.ledger.cancel_order(client_order_id)

    def cancel_all(self, symbol: str | None = None) -> list[str]:
        """Cancel every open order (of ``symbol``, or all); returns the ids cancelled.

        Example: ``broker.cancel_all()`` when the Emergency Stop halts trading.
        """
        return self.ledger.cancel_orders(symbol)

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """Open orders (of ``symbol``, or all) in submission order."""
        return self.ledger.open_orders(symbol)

    # --- bars -------------------------------------------------------------------------------
    def on_bar(
        self,
        symbol: str,
        bar: BarLike,
        at: datetime,
        *,
        atr: float | None = None,
        spread_bps: float | None = None,
        entry_atr: float | None = None,
    ) -> list[Fill]:
        """Fill what this bar fills: eligible open orders of ``symbol`` (in submission
        order), then the position's stop-loss or take-profit.

        Parameters
        ----------
        bar
            A closed bar (a Bars row: ``open``, ``high``, ``low``, ``close``; optionally
            ``spread_bps``).
        at
            The bar's open time (the Bars index); the fills' ``filled_at``.
        atr
            ATR through this bar, for the trailing stop; without it, the broker's own ATR
            of the bars it was given.
        spread_bps
            Observed spread (e.g. :func:`~components.execution.costs.spread_bps_of` of a
            ticker); else the bar's, else the cost model's.
        entry_atr
            ATR known before this bar, for the default exit levels of positions it opens
            at its open; without it, the broker's own ATR of the bars before.

        Returns
        -------
        list[Fill]
            The new fills (none for a bar older than the last one processed; a bar
            processed again fills nothing twice).

        Example: ``broker.on_bar("BTC/USDT", bars.iloc[-1], bars.index[-1])``.
        """
        update = BarUpdate(symbol, bar, at, atr=atr, spread_bps=spread_bps, entry_atr=entry_atr)
        return self.on_bars([update])

    def on_bars(self, updates: Sequence[BarUpdate]) -> list[Fill]:
        """:meth:`on_bar` for a closed bar of each of many symbols (an engine cycle's), with
        the ledger read in one round trip and every bar marked in one more: the number of
        Redis commands does not grow with the symbols, only with the fills.

        Every bar is checked before anything is written (a bad one raises
        :class:`~components.errors.DataError` naming it, and nothing changes).

        Example: ``broker.on_bars([BarUpdate("BTC/USDT", bar, at, atr=412.0), ...])``.
        """
        checked = [(update, _checked(update)) for update in updates]
        if not checked:
            return []
        view = self.ledger.bar_view([update.symbol for update, _ in checked])
        orders = _by_symbol(view.orders)
        fills: list[Fill] = []
        marks: dict[str, datetime] = {}
        trailing: dict[str, TrailingStop] = {}  # the trailing stops that moved
        for update, ohlc in checked:
            symbol, at = update.symbol, update.at
            last, _ = view.last_bars[symbol]
            if last is not None and at < last:
                log.debug("%s bar at %s: older than the last processed (%s)", symbol, at, last)
                continue
            if symbol in orders or symbol in view.positions:  # else the bar fills nothing
                fills += self._process_bar(update, ohlc, orders.get(symbol, []), view, trailing)
            marks[symbol] = max(at, marks.get(symbol, at))
            self._remember(symbol, ohlc, at, last)
        self.ledger.mark_bars(marks, trailing)
        return fills

    def on_opens(self, opens: Sequence[BarOpen]) -> list[Fill]:
        """Fill at once what the open of a bar still forming fills: the open orders of
        its symbol that the bar may fill (:meth:`Order.may_fill_on`), in submission order:
        market orders at the open, with spread and slippage; limit orders the open reaches,
        at the better open. It is what :meth:`on_bars` fills at the same open when the bar
        closes, minutes sooner. Exits wait for the close (the bar's range is not known
        yet), and the bar is not marked processed, so its close still checks them.

        The ledger is read in one round trip; each fill is one more.

        Raises
        ------
        DataError
            An open is not a positive finite price, or its time has no time zone (nothing
            is filled).

        Example: ``broker.on_opens([BarOpen("BTC/USDT", 64_210.5, at, atr=412.0)])``.
        """
        for bar_open in opens:
            if bar_open.at.tzinfo is None or bar_open.at.utcoffset() is None:
                raise DataError(
                    f"{bar_open.symbol} open at {bar_open.at.isoformat()}: the time has no "
                    "time zone; pass a tz-aware (UTC) time"
                )
            if not 0.0 < bar_open.price < math.inf:
                raise DataError(
                    f"{bar_open.symbol} open at {bar_open.at.isoformat()}: price "
                    f"{bar_open.price!r} is not a positive number"
                )
        if not opens:
            return []
        orders = _by_symbol(self.ledger.bar_view([o.symbol for o in opens]).orders)
        fills: list[Fill] = []
        for bar_open in opens:
            price = bar_open.price
            filled, _ = self._fill_eligible(
                orders.get(bar_open.symbol, []),
                Bar(price, price, price, price),
                bar_open.at,
                self.cost_model.spread_for(bar_open.spread_bps),
                bar_open.atr,
            )
            fills += filled
        return fills

    def _process_bar(
        self,
        update: BarUpdate,
        ohlc: Bar,
        orders: list[Order],
        view: BarView,
        trailing: dict[str, TrailingStop],
    ) -> list[Fill]:
        """Fill what one bar fills: eligible open orders of its symbol (in submission
        order), then the position's stop-loss or take-profit. A trailing stop that moved
        goes into ``trailing`` (written with the bar marks)."""
        symbol, at, atr, entry_atr = update.symbol, update.at, update.atr, update.entry_atr
        spread = self.cost_model.spread_for(
            update.spread_bps if update.spread_bps is not None else ohlc.spread_bps
        )
        fills, last = self._fill_eligible(orders, ohlc, at, spread, entry_atr)
        position = last.position if last is not None else view.positions.get(symbol)
        if atr is None and self.config.trailing_atr is not None:
            atr = self._atr(symbol)
        stored = trailing.get(symbol) or view.trailing.get(symbol)
        exit_fill, moved = self._check_exits(position, stored, ohlc, at, spread, atr)
        if exit_fill is not None:
            fills.append(exit_fill)
        if moved is not None:
            trailing[symbol] = moved
        return fills

    def _fill_eligible(
        self, orders: list[Order], bar: Bar, at: datetime, spread: float, atr: float | None
    ) -> tuple[list[Fill], FillResult | None]:
        """Fill, in submission order, the orders of one symbol that the bar opening at ``at``
        may fill, at ``bar``'s prices (``atr``: known at the fill, for default stops; else
        the broker's own); the fills, and the result of the last (the position as it left
        it), if any."""
        fills: list[Fill] = []
        last: FillResult | None = None
        for order in orders:
            if not order.may_fill_on(at):
                continue
            if atr is None and not order.reduce_only:
                atr = self._atr(order.symbol)  # only when a fill may need default stops
            result = self._fill_order(order, bar, at, spread, atr)
            if result is not None and result.status == "filled" and result.fill is not None:
                fills.append(result.fill)
                last = result
        return fills, last

    def _fill_order(
        self, order: Order, bar: Bar, at: datetime, spread: float, atr: float | None
    ) -> FillResult | None:
        sign = order.side.sign
        if order.type is OrderType.MARKET:
            price = float(self.cost_model.fill_price(sign, bar.open, spread_bps=spread))
        else:
            limit = order.limit_price
            if limit is None:  # refused at submission; here for the type checker
                return None
            price = float(limit_fill_price(sign, limit, open_=bar.open, high=bar.high, low=bar.low))
            if math.isnan(price):
                return None
        default_sl = default_tp = None
        if not order.reduce_only:
            defaults = entry_levels(sign, entry_price=price, atr=atr, rules=self.config.exit_rules)
            default_sl, default_tp = defaults.stop_loss, defaults.take_profit
        return self.ledger.apply_fill(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            price=price,
            fee=float(self.cost_model.fee(order.quantity * price)),
            filled_at=at,
            strategy=order.strategy,
            reduce_only=order.reduce_only,
            stop_loss=order.stop_loss,
            take_profit=order.take_profit,
            default_stop_loss=default_sl,
            default_take_profit=default_tp,
            require_open_order=True,
        )

    def _check_exits(
        self,
        position: Position | None,
        stored: TrailingStop | None,
        bar: Bar,
        at: datetime,
        spread: float,
        atr: float | None,
    ) -> tuple[Fill | None, TrailingStop | None]:
        """The one exit model (:func:`~components.execution.exits.exit_along`) on this bar:
        (the exit fill, if one fired; the trailing stop, if it moved and is kept for the
        next bar). ``stored`` is the trailing stop kept so far (an older position's counts
        for nothing). A bar from before the position opened never touches it (a cycle may
        see the bar before the one its order filled at the open of, again)."""
        if position is None or position.opened_at > at:
            return None, None
        rules = self.config.exit_rules
        trailing = None
        if rules.trailing_atr is not None and stored is not None:
            trailing = stored.level if stored.position_id == position.id else None
        levels = ExitLevels(position.stop_loss, position.take_profit, trailing)
        path = exit_along(
            position.sign,
            levels,
            open_=bar.open,
            high=bar.high,
            low=bar.low,
            atr=math.nan if atr is None else atr,
            rules=rules,
            cost_model=self.cost_model,
            spread_bps=spread,
        )
        if path.decision is not None:
            reason = FillReason(path.decision.reason)
            return self._exit(position, path.decision.price, at, reason), None
        moved = path.levels.trailing_stop
        if moved is not None and moved != trailing:
            return None, TrailingStop(position.id, moved)
        return None, None

    def _exit(
        self, position: Position, price: float, at: datetime, reason: FillReason
    ) -> Fill | None:
        suffix = {FillReason.TAKE_PROFIT: "tp", FillReason.TRAILING_STOP: "ts"}.get(reason, "sl")
        quantity = abs(position.quantity)
        result = self.ledger.apply_fill(
            client_order_id=f"{position.id}:{suffix}",
            symbol=position.symbol,
            side=Side.SELL if position.sign > 0 else Side.BUY,
            quantity=quantity,
            price=price,
            fee=float(self.cost_model.fee(quantity * price)),
            filled_at=at,
            strategy=position.strategy,
            reduce_only=True,
            position_id=position.id,
            reason=reason,
        )
        return result.fill if result.status == "filled" else None

    # --- the broker's own ATR (for default stops when the caller gives none) ----------------
    def _remember(self, symbol: str, bar: Bar, at: datetime, last: datetime | None) -> None:
        if last is not None and at == last:
            return  # the same bar again (a replay): already remembered, or from before
        history = self._history.get(symbol)
        if history is None:
            history = self._history[symbol] = deque(maxlen=4 * self.config.atr_period)
        history.append(bar)

    def _atr(self, symbol: str) -> float | None:
        history = self._history.get(symbol)
        if not history:
            return None
        high = np.fromiter((b.high for b in history), dtype=np.float64)
        low = np.fromiter((b.low for b in history), dtype=np.float64)
        close = np.fromiter((b.close for b in history), dtype=np.float64)
        values = average_true_range(high, low, close, n=min(self.config.atr_period, len(history)))
        value = float(values[-1])
        return value if math.isfinite(value) and value > 0 else None
