"""quantum-trader up and demo."""

from __future__ import annotations

import typer

from deployments.cli._app import (
    handles_errors,
    out,
    print_json,
    root,
    settings,
)


@root.command("up")
@handles_errors
def up_command(
    port: int = typer.Option(4200, "--port", min=1, max=65535, help="Port of the Prefect UI."),
) -> None:
    """Start the whole system on this machine; Ctrl-C stops it."""
    from deployments.up import up

    raise typer.Exit(up(settings(), port=port, console=out))


@root.command("demo")
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
