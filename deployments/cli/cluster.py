"""quantum-trader server and deploy: past one machine (a Prefect server, workers anywhere)."""

from __future__ import annotations

import typer

from deployments.cli._app import handles_errors, out, root, settings
from deployments.cli.system import PREFECT_DATABASE, PREFECT_HOST, PREFECT_PORT


@root.command("server")
@handles_errors
def server_command(
    port: int = PREFECT_PORT, host: str = PREFECT_HOST, database: str | None = PREFECT_DATABASE
) -> None:
    """Run Prefect's server for workers on other machines: authenticated, migrations applied."""
    from deployments.cluster import server

    raise typer.Exit(server(settings(), host=host, port=port, database_url=database, console=out))


@root.command("deploy")
@handles_errors
def deploy_command(
    first_runs: bool = typer.Option(
        True, "--first-runs/--no-first-runs", help="Start a run of each scheduled deployment."
    ),
) -> None:
    """`prefect deploy --all` for this account (QT_NAMESPACE), plus automations and first runs."""
    from deployments.cluster import api_from_env, deploy

    deploy(settings(), api_from_env(), first_runs=first_runs, console=out)
