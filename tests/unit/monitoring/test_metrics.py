"""/metrics: parsed with prometheus_client's own parser, every metric of the issue present,
and state changes visible at the next scrape."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from components.market import ManualClock
from components.monitoring.metrics import MetricsCollector, render
from components.risk.emergency import EmergencyStop
from components.settings import Settings
from deployments.api.app import create_app
from tests.accounts import TradedAccount, traded_account
from tests.builders import T0

REQUIRED = {
    "quantum_trader_equity": "gauge",
    "quantum_trader_cash": "gauge",
    "quantum_trader_realized_pnl": "gauge",
    "quantum_trader_unrealized_pnl": "gauge",
    "quantum_trader_drawdown_ratio": "gauge",
    "quantum_trader_open_positions": "gauge",
    "quantum_trader_risk_mode": "gauge",
    "quantum_trader_ess_state": "gauge",
    "quantum_trader_policy_version": "gauge",
    "quantum_trader_event_stream_length": "gauge",
    "quantum_trader_events_pending": "gauge",
    "quantum_trader_events_dead_lettered": "counter",
    "quantum_trader_engine_cycle_duration_seconds": "histogram",
    "quantum_trader_engine_heartbeat_age_seconds": "gauge",
    "quantum_trader_deployment_last_success_age_seconds": "gauge",
    "quantum_trader_health_status": "gauge",
}


def scrape(settings: Settings, clock: ManualClock) -> dict[str, dict[tuple[str, ...], float]]:
    """Family name -> {(sample name, label values...): value}, via the library's parser."""
    text = render(MetricsCollector.connect(settings, clock=clock)).decode()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = (family.type, {
            (s.name, *(f"{k}={v}" for k, v in sorted(s.labels.items()))): s.value
            for s in family.samples
        })  # fmt: skip
    return {name: samples for name, (_, samples) in families.items()} | {
        f"type:{name}": {(kind,): 0.0} for name, (kind, _) in families.items()
    }


@pytest.fixture
def account(settings: Settings) -> TradedAccount:
    return traded_account(settings)


def test_every_metric_of_the_issue_is_there_with_its_type(
    settings: Settings, account: TradedAccount
) -> None:
    from components.monitoring import Telemetry
    from components.redis import connect

    Telemetry(connect(settings), namespace=settings.namespace).record_success(
        "health-check", account.clock.now() - timedelta(seconds=90)
    )
    metrics = scrape(settings, account.clock)
    for name, kind in REQUIRED.items():
        assert name in metrics, f"{name} missing"
        assert (kind,) in metrics[f"type:{name}"], f"{name} is not a {kind}"

    heartbeat = account.engine._r.hgetall(f"{settings.namespace}:engine:heartbeat")
    assert heartbeat
    state = account.engine.ledger.state(fills=0)
    assert metrics["quantum_trader_cash"][("quantum_trader_cash",)] == pytest.approx(state.cash)
    assert metrics["quantum_trader_open_positions"][("quantum_trader_open_positions",)] == len(
        state.positions
    )
    cycles = metrics["quantum_trader_engine_cycle_duration_seconds"]
    assert cycles[("quantum_trader_engine_cycle_duration_seconds_count",)] == 20
    assert cycles[("quantum_trader_engine_cycle_duration_seconds_bucket", "le=+Inf")] == 20
    assert metrics["quantum_trader_risk_mode"] == {
        ("quantum_trader_risk_mode", "mode=AGGRESSIVE"): 0.0,
        ("quantum_trader_risk_mode", "mode=NORMAL"): 1.0,
        ("quantum_trader_risk_mode", "mode=DEFENSIVE"): 0.0,
    }
    streams = metrics["quantum_trader_event_stream_length"]
    assert streams[("quantum_trader_event_stream_length", "type=trade.executed")] == len(
        account.engine.ledger.fills()
    )
    runs = metrics["quantum_trader_deployment_last_success_age_seconds"]
    assert runs == {
        ("quantum_trader_deployment_last_success_age_seconds", "deployment=health-check"): 90.0
    }
    equity = metrics["quantum_trader_equity"][("quantum_trader_equity",)]
    realized = metrics["quantum_trader_realized_pnl"][("quantum_trader_realized_pnl",)]
    unrealized = metrics["quantum_trader_unrealized_pnl"][("quantum_trader_unrealized_pnl",)]
    assert equity == pytest.approx(state.initial_cash + realized + unrealized)


def test_a_halted_ess_shows_at_the_next_scrape(settings: Settings) -> None:
    clock = ManualClock(T0)
    before = scrape(settings, clock)["quantum_trader_ess_state"]
    assert before[("quantum_trader_ess_state", "state=ACTIVE")] == 1.0
    EmergencyStop.connect(settings).halt("by hand", by="ops")
    after = scrape(settings, clock)["quantum_trader_ess_state"]
    assert after[("quantum_trader_ess_state", "state=HALTED")] == 1.0
    assert after[("quantum_trader_ess_state", "state=ACTIVE")] == 0.0


def test_an_ess_tripped_by_the_engine_shows_within_one_cycle(
    settings: Settings, account: TradedAccount
) -> None:
    from components.health import HealthStatus, HealthStore
    from components.redis import connect

    # health CRITICAL trips the ESS to HALTED at the engine's next cycle
    HealthStore(connect(settings), namespace=settings.namespace).record(
        HealthStatus.CRITICAL, now=account.clock.now(), reasons=["test"]
    )
    assert (
        scrape(settings, account.clock)["quantum_trader_ess_state"][
            ("quantum_trader_ess_state", "state=HALTED")
        ]
        == 0.0
    )
    account.engine.run_cycle(20)
    metrics = scrape(settings, account.clock)
    assert metrics["quantum_trader_ess_state"][("quantum_trader_ess_state", "state=HALTED")] == 1.0
    assert (
        metrics["quantum_trader_health_status"][("quantum_trader_health_status", "status=CRITICAL")]
        == 1.0
    )


def test_metrics_over_http_need_a_token_and_parse(
    settings: Settings, viewer_headers: dict[str, str]
) -> None:
    with TestClient(create_app(settings)) as api:
        assert api.get("/metrics").status_code == 401
        response = api.get("/metrics", headers=viewer_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(response.text)}
    assert (
        set(REQUIRED)
        - {
            "quantum_trader_engine_heartbeat_age_seconds",  # no engine has run in this namespace
        }
        <= names
    )
