"""The ``quantum-trader`` command line.

Every command reads Settings from the environment (``QT_*``). Invalid input exits 2 with
one line on stderr; an outage (Redis unreachable) exits 1. ``--json`` prints
machine-readable output on stdout.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from components.errors import (
    ConfigurationError,
    DataError,
    PolicyConflictError,
    PolicyValidationError,
    QuantumTraderError,
)
from components.events import Event, RedisEventBus, event_to_json
from components.policy import PolicyStore
from components.settings import Settings, load_settings

# Offline machines: Prefect's telemetry would only log errors (DESIGN.md section 8).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="quantum-trader",
    help="Quantum Trader: an AI hedge-fund operating system for crypto markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
policy_app = typer.Typer(help="Read and change the global policy.", no_args_is_help=True)
events_app = typer.Typer(help="Look at the event streams.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(events_app, name="events")

out = Console(soft_wrap=True)

INPUT_ERRORS = (ConfigurationError, DataError, PolicyValidationError, PolicyConflictError)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit ``code``."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn Quantum Trader errors into one stderr line and an exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except INPUT_ERRORS as exc:
            fail(str(exc), 2)
        except QuantumTraderError as exc:
            fail(str(exc), 1)

    return wrapper


def settings() -> Settings:
    return load_settings()


def now(config: Settings) -> datetime:
    """The time a command acts at: the wall clock, or the fixed time of ``QT_CLOCK``."""
    from components.clock import make_clock

    return make_clock(config.clock).now()


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


# --- policy -------------------------------------------------------------------------------


@policy_app.command("show")
@handles_errors
def policy_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the current policy."""
    policy = PolicyStore.connect(settings()).get()
    if as_json:
        print_json(policy.model_dump(mode="json"))
        return
    table = Table(title=f"Global policy v{policy.version}", show_header=False)
    for name, value in policy.model_dump(mode="json").items():
        table.add_row(name, json.dumps(value) if isinstance(value, dict | list) else str(value))
    out.print(table)


