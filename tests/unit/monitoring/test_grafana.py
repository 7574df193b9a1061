"""The Grafana dashboard in the repository only charts metrics /metrics serves."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from components.market import SystemClock
from components.monitoring.metrics import MetricsCollector, render
from components.settings import Settings

DASHBOARD = Path(__file__).parents[3] / "deployments" / "grafana" / "quantum-trader.json"


def test_every_metric_the_dashboard_queries_is_served(settings: Settings) -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"quantum_trader_[a-z_]+", target["expr"])
    }
    text = render(MetricsCollector.connect(settings, clock=SystemClock())).decode()
    served = set()
    for family in text_string_to_metric_families(text):
        served |= {family.name} | {sample.name for sample in family.samples}
    served.add("quantum_trader_engine_heartbeat_age_seconds")  # once an engine has run
    assert len(queried) >= 15
    assert queried <= served, queried - served
