"""``quantum-trader api``: serve the HTTP API, and manage its tokens.

    quantum-trader api [--host H] [--port P]
    quantum-trader api token create --role viewer|operator --name NAME
    quantum-trader api token list [--json]
    quantum-trader api token revoke NAME

Imports stay inside the commands: ``token list`` must start fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import typer

P = ParamSpec("P")
R = TypeVar("R")

api_app = typer.Typer(
    help="The HTTP API: serve it (no subcommand), or manage its tokens.",
    invoke_without_command=True,
)
token_app = typer.Typer(help="Bearer tokens of the HTTP API.", no_args_is_help=True)
api_app.add_typer(token_app, name="token")


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Expected failures: one line on stderr, exit 2 (bad input) or 1 (an outage)."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from components.errors import QuantumTraderError, TemporaryError

        try:
            return command(*args, **kwargs)
        except TemporaryError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(1) from None
        except QuantumTraderError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise typer.Exit(2) from None

    return wrapper


def _settings() -> Any:
    from components.settings import load_settings

    return load_settings()


@api_app.callback()
@_one_line_errors
def api_serve(
    ctx: typer.Context,
    host: str | None = typer.Option(None, "--host", help="Default QT_API_HOST (127.0.0.1)."),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Default QT_API_PORT (8000)."
    ),
) -> None:
    """Serve the API, the dashboard (/) and /metrics until Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    import logging

    from components.access import api_base_url
    from deployments.api.server import serve

    settings = _settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = api_base_url(settings, host, port)
    print(f"API: {url}/api (docs {url}/docs)  Dashboard: {url}/", flush=True)
    serve(settings, host=host, port=port)


@token_app.command("create")
@_one_line_errors
def token_create(
    name: str = typer.Option(..., "--name", help="Who uses it; recorded as `by` of writes."),
    role: str = typer.Option(..., "--role", help="viewer (reads) or operator (also writes)."),
) -> None:
    """Create a token and print it once: it is not stored, only its hash."""
    from datetime import UTC, datetime

    from components.access import TokenStore

    issued = TokenStore.connect(_settings()).create(name, role, now=datetime.now(UTC))
    print(
        f"created {issued.token.role.value} token {issued.token.name!r}; "
        "keep it now, it is shown only once:",
        file=sys.stderr,
    )
    print(issued.secret)  # alone on the last line of stdout, for scripts


@token_app.command("list")
@_one_line_errors
def token_list(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Every token: name, role, when it was created (never the secret)."""
    from components.access import TokenStore

    tokens = TokenStore.connect(_settings()).list()
    rows = [
        {"name": t.name, "role": t.role.value, "created_at": t.created_at.isoformat()}
        for t in tokens
    ]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        print("no API token yet: quantum-trader api token create --role viewer --name <you>")
        return
    width = max(len(r["name"]) for r in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['role']:<8}  created {row['created_at']}")


@token_app.command("revoke")
@_one_line_errors
def token_revoke(name: str = typer.Argument(..., help="The token's name.")) -> None:
    """Revoke a token: requests carrying it get 401 from now on."""
    from components.access import TokenStore
    from components.errors import ConfigurationError

    if not TokenStore.connect(_settings()).revoke(name):
        raise ConfigurationError(f"no token named {name!r} (quantum-trader api token list)")
    print(f"revoked token {name!r}")
