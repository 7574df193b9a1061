"""The learning and analytics deployments, and the commands around them, run for real."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path

import pytest
import redis

from components.events import RedisEventBus
from components.execution import Ledger
from components.market import ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.settings import Settings, load_settings
from deployments.cli import main
from deployments.demo import run_demo
from tasks.runtime import use_market
from tests.builders import T0

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")

SMALL_CLM = {
    "QT_CLM_TRAIN_BARS": "600",
    "QT_CLM_EVAL_BARS": "150",
    "QT_CLM_HISTORY_BARS": "900",  # one walk-forward split: no process pool to start
    "QT_MARKET_SYMBOLS": "BTC/USDT,ETH/USDT,SOL/USDT,BNB/USDT",
}


@pytest.fixture
def small(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a retraining that takes seconds: four symbols, short windows."""
    for name, value in SMALL_CLM.items():
        monkeypatch.setenv(name, value)
    small = load_settings()
    symbols = list(small.market.symbols or ())
    market = SyntheticMarket(seed=7, symbols=symbols, clock=ManualClock(T0.replace(month=6)))
    use_market(small, market, market.clock)
    return small


def test_a_first_model_without_an_edge_stays_a_candidate_until_promoted_by_hand(
    small: Settings, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.clm_retraining import clm_retraining

    result = clm_retraining()  # the synthetic market's next bar is a coin toss

    assert not result.promoted and result.version == "v0001"
    assert any("baseline" in r and "does not beat" in r for r in result.reasons)
    policy = PolicyStore(client, namespace=small.namespace, settings=small).get()
    assert policy.model_versions == {}
    assert RedisEventBus(client, namespace=small.namespace).tail("model.promoted") == []
    assert main(["models", "list", "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["tag"] == "candidate" and {"log_loss", "auc"} <= listed["metrics"].keys()
    assert (small.home / listed["artifact"]).exists()  # stored relative to QT_HOME

    assert main(["models", "promote", "v0001", "--reason", "a person decides"]) == 0

    policy = PolicyStore(client, namespace=small.namespace, settings=small).get()
    assert policy.model_versions == {"price_direction": "v0001"}
    (event,) = RedisEventBus(client, namespace=small.namespace).tail("model.promoted")
    assert event.payload.version == "v0001"  # type: ignore[attr-defined]


def test_a_second_candidate_is_judged_against_production_and_rollback_restores(
    small: Settings, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows.clm_retraining import clm_retraining

    clm_retraining()
    assert main(["models", "promote", "v0001", "--reason", "test"]) == 0
    second = clm_retraining()

    assert second.version == "v0002" and second.reasons
    assert any("production" in r for r in second.reasons)
    assert main(["models", "promote", "v0002", "--reason", "test"]) == 0
    assert main(["models", "rollback"]) == 0
    capsys.readouterr()
    policy = PolicyStore(client, namespace=small.namespace, settings=small).get()
    assert policy.model_versions == {"price_direction": "v0001"}
    assert main(["models", "list", "--json"]) == 0
    tags = {v["version"]: v["tag"] for v in json.loads(capsys.readouterr().out)}
    assert tags == {"v0001": "production", "v0002": "retired"}


def test_report_after_the_demo_matches_the_ledger_fills_exactly(
    settings: Settings, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    from rich.console import Console

    run_demo(settings, hours=3, console=Console(quiet=True))
    capsys.readouterr()

    assert main(["report", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)

    fills = Ledger(client, namespace=settings.namespace).fills(limit=None)
    assert fills, "the demo's engine should have traded"
    pnl: dict[str, float] = defaultdict(float)
    for fill in fills:
        pnl[fill.strategy or "unattributed"] += fill.realized_pnl
    reported = {name: m["pnl"] for name, m in report["strategies"].items()}
    assert reported.keys() == pnl.keys()
    for name, total in pnl.items():
        assert math.isclose(reported[name], total, rel_tol=0, abs_tol=1e-9), name
    assert report["totals"]["fills"] == len(fills)
    assert Path(report["chart"]).exists()


def test_analytics_report_flow_publishes_artifacts_and_a_chart(settings: Settings) -> None:
    from prefect.artifacts import Artifact

    from flows.analytics_report import analytics_report

    result = analytics_report()

    assert Path(result.chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    note = Artifact.get("analytics-report")
    assert note is not None and "Chart file:" in str(note.data)
    chart = Artifact.get("equity-chart")  # no fills yet: words, not empty axes
    assert chart is not None
    assert "No fills yet" in str(chart.data) and "![" not in str(chart.data)


def test_the_report_of_a_traded_account_shows_its_chart_from_the_api(
    settings: Settings, client: redis.Redis
) -> None:
    import re

    from prefect.artifacts import Artifact

    from components.analytics.chart_store import ChartStore
    from components.monitoring import Telemetry
    from flows.analytics_report import analytics_report
    from tests.accounts import traded_account

    use_market(settings, traded_account(settings).market)
    analytics_report()

    chart = Artifact.get("equity-chart")
    assert chart is not None
    found = re.search(r"!\[[^]]*\]\((http://127\.0\.0\.1:8000/api/charts/([a-z0-9-]+)\.png)\)",
                      str(chart.data))  # fmt: skip
    assert found, chart.data
    png = ChartStore(client, namespace=settings.namespace).get(found.group(2))
    assert png is not None and png.startswith(b"\x89PNG")
    # the flow's success is recorded for quantum_trader_deployment_last_success_age_seconds
    assert "analytics-report" in Telemetry(client, namespace=settings.namespace).last_successes()
