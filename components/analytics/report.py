"""The analytics report: one frozen snapshot of every metric, rendered for people.

``render_markdown()`` gives a summary a person reads in a Prefect markdown artifact or a
terminal; ``render_tables()`` gives rows for Prefect table artifacts (one list of flat
dicts per table). Neither imports Prefect: the report flow hands them over.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from components.analytics.models import ModelMetrics, StrategyMetrics, SystemMetrics, TradeMetrics
from components.regime.controller import PerformanceSnapshot

_RECENT_HOURS = 24


class AnalyticsReport(BaseModel):
    """Everything analytics knows at ``generated_at``.

    ``performance`` covers the trailing ``window`` (what the MSC reads); the rest is
    all-time.

    Example: ``print(analytics.report(now).render_markdown())``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    generated_at: AwareDatetime
    window: timedelta
    performance: PerformanceSnapshot
    totals: TradeMetrics
    strategies: dict[str, StrategyMetrics]
    pal: dict[str, TradeMetrics] = {}
    """The Profit Amplification Layer's fills per strategy (``AnalyticsConsumer.pal_metrics``)."""
    models: dict[str, ModelMetrics]
    system: SystemMetrics

    def render_tables(self) -> dict[str, list[dict[str, Any]]]:
        """Rows per table: ``strategies``, ``models``, ``rejections``, ``policy_changes``
        and ``system`` (metric/value pairs).

        Example: ``create_table_artifact(table=report.render_tables()["strategies"])``.
        """
        system = self.system
        return {
            "strategies": [
                {"strategy": name, **_metric_row(m)} for name, m in self.strategies.items()
            ],
            "pal": [
                {
                    "strategy": name,
                    "adds": m.fills - m.trades,
                    "partial_profits": m.trades,
                    "partials_pnl": _money(m.pnl),
                    "fees": _money(m.fees),
                }
                for name, m in self.pal.items()
            ],
            "models": [
                {"model": m.model, "version": m.version, "production": m.production}
                | _metric_row(m)
                for m in self.models.values()
            ],
            "rejections": [
                {"check": check, "count": count}
                for check, count in sorted(system.rejections_by_check.items(), key=_by_count)
            ],
            "policy_changes": [
                {"hour": hour, "changes": count}
                for hour, count in system.policy_changes_by_hour.items()
            ],
            "system": [
                {"metric": metric, "value": value}
                for metric, value in (
                    ("events", system.events_total),
                    ("duplicate deliveries ignored", system.duplicates_ignored),
                    ("order rejections", system.rejections_total),
                    ("ESS trips", system.ess_trips),
                    ("policy changes", system.policy_changes_total),
                    ("model promotions", system.model_promotions),
                    ("fills", self.totals.fills),
                    ("trades", self.totals.trades),
                    ("net PnL", _money(self.totals.pnl)),
                    ("fees", _money(self.totals.fees)),
                )
            ],
        }

    def render_markdown(self) -> str:
        """A summary for people: recent performance, all-time totals, the strategy and
        model tables, and the system counts.

        Example: ``create_markdown_artifact(markdown=report.render_markdown())``.
        """
        perf, totals, system = self.performance, self.totals, self.system
        days = self.window / timedelta(days=1)
        lines = [
            f"# Analytics report, {self.generated_at:%Y-%m-%d %H:%M} UTC",
            "",
            f"**Last {days:g} days:** PnL {perf.pnl_pct:+.2%}, win rate "
            f"{_pct(perf.win_rate)} over {perf.trades} trades, drawdown {perf.drawdown:.2%}.",
            "",
            f"**All time:** net PnL {_money(totals.pnl):,.2f} after {_money(totals.fees):,.2f} "
            f"in fees; {totals.fills} fills, {totals.trades} trades, win rate "
            f"{_pct(totals.win_rate)}, max drawdown {_money(totals.max_drawdown):,.2f}.",
            "",
            "## Strategies",
            "",
            *_metric_table("strategy", {n: m for n, m in self.strategies.items()}),
            "",
            "## Profit Amplification Layer",
            "",
            *_pal_lines(self.pal),
            "",
            "## Models",
            "",
            *_metric_table(
                "model version",
                {
                    f"{m.label}{' (production)' if m.production else ''}": m
                    for m in self.models.values()
                },
            ),
            "",
            "## System",
            "",
            f"- Events handled: {system.events_total}{_breakdown(system.events_by_type)}; "
            f"duplicate deliveries ignored: {system.duplicates_ignored}.",
            f"- Order rejections: {system.rejections_total}"
            f"{_breakdown(system.rejections_by_check)}.",
            f"- ESS trips: {system.ess_trips}{_breakdown(system.ess_trips_by_state)}.",
            f"- Policy changes: {system.policy_changes_total}"
            f"{_breakdown(system.policy_changes_by_author)}.",
            f"- Production models: {_pairs(system.production_models) or 'none yet'}.",
        ]
        recent = list(system.policy_changes_by_hour.items())[-_RECENT_HOURS:]
        if recent:
            lines += ["", "Policy changes per hour (latest first):", ""]
            lines += [f"- {hour}: {count}" for hour, count in reversed(recent)]
        if system.recent_ess_trips:
            lines += ["", "Recent ESS trips:", ""]
            lines += [
                f"- {trip.at:%Y-%m-%d %H:%M} {trip.previous or '?'} -> {trip.state} by "
                f"{trip.by}: {trip.reason}"
                for trip in system.recent_ess_trips[:10]
            ]
        return "\n".join(lines) + "\n"


