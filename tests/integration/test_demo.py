"""``quantum-trader demo``: the flows over an accelerated simulated stretch, then a report."""

from __future__ import annotations

import pytest
import redis
from rich.console import Console

from components.errors import ConfigurationError
from components.settings import Settings
from deployments.demo import print_report, run_demo

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")


def test_demo_runs_the_flows_and_reports_what_they_decided(settings: Settings) -> None:
    report = run_demo(settings, hours=1.5, console=Console(quiet=True))

    assert report.flow_runs == {
        "opportunity-ranking": 3, "msc-evaluation": 3, "universe-refresh": 2,
        "trading-engine": 3,
    }  # fmt: skip
    assert report.events["regime.assessed"] == 3
    assert report.events["opportunities.updated"] == 3
    assert report.final_policy["version"] == report.events["policy.updated"] >= 3
    assert report.mode_changes and report.mode_changes[0]["why"]
    assert sum(report.regimes.values()) == 3
    console = Console(record=True, width=120)
    print_report(report, console)
    text = console.export_text()
    assert "Risk mode: what changed and why" in text
    assert f"Final policy v{report.final_policy['version']}" in text


def test_demo_refuses_a_namespace_holding_another_systems_data(
    settings: Settings, client: redis.Redis
) -> None:
    client.set(f"{settings.namespace}:policy:history", "x")
    with pytest.raises(ConfigurationError, match="QT_NAMESPACE=demo"):
        run_demo(settings, hours=1, console=Console(quiet=True))
    assert client.get(f"{settings.namespace}:policy:history") == "x"
