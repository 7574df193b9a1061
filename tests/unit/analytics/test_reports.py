"""Reports: the MSC's performance snapshot on a known history, and the rendered report."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from components.analytics import Analytics, AnalyticsConfig
from components.errors import DataError
from components.redis import delete_namespace
from components.regime import PerformanceSnapshot
from tests.unit.analytics.builders import T0, ess, hours, opening, policy_write, rejection, trade

NOW = T0 + timedelta(days=10)
WEEK = timedelta(days=7)
START = NOW - WEEK


def build_history(analytics: Analytics) -> None:
    """+500 realised before the window, then inside it (in time order):
    -2 (open), +300, -400, +150 (closing trades), -1 (open): +47 net, 2 wins of 3."""
    analytics.handle(trade(500.0, fee=5.0, at=T0))
    analytics.handle(trade(999.0, fee=5.0, at=START))  # on the boundary: before the window
    window = [
        opening(2.0, at=START + hours(1)),
        trade(-400.0, fee=4.0, at=START + hours(30), strategy="breakout"),
        trade(300.0, fee=3.0, at=START + hours(20)),  # handled out of time order
        trade(150.0, fee=1.5, at=START + hours(50)),
        opening(1.0, at=NOW),  # at `now`: inside
    ]
    for event in window:
        analytics.handle(event)
    analytics.handle(trade(10_000.0, fee=1.0, at=NOW + hours(1)))  # after `now`: ignored


def test_performance_snapshot_of_a_known_history(analytics: Analytics) -> None:
    build_history(analytics)

    snapshot = analytics.performance_snapshot(WEEK, now=NOW)

    base = 10_000.0 + 500.0 + 999.0  # starting cash + everything realised before the window
    assert isinstance(snapshot, PerformanceSnapshot)
    assert snapshot.trades == 3
    assert snapshot.win_rate == pytest.approx(2 / 3)
    assert snapshot.pnl_pct == pytest.approx(47.0 / base)
    peak = base - 2.0 + 300.0  # the curve: base, -2, +300 (peak), -400 (trough), +150, -1
    assert snapshot.drawdown == pytest.approx(400.0 / peak)


def test_performance_snapshot_starts_the_window_from_the_given_equity(
    analytics: Analytics,
) -> None:
    build_history(analytics)

    snapshot = analytics.performance_snapshot(WEEK, now=NOW, equity=20_047.0)

    assert snapshot.pnl_pct == pytest.approx(47.0 / 20_000.0)
    assert snapshot.drawdown == pytest.approx(400.0 / (20_000.0 - 2.0 + 300.0))


def test_performance_snapshot_without_fills_has_no_record(analytics: Analytics) -> None:
    snapshot = analytics.performance_snapshot(now=NOW)

    assert snapshot == PerformanceSnapshot(pnl_pct=0.0, win_rate=None, drawdown=0.0, trades=0)


def test_performance_snapshot_refuses_a_bad_window_or_equity(analytics: Analytics) -> None:
    with pytest.raises(DataError, match="window"):
        analytics.performance_snapshot(timedelta(0), now=NOW)
    with pytest.raises(DataError, match="equity"):
        analytics.performance_snapshot(now=NOW, equity=-5.0)


def test_a_wiped_out_account_reports_full_loss(client: redis.Redis, namespace: str) -> None:
    analytics = Analytics(client, namespace=namespace, config=AnalyticsConfig(starting_cash=100.0))
    analytics.handle(trade(-150.0, at=T0))
    analytics.handle(trade(-1.0, at=NOW - hours(1)))

    snapshot = analytics.performance_snapshot(now=NOW)

    assert (snapshot.pnl_pct, snapshot.drawdown, snapshot.trades) == (-1.0, 1.0, 1)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pnls=st.lists(st.floats(-3_000.0, 3_000.0, allow_nan=False), min_size=1, max_size=15))
def test_snapshot_drawdown_and_pnl_stay_in_their_ranges(
    client: redis.Redis, pnls: list[float]
) -> None:
    namespace = f"test-{uuid.uuid4().hex[:12]}"
    analytics = Analytics(client, namespace=namespace)
    try:
        for n, pnl in enumerate(pnls):
            analytics.handle(trade(pnl, fee=0.5, at=NOW - hours(n + 1)))
        snapshot = analytics.performance_snapshot(now=NOW)
        assert 0.0 <= snapshot.drawdown <= 1.0
        assert snapshot.pnl_pct >= -1.0
        assert snapshot.trades == sum(1 for p in pnls if p + 0.5 != 0)
    finally:
        delete_namespace(client, namespace)


def test_report_renders_markdown_and_tables(analytics: Analytics) -> None:
    build_history(analytics)
    analytics.handle(rejection("max_positions"))
    analytics.handle(ess("HALTED", "ACTIVE", reason="drawdown 12% >= 10%"))
    analytics.handle(policy_write(2, at=NOW - hours(2), risk_mode="DEFENSIVE"))

    report = analytics.report(NOW)

    assert report.performance == analytics.performance_snapshot(now=NOW)
    assert set(report.strategies) == {"momentum", "breakout"}
    markdown = report.render_markdown()
    assert markdown.startswith("# Analytics report, 2026-01-15 09:00 UTC")
    assert "| momentum |" in markdown and "| breakout |" in markdown
    assert "Order rejections: 1 (max_positions 1)" in markdown
    assert "ESS trips: 1 (HALTED 1)" in markdown
    assert "ACTIVE -> HALTED by emergency_stop: drawdown 12% >= 10%" in markdown
    tables = report.render_tables()
    assert set(tables) == {"strategies", "pal", "models", "rejections", "policy_changes", "system"}
    by_name = {row["strategy"]: row for row in tables["strategies"]}
    assert by_name["breakout"]["net_pnl"] == -400.0
    assert by_name["momentum"]["trades"] == 5  # 500, 999, 300, 150, 10_000
    assert tables["rejections"] == [{"check": "max_positions", "count": 1}]
    assert tables["policy_changes"] == [{"hour": "2026-01-15T07:00Z", "changes": 1}]
    with pytest.raises(ValidationError):
        report.generated_at = NOW  # type: ignore[misc]


def test_strategy_sharpe_comes_from_daily_pnl(analytics: Analytics) -> None:
    analytics.handle(trade(10.0, at=T0))
    analytics.handle(trade(-5.0, at=T0 + timedelta(days=1)))
    analytics.handle(trade(3.0, at=T0 + timedelta(days=1, hours=2)))  # same day: -2 that day
    analytics.handle(trade(8.0, at=T0 + timedelta(days=3)))  # a day without fills between

    daily = [10.0, -2.0, 0.0, 8.0]
    mean = sum(daily) / 4
    std = (sum((x - mean) ** 2 for x in daily) / 3) ** 0.5
    assert analytics.strategy_metrics()["momentum"].sharpe == pytest.approx(mean / std * 365**0.5)


def test_a_report_reads_back_from_its_own_json(analytics: Analytics) -> None:
    build_history(analytics)
    analytics.handle(ess("REDUCING", "ACTIVE"))
    report = analytics.report(NOW)

    assert type(report).model_validate_json(report.model_dump_json()) == report


def test_the_report_shows_the_profit_amplification_layer_per_strategy(
    analytics: Analytics,
) -> None:
    analytics.handle(opening(1.0, coid="p1:open"))  # the strategy's own entry
    analytics.handle(opening(0.5, coid="p1:pal:add:1"))  # PAL added to it
    analytics.handle(trade(120.0, fee=0.4, coid="p1:pal:partial:1"))  # and took a profit
    analytics.handle(trade(80.0, fee=0.3, coid="p1:sl"))  # the stop closed the rest

    report = analytics.report(NOW)

    pal = report.pal["momentum"]
    assert (pal.fills, pal.trades, pal.pnl) == (2, 1, pytest.approx(119.5))
    assert report.strategies["momentum"].fills == 4  # PAL's fills are the strategy's too
    row = report.render_tables()["pal"][0]
    assert (row["adds"], row["partial_profits"], row["partials_pnl"]) == (1, 1, 119.5)
    assert "| momentum | 1 | 1 | 119.50 |" in report.render_markdown()


def test_without_pal_fills_the_report_says_so(analytics: Analytics) -> None:
    analytics.handle(trade(10.0, fee=0.1))

    assert "No PAL fills" in analytics.report(NOW).render_markdown()
