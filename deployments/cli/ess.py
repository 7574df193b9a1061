"""quantum-trader ess status|halt|resume: the Emergency Stop System."""

from __future__ import annotations

from typing import Any

import typer

from deployments.cli._app import (
    group,
    handles_errors,
    out,
    print_json,
    settings,
)

app = group("ess", help="The Emergency Stop System.")


def _ess() -> Any:
    from components.events import RedisEventBus
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


@app.command("status")
@handles_errors
def ess_status(as_json: bool = typer.Option(False, "--json")) -> None:
    """The Emergency Stop's state and why."""
    _print_ess(_ess().status(), as_json)


@app.command("halt")
@handles_errors
def ess_halt(
    reason: str = typer.Option("halted by hand", "--reason"),
    by: str = typer.Option("cli", "--by"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Stop every new order at once (only cancels pass) until `ess resume`."""
    _print_ess(_ess().halt(reason, by=by), as_json)


@app.command("resume")
@handles_errors
def ess_resume(
    reason: str = typer.Option("resumed by hand", "--reason"),
    by: str = typer.Option("cli", "--by"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Leave HALTED (or REDUCING): trading starts again."""
    _print_ess(_ess().resume(by=by, reason=reason), as_json)