@policy_app.command("patch")
@handles_errors
def policy_patch(
    changes: str = typer.Argument(
        ..., help="JSON object to deep-merge, e.g. '{\"max_positions\": 4}'"
    ),
    by: str = typer.Option(..., "--by", help="Who makes the change."),
    reason: str = typer.Option(..., "--reason", help="Why."),
    expected_version: int | None = typer.Option(
        None, "--expected-version", help="Refuse unless the policy is at this version."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new policy as JSON."),
) -> None:
    """Deep-merge CHANGES into the policy (null removes a key / resets a field)."""
    parsed = _json_object(changes, "CHANGES")
    store = PolicyStore.connect(settings())
    before = store.get().version
    policy = store.patch(parsed, by=by, reason=reason, expected_version=expected_version)
    if as_json:
        print_json(policy.model_dump(mode="json"))
    elif policy.version == before:
        out.print(f"policy unchanged at v{policy.version} (nothing to change)")
    else:
        out.print(f"policy v{before} -> v{policy.version}")


@policy_app.command("history")
@handles_errors
def policy_history(
    limit: int = typer.Option(20, "--limit", min=1, help="How many changes, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Who changed the policy, when, why and what."""
    changes = PolicyStore.connect(settings()).history(limit)
    if as_json:
        print_json([change.model_dump(mode="json") for change in changes])
        return
    table = Table(title="Policy history (newest first)")
    for column in ("version", "at", "by", "reason", "changes"):
        table.add_column(column)
    for change in changes:
        summary = "; ".join(
            f"{path}: {json.dumps(d['old'])} -> {json.dumps(d['new'])}"
            for path, d in change.diff.items()
        )
        table.add_row(
            str(change.version),
            change.at.isoformat(timespec="seconds"),
            change.by,
            change.reason,
            summary,
        )
    out.print(table)


@policy_app.command("rollback")
@handles_errors
def policy_rollback(
    version: int = typer.Argument(..., min=0, help="The version to restore."),
    by: str = typer.Option(..., "--by"),
    reason: str = typer.Option(..., "--reason"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the policy of VERSION again, as a new version."""
    policy = PolicyStore.connect(settings()).rollback(version, by=by, reason=reason)
    if as_json:
        print_json(policy.model_dump(mode="json"))
    else:
        out.print(f"policy v{policy.version} restores v{version}")


# --- events -------------------------------------------------------------------------------


def _event_line(event: Event) -> str:
    at = event.occurred_at.isoformat(timespec="milliseconds")
    return f"{at} {event.type} [{event.source}] {event.payload.model_dump_json()}"


@events_app.command("tail")
@handles_errors
def events_tail(
    event_type: str | None = typer.Option(None, "--type", help="Only this event type."),
    count: int = typer.Option(10, "--count", min=0, help="How many past events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON: an array, or one object a line with --follow."
    ),
) -> None:
    """The last COUNT events, newest last."""
    bus = RedisEventBus.connect(settings())
    if event_type is not None:
        from components.events import payload_model

        payload_model(event_type)  # unknown types: exit 2 naming the known ones
    past = bus.tail(event_type, count=count)
    if as_json and not follow:
        print_json([event_to_json(event) for event in past])
        return
    for event in past:
        print(json.dumps(event_to_json(event)) if as_json else _event_line(event), flush=True)
    if not follow:
        return
    try:
        for event in bus.follow(event_type):
            print(json.dumps(event_to_json(event)) if as_json else _event_line(event), flush=True)
    except KeyboardInterrupt:
        pass


@events_app.command("stats")
@handles_errors
def events_stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Published, delivered, failed and dead-lettered counts, and the lag per group."""
    stats = RedisEventBus.connect(settings()).stats()
    if as_json:
        print_json(stats.model_dump(mode="json"))
        return
    table = Table(title="Event bus", show_header=False)
    for name in ("published", "delivered", "failed", "dead_lettered", "lag"):
        table.add_row(name, str(getattr(stats, name)))
    for group, values in stats.groups.items():
        table.add_row(f"group {group}", f"pending {values.pending}, lag {values.lag}")
    out.print(table)


# --- trading --------------------------------------------------------------------------------

engine_app = typer.Typer(help="Run the trading engine.", no_args_is_help=True)
ess_app = typer.Typer(help="The Emergency Stop System.", no_args_is_help=True)
app.add_typer(engine_app, name="engine")
app.add_typer(ess_app, name="ess")


@engine_app.command("run")
@handles_errors
def engine_run(
    cycles: int | None = typer.Option(None, "--cycles", min=1, help="Stop after N cycles."),
    speed: float = typer.Option(
        1.0, "--speed", min=1.0, help="Simulated seconds per real second (synthetic market)."
    ),
    interval: float | None = typer.Option(
        None, "--interval", min=0.0, help="Seconds between cycles (default QT_ENGINE_INTERVAL_S)."
    ),
    minutes: float | None = typer.Option(None, "--minutes", min=0.01, help="Session length."),
) -> None:
    """Trade in the foreground until Ctrl-C (which finishes the cycle first)."""
    from flows.trading_engine import trading_engine

    result = trading_engine(
        session_minutes=minutes, interval_seconds=interval, speed=speed, max_cycles=cycles
    )
    out.print(
        f"engine {result['ended']}: {result['cycles']} cycles, {result['orders']} orders placed"
    )


def _ess() -> Any:
    from components.risk.emergency import EmergencyStop

    config = settings()
    return EmergencyStop.connect(config, bus=RedisEventBus.connect(config))


def _print_ess(status: Any, as_json: bool) -> None:
    if as_json:
        print_json(status.model_dump(mode="json"))
    else:
        out.print(
            f"ESS {status.state.value}: {status.reason} (since {status.since}, by {status.by})"
        )


@ess_app.command("status")
@handles_errors
def ess_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """The Emergency Stop's state and why."""
    _print_ess(_ess().status(), as_json)


@ess_app.command("halt")
@handles_errors
def ess_halt(
    reason: str = typer.Option("halted by hand", "--reason"),
    by: str = typer.Option("cli", "--by"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stop every new order at once (only cancels pass) until `ess resume`."""
    _print_ess(_ess().halt(reason, by=by), as_json)


@ess_app.command("resume")
@handles_errors
def ess_resume(
    reason: str = typer.Option("resumed by hand", "--reason"),
    by: str = typer.Option("cli", "--by"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Leave HALTED (or REDUCING): trading starts again."""
    _print_ess(_ess().resume(by=by, reason=reason), as_json)


@app.command("positions")
@handles_errors
def positions_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Open positions, cash and equity of the paper account (marked at the last close)."""
    from components.engine import read_heartbeat
    from components.execution import Ledger

    config = settings()
    ledger = Ledger.connect(config)
    marks = {}
    heartbeat = read_heartbeat(ledger.client, config.namespace)
    market_at = heartbeat["market_at"] if heartbeat else None
    if ledger.positions():
        from components.clock import make_clock
        from components.market import MarketConfig, open_market

        market = open_market(MarketConfig.from_settings(config), clock=make_clock(config.clock))
        for symbol in ledger.positions():
            bars = market.bars(symbol, config.engine_timeframe, limit=1, end=market_at)
            if not bars.empty:
                marks[symbol] = float(bars["close"].iloc[-1])
    state = ledger.state(marks)
    if as_json:
        print_json(state.model_dump(mode="json"))
        return
    table = Table(title=f"Positions (equity {state.equity:,.2f}, cash {state.cash:,.2f})")
    for column in ("symbol", "quantity", "avg price", "mark", "unrealised", "stop", "strategy"):
        table.add_column(column)
    for symbol, position in sorted(state.positions.items()):
        mark = marks.get(symbol, position.average_price)
        table.add_row(
            symbol,
            f"{position.quantity:g}",
            f"{position.average_price:,.4f}",
            f"{mark:,.4f}",
            f"{position.unrealized_pnl(mark):,.2f}",
            f"{position.stop_loss:,.4f}" if position.stop_loss else "-",
            position.strategy or "-",
        )
    out.print(table)
    out.print(f"{len(state.open_orders)} open orders, {len(state.fills)} recent fills")


# --- research: backtest and evolve --------------------------------------------------------


def _resolve_strategy(name: str, params: str | None) -> Any:
    """A built-in, the ml strategy, or a stored candidate, with ``params`` (JSON) applied."""
    from components.errors import ConfigurationError
    from components.evolution import EvolutionStore
    from components.learning import register_ml_strategy
    from components.strategies import STRATEGIES, create_strategy

    config = settings()
    changes = _json_object(params, "--params") if params else {}
    if name == "ml":
        from components.learning import ModelRegistry
        from components.redis import connect

        register_ml_strategy(
            ModelRegistry(
                connect(config), namespace=config.namespace, home=config.home.expanduser().resolve()
            )
        )
    if name in STRATEGIES:
        return create_strategy(name, changes)
    candidate = EvolutionStore.connect(config).resolve_candidate(name)
    if candidate is None:
        known = ", ".join(sorted(STRATEGIES))
        raise ConfigurationError(
            f"unknown strategy {name!r}: neither a built-in ({known}) nor a stored candidate "
            "(quantum-trader evolve makes some)"
        )
    return candidate.with_params(**changes) if changes else candidate


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc.msg} at character {exc.pos}")
    if not isinstance(parsed, dict):
        fail(f"{what} must be a JSON object, not {type(parsed).__name__}")
    return parsed


@app.command("backtest")
@handles_errors
def backtest_command(
    strategy: str = typer.Option(..., "--strategy", help="A built-in, ml, or a candidate."),
    params: str | None = typer.Option(None, "--params", help="JSON, e.g. '{\"lookback\": 30}'"),
    data: str = typer.Option("synthetic", "--data", help="synthetic, or a folder of OHLCV files."),
    symbols: list[str] = typer.Option(["BTC/USDT"], "--symbols", help="Repeat for several."),
    timeframe: str = typer.Option("1h", "--timeframe"),
    bars: int = typer.Option(8_760, "--bars", min=100, help="Bars per symbol (synthetic)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Backtest a strategy (the engine's own code) and chart its equity and drawdown."""
    from pathlib import Path

    from rich.progress import Progress

    from components.analytics.charts import equity_and_drawdown_chart
    from components.backtest import BacktestConfig, Backtester
    from components.clock import make_clock
    from components.market import FileMarket, SyntheticMarket

    config = settings()
    chosen = _resolve_strategy(strategy, params)
    market: Any = (
        SyntheticMarket(seed=config.market_seed, clock=make_clock(config.clock))
        if data == "synthetic"
        else FileMarket(Path(data))
    )
    frames = {}
    with Progress(console=Console(stderr=True), transient=True) as progress:
        loading = progress.add_task("loading bars", total=len(symbols) + 1)
        for symbol in symbols:
            frames[symbol] = market.bars(symbol, timeframe, limit=bars)
            progress.advance(loading)
        progress.update(loading, description=f"backtesting {chosen.name}")
        result = Backtester(BacktestConfig.from_settings(config)).run_many(
            chosen, frames, timeframe=timeframe
        )
        progress.advance(loading)
    stamp = now(config).strftime("%Y%m%dT%H%M%S")
    chart = equity_and_drawdown_chart(
        result.equity,
        config.home.expanduser().resolve() / "reports" / f"backtest-{chosen.name}-{stamp}.png",
        title=f"{chosen.name} on {', '.join(symbols)} ({timeframe})",
    )
    metrics = result.metrics.model_dump(mode="json")
    if as_json:
        print_json(
            {
                "strategy": chosen.name,
                "params": chosen.params.model_dump(),
                "symbols": symbols,
                "metrics": metrics,
                "chart": str(chart),
            }
        )
        return
    table = Table(title=f"{chosen.name} {chosen.params.model_dump()}", show_header=False)
    for name, value in metrics.items():
        table.add_row(name, f"{value:,.4f}" if isinstance(value, float) else str(value))
    out.print(table)
    out.print(f"equity and drawdown chart: {chart}")


@app.command("evolve")
@handles_errors
def evolve_command(
    population: int | None = typer.Option(None, "--population", min=4),
    generations: int | None = typer.Option(None, "--generations", min=1),
    seed: int | None = typer.Option(None, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Breed strategy candidates (walk-forward, out-of-sample fitness); the best enter
    shadow trading."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.strategy_generation import strategy_generation
    from tasks.evolution import add_progress_listener

    config = settings()
    total = generations or config.evolution_generations
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        bar = progress.add_task("generation 0", total=total)

        def advance(generation: Any) -> None:
            progress.update(
                bar,
                completed=generation.generation + 1,
                description=f"generation {generation.generation + 1}/{total}: "
                f"best fitness {generation.best_fitness:.3f}",
            )

        remove = add_progress_listener(advance)
        try:
            result = strategy_generation(population=population, generations=generations, seed=seed)
        finally:
            remove()
    if as_json:
        print_json(result)
        return
    table = Table(title=f"Best candidates of run {result['run_id']} (seed {result['seed']})")
    for column in (
        "candidate",
        "fitness",
        "OOS Sharpe",
        "OOS return",
        "OOS max DD",
        "OOS trades",
        "in-sample Sharpe",
        "in-sample return",
    ):
        table.add_column(column)
    for row in result["best"]:
        oos, ins = row["out_of_sample"], row["in_sample"]
        table.add_row(
            row["candidate"],
            f"{row['fitness']:.3f}",
            f"{oos['sharpe']:.2f}",
            f"{oos['total_return']:.2%}",
            f"{oos['max_drawdown']:.2%}",
            str(oos["trades"]),
            f"{ins['sharpe']:.2f}",
            f"{ins['total_return']:.2%}",
        )
    out.print(table)
    shadow = ", ".join(result["shadow"]) or "none (no candidate cleared the bar)"
    out.print(f"entered shadow trading: {shadow}")


# --- learning and analytics -----------------------------------------------------------------

models_app = typer.Typer(
    help="Prediction models: versions, promotion, rollback.", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@app.command("retrain")
@handles_errors
def retrain_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Retrain the prediction model now; promote the candidate only on evidence."""
    from flows.clm_retraining import clm_retraining

    with out.status("retraining (fetch bars, train, calibrate, shadow-evaluate)..."):
        result = clm_retraining()
    if as_json:
        print_json(result)
        return
    verdict = "promoted" if result.get("promoted") else "not promoted"
    out.print(f"{result.get('model')} {result.get('version')} {verdict}")
    for reason in result.get("reasons", []):
        out.print(f"  - {reason}")


def _registry() -> Any:
    from components.learning import ModelRegistry
    from components.redis import connect

    config = settings()
    return ModelRegistry(
        connect(config), namespace=config.namespace, home=config.home.expanduser().resolve()
    )


@models_app.command("list")
@handles_errors
def models_list(
    model: str | None = typer.Option(None, "--model", help="Only this model."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Every model version with its tag and metrics, oldest first."""
    versions = _registry().list(model)
    if as_json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    table = Table(title="Model versions")
    for column in ("model", "version", "tag", "trained at", "log loss", "AUC", "Sharpe"):
        table.add_column(column)
    for v in versions:
        m = v.metrics
        table.add_row(
            v.model,
            v.version,
            v.tag,
            f"{v.trained_at:%Y-%m-%d %H:%M}",
            *(f"{m[k]:.4f}" if k in m else "-" for k in ("log_loss", "auc", "sharpe")),
        )
    out.print(table)
    if not versions:
        out.print("no model yet: quantum-trader retrain")


def _announce(change: Any, by: str) -> None:
    """Record a production change in the policy and announce it (model.promoted)."""
    from components.events.types import MODEL_PROMOTED

    config = settings()
    bus = RedisEventBus.connect(config)
    PolicyStore.connect(config, bus=bus).patch(
        change.policy_patch(), by=by, reason=f"{change.action} {change.model} {change.version}"
    )
    bus.publish(
        Event.create(MODEL_PROMOTED, change.event_payload(), source=by, occurred_at=now(config))
    )
    out.print(f"{change.model}: {change.previous_version} -> {change.version} ({change.action})")


@models_app.command("promote")
@handles_errors
def models_promote(
    version: str = typer.Argument(..., help="e.g. v0003"),
    model: str = typer.Option("price_direction", "--model"),
    by: str = typer.Option("cli", "--by"),
    reason: str = typer.Option("promoted by hand", "--reason"),
) -> None:
    """Put VERSION in production (the current one is retired)."""
    change = _registry().promote(
        model, version, now=now(settings()), evidence={"by": by}, reason=reason
    )
    _announce(change, by)


@models_app.command("rollback")
@handles_errors
def models_rollback(
    model: str = typer.Option("price_direction", "--model"),
    by: str = typer.Option("cli", "--by"),
    reason: str = typer.Option("rolled back by hand", "--reason"),
) -> None:
    """Restore the previous production version."""
    _announce(_registry().rollback(model, now=now(settings()), reason=reason), by)


@app.command("report")
@handles_errors
def report_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Per-strategy and system metrics from every event and fill, and an equity chart."""
    from components.analytics import Analytics
    from components.analytics.charts import equity_and_drawdown_chart, equity_curve_from_fills

    config = settings()
    bus = RedisEventBus.connect(config)
    analytics = Analytics.connect(config)
    analytics.attach(bus)
    analytics.catch_up(bus)
    at = now(config)
    report = analytics.report(at)
    curve = equity_curve_from_fills(analytics.trades(), config.paper_initial_cash)
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


# --- the system -----------------------------------------------------------------------------


@app.command("up")
@handles_errors
def up_command(
    port: int = typer.Option(4200, "--port", min=1, max=65535, help="Port of the Prefect UI."),
) -> None:
    """Start the whole system on this machine; Ctrl-C stops it."""
    from deployments.up import up

    raise typer.Exit(up(settings(), port=port, console=out))


@app.command("demo")
@handles_errors
def demo_command(
    hours: float = typer.Option(24, "--hours", min=0.5, max=24 * 14, help="Simulated hours."),
    seed: int = typer.Option(7, "--seed", min=0, help="Seed of the synthetic market."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run the flows over an accelerated simulated day, then report what they decided."""
    from deployments.demo import print_report, run_demo

    report = run_demo(settings(), hours=hours, seed=seed, console=out)
    if as_json:
        print_json(report.as_json())
    else:
        print_report(report, out)


from deployments.api.cli import api_app  # noqa: E402  (its imports are all lazy)

app.add_typer(api_app, name="api")


def main(argv: list[str] | None = None) -> int:
    """Console entry point: usage errors exit 2 with one line on stderr."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="quantum-trader")
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help())
            return 0
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        return exc.exit_code
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
