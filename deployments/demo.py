"""``quantum-trader demo``: an accelerated simulated day, in this process, ending with a
report of what the system decided and why.

The same flows the deployments run, on the synthetic market with a simulated clock:
every ``step`` simulated minutes the ranking and the Meta Strategy Controller run, every
simulated hour the universe refresh, and in between the trading engine runs a cycle
every 5 simulated minutes. (Scheduled for real, the ranking runs every 5 minutes; on
hourly bars runs between two bars repeat the same ranking, so the demo skips them.)
Prefect runs the flows on a temporary local server. The engine trades on paper in the
demo's namespace, so ``quantum-trader report`` afterwards shows what it did.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from components.analytics import Analytics
from components.errors import ConfigurationError
from components.events import RedisEventBus
from components.execution import Ledger
from components.market import ManualClock, SyntheticMarket
from components.namespaces import key_pattern
from components.policy import PolicyStore
from components.redis import connect, delete_namespace, namespaced
from components.settings import Settings

DEMO_START = datetime(2026, 3, 2, tzinfo=UTC)
ENGINE_STEP_MINUTES = 5


@dataclass
class DemoReport:
    start: datetime
    end: datetime
    flow_runs: Counter[str] = field(default_factory=Counter)
    mode_changes: list[dict[str, Any]] = field(default_factory=list)
    regimes: Counter[str] = field(default_factory=Counter)
    universe_changes: list[dict[str, Any]] = field(default_factory=list)
    final_policy: dict[str, Any] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    trading: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "flow_runs": dict(self.flow_runs),
            "mode_changes": self.mode_changes,
            "regimes": dict(self.regimes),
            "universe_changes": self.universe_changes,
            "events": dict(self.events),
            "final_policy": self.final_policy,
            "trading": self.trading,
        }


def claim_namespace(settings: Settings) -> None:
    """Clear the namespace for the demo, refusing one that holds a real system's data."""
    client = connect(settings)
    marker = namespaced(settings.namespace, "demo")
    try:
        has_data = next(
            iter(client.scan_iter(match=key_pattern(settings.namespace), count=100)), None
        )
    except redis.exceptions.NoPermissionError:
        raise ConfigurationError(
            "the demo clears its namespace, which takes SCAN, and QT_REDIS_URL names a user "
            f"limited to namespace {settings.namespace!r} (no SCAN); run the demo with the "
            "server's own user"
        ) from None
    if has_data is not None and not client.exists(marker):
        raise ConfigurationError(
            f"namespace {settings.namespace!r} holds data the demo did not write; run the demo "
            "in another one: QT_NAMESPACE=demo quantum-trader demo"
        )
    delete_namespace(client, settings.namespace)
    client.set(marker, datetime.now(UTC).isoformat())


