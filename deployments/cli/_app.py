"""What every command module shares: the root app, groups, errors, settings, output.

Kept light: typer, rich and the settings only. Commands import what they need (Redis
clients, pandas, Prefect, matplotlib, scikit-learn) inside their own bodies, so a
read-only command starts fast.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console

from components.errors import (
    ConfigurationError,
    DataError,
    PolicyConflictError,
    PolicyValidationError,
    QuantumTraderError,
)
from components.settings import Settings, load_settings

# Offline machines: Prefect's telemetry would only log errors (DESIGN.md section 8).
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

P = ParamSpec("P")
R = TypeVar("R")

root = typer.Typer(
    name="quantum-trader",
    help="Quantum Trader: an AI hedge-fund operating system for crypto markets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def group(name: str, help: str) -> typer.Typer:
    """A command group ``quantum-trader NAME ...``, added to the root app."""
    sub = typer.Typer(help=help, no_args_is_help=True)
    root.add_typer(sub, name=name)
    return sub


out = Console(soft_wrap=True)

INPUT_ERRORS = (ConfigurationError, DataError, PolicyValidationError, PolicyConflictError)


def fail(message: str, code: int = 2) -> NoReturn:
    """One line on stderr, then exit ``code``."""
    print(f"error: {message}", file=sys.stderr)
    raise typer.Exit(code)


def handles_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn Quantum Trader errors into one stderr line and an exit code."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except INPUT_ERRORS as exc:
            fail(str(exc), 2)
        except QuantumTraderError as exc:
            fail(str(exc), 1)

    return wrapper


def runs_flows(command: Callable[P, R]) -> Callable[P, R]:
    """For a command that runs Prefect flows in this process: with no Prefect API
    configured, it gets an authenticated temporary server that dies with it, even when
    killed (Prefect's own temporary server has no auth and outlives a killed parent)."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from prefect.settings import PREFECT_API_URL

        if PREFECT_API_URL.value():
            return command(*args, **kwargs)
        from deployments.prefect_server import temporary_server

        with temporary_server():
            return command(*args, **kwargs)

    return wrapper


def settings() -> Settings:
    return load_settings()


def now(config: Settings) -> datetime:
    """The time a command acts at: the wall clock, or the fixed time of ``QT_CLOCK``."""
    from components.clock import make_clock

    return make_clock(config.clock).now()


def print_json(data: Any) -> None:
    """``data`` as JSON on stdout; JSON has no NaN or infinity, so those print as null."""
    print(json.dumps(_finite(data), indent=2, default=str, allow_nan=False))


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {key: _finite(value) for key, value in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(value) for value in data]
    return data


def json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` parsed as a JSON object; anything else exits 2 naming ``what``."""
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not valid JSON: {exc.msg} at character {exc.pos}")
    if not isinstance(parsed, dict):
        fail(f"{what} must be a JSON object, not {type(parsed).__name__}")
    return parsed
