"""Tasks of Analytics: drain its consumer group, then read metrics and write reports."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from components.analytics import Analytics, AnalyticsReport
from components.analytics.charts import equity_and_drawdown_chart, equity_curve_from_fills
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


@io_task("draw_equity_chart")
def draw_equity_chart(settings: Settings, now: datetime) -> Path:
    """The realised equity and drawdown chart, under QT_HOME/reports/."""
    analytics = analytics_for(settings)
    curve = equity_curve_from_fills(analytics.trades(), settings.paper_initial_cash)
    path = settings.home.expanduser().resolve() / "reports" / f"equity-{now:%Y%m%dT%H%M}.png"
    return equity_and_drawdown_chart(curve, path, title=f"Realised equity ({settings.namespace})")
