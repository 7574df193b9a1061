"""quantum-trader positions: the paper account."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import (
    handles_errors,
    out,
    print_json,
    root,
    settings,
)


@root.command("positions")
@handles_errors
def positions_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Open positions, cash and equity of the paper account (marked at the last close)."""
    from components.engine.account import marked_account
    from components.execution import Ledger

    config = settings()

    def market() -> Any:
        from components.clock import make_clock
        from components.market import open_market

        return open_market(config.market, clock=make_clock(config.clock))

    state = marked_account(Ledger.connect(config), market=market, timeframe=config.engine.timeframe)
    marks = state.marks
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
