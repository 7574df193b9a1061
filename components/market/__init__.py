"""Market data: where bars and tickers come from (synthetic, files, or an exchange).

Every source implements :class:`MarketData` and hands out bars validated by
:func:`validate_bars`; time comes from an injected clock::

    market = SyntheticMarket(seed=7)
    bars = market.bars("BTC/USDT", "1h", limit=500)

    market = open_market(MarketConfig(source="files", folder="user_data/data/binance"))
"""

from __future__ import annotations

import importlib
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from components.clock import Clock, ManualClock, SimulatedClock, SystemClock
from components.errors import ConfigurationError
from components.market.base import (
    BAR_COLUMNS,
    CALENDAR_TIMEFRAMES,
    TIMEFRAMES,
    MarketData,
    Ticker,
)
from components.market.ccxt_market import CcxtMarket
from components.market.files import FileMarket
from components.market.synthetic import Regime, SyntheticMarket, default_symbols
from components.market.validation import (
    GAP_POLICIES,
    BarProblem,
    Gap,
    GapPolicy,
    GapReport,
    NaiveTimeWarning,
    find_bar_problem,
    find_gaps,
    validate_bars,
)
from components.settings import Settings

__all__ = [
    "BAR_COLUMNS",
    "CALENDAR_TIMEFRAMES",
    "GAP_POLICIES",
    "TIMEFRAMES",
    "BarProblem",
    "CcxtMarket",
    "Clock",
    "FileMarket",
    "Gap",
    "GapPolicy",
    "GapReport",
    "ManualClock",
    "MarketConfig",
    "MarketData",
    "NaiveTimeWarning",
    "Regime",
    "SimulatedClock",
    "SyntheticMarket",
    "SystemClock",
    "Ticker",
    "default_symbols",
    "find_bar_problem",
    "find_gaps",
    "open_market",
    "validate_bars",
]


class MarketConfig(BaseModel):
    """Which market source to open, and how; see :func:`open_market`.

    Example: ``MarketConfig(source="ccxt", exchange="binance", symbols=("BTC/USDT",))``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["synthetic", "files", "ccxt"] = Field(
        "synthetic", description="synthetic (default), files (a folder) or ccxt (an exchange)."
    )
    seed: int = Field(7, ge=0, description="Seed of the synthetic market.")
    symbols: tuple[str, ...] | None = Field(
        None, description="Symbols to offer (synthetic, ccxt); default the source's own list."
    )
    history_days: int = Field(
        730, ge=0, le=36_500, description="Days of synthetic history before the clock's start."
    )
    folder: Path | None = Field(None, description="Folder of OHLCV files (files).")
    spread_bps: float = Field(5.0, ge=0, le=10_000, description="Ticker spread of files.")
    exchange: str | None = Field(
        None, pattern=r"^[a-z0-9_]+$", description="ccxt exchange id, e.g. binance (ccxt)."
    )

    @classmethod
    def from_settings(cls, settings: Settings) -> MarketConfig:
        """The source ``QT_MARKET_*`` describes."""
        symbols = None
        if settings.market_symbols:
            symbols = tuple(s.strip() for s in settings.market_symbols.split(",") if s.strip())
        return cls(
            source=settings.market_source,
            seed=settings.market_seed,
            symbols=symbols,
            history_days=settings.market_history_days,
            folder=settings.market_folder,
            spread_bps=settings.market_spread_bps,
            exchange=settings.market_exchange,
        )


def open_market(config: MarketConfig | None = None, *, clock: Clock | None = None) -> MarketData:
    """The market source ``config`` describes (default: the synthetic market).

    Example: ``open_market(MarketConfig(source="files", folder=Path("data")))``.

    Raises
    ------
    ConfigurationError
        ``folder`` or ``exchange`` is missing for its source, the exchange id is unknown,
        or ccxt is not installed (``pip install 'quantum-trader[live]'``).
    """
    config = config or MarketConfig()
    if config.source == "synthetic":
        return SyntheticMarket(
            seed=config.seed,
            symbols=config.symbols,
            clock=clock,
            history=timedelta(days=config.history_days),
        )
    if config.source == "files":
        if config.folder is None:
            raise ConfigurationError("the files market source needs a folder")
        return FileMarket(config.folder, clock=clock, spread_bps=config.spread_bps)
    if config.exchange is None:
        raise ConfigurationError("the ccxt market source needs an exchange id, e.g. binance")
    try:
        ccxt = importlib.import_module("ccxt")
    except ImportError:
        raise ConfigurationError(
            "the ccxt market source needs ccxt: pip install 'quantum-trader[live]'"
        ) from None
    exchange_class = getattr(ccxt, config.exchange, None)
    if exchange_class is None:
        raise ConfigurationError(f"ccxt has no exchange {config.exchange!r}")
    return CcxtMarket(
        exchange_class({"enableRateLimit": True}), symbols=config.symbols, clock=clock
    )
