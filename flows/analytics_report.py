"""analytics-report (hourly): bring analytics up to date with every event, and publish
what it knows as Prefect table and markdown artifacts, with an equity and drawdown chart
under QT_HOME/reports/."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.analytics.charts import NO_FILLS
from components.analytics.report import ReportRun
from components.settings import load_settings
from tasks.analytics import build_report, draw_equity_chart, read_account_curve
from tasks.artifacts import publish_markdown, publish_table
from tasks.charts import publish_equity_chart
from tasks.learning import supervise_model
from tasks.market import fetch_bars, read_clock
from tasks.monitoring import record_success

NAME = "analytics-report"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    on_completion=[record_success],  # for the last-success metric
)
def analytics_report() -> ReportRun:
    settings = load_settings()
    log = get_run_logger()
    now = read_clock(settings)
    report = build_report(settings, now)
    # The Model Supervisor watches the production model's latest predictions.
    verdict = supervise_model(settings, fetch_bars(settings, settings.timeframe, 500), now=now)
    if verdict is not None and not verdict.ok:
        log.warning("model supervisor: %s", "; ".join(verdict.reasons))
    curve = read_account_curve(settings)
    chart = draw_equity_chart(settings, curve, now)
    publish_equity_chart(
        settings, curve, key="equity-chart", title=f"Equity and drawdown ({settings.namespace})",
        empty=NO_FILLS,
    )  # fmt: skip
    run = ReportRun(
        report=report, chart=str(chart), model_ok=None if verdict is None else verdict.ok
    )
    publish_markdown(
        "analytics-report",
        run.render_markdown(),
        f"Trading report: {run.trades} trades, PnL {run.pnl:,.2f}",
    )
    for name, rows in report.render_tables().items():
        if rows:
            publish_table(f"analytics-{name.replace('_', '-')}", rows, f"Analytics: {name}")
    log.info(
        "report: %d trades, PnL %.2f, chart %s", report.totals.trades, report.totals.pnl, chart
    )
    return run


if __name__ == "__main__":
    analytics_report()
