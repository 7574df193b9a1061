"""open_market: one place that turns a MarketConfig into a market source."""

from __future__ import annotations

import sys
import types
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from components.errors import ConfigurationError
from components.market import (
    CcxtMarket,
    FileMarket,
    ManualClock,
    MarketConfig,
    SyntheticMarket,
    open_market,
)

from .builders import make_bars


def test_the_default_is_the_synthetic_market() -> None:
    market = open_market()

    assert isinstance(market, SyntheticMarket)
    assert len(market.symbols()) == 24


def test_synthetic_config_sets_seed_symbols_and_history() -> None:
    clock = ManualClock(datetime(2025, 1, 1, tzinfo=UTC))
    config = MarketConfig(seed=3, symbols=("BTC/USDT", "ETH/USDT"), history_days=5)

    market = open_market(config, clock=clock)

    assert market.symbols() == ["BTC/USDT", "ETH/USDT"]
    assert len(market.bars("BTC/USDT", limit=1_000)) == 5 * 24
    assert market.bars("BTC/USDT", limit=10).equals(
        SyntheticMarket(seed=3, clock=clock).bars("BTC/USDT", limit=10)
    )


def test_files_config_opens_the_folder(tmp_path: Path) -> None:
    make_bars(10).reset_index().rename(columns={"timestamp": "date"}).to_feather(
        tmp_path / "BTC_USDT-1h.feather"
    )

    market = open_market(MarketConfig(source="files", folder=tmp_path, spread_bps=2))

    assert isinstance(market, FileMarket)
    assert market.ticker("BTC/USDT").spread == pytest.approx(2e-4)


def test_files_config_without_a_folder_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="needs a folder"):
        open_market(MarketConfig(source="files"))


def test_ccxt_config_builds_the_named_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeBinance:
        id = "binance"

        def __init__(self, config: dict[str, Any]) -> None:
            self.config = config

        def fetch_ohlcv(self, *args: Any, **kwargs: Any) -> list[list[float]]:
            return []

        def fetch_ticker(self, symbol: str) -> dict[str, Any]:
            return {}

    fake = types.ModuleType("ccxt")
    fake.binance = FakeBinance  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ccxt", fake)

    market = open_market(MarketConfig(source="ccxt", exchange="binance", symbols=("BTC/USDT",)))

    assert isinstance(market, CcxtMarket)
    assert market.symbols() == ["BTC/USDT"]
    assert market.source == "ccxt:binance"


def test_ccxt_config_without_ccxt_installed_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ccxt", None)  # makes `import ccxt` fail

    with pytest.raises(ConfigurationError, match=r"quantum-trader\[live\]"):
        open_market(MarketConfig(source="ccxt", exchange="binance"))


def test_config_is_frozen_and_refuses_unknown_fields() -> None:
    config = MarketConfig()

    with pytest.raises(ValidationError):
        config.seed = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        MarketConfig(colour="blue")  # type: ignore[call-arg]
