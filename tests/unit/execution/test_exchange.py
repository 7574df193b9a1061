"""The exchange broker against Binance's recorded REST responses, through ccxt's own HTTP
layer: one order per intent, partial fills, rate limits, reconciliation, no leaked key."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from components.errors import ConfigurationError, TemporaryError
from components.execution import Ledger
from components.execution.broker import Bar
from components.execution.exchange import (
    ExchangeBroker,
    ExchangeConfig,
    exchange_client_id,
    open_exchange,
)
from components.trading.types import OrderIntent, OrderType, Side

from .recorded_exchange import RecordedBinance

AT = datetime(2024, 6, 1, tzinfo=UTC)
KEY, SECRET = "live-key-MUST-NOT-LEAK-42", "live-secret-MUST-NOT-LEAK-43"
BAR = Bar(open=67_500.0, high=67_600.0, low=66_900.0, close=67_520.0)


@pytest.fixture
def replay() -> RecordedBinance:
    return RecordedBinance()


@pytest.fixture
def exchange_broker(replay: RecordedBinance, ledger: Ledger) -> ExchangeBroker:
    config = ExchangeConfig(api_key=SecretStr(KEY), api_secret=SecretStr(SECRET))
    exchange = open_exchange(config)
    exchange.session.mount("https://", replay)
    exchange.enableRateLimit = False  # the replay answers at once; no need to wait
    return ExchangeBroker(exchange, ledger)


def intent(coid: str = "momentum:BTC/USDT:2024-06-01T00", **kwargs: object) -> OrderIntent:
    values: dict[str, object] = {
        "client_order_id": coid,
        "symbol": "BTC/USDT",
        "side": Side.BUY,
        "quantity": 0.01,
        "reference_price": 67_500.0,
        "strategy": "momentum",
        "created_at": AT,
    }
    values.update(kwargs)
    return OrderIntent.model_validate(values)


def test_an_intent_becomes_one_sandbox_order_with_a_client_id_derived_from_it(
    replay: RecordedBinance, exchange_broker: ExchangeBroker, ledger: Ledger
) -> None:
    ack = exchange_broker.submit(intent())

    assert ack.accepted and not ack.duplicate
    (placed,) = [r for r in replay.requests if r.method == "POST"]
    assert placed.host == "testnet.binance.vision"  # sandbox by default
    assert placed.path == "/api/v3/order"
    expected = exchange_client_id(ledger.namespace, "momentum:BTC/USDT:2024-06-01T00")
    assert placed.params["newClientOrderId"] == expected
    assert (placed.params["symbol"], placed.params["side"], placed.params["type"]) == (
        "BTCUSDT", "BUY", "MARKET",
    )  # fmt: skip
    assert placed.params["quantity"] == "0.01"


def test_a_retried_intent_is_never_placed_twice(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    first = exchange_broker.submit(intent())
    again = exchange_broker.submit(intent())  # a retry, a restart: the same decision

    assert first.accepted and again.duplicate
    assert replay.count("POST", "/api/v3/order") == 1


def test_a_timeout_after_sending_is_looked_up_before_placing_again(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    exchange_broker.submit(intent())
    # the order reached the exchange but its answer was lost: the next submit asks first
    again = exchange_broker.submit(intent())

    lookups = [r for r in replay.requests if r.method == "GET" and r.path == "/api/v3/order"]
    assert again.duplicate and len(lookups) == 2
    assert lookups[-1].params["origClientOrderId"].startswith("qt")
    assert replay.count("POST", "/api/v3/order") == 1


def test_a_market_fill_of_two_trades_books_both_with_the_fee(
    exchange_broker: ExchangeBroker, ledger: Ledger
) -> None:
    exchange_broker.submit(intent())

    fills = exchange_broker.on_bar("BTC/USDT", BAR, AT)

    assert [(f.quantity, f.price) for f in fills] == [(0.006, 67_512.0), (0.004, 67_512.6)]
    assert fills[-1].client_order_id == "momentum:BTC/USDT:2024-06-01T00"  # closes the order
    assert fills[0].client_order_id == "momentum:BTC/USDT:2024-06-01T00#912345"
    assert fills[0].fee == pytest.approx(0.000006 * 67_512.0)  # BTC commission, in USDT
    position = ledger.position("BTC/USDT")
    assert position is not None and position.quantity == pytest.approx(0.01)
    assert ledger.open_orders() == []
    assert exchange_broker.on_bar("BTC/USDT", BAR, AT) == []  # a replay books nothing


def test_a_limit_order_fills_in_parts_as_the_exchange_trades_it(
    replay: RecordedBinance, exchange_broker: ExchangeBroker, ledger: Ledger
) -> None:
    exchange_broker.submit(intent(type=OrderType.LIMIT, limit_price=67_000.0))
    (order_id,) = replay.orders

    assert exchange_broker.on_bar("BTC/USDT", BAR, AT) == []
    replay.trade(order_id, 0)
    partial = exchange_broker.on_bar("BTC/USDT", BAR, AT)
    replay.trade(order_id, 1)
    rest = exchange_broker.on_bar("BTC/USDT", BAR, AT)

    assert [f.quantity for f in partial] == [0.004]
    assert len(ledger.open_orders()) == 0 and [f.quantity for f in rest] == [0.006]
    position = ledger.position("BTC/USDT")
    assert position is not None and position.quantity == pytest.approx(0.01)
    assert sum(f.fee for f in partial + rest) == pytest.approx(0.268 + 0.402)


def test_a_rate_limited_answer_is_temporary_and_places_nothing(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    exchange_broker.exchange.load_markets()
    replay.fail_next.append((429, "error_too_many_requests.json"))

    with pytest.raises(TemporaryError, match=r"DDoSProtection|RateLimitExceeded"):
        exchange_broker.submit(intent())
    assert replay.count("POST", "/api/v3/order") == 0
    assert exchange_broker.submit(intent()).accepted  # later: placed once
    assert replay.count("POST", "/api/v3/order") == 1


def test_reconcile_on_a_foreign_open_order_refuses_to_trade_and_names_it(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    replay.place_foreign_order()

    report = exchange_broker.reconcile()
    refused = exchange_broker.submit(intent())

    assert not report.ok
    (mismatch,) = report.mismatches
    assert mismatch.kind == "foreign_order" and mismatch.exchange_order_id == "7215498"
    assert "foreign open order 7215498 on ETH/USDT: buy 0.5 limit @ 2900.0" in report.describe()
    assert "web_9f1c2d7e5a8b4c3d9e0f" in report.describe()
    assert not refused.accepted
    assert "engine reconcile" in refused.reason and "7215498" in refused.reason
    assert replay.count("POST", "/api/v3/order") == 0


def test_the_refusal_survives_a_restart_until_adopt(
    replay: RecordedBinance, exchange_broker: ExchangeBroker, ledger: Ledger
) -> None:
    replay.place_foreign_order()
    exchange_broker.reconcile()
    restarted = ExchangeBroker(
        exchange_broker.exchange, Ledger(ledger.client, namespace=ledger.namespace)
    )

    assert restarted.blocked() is not None
    adopted = restarted.adopt(now=AT)

    assert adopted.action == "adopt" and restarted.blocked() is None
    (order,) = ledger.open_orders()
    assert (order.client_order_id, order.symbol, order.quantity) == (
        "adopted:7215498",
        "ETH/USDT",
        0.5,
    )
    assert restarted.reconcile().ok  # the adopted order is now the ledger's own
    assert restarted.submit(intent()).accepted


def test_flatten_cancels_foreign_orders_and_clears_the_block(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    order = replay.place_foreign_order()
    exchange_broker.reconcile()

    report = exchange_broker.flatten(now=AT)

    assert report.action == "flatten" and exchange_broker.blocked() is None
    assert replay.orders[order["orderId"]]["status"] == "CANCELED"
    assert exchange_broker.reconcile().ok


def test_a_balance_the_ledger_does_not_hold_is_a_mismatch(
    replay: RecordedBinance, exchange_broker: ExchangeBroker
) -> None:
    replay.balances["BTC"] = 0.25  # bought by hand

    report = exchange_broker.reconcile(symbols=["BTC/USDT"])

    assert [m.kind for m in report.mismatches] == ["balance"]
    assert "BTC balance 0.25 on the exchange but the ledger holds 0 BTC/USDT" in report.describe()


def test_the_key_and_secret_never_reach_a_log_or_an_error(
    replay: RecordedBinance,
    exchange_broker: ExchangeBroker,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    replay.place_foreign_order()
    exchange_broker.reconcile()
    replay.fail_next.append((400, "error_order_not_found.json"))
    errors = []
    try:
        exchange_broker.cancel_all()
        exchange_broker.exchange.load_markets()
        exchange_broker._call("fetch_order", "probe", "1", "BTC/USDT")
    except Exception as exc:
        errors.append(str(exc))

    signed = [r for r in replay.requests if "X-MBX-APIKEY" in r.headers]
    assert signed and all(r.headers["X-MBX-APIKEY"] == KEY for r in signed)  # it was used
    text = (
        caplog.text
        + " ".join(errors)
        + repr(exchange_broker)
        + repr(ExchangeConfig(api_key=SecretStr(KEY), api_secret=SecretStr(SECRET)))
    )
    assert KEY not in text and SECRET not in text


def test_paper_stays_the_default_and_exchange_mode_needs_keys(ledger: Ledger) -> None:
    from components.execution import PaperBroker
    from components.execution.exchange import broker_for
    from components.settings import load_settings

    paper = PaperBroker(ledger)

    assert broker_for(load_settings(), ledger, paper) is paper
    with pytest.raises(ConfigurationError, match="QT_EXCHANGE_API_KEY"):
        broker_for(load_settings(execution="exchange"), ledger, paper)
