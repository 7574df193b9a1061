"""Analytics: metrics from every trade and event, reports and charts.

analytics = Analytics.connect(settings)
analytics.attach(bus)                                  # consumer group "analytics", every type
analytics.catch_up(bus)                                # or bus.run(stop)
analytics.strategy_metrics()["momentum"].pnl           # net of fees, = sum of its fills
analytics.performance_snapshot(now=now)                # the MSC's PerformanceSnapshot
report = analytics.report(now); report.render_markdown(); report.render_tables()
equity_and_drawdown_chart(equity_curve_from_fills(analytics.trades(), 10_000.0),
                          home / "reports" / "equity.png", title="Paper account")

The Redis key layout and the accounting rules are in ``components.analytics.consumer``.
"""

from typing import TYPE_CHECKING

from components._lazy import lazy_exports

if TYPE_CHECKING:
    from components.analytics.charts import (
        FillLike,
        equity_and_drawdown_chart,
        equity_curve_from_fills,
    )
    from components.analytics.consumer import (
        TRIP_STATES,
        UNATTRIBUTED,
        UNKNOWN_VERSION,
        Analytics,
        AnalyticsConfig,
    )
    from components.analytics.metrics import (
        daily_pnl_series,
        drawdown_series,
        max_drawdown,
        sharpe_ratio,
        window_drawdown,
    )
    from components.analytics.models import (
        EssTripRecord,
        ModelMetrics,
        RejectionRecord,
        StrategyMetrics,
        SystemMetrics,
        TradeMetrics,
        TradeRecord,
    )
    from components.analytics.report import AnalyticsReport


__all__ = [
    "TRIP_STATES",
    "UNATTRIBUTED",
    "UNKNOWN_VERSION",
    "Analytics",
    "AnalyticsConfig",
    "AnalyticsReport",
    "EssTripRecord",
    "FillLike",
    "ModelMetrics",
    "RejectionRecord",
    "StrategyMetrics",
    "SystemMetrics",
    "TradeMetrics",
    "TradeRecord",
    "daily_pnl_series",
    "drawdown_series",
    "equity_and_drawdown_chart",
    "equity_curve_from_fills",
    "max_drawdown",
    "sharpe_ratio",
    "window_drawdown",
]

__getattr__ = lazy_exports(__name__, ("charts", "consumer", "metrics", "models", "report"))
