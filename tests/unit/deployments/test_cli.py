"""The command line as a person uses it, on a real server."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from deployments.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("qt_env")
def test_patch_then_history_and_tail_show_the_change_and_its_event(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, _ = run(
        capsys, "policy", "patch", '{"max_positions": 4}', "--by", "ops", "--reason", "test"
    )
    assert code == 0

    code, out, _ = run(capsys, "policy", "history", "--json")
    assert code == 0
    (entry,) = json.loads(out)
    assert entry["version"] == 1
    assert entry["diff"] == {"max_positions": {"old": 5, "new": 4}}
    assert (entry["by"], entry["reason"]) == ("ops", "test")

    code, out, _ = run(
        capsys, "events", "tail", "--type", "policy.updated", "--count", "1", "--json"
    )
    assert code == 0
    (event,) = json.loads(out)
    assert event["type"] == "policy.updated"
    assert event["payload"]["version"] == 1
    assert event["payload"]["changes"]["max_positions"] == {"old": 5, "new": 4}


@pytest.mark.usefixtures("qt_env")
def test_patch_past_the_cap_exits_2_naming_field_and_cap_and_version_stays(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys, "policy", "patch", '{"max_risk_per_trade": 0.5}', "--by", "ops", "--reason", "test"
    )
    assert code == 2
    assert err.count("\n") == 1
    assert "max_risk_per_trade" in err and "QT_MAX_RISK_CAP=0.05" in err
    code, out, _ = run(capsys, "policy", "show", "--json")
    assert json.loads(out)["version"] == 0


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["policy", "patch", "{not json", "--by", "a", "--reason", "b"], "not valid JSON"),
        (["policy", "patch", "[1]", "--by", "a", "--reason", "b"], "must be a JSON object"),
        (["policy", "patch", "{}", "--by", "a"], "--reason"),
        (["policy", "rollback", "9", "--by", "a", "--reason", "b"], "9 does not exist"),
        (["policy", "history", "--limit", "0"], "--limit"),
        (["events", "tail", "--type", "nope"], "unknown event type 'nope'"),
        (["policy", "frobnicate"], "frobnicate"),
    ],
)
def test_invalid_input_exits_2_with_one_line_on_stderr(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1
    assert needle in err


@pytest.mark.usefixtures("qt_env")
def test_rollback_and_stats(capsys: pytest.CaptureFixture[str]) -> None:
    for n in (4, 3):
        run(
            capsys,
            "policy",
            "patch",
            json.dumps({"max_positions": n}),
            "--by",
            "a",
            "--reason",
            "r",
        )
    code, out, _ = run(
        capsys, "policy", "rollback", "1", "--by", "ops", "--reason", "undo", "--json"
    )
    assert code == 0
    policy = json.loads(out)
    assert (policy["version"], policy["max_positions"]) == (3, 4)
    code, out, _ = run(capsys, "events", "stats", "--json")
    assert code == 0 and json.loads(out)["published"] == 3


def test_bad_setting_exits_2_naming_the_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, qt_env: dict[str, str]
) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "-1")
    code, _, err = run(capsys, "policy", "show")
    assert code == 2 and "QT_MAX_POSITIONS" in err


def test_console_script_is_installed_and_runs(qt_env: dict[str, str]) -> None:
    script = shutil.which("quantum-trader", path=str(Path(sys.executable).parent))
    assert script is not None, "pip install -e . installs the quantum-trader command"
    result = subprocess.run(
        [script, "policy", "show", "--json"],
        env=qt_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["version"] == 0


def test_starting_the_command_line_imports_no_heavy_library() -> None:
    # Every command group is registered, yet none of its heavy dependencies is loaded:
    # a read-only command pays only for what it uses.
    probe = (
        "import sys; from deployments.cli import load_commands; app = load_commands(); "
        "print(len(app.registered_commands) + len(app.registered_groups)); "
        "print(' '.join(m for m in ('pandas', 'numpy', 'prefect', 'matplotlib', 'sklearn', "
        "'redis') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    commands, heavy = result.stdout.split("\n")[:2]
    assert int(commands) >= 12
    assert heavy == ""


def test_a_module_in_the_cli_package_is_a_command_group(tmp_path: Path) -> None:
    import deployments.cli as cli

    module = Path(cli.__file__).parent / "zz_probe_for_tests.py"
    module.write_text(
        "from deployments.cli._app import group\n"
        'app = group("zz-probe", help="Added by a test.")\n\n\n'
        '@app.command("hello")\ndef hello() -> None:\n    print("hello from a new group")\n'
    )
    try:
        result = subprocess.run(
            [sys.executable, "-m", "deployments.cli", "zz-probe", "hello"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        module.unlink()
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "hello from a new group"
