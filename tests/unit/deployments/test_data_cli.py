"""quantum-trader data import|download|list and backtest --grid, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import components.market.ccxt_market as ccxt_market
from deployments.cli import main
from tests.unit.execution.recorded_exchange import RecordedBinance
from tests.unit.market.builders import forex_hours, make_bars


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if code == 0 else None, captured.err


def test_import_a_forex_file_and_a_monthly_file_then_list_them(
    qt_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hours = forex_hours(weeks=4)
    table = hours.reset_index()
    table["timestamp"] = table["timestamp"].dt.strftime("%Y-%m-%d %H:%M")  # naive text
    table.to_csv(tmp_path / "EURUSD.csv", index=False)
    make_bars(36, timeframe="1M").reset_index().to_csv(tmp_path / "SPX-1M.csv", index=False)

    code, forex, err = run(
        capsys, "data", "import", str(tmp_path / "EURUSD.csv"), "--symbol", "EUR/USD"
    )
    assert code == 0 and "no time zone; read as UTC" in err
    code, monthly, _ = run(
        capsys, "data", "import", str(tmp_path / "SPX-1M.csv"), "--symbol", "SPX/USD"
    )
    code, listed, _ = run(capsys, "data", "list")

    assert forex[0]["stored"] == len(hours) and forex[0]["missing_bars"] == 3 * 50
    assert monthly[0]["timeframe"] == "1M" and monthly[0]["stored"] == 36
    assert [(c["symbol"], c["timeframe"], c["bars"], c["gaps"]) for c in listed] == [
        ("EUR/USD", "1h", len(hours), 3),
        ("SPX/USD", "1M", 36, 0),
    ]


def test_a_reversed_file_fails_in_one_line_naming_the_order(
    qt_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_bars(24).iloc[::-1].reset_index().to_csv(tmp_path / "BTC_USDT-1h.csv", index=False)

    code = main(["data", "import", str(tmp_path / "BTC_USDT-1h.csv")])

    (line,) = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and "reverse time order" in line


def test_download_resumes_from_the_store(
    qt_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    replay = RecordedBinance()
    real = ccxt_market.ccxt_exchange_class

    def replayed(exchange_id: str, *, purpose: str) -> Any:
        cls = real(exchange_id, purpose=purpose)

        def make(options: dict[str, Any]) -> Any:
            exchange = cls(options)
            exchange.session.mount("https://", replay)
            return exchange

        return make

    monkeypatch.setattr(ccxt_market, "ccxt_exchange_class", replayed)
    args = ["data", "download", "BTC/USDT", "--since", "2024-06-01"]

    code, first, _ = run(capsys, *args, "--until", "2024-06-02")
    code2, second, _ = run(capsys, *args, "--until", "2024-06-04")

    assert code == code2 == 0
    assert first[0]["added"] == 24 and first[0]["resumed_from"] is None
    assert second[0]["resumed_from"] == "2024-06-01T23:00:00+00:00"
    assert second[0]["stored"] == 69 and second[0]["missing_bars"] == 3


def test_backtest_grid_ranks_the_sets_and_counts_the_invalid_ones(
    qt_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, result, _ = run(
        capsys, "backtest", "--strategy", "sma_crossover", "--bars", "1000",
        "--grid", "fast=5:50:5", "slow=20:200:20",
    )  # fmt: skip

    assert code == 0
    assert result["sets"] == 90 and result["skipped"] == 10
    sharpes = [row["sharpe"] for row in result["table"]]
    assert sharpes == sorted(sharpes, reverse=True)
