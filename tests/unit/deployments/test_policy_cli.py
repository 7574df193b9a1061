"""`quantum-trader policy patch` refuses what the policy may not hold: exit 2, one line
naming the field, nothing written; and `policy show --json` is always valid JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import redis

from components.settings import Settings
from deployments.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def strict_json(text: str) -> object:
    """``text`` parsed as standard JSON: NaN and Infinity are not JSON."""

    def refuse(token: str) -> object:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def shown(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    code, out, err = run(capsys, "policy", "show", "--json")
    assert code == 0, err
    policy = strict_json(out)
    assert isinstance(policy, dict)
    return policy


def patch(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    return run(capsys, "policy", "patch", *argv, "--by", "ops", "--reason", "test")


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ('{"opp_rankings": {"BTC/USDT": NaN}}', "opp_rankings.BTC/USDT"),
        ('{"opp_rankings": {"BTC/USDT": -Infinity}}', "opp_rankings.BTC/USDT"),
        ('{"opp_rankings": {"BTC/USDT": 1e308}}', "opp_rankings.BTC/USDT"),
        ('{"stop_all_trading": "yes"}', "stop_all_trading"),
        ('{"max_positions": "7"}', "max_positions"),
        ('{"allowed_strategies": ["momentum", "nosuch"]}', "allowed_strategies.1"),
    ],
)
def test_a_refused_patch_exits_2_with_one_line_naming_the_field_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], changes: str, field: str
) -> None:
    code, _, err = patch(capsys, changes)
    assert code == 2
    assert err.startswith(f"error: {field}: ") and err.count("\n") == 1
    policy = shown(capsys)
    assert policy["version"] == 0 and policy["opp_rankings"] == {}


@pytest.mark.usefixtures("qt_env")
def test_patch_reads_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "patch.json"
    path.write_text(json.dumps({"max_positions": 4, "opp_rankings": {"BTC/USDT": 0.8}}))
    code, out, err = patch(capsys, "--file", str(path))
    assert code == 0, err
    assert "v0 -> v1" in out
    assert shown(capsys)["opp_rankings"] == {"BTC/USDT": 0.8}


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize("argv", [["-"], ["--file", "-"]])
def test_patch_reads_standard_input(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    stdin = io.TextIOWrapper(io.BytesIO(b'{"max_positions": 3}'))
    monkeypatch.setattr("sys.stdin", stdin)
    code, _, err = patch(capsys, *argv)
    assert code == 0, err
    assert shown(capsys)["max_positions"] == 3


@pytest.mark.usefixtures("qt_env")
def test_a_patch_file_over_64_kib_is_refused_unread_and_nothing_is_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "big.json"
    universe = [f"S{i:06d}/USDT" for i in range(80_000)]  # about 1 MB
    path.write_text(json.dumps({"active_universe": universe}))
    code, _, err = patch(capsys, "--file", str(path))
    assert code == 2
    assert err.startswith("error: patch: ") and "64 KiB" in err and err.count("\n") == 1
    assert shown(capsys)["version"] == 0


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--file", "/nonexistent/patch.json"], "--file /nonexistent/patch.json: cannot read"),
        (['{"max_positions": 4}', "--file", "x.json"], "either as CHANGES or as --file"),
        ([], "either as CHANGES or as --file"),
    ],
)
def test_a_bad_patch_source_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    code, _, err = patch(capsys, *argv)
    assert code == 2
    assert needle in err and err.count("\n") == 1


@pytest.mark.usefixtures("qt_env")
def test_a_corrupted_stored_entry_makes_show_fail_in_one_line(
    capsys: pytest.CaptureFixture[str], client: redis.Redis, settings: Settings
) -> None:
    assert patch(capsys, '{"max_positions": 4}')[0] == 0
    client.hset(f"{settings.namespace}:policy", "opp_rankings.BTC/USDT", "NaN")
    for argv in (["policy", "show", "--json"], ["policy", "show"]):
        code, out, err = run(capsys, *argv)
        assert code != 0 and out == ""
        assert err.count("\n") == 1 and "opp_rankings.BTC/USDT" in err


def test_json_output_is_standard_json_even_for_values_json_cannot_hold(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from deployments.cli._app import print_json

    print_json({"sharpe": float("nan"), "rows": [float("inf"), 1.5]})
    assert strict_json(capsys.readouterr().out) == {"sharpe": None, "rows": [None, 1.5]}
