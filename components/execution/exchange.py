"""ExchangeBroker: the Broker interface over a real exchange, through ccxt (spot).

ccxt is the optional ``live`` extra, so nothing here imports it at module level: the broker
takes a ccxt exchange object (:func:`open_exchange` makes one from settings), and the
ledger stays the books, as for paper trading::

    exchange = open_exchange(settings.exchange)       # sandbox by default
    broker = ExchangeBroker(exchange, ledger)
    broker.reconcile()            # on start: refuses to trade on a mismatch
    broker.submit(intent)         # one exchange order per intent, whatever the retries
    broker.on_bar(symbol, bar, at)   # polls the exchange for fills (partial ones too)

Rules
-----
- **Client order ids from the intent.** The exchange order's client id is
  :func:`exchange_client_id` of the namespace and the intent's client order id: the same
  decision always maps to the same exchange id (Binance's 36-character alphabet). The
  order is recorded in the ledger before it is sent, so a retry (after a timeout, a crash,
  a restart) first asks the exchange for that client id and never places it twice.
- **Rate limits.** ccxt's own throttle is on (``enableRateLimit``); an exchange that still
  answers "too many requests", a timeout or an outage becomes a
  :class:`~components.errors.TemporaryError` (retried later by the caller), never a
  second order.
- **Partial fills.** Each exchange trade of an order is one ledger fill, labelled
  ``f"{client_order_id}#{trade id}"`` while the order is open; the trade that completes it
  carries the order's own id, which closes it in the ledger. Replays change nothing (the
  ledger is idempotent by label).
- **Reconciliation on start.** :meth:`ExchangeBroker.reconcile` compares the exchange's
  open orders and balances with the ledger: an open order the ledger does not know (a
  *foreign* order: placed by hand, by another bot), a ledger order the exchange does not
  have, or a base-asset balance that differs from the ledger's position. Any mismatch is
  kept in Redis and every submit is refused, naming it, until a person runs
  ``engine reconcile --adopt`` (the ledger takes the exchange's state) or ``--flatten``
  (foreign orders cancelled, positions sold, the ledger flat).
- **Secrets.** The API key and secret are :class:`~pydantic.SecretStr` in the config and
  reach only the ccxt object; no log line, error, event or report carries them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from components.clock import Clock, SystemClock
from components.errors import ConfigurationError, DataError, TemporaryError
from components.execution.broker import BarLike, BarOpen, BarUpdate, Broker
from components.execution.config import ExchangeConfig
from components.execution.ledger import Ledger
from components.execution.models import Fill, FillReason, Order, OrderAck
from components.market.ccxt_market import ccxt_exchange_class, is_temporary
from components.redis import namespaced
from components.trading.types import OrderIntent, OrderType, Side

if TYPE_CHECKING:
    from components.settings import Settings

log = logging.getLogger(__name__)

ExecutionMode = Literal["paper", "exchange"]
"""``QT_EXECUTION``: paper (the default, simulated fills) or exchange (ccxt)."""


def open_exchange(config: ExchangeConfig) -> Any:
    """A ccxt exchange object for ``config``: spot markets, ccxt's rate limiter on, the
    sandbox (testnet) unless ``sandbox=False``.

    Raises
    ------
    ConfigurationError
        ccxt is not installed (``pip install 'quantum-trader[live]'``), the exchange id is
        unknown, or it has no sandbox while ``sandbox`` is asked for.
    """
    exchange_class = ccxt_exchange_class(config.id, purpose="exchange execution")
    options: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": config.timeout_ms,
        "options": {
            "defaultType": "spot",
            "fetchMarkets": ["spot"],
            "fetchCurrencies": False,
            # reconciliation asks for every open order at once, on start only
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        },
    }
    if config.api_key is not None:
        options["apiKey"] = config.api_key.get_secret_value()
    if config.api_secret is not None:
        options["secret"] = config.api_secret.get_secret_value()
    exchange = exchange_class(options)
    # ccxt logs each request's headers (the key among them) at DEBUG: redact them there
    _REDACT.secrets.update(
        v.get_secret_value() for v in (config.api_key, config.api_secret) if v is not None
    )
    ccxt_log = logging.getLogger("ccxt.base.exchange")
    if _REDACT not in ccxt_log.filters:
        ccxt_log.addFilter(_REDACT)
    if config.sandbox:
        try:
            exchange.set_sandbox_mode(True)
        except Exception as exc:  # ccxt raises NotSupported
            raise ConfigurationError(
                f"{config.id} has no sandbox in ccxt ({type(exc).__name__}); set "
                "QT_EXCHANGE_SANDBOX=false only to trade real money"
            ) from None
    return exchange


def exchange_client_id(namespace: str, client_order_id: str) -> str:
    """The exchange's client order id for ``client_order_id``: ``qt`` and 32 hex digits of
    a hash of the namespace and the id, deterministic and within every exchange's limits.

    Example: ``exchange_client_id("qt", "momentum:BTC/USDT:2026-01-01T10")``.
    """
    digest = hashlib.sha256(f"{namespace}\0{client_order_id}".encode()).hexdigest()
    return f"qt{digest[:32]}"


class Mismatch(BaseModel):
    """One difference between the exchange and the ledger."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["foreign_order", "missing_order", "balance"]
    symbol: str
    detail: str
    exchange_order_id: str | None = None
    client_order_id: str | None = None


