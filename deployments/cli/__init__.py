"""The ``quantum-trader`` command line: one module per command group.

Every command reads Settings from the environment (``QT_*``). Invalid input exits 2 with
one line on stderr; an outage (Redis unreachable) exits 1. ``--json`` prints
machine-readable output on stdout.

Adding a command group is a one-file change: a module in this package that registers its
commands on ``root`` (a group with ``app = group("name", help=...)``, then
``@app.command(...)``; a top-level command with ``@root.command(...)``). :func:`main`
imports every module here whose name does not start with ``_``. Keep a module's own
imports light (typer, rich, the settings): import Redis clients, pandas, Prefect,
matplotlib or scikit-learn inside the commands that need them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback

import typer

from deployments.cli._app import options, root


def load_commands() -> typer.Typer:
    """Import every command module of this package (each registers itself on ``root``)."""
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")
    return root


def main(argv: list[str] | None = None) -> int:
    """Console entry point: usage errors exit 2 with one line on stderr; any other failure
    exits 1 with one line (and its traceback under ``--debug``)."""
    options.debug = False
    try:
        result = load_commands()(args=argv, standalone_mode=False, prog_name="quantum-trader")
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        return 130
    except typer.TyperException as exc:  # click's usage errors, vendored by typer
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            print(ctx.get_help())
            return 0
        where = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        print(f"error: {exc.format_message()}{where}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug, not an expected failure: still one line
        if options.debug:
            traceback.print_exception(exc, file=sys.stderr)
            hint = ""
        else:
            hint = " (run again with --debug for the traceback)"
        print(f"error: unexpected {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
        return 1
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
