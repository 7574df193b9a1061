"""quantum-trader backtest and evolve."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import (
    handles_errors,
    json_object,
    now,
    out,
    print_json,
    root,
    runs_flows,
    settings,
)


def _refuse_unknown_strategy(name: str) -> None:
    """Refuse a name that is neither a built-in, ``ml``, nor a stored candidate, before
    anything loads pandas (a typo fails at once)."""
    from components.errors import ConfigurationError
    from components.evolution.keys import is_stored_candidate
    from components.redis import connect
    from components.strategies.names import BUILTIN_STRATEGIES

    if name in (*BUILTIN_STRATEGIES, "ml"):
        return
    config = settings()
    if not is_stored_candidate(connect(config), config.namespace, name):
        raise ConfigurationError(
            f"unknown strategy {name!r}: neither a built-in ({', '.join(BUILTIN_STRATEGIES)}) "
            "nor a stored candidate (quantum-trader evolve makes some)"
        )


def _resolve_strategy(name: str, params: str | None) -> Any:
    """A built-in, the ml strategy, or a stored candidate, with ``params`` (JSON) applied."""
    changes = json_object(params, "--params") if params else {}
    _refuse_unknown_strategy(name)

    from components.errors import ConfigurationError
    from components.evolution import EvolutionStore
    from components.strategies import STRATEGIES, create_strategy

    config = settings()
    if name == "ml":
        from components.learning import ModelRegistry, register_ml_strategy
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
        raise ConfigurationError(
            f"strategy {name!r} is a stored candidate that can no longer be built "
            "(its strategy or params are gone; see the log)"
        )
    return candidate.with_params(**changes) if changes else candidate


@root.command("backtest")
@handles_errors
def backtest_command(
    strategy: str = typer.Option(..., "--strategy", help="A built-in, ml, or a candidate."),
    params: str | None = typer.Option(None, "--params", help="JSON, e.g. '{\"lookback\": 30}'"),
    data: str = typer.Option("synthetic", "--data", help="synthetic, or a folder of OHLCV files."),
    symbols: list[str] = typer.Option(["BTC/USDT"], "--symbols", help="Repeat for several."),
    timeframe: str = typer.Option("1h", "--timeframe"),
    bars: int = typer.Option(8_760, "--bars", min=100, help="Bars per symbol (synthetic)."),
    as_json: bool = typer.Option(False, "--json"),
    grid: bool = typer.Option(
        False, "--grid", help="Search a parameter grid: --grid fast=5:50:5 slow=20:200:20"
    ),
    grid_specs: list[str] | None = typer.Argument(
        None, metavar="[NAME=START:STOP:STEP|NAME=A,B ...]", help="The grid (with --grid)."
    ),
) -> None:
    """Backtest a strategy (the engine's own code) and chart its equity and drawdown; with
    --grid, every parameter set of a grid at once, ranked by Sharpe."""
    config = settings()
    if grid or grid_specs:
        _refuse_unknown_strategy(strategy)  # before the heavy imports
        _backtest_grid(strategy, grid_specs or [], data, symbols[0], timeframe, bars, as_json)
        return
    chosen = _resolve_strategy(strategy, params)  # a wrong name fails before the heavy imports

    from pathlib import Path

    from rich.console import Console
    from rich.progress import Progress

    from components.analytics.charts import equity_and_drawdown_chart
    from components.backtest import BacktestConfig, Backtester
    from components.clock import make_clock
    from components.market import FileMarket, SyntheticMarket

    market: Any = (
        SyntheticMarket(seed=config.market.seed, clock=make_clock(config.clock))
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


@root.command("evolve")
@handles_errors
@runs_flows
def evolve_command(
    population: int | None = typer.Option(None, "--population", min=4),
    generations: int | None = typer.Option(None, "--generations", min=1),
    seed: int | None = typer.Option(None, "--seed", min=0),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Breed strategy candidates (walk-forward, out-of-sample fitness); the best enter
    shadow trading."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from flows.strategy_generation import strategy_generation
    from tasks.evolution import add_progress_listener

    config = settings()
    total = generations or config.evolution.generations
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
        print_json(result.model_dump(mode="json"))
        return
    from components.evolution.results import CANDIDATE_COLUMNS

    table = Table(title=f"Best candidates of run {result.run_id} (seed {result.seed})")
    for column in CANDIDATE_COLUMNS:
        table.add_column(column)
    for cells in result.candidate_table():
        table.add_row(*cells)
    out.print(table)
    shadow = ", ".join(result.shadow) or "none (no candidate cleared the bar)"
    out.print(f"entered shadow trading: {shadow}")


def _backtest_grid(
    strategy: str,
    specs: list[str],
    data: str,
    symbol: str,
    timeframe: str,
    bars: int,
    as_json: bool,
) -> None:
    """``backtest --grid``: Backtester.run_grid on one symbol, the best sets by Sharpe."""
    import time
    from pathlib import Path

    from components.backtest import BacktestConfig, Backtester, parse_grid
    from components.clock import make_clock
    from components.errors import ConfigurationError
    from components.market import FileMarket, SyntheticMarket

    if not specs:
        raise ConfigurationError("--grid needs the grid, e.g. --grid fast=5:50:5 slow=20:200:20")
    config = settings()
    market: Any = (
        SyntheticMarket(seed=config.market.seed, clock=make_clock(config.clock))
        if data == "synthetic"
        else FileMarket(Path(data))
    )
    frame = market.bars(symbol, timeframe, limit=bars)
    started = time.perf_counter()
    result = Backtester(BacktestConfig.from_settings(config)).run_grid(
        strategy, parse_grid(specs), frame, symbol=symbol, timeframe=timeframe
    )
    seconds = time.perf_counter() - started
    ranked = result.table.sort_values("sharpe", ascending=False, kind="stable")
    if as_json:
        print_json(
            {
                "strategy": strategy,
                "symbol": symbol,
                "sets": result.sets,
                "skipped": result.skipped,
                "skip_reasons": dict(result.skip_reasons),
                "seconds": round(seconds, 4),
                "table": ranked.to_dict("records"),
            }
        )
        return
    table = Table(title=f"{strategy} on {symbol} ({timeframe}): best of {result.sets} sets")
    for column in ranked.columns:
        table.add_column(str(column))
    for row in ranked.head(10).itertuples(index=False):
        table.add_row(*(f"{v:,.4f}" if isinstance(v, float) else str(v) for v in row))
    out.print(table)
    out.print(
        f"{result.sets} sets in {seconds:.2f} s ({result.sets / seconds:,.0f} sets/s); "
        f"{result.skipped} skipped as invalid"
    )
