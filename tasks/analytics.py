"""Tasks of Analytics: drain its consumer group, then read metrics and write reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd

from components.analytics import Analytics, AnalyticsReport
from components.analytics.charts import NO_FILLS, account_equity_curve, equity_and_drawdown_chart
from components.execution import Ledger
from components.monitoring import Telemetry
from components.regime import PerformanceSnapshot
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime

_attached: dict[tuple[Settings, int], Analytics] = {}


def analytics_for(settings: Settings) -> Analytics:
    """Analytics of ``settings``, attached once to its consumer group on this process's bus."""
    bus = runtime(settings).bus
    key = (settings, id(bus))
    if key not in _attached:
        analytics = Analytics.connect(settings)
        analytics.attach(bus)
        _attached[key] = analytics
    return _attached[key]


@io_task("catch_up_analytics")
def catch_up_analytics(settings: Settings) -> int:
    """Apply every event analytics has not seen yet; returns how many."""
    return analytics_for(settings).catch_up(runtime(settings).bus)


@io_task("read_performance")
def read_performance(settings: Settings, now: datetime) -> PerformanceSnapshot | None:
    """Recent trading performance for the MSC; None before the first closed trade."""
    analytics = analytics_for(settings)
    analytics.catch_up(runtime(settings).bus)
    snapshot = analytics.performance_snapshot(timedelta(days=7), now=now)
    return snapshot if snapshot.trades > 0 else None


@io_task("build_report")
def build_report(settings: Settings, now: datetime) -> AnalyticsReport:
    analytics = analytics_for(settings)
    analytics.catch_up(runtime(settings).bus)
    return analytics.report(now)


@io_task("read_account_curve")
def read_account_curve(settings: Settings) -> pd.Series:
    """The account's equity over time, as the dashboard and the API chart it: per engine
    cycle when recorded, else at each fill; empty before the first fill."""
    client = runtime(settings).client
    ledger = Ledger(client, namespace=settings.namespace, initial_cash=settings.paper.initial_cash)
    return account_equity_curve(
        Telemetry(client, namespace=settings.namespace).equity_history(),
        ledger.fills(),
        settings.paper.initial_cash,
    )


@io_task("draw_equity_chart")
def draw_equity_chart(settings: Settings, curve: pd.Series, now: datetime) -> Path:
    """The equity and drawdown chart of ``curve``, under QT_HOME/reports/."""
    path = settings.home.expanduser().resolve() / "reports" / f"equity-{now:%Y%m%dT%H%M}.png"
    return equity_and_drawdown_chart(
        curve, path, title=f"Equity and drawdown ({settings.namespace})", empty=NO_FILLS
    )
