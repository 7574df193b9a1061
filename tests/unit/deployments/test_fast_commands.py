"""Read-only commands load only what they use: on an account that holds positions, none
of them imports pandas, numpy, scipy, scikit-learn, matplotlib or Prefect (their start-up
time is in benchmarks/bench_cli_start.py, beside python -c pass)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from components.settings import Settings
from tests.accounts import traded_account

HEAVY = ("pandas", "numpy", "scipy", "sklearn", "matplotlib", "prefect")
READ_ONLY = [
    ["policy", "show", "--json"],
    ["positions", "--json"],
    ["ess", "status", "--json"],
    ["events", "tail", "--count", "5", "--json"],
    ["models", "list", "--json"],
    ["api", "token", "list", "--json"],
]


def run_and_list_heavy(argv: list[str], env: dict[str, str]) -> tuple[int, str, list[str]]:
    probe = (
        "import sys, json; from deployments.cli import main; code = main(sys.argv[1:]); "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]), file=sys.stderr); "
        "sys.exit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, timeout=120
    )
    heavy = json.loads(done.stderr.strip().splitlines()[-1])
    return done.returncode, done.stdout, heavy


def test_read_only_commands_import_no_heavy_library(
    settings: Settings, qt_env: dict[str, str]
) -> None:
    account = traded_account(settings)
    assert account.engine.ledger.positions(), "the account should hold positions to mark"
    for argv in READ_ONLY:
        code, out, heavy = run_and_list_heavy(argv, qt_env)
        assert code == 0, (argv, out)
        assert heavy == [], f"{' '.join(argv)} imported {heavy}"
    code, out, _ = run_and_list_heavy(["positions", "--json"], qt_env)
    assert json.loads(out)["positions"].keys() == account.engine.ledger.positions().keys()


@pytest.mark.parametrize(
    "argv",
    [
        ["positions", "--nosuch"],
        ["backtest", "--strategy", "nosuch"],
        ["backtest", "--strategy", "nosuch", "--grid", "fast=5:10:5"],
    ],
    ids=["usage error", "unknown strategy", "unknown strategy of a grid"],
)
def test_a_wrong_argument_is_refused_before_anything_heavy_loads(
    argv: list[str], qt_env: dict[str, str]
) -> None:
    code, _, heavy = run_and_list_heavy(argv, qt_env)
    assert code == 2 and heavy == []
