"""quantum-trader events tail|stats."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import (
    group,
    handles_errors,
    out,
    print_json,
    settings,
)

app = group("events", help="Look at the event streams.")


def _bus() -> Any:
    from components.events import RedisEventBus

    return RedisEventBus.connect(settings())


def _event_line(event: Any) -> str:
    at = event.occurred_at.isoformat(timespec="milliseconds")
    return f"{at} {event.type} [{event.source}] {event.payload.model_dump_json()}"


@app.command("tail")
@handles_errors
def events_tail(
    event_type: str | None = typer.Option(None, "--type", help="Only this event type."),
    count: int = typer.Option(10, "--count", min=0, help="How many past events."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new events."),
    as_json: bool = typer.Option(
        False, "--json", help="JSON: an array, or one object a line with --follow."
    ),
) -> None:
    """The last COUNT events, newest last."""
    from components.events import event_to_json

    bus = _bus()
    if event_type is not None:
        from components.events import payload_model

        payload_model(event_type)  # unknown types: exit 2 naming the known ones
    past = bus.tail(event_type, count=count)
    if as_json and not follow:
        print_json([event_to_json(event) for event in past])
        return
    for event in past:
        print(json.dumps(event_to_json(event)) if as_json else _event_line(event), flush=True)
    if not follow:
        return
    try:
        for event in bus.follow(event_type):
            print(json.dumps(event_to_json(event)) if as_json else _event_line(event), flush=True)
    except KeyboardInterrupt:
        pass


@app.command("stats")
@handles_errors
def events_stats(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Published, delivered, failed and dead-lettered counts, and the lag per group."""
    stats = _bus().stats()
    if as_json:
        print_json(stats.model_dump(mode="json"))
        return
    table = Table(title="Event bus", show_header=False)
    for name in ("published", "delivered", "failed", "dead_lettered", "lag"):
        table.add_row(name, str(getattr(stats, name)))
    for name, values in stats.groups.items():
        table.add_row(f"group {name}", f"pending {values.pending}, lag {values.lag}")
    out.print(table)