def _pal_lines(pal: dict[str, TradeMetrics]) -> list[str]:
    """Per strategy: PAL's adds, its partial profits and what they realised (net of PAL's
    fees); an add's own result shows in the position's exit, not here."""
    if not pal:
        return ["No PAL fills (the layer is off, observing, or found nothing to do)."]
    lines = [
        "| strategy | adds | partial profits | partials PnL | PAL fees |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {m.fills - m.trades} | {m.trades} | {_money(m.pnl):,.2f} | "
        f"{_money(m.fees):,.2f} |"
        for name, m in pal.items()
    ]
    return lines


def _metric_row(m: TradeMetrics) -> dict[str, Any]:
    return {
        "fills": m.fills,
        "trades": m.trades,
        "win_rate": _round(m.win_rate, 4),
        "net_pnl": _money(m.pnl),
        "fees": _money(m.fees),
        "sharpe": _round(m.sharpe, 3),
        "max_drawdown": _money(m.max_drawdown),
        "profit_factor": _round(m.profit_factor, 3),
    }


def _metric_table(title: str, rows: dict[str, TradeMetrics]) -> list[str]:
    if not rows:
        return ["No fills yet."]
    table = [
        f"| {title} | fills | trades | win rate | net PnL | fees | Sharpe | max DD | PF |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in rows.items():
        table.append(
            f"| {name} | {m.fills} | {m.trades} | {_pct(m.win_rate)} | {m.pnl:,.2f} | "
            f"{m.fees:,.2f} | {_num(m.sharpe)} | {m.max_drawdown:,.2f} | {_num(m.profit_factor)} |"
        )
    return table


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return -item[1], item[0]


def _breakdown(counts: dict[str, int]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=_by_count)) + ")"


def _pairs(values: dict[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(values.items()))


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _money(value: float) -> float:
    return round(value, 2)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


class ReportRun(BaseModel):
    """One run of the analytics-report flow: the report, where its chart was drawn, and
    the Model Supervisor's verdict (None without a production model). Its
    :meth:`render_markdown` is the flow's markdown artifact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    report: AnalyticsReport
    chart: str
    model_ok: bool | None = None

    @property
    def trades(self) -> int:
        return self.report.totals.trades

    @property
    def pnl(self) -> float:
        return self.report.totals.pnl

    def render_markdown(self) -> str:
        """The report's note, with the chart's file."""
        return self.report.render_markdown() + f"\n\nChart file: `{self.chart}`\n"
