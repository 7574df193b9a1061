"""quantum-trader engine reconcile against a recorded exchange state (Binance responses
replayed through ccxt): a foreign open order refuses trading and is named."""

from __future__ import annotations

from typing import Any

import pytest

import components.execution.exchange as exchange_module
from deployments.cli import main
from tests.unit.execution.recorded_exchange import RecordedBinance


@pytest.fixture
def replay(monkeypatch: pytest.MonkeyPatch, qt_env: dict[str, str]) -> RecordedBinance:
    replay = RecordedBinance()
    real = exchange_module.open_exchange

    def replayed(config: Any) -> Any:  # the real ccxt object, its HTTP to the recording
        exchange = real(config)
        exchange.session.mount("https://", replay)
        return exchange

    monkeypatch.setattr(exchange_module, "open_exchange", replayed)
    monkeypatch.setenv("QT_EXECUTION", "exchange")
    monkeypatch.setenv("QT_EXCHANGE_API_KEY", "cli-test-key")
    monkeypatch.setenv("QT_EXCHANGE_API_SECRET", "cli-test-secret")
    return replay


def test_a_foreign_open_order_refuses_trading_and_is_named(
    replay: RecordedBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    replay.place_foreign_order()

    code = main(["engine", "reconcile"])

    captured = capsys.readouterr()
    assert code == 1
    assert "foreign open order 7215498 on ETH/USDT: buy 0.5 limit @ 2900.0" in captured.out
    (line,) = captured.err.strip().splitlines()  # an expected failure is one line
    assert "trading refused" in line and "--adopt" in line and "--flatten" in line
    assert "cli-test-key" not in captured.out + captured.err


def test_adopt_then_a_clean_reconcile_lets_trading_resume(
    replay: RecordedBinance, capsys: pytest.CaptureFixture[str]
) -> None:
    replay.place_foreign_order()
    main(["engine", "reconcile"])

    assert main(["engine", "reconcile", "--adopt"]) == 0
    assert main(["engine", "reconcile"]) == 0
    assert "the ledger matches the exchange" in capsys.readouterr().out


def test_paper_mode_has_nothing_to_reconcile(
    qt_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["engine", "reconcile"]) == 2
    assert "QT_EXECUTION=exchange" in capsys.readouterr().err
