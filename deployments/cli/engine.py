"""quantum-trader engine run|reconcile."""

from __future__ import annotations

import typer

from deployments.cli._app import (
    fail,
    group,
    handles_errors,
    out,
    print_json,
    runs_flows,
    settings,
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
    """Trade in the foreground until Ctrl-C (which finishes the cycle first). Exits 1 when
    a cycle failed (e.g. Redis was away: that cycle placed nothing) or none could run."""
    from flows.trading_engine import trading_engine

    result = trading_engine(
        session_minutes=minutes, interval_seconds=interval, speed=speed, max_cycles=cycles
    )
    out.print(f"engine {result.ended}: {result.cycles} cycles, {result.orders} orders placed")
    if result.failed_cycles:
        fail(
            f"{result.failed_cycles} of {result.cycles} engine cycles failed and placed "
            "no orders (their reasons are logged above)",
            code=1,
        )
    if result.cycles == 0 and result.ended != "stopped":
        fail(f"the engine ran no cycle: {result.ended}", code=1)


@app.command("reconcile")
@handles_errors
def engine_reconcile(
    adopt: bool = typer.Option(False, "--adopt", help="The ledger takes the exchange's state."),
    flatten: bool = typer.Option(
        False, "--flatten", help="Cancel the exchange's open orders, sell, flatten the ledger."
    ),
    symbols: list[str] = typer.Option([], "--symbols", help="Also check these balances."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Compare the exchange's open orders and balances with the ledger (QT_EXECUTION=exchange);
    a mismatch refuses every order until --adopt or --flatten."""
    from components.execution import Ledger
    from components.execution import exchange as exchange_module
    from components.redis import connect

    if adopt and flatten:
        fail("choose --adopt or --flatten, not both")
    config = settings()
    if config.exchange.execution != "exchange":
        fail("nothing to reconcile: paper trading (set QT_EXECUTION=exchange)")
    exchange_config = config.exchange
    if exchange_config.api_key is None or exchange_config.api_secret is None:
        fail("engine reconcile needs QT_EXCHANGE_API_KEY and QT_EXCHANGE_API_SECRET")
    ledger = Ledger(
        connect(config), namespace=config.namespace, initial_cash=config.paper.initial_cash
    )
    broker = exchange_module.ExchangeBroker(exchange_module.open_exchange(exchange_config), ledger)
    action = broker.adopt if adopt else broker.flatten if flatten else broker.reconcile
    report = action(symbols=symbols)
    if as_json:
        print_json(report.model_dump(mode="json") | {"ok": report.ok})
    elif report.ok:
        out.print(report.describe())
    else:
        for mismatch in report.mismatches:
            out.print(f"{report.action}: {mismatch.detail}")
    if report.action == "check" and not report.ok:
        fail(
            f"trading refused: {len(report.mismatches)} mismatch(es) with {report.exchange}; "
            "run `quantum-trader engine reconcile --adopt` (the ledger takes the exchange's "
            "state) or `--flatten` (cancel, sell, flat)",
            code=1,
        )