def run_demo(
    settings: Settings,
    *,
    hours: float = 24,
    step_minutes: int = 30,
    seed: int = 7,
    console: Console | None = None,
) -> DemoReport:
    console = console or Console()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from flows.msc_evaluation import msc_evaluation
    from flows.opportunity_ranking import opportunity_ranking
    from flows.trading_engine import trading_engine
    from flows.universe_refresh import universe_refresh
    from tasks.runtime import use_market

    claim_namespace(settings)
    clock = ManualClock(DEMO_START)
    use_market(settings, SyntheticMarket(seed=seed, clock=clock), clock)
    report = DemoReport(start=DEMO_START, end=DEMO_START + timedelta(hours=hours))
    steps = max(1, round(hours * 60 / step_minutes))
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"simulating {hours:g} hours", total=steps)
        for step in range(steps):
            now = clock.now()
            progress.update(task, description=f"simulated {now:%a %H:%M}")
            opportunity_ranking()
            result = msc_evaluation()
            report.regimes[result.market_state.value if result.market_state else "-"] += 1
            report.flow_runs.update(["opportunity-ranking", "msc-evaluation"])
            if now.minute == 0 or step == 0:
                universe_refresh()
                report.flow_runs["universe-refresh"] += 1
            cycles = max(1, step_minutes // ENGINE_STEP_MINUTES)  # the engine moves the clock
            trading_engine(max_cycles=cycles, interval_seconds=0, step_minutes=ENGINE_STEP_MINUTES)
            report.flow_runs["trading-engine"] += 1
            progress.advance(task)
    _collect(settings, report)
    return report


def _collect(settings: Settings, report: DemoReport) -> None:
    client = connect(settings)
    store = PolicyStore(client, namespace=settings.namespace, settings=settings)
    bus = RedisEventBus(client, namespace=settings.namespace)
    for event in bus.tail("regime.assessed", count=100_000):
        payload: Any = event.payload
        if payload.risk_mode != payload.previous_mode or not report.mode_changes:
            report.mode_changes.append(
                {
                    "at": event.occurred_at.isoformat(),
                    "from": payload.previous_mode,
                    "to": payload.risk_mode,
                    "market": payload.market_state,
                    "why": "; ".join(payload.drivers[:3]),
                }
            )
    for event in bus.tail("universe.updated", count=100_000):
        payload = event.payload
        if payload.added or payload.removed:
            report.universe_changes.append(
                {
                    "at": event.occurred_at.isoformat(),
                    "added": payload.added,
                    "removed": payload.removed,
                    "size": len(payload.symbols),
                }
            )
    for event in bus.tail(count=1_000_000):
        report.events[event.type] += 1
    report.final_policy = store.get().model_dump(mode="json")
    ledger = Ledger(client, namespace=settings.namespace, initial_cash=settings.paper.initial_cash)
    state = ledger.state()
    analytics = Analytics.connect(settings)
    analytics.attach(bus)
    analytics.catch_up(bus)
    report.trading = {
        "fills": len(ledger.fills(limit=None)),
        "realized_pnl": state.realized_pnl,
        "fees": state.fees_paid,
        "open_positions": sorted(state.positions),
        "strategies": {
            name: {"trades": m.trades, "pnl": m.pnl, "win_rate": m.win_rate}
            for name, m in analytics.strategy_metrics().items()
        },
    }


def print_report(report: DemoReport, console: Console) -> None:
    policy = report.final_policy
    console.print(
        f"[bold]Simulated {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC[/bold]"
        f" - {sum(report.flow_runs.values())} flow runs "
        f"({', '.join(f'{n} {name}' for name, n in report.flow_runs.items())})"
    )
    modes = Table(title="Risk mode: what changed and why")
    for column in ("simulated time", "from", "to", "market", "why"):
        modes.add_column(column)
    for change in report.mode_changes:
        modes.add_row(
            change["at"][5:16].replace("T", " "),
            change["from"],
            change["to"],
            change["market"],
            change["why"],
        )
    console.print(modes)
    regimes = ", ".join(f"{state} {n}" for state, n in report.regimes.most_common())
    console.print(f"Market states seen (evaluations): {regimes}")
    universe = Table(title="Active universe changes")
    for column in ("simulated time", "added", "removed", "size"):
        universe.add_column(column)
    for change in report.universe_changes:
        universe.add_row(
            change["at"][5:16].replace("T", " "),
            ", ".join(change["added"]),
            ", ".join(change["removed"]),
            str(change["size"]),
        )
    console.print(universe)
    top = sorted(policy["opp_rankings"].items(), key=lambda item: -item[1])[:5]
    console.print(
        f"Final policy v{policy['version']}: risk {policy['risk_mode']}, "
        f"max risk/trade {policy['max_risk_per_trade']:.2%}, max positions "
        f"{policy['max_positions']}, min confidence {policy['global_min_confidence']:.2f}, "
        f"strategies {', '.join(policy['allowed_strategies']) or 'none'}"
    )
    console.print(
        f"Universe: {', '.join(policy['active_universe']) or 'empty'}; top ranked: "
        + ", ".join(f"{symbol} {score:.2f}" for symbol, score in top)
    )
    trading = report.trading
    if trading:
        strategies = ", ".join(
            f"{name} {m['trades']} trades {m['pnl']:+,.2f}"
            for name, m in sorted(trading["strategies"].items())
        )
        console.print(
            f"Paper trading: {trading['fills']} fills, realised PnL "
            f"{trading['realized_pnl']:+,.2f} after {trading['fees']:,.2f} fees; "
            f"open: {', '.join(trading['open_positions']) or 'none'}; {strategies or 'no trades'}"
        )
    console.print(
        "Events: " + ", ".join(f"{name} {n}" for name, n in sorted(report.events.items()))
    )
    console.print("Details: quantum-trader report, quantum-trader positions")
