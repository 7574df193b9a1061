"""quantum-trader modules [list] | restore NAME|--all: the decision modules' modes.

Each module's configured mode (``QT_<MODULE>_MODE``) and the mode it runs in: OBSERVE
while the health check holds it back after failed runs (see
:mod:`components.health.modules`), until three good runs in OBSERVE or ``restore``.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import fail, handles_errors, now, out, print_json, root, settings

app = typer.Typer(
    help="Decision modules: configured and effective modes; restore one held in OBSERVE.",
    invoke_without_command=True,
)
root.add_typer(app, name="modules")


def _store() -> Any:
    from components.health.modules import ModuleModes
    from components.redis import connect

    config = settings()
    return ModuleModes(connect(config), namespace=config.namespace)


@app.callback()
def modules_main(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Decision modules: configured and effective modes; restore one held in OBSERVE."""
    if ctx.invoked_subcommand is None:
        modules_list(as_json)


@app.command("list")
@handles_errors
def modules_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """Each decision module's configured and effective mode, and why they differ."""
    statuses = _store().statuses(settings())
    if as_json:
        print_json([s.model_dump(mode="json") for s in statuses])
        return
    table = Table(title="Decision modules")
    for column in ("module", "flow", "configured", "effective", "runs since change"):
        table.add_column(column)
    for s in statuses:
        table.add_row(s.module, s.flow or "-", s.configured.value, s.effective.value, _runs(s))
    out.print(table)
    held = [s for s in statuses if s.override is not None and s.effective is not s.configured]
    for s in held:
        out.print(
            f"{s.module} held in {s.effective.value} by the health check since "
            f"{s.override.since:%Y-%m-%d %H:%M}: {s.override.reason}"
        )
    if held:
        out.print("restore one by hand: quantum-trader modules restore NAME (or --all)")


def _runs(status: Any) -> str:
    if status.flow is None:
        return "engine cycle"
    if status.last_run is None:
        return "-"
    if status.last_run.ok:
        return f"{status.good_runs_in_a_row} good"
    return f"{status.failures_in_a_row} failed"


@app.command("restore")
@handles_errors
def modules_restore(
    name: str | None = typer.Argument(None, help="The module (see: quantum-trader modules)."),
    every: bool = typer.Option(False, "--all", help="Every module held in OBSERVE."),
    by: str = typer.Option("cli", "--by"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Give a module held in OBSERVE its configured mode back now."""
    from components.health.modules import MODULES, module

    if (name is None) == (not every):
        fail("name one module, or give --all")
    config = settings()
    names = [spec.name for spec in MODULES if spec.flow] if every else [module(name or "").name]
    store = _store()
    changes = []
    for each in names:
        made = store.restore(config, each, now=now(config), by=by)
        if made is not None:
            changes.append(made[0])
    if as_json:
        print_json([c.model_dump(mode="json") for c in changes])
        return
    for c in changes:
        out.print(f"{c.module}: {c.previous.value} -> {c.mode.value} ({c.reason})")
    if not changes:
        held = "no module was" if every else f"{name} was not"
        out.print(f"{held} held in OBSERVE: nothing to restore")
