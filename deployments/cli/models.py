"""quantum-trader retrain and models list|promote|rollback."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import (
    group,
    handles_errors,
    now,
    out,
    print_json,
    root,
    runs_flows,
    settings,
)

app = group("models", help="Prediction models: versions, promotion, rollback.")


@root.command("retrain")
@handles_errors
@runs_flows
def retrain_command(as_json: bool = typer.Option(False, "--json")) -> None:
    """Retrain the prediction model now; promote the candidate only on evidence."""
    from flows.clm_retraining import clm_retraining

    with out.status("retraining (fetch bars, train, calibrate, shadow-evaluate)..."):
        result = clm_retraining()
    if as_json:
        print_json(result.model_dump(mode="json"))
        return
    for line in result.lines():
        out.print(line)


def _registry() -> Any:
    from components.learning import ModelRegistry
    from components.redis import connect

    config = settings()
    return ModelRegistry(
        connect(config), namespace=config.namespace, home=config.home.expanduser().resolve()
    )


@app.command("list")
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
    from components.events import Event, RedisEventBus
    from components.events.types import MODEL_PROMOTED
    from components.policy import PolicyStore

    config = settings()
    bus = RedisEventBus.connect(config)
    PolicyStore.connect(config, bus=bus).patch(
        change.policy_patch(), by=by, reason=f"{change.action} {change.model} {change.version}"
    )
    bus.publish(
        Event.create(MODEL_PROMOTED, change.event_payload(), source=by, occurred_at=now(config))
    )
    out.print(f"{change.model}: {change.previous_version} -> {change.version} ({change.action})")


@app.command("promote")
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


@app.command("rollback")
@handles_errors
def models_rollback(
    model: str = typer.Option("price_direction", "--model"),
    by: str = typer.Option("cli", "--by"),
    reason: str = typer.Option("rolled back by hand", "--reason"),
) -> None:
    """Restore the previous production version."""
    _announce(_registry().rollback(model, now=now(settings()), reason=reason), by)
