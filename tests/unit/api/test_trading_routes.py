"""The account, the ESS, events and charts over HTTP: the same numbers as the components."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from components.engine import marked_account, read_heartbeat
from components.events import RedisEventBus
from components.settings import Settings
from deployments.api.app import create_app
from tests.accounts import TradedAccount, traded_account

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def account(settings: Settings) -> TradedAccount:
    return traded_account(settings)


@pytest.fixture
def traded_api(settings: Settings, account: TradedAccount) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=account.clock)) as client:
        yield client


def test_positions_are_the_ledger_marked_as_the_cli_marks_it(
    traded_api: TestClient, account: TradedAccount, viewer_headers: dict[str, str]
) -> None:
    body = traded_api.get("/api/positions", headers=viewer_headers).json()
    expected = marked_account(
        account.engine.ledger, market=lambda: account.market, timeframe="5m", fills=0
    )
    assert body["positions"].keys() == expected.positions.keys() != set()
    assert body["equity"] == pytest.approx(expected.equity)
    assert body["cash"] == pytest.approx(expected.cash)
    assert body["marks"] == pytest.approx(expected.marks)
    assert body["unmarked"] == []


def test_fills_orders_and_report(
    traded_api: TestClient, account: TradedAccount, viewer_headers: dict[str, str]
) -> None:
    fills = traded_api.get("/api/fills", headers=viewer_headers).json()
    assert [f["client_order_id"] for f in fills] == [
        f.client_order_id for f in account.engine.ledger.fills()
    ]
    assert traded_api.get("/api/orders", headers=viewer_headers).json() == [
        o.model_dump(mode="json") for o in account.engine.ledger.open_orders()
    ]
    report = traded_api.get("/api/report", headers=viewer_headers).json()
    assert report["totals"]["fills"] == len(fills)


def test_halt_and_resume_record_the_token_name_and_publish_the_event(
    api: TestClient, settings: Settings, operator_headers: dict[str, str]
) -> None:
    halted = api.post("/api/ess/halt", json={"reason": "looks wrong"}, headers=operator_headers)
    assert halted.status_code == 200
    assert (halted.json()["state"], halted.json()["by"]) == ("HALTED", "alice")
    [event] = RedisEventBus.connect(settings).tail("ess.state_changed", count=5)
    assert (event.payload.state, event.payload.by) == ("HALTED", "alice")  # type: ignore[attr-defined]
    resumed = api.post("/api/ess/resume", headers=operator_headers)  # no body: a default reason
    assert resumed.json()["state"] == "ACTIVE"
    assert resumed.json()["reason"] == "resumed through the API"
    assert api.post("/api/ess/halt", json={"why": "x"}, headers=operator_headers).json()["detail"][
        0
    ]["loc"] == ["body", "why"]


def test_events_with_a_type_and_a_count(
    traded_api: TestClient, viewer_headers: dict[str, str]
) -> None:
    events = traded_api.get("/api/events?type=trade.executed&count=3", headers=viewer_headers)
    assert [e["type"] for e in events.json()] == ["trade.executed"] * 3
    assert all(e["position"] for e in events.json())
    unknown = traded_api.get("/api/events?type=nope", headers=viewer_headers)
    assert unknown.status_code == 422
    assert "known types" in unknown.json()["detail"][0]["msg"]


def test_equity_follows_the_engine_cycles_and_the_chart_is_a_png(
    traded_api: TestClient, account: TradedAccount, viewer_headers: dict[str, str]
) -> None:
    body = traded_api.get("/api/equity", headers=viewer_headers).json()
    assert len(body["points"]) == 20  # one per engine cycle
    last_cycle = read_heartbeat(account.engine.ledger.client, account.engine.namespace)
    assert last_cycle is not None
    assert body["points"][-1]["equity"] == pytest.approx(last_cycle["report"]["equity"])
    assert all(0 <= p["drawdown"] <= 1 for p in body["points"])
    chart = traded_api.get("/api/charts/equity.png", headers=viewer_headers)
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(PNG) and len(chart.content) > 20_000


def test_an_account_with_no_fills_says_so_in_words(
    api: TestClient, viewer_headers: dict[str, str]
) -> None:
    body = api.get("/api/equity", headers=viewer_headers).json()
    assert body["points"] == []
    assert body["note"].startswith("No fills yet")
    chart = api.get("/api/charts/equity.png", headers=viewer_headers)
    assert chart.content.startswith(PNG)


def test_a_stored_chart_is_served_and_an_unknown_one_is_404(
    api: TestClient, settings: Settings, viewer_headers: dict[str, str]
) -> None:
    from components.analytics.chart_store import ChartStore
    from components.redis import connect

    chart_id = ChartStore(connect(settings), namespace=settings.namespace).put(PNG + b"x")
    assert api.get(f"/api/charts/{chart_id}.png", headers=viewer_headers).content == PNG + b"x"
    assert api.get("/api/charts/report-nope.png", headers=viewer_headers).status_code == 404


def test_deployments_are_listed_and_a_run_needs_a_prefect_server(
    api: TestClient, operator_headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [d["name"] for d in api.get("/api/deployments", headers=operator_headers).json()]
    assert "msc-evaluation" in names and "trading-engine" in names
    unknown = api.post("/api/deployments/nope/run", headers=operator_headers)
    assert unknown.status_code == 404
    assert "msc-evaluation" in unknown.json()["detail"]
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    no_server = api.post("/api/deployments/msc-evaluation/run", headers=operator_headers)
    assert no_server.status_code == 503
    assert "PREFECT_API_URL" in no_server.json()["detail"]
