"""quantum-trader report."""

from __future__ import annotations

import typer
from rich.table import Table

from deployments.cli._app import (
    handles_errors,
    now,
    out,
    print_json,
    root,
    settings,
)


@root.command("report")
@handles_errors
def report_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Per-strategy and system metrics from every event and fill, and an equity chart."""
    from components.analytics import Analytics
    from components.analytics.charts import equity_and_drawdown_chart, equity_curve_from_fills
    from components.events import RedisEventBus

    config = settings()
    bus = RedisEventBus.connect(config)
    analytics = Analytics.connect(config)
    analytics.attach(bus)
    analytics.catch_up(bus)
    at = now(config)
    report = analytics.report(at)
    curve = equity_curve_from_fills(analytics.trades(), config.paper.initial_cash)
    chart = equity_and_drawdown_chart(
        curve,
        config.home.expanduser().resolve() / "reports" / f"equity-{at:%Y%m%dT%H%M%S}.png",
        title=f"Realised equity ({config.namespace})",
    )
    if as_json:
        print_json(report.model_dump(mode="json") | {"chart": str(chart)})
        return
    for name, rows in report.render_tables().items():
        if not rows:
            continue
        table = Table(title=name.replace("_", " ").capitalize())
        for column in rows[0]:
            table.add_column(str(column))
        for row in rows:
            table.add_row(*(f"{v:,.4g}" if isinstance(v, float) else str(v) for v in row.values()))
        out.print(table)
    totals = report.totals
    out.print(f"{totals.trades} trades, PnL {totals.pnl:,.2f} after {totals.fees:,.2f} fees")
    out.print(f"equity and drawdown chart: {chart}")
