"""quantum-trader engine run."""

from __future__ import annotations

import typer

from deployments.cli._app import (
    group,
    handles_errors,
    out,
    runs_flows,
)

app = group("engine", help="Run the trading engine.")


@app.command("run")
@handles_errors
@runs_flows
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