class ReconcileReport(BaseModel):
    """What :meth:`ExchangeBroker.reconcile` found; ``ok`` when nothing differs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exchange: str
    checked_at: datetime
    mismatches: tuple[Mismatch, ...] = ()
    action: Literal["check", "adopt", "flatten"] = "check"

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def describe(self) -> str:
        """One line: ``ok`` or every mismatch, ``; ``-separated."""
        if self.ok:
            return f"{self.exchange}: the ledger matches the exchange"
        return f"{self.exchange}: " + "; ".join(m.detail for m in self.mismatches)


class ExchangeBroker:
    """The :class:`~components.execution.broker.Broker` surface over a ccxt exchange
    object, with ``ledger`` as the books (module docstring).

    Parameters
    ----------
    exchange
        A ccxt exchange object (:func:`open_exchange`), markets loaded on first use.
    ledger
        The account's ledger; its namespace also holds the reconciliation state.
    """

    def __init__(
        self,
        exchange: Any,
        ledger: Ledger,
        *,
        balance_tolerance: float = 1e-8,
        clock: Clock | None = None,
    ) -> None:
        self.exchange = exchange
        self.clock = clock or SystemClock()
        self.ledger = ledger
        self.balance_tolerance = balance_tolerance
        self.name = str(getattr(exchange, "id", type(exchange).__name__))
        self._state_key = namespaced(ledger.namespace, "exchange", "reconcile")
        self._adopted_key = namespaced(ledger.namespace, "exchange", "adopted")
        self._markets_loaded = False

    # --- reconciliation ---------------------------------------------------------------------

    def blocked(self) -> str | None:
        """Why trading is refused (a reconciliation found a mismatch), or ``None``."""
        raw = self.ledger.client.hget(self._state_key, "blocked")
        return str(raw.decode() if isinstance(raw, bytes) else raw) if raw else None

    def reconcile(
        self, *, symbols: Iterable[str] = (), now: datetime | None = None
    ) -> ReconcileReport:
        """Compare the exchange's open orders and balances with the ledger; on a mismatch
        refuse every submit until :meth:`adopt` or :meth:`flatten` (kept in Redis, so a
        restart does not forget it). ``symbols`` adds markets to check balances of.

        Example: ``broker.reconcile().describe()``.
        """
        report = self._compare(set(symbols), now)
        self._keep(report)
        return report

    def adopt(self, *, symbols: Iterable[str] = (), now: datetime | None = None) -> ReconcileReport:
        """Make the ledger match the exchange: foreign open orders become ledger orders,
        each base-asset balance becomes the ledger's position (at the last price). Trading
        resumes. Returns what was adopted."""
        at = now or self.clock.now()
        found = self._compare(set(symbols), at)
        for mismatch in found.mismatches:
            if mismatch.kind == "foreign_order":
                self._adopt_order(mismatch, at)
            elif mismatch.kind == "missing_order" and mismatch.client_order_id:
                self.ledger.cancel_order(mismatch.client_order_id)
            elif mismatch.kind == "balance":
                self._adopt_balance(mismatch.symbol, at)
        report = found.model_copy(update={"action": "adopt"})
        self.ledger.client.hdel(self._state_key, "blocked")
        log.warning("reconcile --adopt: %s", found.describe())
        return report

    def flatten(
        self, *, symbols: Iterable[str] = (), now: datetime | None = None
    ) -> ReconcileReport:
        """Cancel every open order on the exchange (foreign ones too) and sell every base
        asset the ledger or ``symbols`` trade, then flatten the ledger. Trading resumes."""
        at = now or self.clock.now()
        found = self._compare(set(symbols), at)
        for order in self._call("fetch_open_orders", "fetch the open orders"):
            self._call("cancel_order", "cancel an open order", order["id"], order["symbol"])
        for cid in [o.client_order_id for o in self.ledger.open_orders()]:
            self.ledger.cancel_order(cid)
        balances = self._balances()
        for symbol in self._symbols(set(symbols)):
            base = self._market(symbol)["base"]
            amount = balances.get(base, 0.0)
            if amount > 0:
                self._call("create_order", f"sell {base}", symbol, "market", "sell", amount)
            position = self.ledger.position(symbol)
            if position is not None:
                self._book(symbol, -position.quantity, self._last_price(symbol), at, "flatten")
        self.ledger.client.hdel(self._state_key, "blocked")
        log.warning("reconcile --flatten: %s", found.describe())
        return found.model_copy(update={"action": "flatten"})

    # --- the Broker surface -------------------------------------------------------------------

    def submit(self, intent: OrderIntent) -> OrderAck:
        """Place ``intent`` on the exchange once (module docstring); refuse it, with the
        reason, while a reconciliation mismatch stands.

        Raises
        ------
        TemporaryError
            The exchange is unreachable or rate-limiting; the order stays recorded and the
            next submit of the same intent looks it up before placing anything.
        """
        blocked = self.blocked()
        if blocked is not None:
            reason = f"trading refused until `quantum-trader engine reconcile`: {blocked}"
            return OrderAck(client_order_id=intent.client_order_id, accepted=False, reason=reason)
        first = self.ledger.ack(intent.client_order_id)
        if first is None:
            order = Order.from_intent(intent, eligible_after=intent.created_at)
            first = self.ledger.record_order(order)
            if not first.accepted:
                return first
        elif not first.accepted:
            return first.model_copy(update={"duplicate": True})
        elif intent.client_order_id not in {o.client_order_id for o in self.ledger.open_orders()}:
            return first.model_copy(update={"duplicate": True})  # filled or cancelled
        cid = exchange_client_id(self.ledger.namespace, intent.client_order_id)
        placed = self._find(intent.symbol, cid)
        if placed is None:
            self._call(
                "create_order",
                f"place order {intent.client_order_id}",
                intent.symbol,
                intent.type.value,
                intent.side.value,
                intent.quantity,
                intent.limit_price if intent.type is OrderType.LIMIT else None,
                {"newClientOrderId": cid, "clientOrderId": cid},
            )
            return first
        return first.model_copy(update={"duplicate": True})

    def cancel(self, client_order_id: str) -> bool:
        """Cancel an open order on the exchange and in the ledger; False when not open."""
        order = next(
            (o for o in self.ledger.open_orders() if o.client_order_id == client_order_id), None
        )
        if order is None:
            return False
        placed = self._find(order.symbol, self._exchange_id(client_order_id))
        if placed is not None and placed.get("status") == "open":
            self._call("cancel_order", f"cancel {client_order_id}", placed["id"], order.symbol)
        return self.ledger.cancel_order(client_order_id)

    def cancel_all(self, symbol: str | None = None) -> list[str]:
        """Cancel every open order of the ledger (of ``symbol``); returns the ids."""
        return [
            o.client_order_id
            for o in self.ledger.open_orders(symbol)
            if self.cancel(o.client_order_id)
        ]

    def open_orders(self, symbol: str | None = None) -> list[Order]:
        """The ledger's open orders (the exchange's are checked by :meth:`reconcile`)."""
        return self.ledger.open_orders(symbol)

    def on_bar(
        self, symbol: str, bar: BarLike, at: datetime, *, atr: float | None = None
    ) -> list[Fill]:
        """Poll the exchange for the trades of ``symbol``'s open orders and book each new
        one (partial fills included); returns the new fills. (Stops rest on the exchange's
        side only when the order carried them; ``atr`` is unused here.)"""
        return self.on_bars([BarUpdate(symbol, bar, at, atr)])

    def on_bars(self, updates: Sequence[BarUpdate]) -> list[Fill]:
        """:meth:`on_bar` for each update (the exchange is polled per symbol anyway), the
        bars marked in the ledger in one call: the marks are one value for all symbols."""
        fills: list[Fill] = []
        marks: dict[str, datetime] = {}
        for update in updates:
            symbol = update.symbol
            for order in self.ledger.open_orders(symbol):
                placed = self._find(symbol, self._exchange_id(order.client_order_id))
                if placed is None:
                    continue
                fills.extend(self._book_trades(order, placed))
                if placed.get("status") in ("canceled", "cancelled", "expired", "rejected"):
                    self.ledger.cancel_order(order.client_order_id)
            marks[symbol] = max(update.at, marks.get(symbol, update.at))
        self.ledger.mark_bars(marks)
        return fills

    def on_opens(self, opens: Sequence[BarOpen]) -> list[Fill]:
        """Nothing: the exchange fills its orders itself, and :meth:`on_bar` books them."""
        return []

    # --- internals ----------------------------------------------------------------------------

    def _book_trades(self, order: Order, placed: Mapping[str, Any]) -> list[Fill]:
        filled = float(placed.get("filled") or 0.0)
        if filled <= 0:
            return []
        trades = self._call(
            "fetch_my_trades",
            f"fetch the trades of {order.client_order_id}",
            order.symbol,
            None,
            None,
            {"orderId": placed["id"]},
        )
        trades = sorted(
            (t for t in trades if str(t.get("order")) == str(placed["id"])),
            key=lambda t: (t.get("timestamp") or 0, str(t.get("id"))),
        )
        done = placed.get("status") == "closed"
        fills = []
        for k, trade in enumerate(trades):
            last = done and k == len(trades) - 1
            label = order.client_order_id if last else f"{order.client_order_id}#{trade['id']}"
            fee = trade.get("fee") or {}
            price = float(trade["price"])
            fee_quote = float(fee.get("cost") or 0.0)
            if fee.get("currency") and fee["currency"] == self._market(order.symbol)["base"]:
                fee_quote *= price  # a fee taken in the base asset, valued at the fill
            result = self.ledger.apply_fill(
                client_order_id=label,
                symbol=order.symbol,
                side=order.side,
                quantity=float(trade["amount"]),
                price=price,
                fee=fee_quote,
                filled_at=_utc_ms(trade.get("timestamp"), self.clock),
                strategy=order.strategy,
                reduce_only=order.reduce_only,
                stop_loss=order.stop_loss,
                take_profit=order.take_profit,
            )
            if result.status == "filled" and result.fill is not None:
                fills.append(result.fill)
        return fills

    def _exchange_id(self, client_order_id: str) -> str:
        """The exchange's client id of a ledger order (an adopted one keeps its own)."""
        if client_order_id.startswith("adopted:"):
            raw = self.ledger.client.hget(self._adopted_key, client_order_id)
            if raw:
                text = raw.decode() if isinstance(raw, bytes) else str(raw)
                return str(json.loads(text).get("clientOrderId") or "")
        return exchange_client_id(self.ledger.namespace, client_order_id)

    def _find(self, symbol: str, cid: str) -> dict[str, Any] | None:
        """The exchange's order with client id ``cid``, or ``None`` when it has none."""
        try:
            return dict(
                self._call(
                    "fetch_order",
                    f"look up order {cid}",
                    None,
                    symbol,
                    {"origClientOrderId": cid, "clientOrderId": cid},
                )
            )
        except DataError as exc:
            if "OrderNotFound" in str(exc):
                return None
            raise

    def _compare(self, symbols: set[str], now: datetime | None) -> ReconcileReport:
        at = now or self.clock.now()
        mismatches: list[Mismatch] = []
        ours = {self._exchange_id(o.client_order_id): o for o in self.ledger.open_orders()}
        theirs = self._call("fetch_open_orders", "fetch the open orders")
        seen = set()
        for order in theirs:
            cid = str(order.get("clientOrderId") or "")
            if cid in ours:
                seen.add(cid)
                continue
            price = order.get("price")
            mismatches.append(
                Mismatch(
                    kind="foreign_order",
                    symbol=str(order.get("symbol")),
                    exchange_order_id=str(order.get("id")),
                    client_order_id=cid or None,
                    detail=(
                        f"foreign open order {order.get('id')} on {order.get('symbol')}: "
                        f"{order.get('side')} {order.get('amount')} {order.get('type')}"
                        f"{f' @ {price}' if price else ''} (client id {cid or 'none'}), "
                        "not placed by this ledger"
                    ),
                )
            )
        for cid, order in ours.items():
            if cid not in seen and self._find(order.symbol, cid) is None:
                mismatches.append(
                    Mismatch(
                        kind="missing_order",
                        symbol=order.symbol,
                        client_order_id=order.client_order_id,
                        detail=(
                            f"ledger order {order.client_order_id} on {order.symbol} is not "
                            "on the exchange"
                        ),
                    )
                )
        balances = self._balances()
        tolerance = self.balance_tolerance
        for symbol in self._symbols(symbols):
            base = self._market(symbol)["base"]
            position = self.ledger.position(symbol)
            held = position.quantity if position is not None else 0.0
            have = balances.get(base, 0.0)
            if not math.isclose(have, held, abs_tol=tolerance):
                mismatches.append(
                    Mismatch(
                        kind="balance",
                        symbol=symbol,
                        detail=(
                            f"{base} balance {have:g} on the exchange but the ledger holds "
                            f"{held:g} {symbol}"
                        ),
                    )
                )
        return ReconcileReport(exchange=self.name, checked_at=at, mismatches=tuple(mismatches))

    def _keep(self, report: ReconcileReport) -> None:
        if report.ok:
            self.ledger.client.hdel(self._state_key, "blocked")
            return
        self.ledger.client.hset(
            self._state_key,
            mapping={"blocked": report.describe(), "at": report.checked_at.isoformat()},
        )
        log.error("reconciliation refused trading: %s", report.describe())

    def _symbols(self, extra: set[str]) -> list[str]:
        return sorted(set(self.ledger.positions()) | extra)

    def _balances(self) -> dict[str, float]:
        balance = self._call("fetch_balance", "fetch the balances")
        totals = balance.get("total") or {}
        return {str(k): float(v or 0.0) for k, v in totals.items()}

    def _market(self, symbol: str) -> dict[str, Any]:
        if not self._markets_loaded:
            self._call("load_markets", "load the markets")
            self._markets_loaded = True
        try:
            return dict(self.exchange.market(symbol))
        except Exception as exc:
            raise DataError(
                f"{self.name} has no market {symbol!r} ({type(exc).__name__})"
            ) from None

    def _last_price(self, symbol: str) -> float:
        ticker = self._call("fetch_ticker", f"fetch the price of {symbol}", symbol)
        return float(ticker["last"])

    def _adopt_order(self, mismatch: Mismatch, at: datetime) -> None:
        order = self._call(
            "fetch_order", "fetch a foreign order", mismatch.exchange_order_id, mismatch.symbol
        )
        label = f"adopted:{order['id']}"
        intent = OrderIntent(
            client_order_id=label,
            symbol=mismatch.symbol,
            side=Side(order["side"]),
            quantity=float(order["remaining"] or order["amount"]),
            type=OrderType.LIMIT if order.get("price") else OrderType.MARKET,
            limit_price=float(order["price"]) if order.get("price") else None,
            reference_price=float(order.get("price") or self._last_price(mismatch.symbol)),
            strategy="adopted",
            created_at=_utc_ms(order.get("timestamp"), self.clock)
            if order.get("timestamp")
            else at,
        )
        self.ledger.record_order(Order.from_intent(intent, eligible_after=intent.created_at))
        # From now on the adopted order is looked up under the id the ledger gives it.
        self.ledger.client.hset(
            self._adopted_key,
            label,
            json.dumps({"id": order["id"], "clientOrderId": order.get("clientOrderId")}),
        )

    def _adopt_balance(self, symbol: str, at: datetime) -> None:
        base = self._market(symbol)["base"]
        have = self._balances().get(base, 0.0)
        position = self.ledger.position(symbol)
        held = position.quantity if position is not None else 0.0
        if not math.isclose(have, held, abs_tol=1e-12):
            self._book(symbol, have - held, self._last_price(symbol), at, "adopt")

    def _book(self, symbol: str, change: float, price: float, at: datetime, why: str) -> None:
        """A ledger-only fill that moves ``symbol``'s position by ``change`` at ``price``."""
        if change == 0:
            return
        self.ledger.apply_fill(
            client_order_id=f"reconcile:{why}:{symbol}:{at.isoformat()}",
            symbol=symbol,
            side=Side.BUY if change > 0 else Side.SELL,
            quantity=abs(change),
            price=price,
            fee=0.0,
            filled_at=at,
            strategy="reconcile",
            reason=FillReason.ORDER,
        )

    def _call(self, method: str, what: str, *args: Any) -> Any:
        """``exchange.<method>(*args)``, its failures sorted: outages and rate limits are
        :class:`TemporaryError`, the rest :class:`DataError` (with the ccxt class name)."""
        try:
            return getattr(self.exchange, method)(*args)
        except Exception as exc:
            kind = type(exc).__name__
            message = _redacted(str(exc), self.exchange)
            if is_temporary(exc):
                raise TemporaryError(f"{self.name}: cannot {what}: {kind}: {message}") from None
            raise DataError(f"{self.name}: cannot {what}: {kind}: {message}") from None


