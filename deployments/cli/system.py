"""quantum-trader up and demo."""

from __future__ import annotations

import typer

from deployments.cli._app import (
    handles_errors,
    out,
    print_json,
    root,
    runs_flows,
    settings,
)

# The options of the commands that start a Prefect server (up, server).
PREFECT_PORT = typer.Option(4200, "--port", min=1, max=65535, help="Port of Prefect's API and UI.")
PREFECT_HOST = typer.Option(
    "127.0.0.1", "--host", help="Address Prefect's server listens on (0.0.0.0: other machines)."
)
PREFECT_DATABASE = typer.Option(
    None,
    "--database",
    envvar="PREFECT_API_DATABASE_CONNECTION_URL",
    show_envvar=False,
    help="Prefect's database, e.g. postgresql+asyncpg://user:pw@host/db (default SQLite).",
)


@root.command("up")
@handles_errors
def up_command(
    port: int = PREFECT_PORT, host: str = PREFECT_HOST, database: str | None = PREFECT_DATABASE
) -> None:
    """Start the whole system on this machine; Ctrl-C stops it."""
    from deployments.up import up

    raise typer.Exit(up(settings(), port=port, host=host, database_url=database, console=out))


@root.command("demo")
@handles_errors
@runs_flows
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
