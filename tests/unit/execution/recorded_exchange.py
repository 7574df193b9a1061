"""Binance spot, replayed: recorded REST responses served to ccxt through its own HTTP
session (a requests transport adapter), so ccxt builds, signs and sends every request and
parses every answer exactly as it would against the exchange.

The bodies come from ``recorded/binance/`` (see its README); the replay keeps the little
state an account has (orders, their trades, balances), so a sequence of calls answers as the
exchange would. Every request is logged for the tests to assert on (``requests``).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from requests.adapters import BaseAdapter

RECORDED = Path(__file__).parent / "recorded" / "binance"


def recorded(name: str) -> Any:
    """One recorded body, parsed."""
    return json.loads((RECORDED / name).read_text())


@dataclass(frozen=True)
class Request:
    method: str
    host: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


class RecordedBinance(BaseAdapter):
    """The replaying transport; mount it on a ccxt exchange's session (:func:`binance`)."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []
        self.orders: dict[int, dict[str, Any]] = {}
        self.trades: dict[int, list[dict[str, Any]]] = {}
        self.balances: dict[str, float] = {
            b["asset"]: float(b["free"]) for b in recorded("account.json")["balances"]
        }
        self.fail_next: list[tuple[int, str]] = []  # (HTTP status, recorded body) to answer

    # --- scenario helpers ---------------------------------------------------------------------

    def place_foreign_order(self) -> dict[str, Any]:
        """An open order someone else placed (on the web page): the recorded one."""
        (order,) = recorded("openOrders_foreign.json")
        self.orders[order["orderId"]] = order
        return order

    def trade(self, order_id: int, k: int) -> None:
        """The k-th recorded trade of the resting limit order ``order_id`` happens."""
        trade = recorded("myTrades_limit.json")[k]
        trade = {**trade, "orderId": order_id}
        self.trades.setdefault(order_id, []).append(trade)
        order = self.orders[order_id]
        executed = float(order["executedQty"]) + float(trade["qty"])
        order["executedQty"] = f"{executed:.8f}"
        quote = float(order["cummulativeQuoteQty"]) + float(trade["quoteQty"])
        order["cummulativeQuoteQty"] = f"{quote:.8f}"
        full = abs(executed - float(order["origQty"])) < 1e-12
        order["status"] = "FILLED" if full else "PARTIALLY_FILLED"
        self.balances["BTC"] = self.balances.get("BTC", 0.0) + float(trade["qty"])
        self.balances["USDT"] -= float(trade["quoteQty"]) + float(trade["commission"])

    def count(self, method: str, path: str) -> int:
        return sum(1 for r in self.requests if r.method == method and r.path == path)

    # --- the transport ------------------------------------------------------------------------

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = urlsplit(str(request.url))
        params = dict(parse_qsl(url.query))
        if request.body:
            body = request.body.decode() if isinstance(request.body, bytes) else request.body
            params.update(parse_qsl(body))
        self.requests.append(
            Request(str(request.method), url.netloc, url.path, params, dict(request.headers))
        )
        if self.fail_next:
            status, name = self.fail_next.pop(0)
            return _response(request, status, recorded(name))
        handler = getattr(self, f"_{request.method}_{url.path.rsplit('/', 1)[-1]}", None)
        if handler is None:
            return _response(request, 404, {"code": -1, "msg": f"no recording of {url.path}"})
        status, payload = handler(params)
        return _response(request, status, payload)

    def close(self) -> None:
        pass

    def _GET_exchangeInfo(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, recorded("exchangeInfo.json")

    def _GET_account(self, params: dict[str, str]) -> tuple[int, Any]:
        account = recorded("account.json")
        assets = {b["asset"] for b in account["balances"]} | set(self.balances)
        account["balances"] = [
            {"asset": a, "free": f"{self.balances.get(a, 0.0):.8f}", "locked": "0.00000000"}
            for a in sorted(assets)
        ]
        return 200, account

    def _GET_openOrders(self, params: dict[str, str]) -> tuple[int, Any]:
        live = ("NEW", "PARTIALLY_FILLED")
        return 200, [_public(o) for o in self.orders.values() if o["status"] in live]

    def _GET_order(self, params: dict[str, str]) -> tuple[int, Any]:
        order = self._lookup(params)
        if order is None:
            return 400, recorded("error_order_not_found.json")
        return 200, _public(order)

    def _DELETE_order(self, params: dict[str, str]) -> tuple[int, Any]:
        order = self._lookup(params)
        if order is None:
            return 400, recorded("error_order_not_found.json")
        order["status"] = "CANCELED"
        return 200, _public(order)

    def _POST_order(self, params: dict[str, str]) -> tuple[int, Any]:
        name = "order_market_filled.json" if params["type"] == "MARKET" else "order_limit_new.json"
        text = (RECORDED / name).read_text().replace("{clientOrderId}", params["newClientOrderId"])
        order = json.loads(text)
        order["orderId"] += len(self.orders)  # each order its own id
        order["side"] = params["side"]
        self.orders[order["orderId"]] = order
        for fill in order["fills"]:
            trade = {
                "symbol": order["symbol"], "id": fill["tradeId"], "orderId": order["orderId"],
                "orderListId": -1, "price": fill["price"], "qty": fill["qty"],
                "quoteQty": f"{float(fill['price']) * float(fill['qty']):.8f}",
                "commission": fill["commission"], "commissionAsset": fill["commissionAsset"],
                "time": order["transactTime"], "isBuyer": params["side"] == "BUY",
                "isMaker": False, "isBestMatch": True,
            }  # fmt: skip
            self.trades.setdefault(order["orderId"], []).append(trade)
            sign = 1.0 if params["side"] == "BUY" else -1.0
            self.balances["BTC"] = (
                self.balances.get("BTC", 0.0)
                + sign * float(fill["qty"])
                - (float(fill["commission"]) if fill["commissionAsset"] == "BTC" else 0.0)
            )
            self.balances["USDT"] -= sign * float(trade["quoteQty"])
        return 200, order

    def _GET_myTrades(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, copy.deepcopy(self.trades.get(int(params["orderId"]), []))

    def _GET_24hr(self, params: dict[str, str]) -> tuple[int, Any]:
        return 200, recorded("ticker_24hr_BTCUSDT.json")

    def _GET_klines(self, params: dict[str, str]) -> tuple[int, Any]:
        start = int(params.get("startTime", 0))
        end = int(params.get("endTime", 2**62))
        rows = [k for k in recorded("klines_BTCUSDT_1h.json") if start <= k[0] <= end]
        return 200, rows[: int(params.get("limit", 500))]

    def _lookup(self, params: dict[str, str]) -> dict[str, Any] | None:
        if "origClientOrderId" in params:
            cid = params["origClientOrderId"]
            return next((o for o in self.orders.values() if o["clientOrderId"] == cid), None)
        return self.orders.get(int(params.get("orderId", -1)))


def _public(order: dict[str, Any]) -> dict[str, Any]:
    """An order as GET /api/v3/order shows it (no fills list)."""
    shown = {k: v for k, v in order.items() if k not in ("fills", "transactTime")}
    shown.setdefault("time", order.get("transactTime", 1717200000000))
    shown.setdefault("updateTime", order.get("transactTime", 1717200000000))
    shown.setdefault("isWorking", True)
    return shown


def _response(request: requests.PreparedRequest, status: int, payload: Any) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(payload).encode()
    response.headers["Content-Type"] = "application/json;charset=UTF-8"
    response.url = str(request.url)
    response.request = request
    response.reason = "OK" if status < 400 else "Bad Request"
    return response


def replayed(exchange_class: Any, replay: RecordedBinance) -> Any:
    """A ccxt exchange object of ``exchange_class`` (public endpoints only) whose HTTP goes
    to ``replay``."""
    exchange = exchange_class(
        {"enableRateLimit": False, "options": {"defaultType": "spot", "fetchMarkets": ["spot"]}}
    )
    exchange.session.mount("https://", replay)
    return exchange
