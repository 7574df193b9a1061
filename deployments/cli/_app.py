"""What every command module shares: the root app, groups, errors, settings, output.

Kept light: typer, rich and the settings only. Commands import what they need (Redis
clients, pandas, Prefect, matplotlib, scikit-learn) inside their own bodies, so a
read-only command starts fast.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import sys
import traceback
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


class _Options:
    """The global options, set by :func:`global_options` before any command runs."""

    debug = False


options = _Options()


@root.callback()
def global_options(
    debug: bool = typer.Option(
        False, "--debug", help="Print the traceback of a failure (otherwise: one line)."
    ),
) -> None:
    """Quantum Trader: an AI hedge-fund operating system for crypto markets."""
    options.debug = debug


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
    """Turn an expected failure into one stderr line and an exit code (the traceback too
    under ``--debug``): invalid input exits 2; Quantum Trader errors, Redis failures (down,
    or gone in the middle of the command) and unreadable files exit 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except INPUT_ERRORS as exc:
            failed(exc, str(exc), 2)
        except QuantumTraderError as exc:
            failed(exc, str(exc), 1)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            failed(exc, f"{where}{exc.strerror or exc}", 1)
        except Exception as exc:
            if not _is_redis_error(exc):
                raise
            failed(exc, f"Redis at {_redis_where()} failed: {type(exc).__name__}: {exc}", 1)

    return wrapper


def failed(exc: BaseException, message: str, code: int) -> NoReturn:
    """The traceback of ``exc`` under ``--debug``, then :func:`fail`."""
    if options.debug:
        traceback.print_exception(exc, file=sys.stderr)
    fail(message, code)


def _is_redis_error(exc: BaseException) -> bool:
    module = sys.modules.get("redis")  # loaded only by commands that use Redis
    return module is not None and isinstance(exc, module.RedisError)


def _redis_where() -> str:
    try:
        return load_settings().redacted_redis_url()
    except QuantumTraderError:
        return "QT_REDIS_URL"


class _WithoutTraceback(logging.Formatter):
    """Formats a record as ``inner`` does, without its traceback (kept for ``--debug``
    and for Prefect's own log, which gets the record whole)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info:
            record = copy.copy(record)
            record.exc_info = record.exc_text = record.stack_info = None
        return self.inner.format(record)


def console_without_tracebacks() -> None:
    """Unless ``--debug``: the log lines this process prints on the console (Prefect's
    flow and task logs) come without tracebacks; Prefect's API log keeps them."""
    if options.debug:
        return
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(
            handler.formatter, _WithoutTraceback
        ):
            handler.setFormatter(_WithoutTraceback(handler.formatter))


def runs_flows(command: Callable[P, R]) -> Callable[P, R]:
    """For a command that runs Prefect flows in this process: with no Prefect API
    configured, it gets an authenticated temporary server that dies with it, even when
    killed (Prefect's own temporary server has no auth and outlives a killed parent)."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from prefect.logging.configuration import ensure_logging_setup
        from prefect.settings import PREFECT_API_URL

        ensure_logging_setup()
        console_without_tracebacks()
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
