"""quantum-trader policy show|patch|history|rollback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from deployments.cli._app import (
    fail,
    group,
    handles_errors,
    json_object,
    out,
    print_json,
    settings,
)

app = group("policy", help="Read and change the global policy.")


def _store() -> Any:
    from components.policy import PolicyStore

    return PolicyStore.connect(settings())


@app.command("show")
@handles_errors
def policy_show(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Print the current policy."""
    policy = _store().get()
    if as_json:
        print_json(policy.model_dump(mode="json"))
        return
    table = Table(title=f"Global policy v{policy.version}", show_header=False)
    for name, value in policy.model_dump(mode="json").items():
        table.add_row(name, json.dumps(value) if isinstance(value, dict | list) else str(value))
    out.print(table)


@app.command("patch")
@handles_errors
def policy_patch(
    changes: str | None = typer.Argument(
        None,
        help="JSON object to deep-merge, e.g. '{\"max_positions\": 4}'; - reads standard input.",
    ),
    file: str | None = typer.Option(
        None, "--file", help="Read the JSON object from this file (- for standard input)."
    ),
    by: str = typer.Option(..., "--by", help="Who makes the change."),
    reason: str = typer.Option(..., "--reason", help="Why."),
    expected_version: int | None = typer.Option(
        None, "--expected-version", help="Refuse unless the policy is at this version."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the new policy as JSON."),
) -> None:
    """Deep-merge CHANGES (or --file) into the policy (null removes a key / resets a
    field). A refused patch exits 2 naming the field; nothing is written."""
    if (changes is None) == (file is None):
        fail("give the changes either as CHANGES or as --file PATH (- for standard input)")
    if "-" in (changes, file):
        parsed = json_object(_read_limited(sys.stdin.buffer, "standard input"), "standard input")
    elif file is not None:
        parsed = json_object(_read_file(Path(file)), f"--file {file}")
    else:
        parsed = json_object(changes or "", "CHANGES")
    store = _store()
    before = store.get().version
    policy = store.patch(parsed, by=by, reason=reason, expected_version=expected_version)
    if as_json:
        print_json(policy.model_dump(mode="json"))
    elif policy.version == before:
        out.print(f"policy unchanged at v{policy.version} (nothing to change)")
    else:
        out.print(f"policy v{before} -> v{policy.version}")


def _read_file(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return _read_limited(handle, f"--file {path}")
    except OSError as exc:
        fail(f"--file {path}: cannot read it: {exc.strerror or exc}")


def _read_limited(handle: Any, what: str) -> str:
    """At most the patch limit of text from ``handle``: a larger patch is refused unread."""
    from components.policy.store import MAX_PATCH_BYTES

    data = handle.read(MAX_PATCH_BYTES + 1)
    if len(data) > MAX_PATCH_BYTES:
        fail(f"patch: {what} is over the limit of {MAX_PATCH_BYTES} bytes (64 KiB)")
    try:
        return str(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        fail(f"{what} is not UTF-8 text (byte {exc.start})")


@app.command("history")
@handles_errors
def policy_history(
    limit: int = typer.Option(20, "--limit", min=1, help="How many changes, newest first."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Who changed the policy, when, why and what."""
    changes = _store().history(limit)
    if as_json:
        print_json([change.model_dump(mode="json") for change in changes])
        return
    table = Table(title="Policy history (newest first)")
    for column in ("version", "at", "by", "reason", "changes"):
        table.add_column(column)
    for change in changes:
        summary = "; ".join(
            f"{path}: {json.dumps(d['old'])} -> {json.dumps(d['new'])}"
            for path, d in change.diff.items()
        )
        table.add_row(
            str(change.version),
            change.at.isoformat(timespec="seconds"),
            change.by,
            change.reason,
            summary,
        )
    out.print(table)


@app.command("rollback")
@handles_errors
def policy_rollback(
    version: int = typer.Argument(..., min=0, help="The version to restore."),
    by: str = typer.Option(..., "--by"),
    reason: str = typer.Option(..., "--reason"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the policy of VERSION again, as a new version."""
    policy = _store().rollback(version, by=by, reason=reason)
    if as_json:
        print_json(policy.model_dump(mode="json"))
    else:
        out.print(f"policy v{policy.version} restores v{version}")