class _Redact(logging.Filter):
    """Replaces the exchange secrets in every record of the logger it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if any(secret and secret in message for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, ()
        return True


_REDACT = _Redact()


def _utc_ms(value: Any, clock: Clock) -> datetime:
    """A ccxt timestamp (ms since the epoch) as a UTC time; ``clock``'s now when missing."""
    if value is None:
        return clock.now()
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def _redacted(message: str, exchange: Any) -> str:
    """``message`` without the exchange's key or secret (ccxt puts URLs with signed query
    strings, and sometimes headers, into its errors)."""
    for name in ("apiKey", "secret", "password"):
        value = getattr(exchange, name, None)
        if value:
            message = message.replace(str(value), "***")
    message = re.sub(r"signature=[0-9a-fA-F]+", "signature=***", message)
    return message[:500]


def broker_for(settings: Settings, ledger: Ledger, paper: Broker) -> Broker:
    """The account's broker: ``paper`` unless ``QT_EXECUTION=exchange``; then an
    :class:`ExchangeBroker` that has reconciled with the exchange (on a mismatch it refuses
    every order until ``engine reconcile``).

    Raises
    ------
    ConfigurationError
        Exchange execution without ccxt, without keys, or with an unknown exchange.
    """
    if settings.exchange.execution != "exchange":
        return paper
    config: ExchangeConfig = settings.exchange
    if config.api_key is None or config.api_secret is None:
        raise ConfigurationError(
            "QT_EXECUTION=exchange needs QT_EXCHANGE_API_KEY and QT_EXCHANGE_API_SECRET"
        )
    broker = ExchangeBroker(open_exchange(config), ledger)
    report = broker.reconcile()
    if not report.ok:
        log.error("%s", report.describe())
    return broker
