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
from typing import TYPE_CHECKING

from components._lazy import lazy_exports
from components.clock import Clock, ManualClock, SimulatedClock, SystemClock
from components.errors import ConfigurationError
from components.market.config import MarketConfig

if TYPE_CHECKING:
    from components.market.base import (
        BAR_COLUMNS,
        CALENDAR_TIMEFRAMES,
        TIMEFRAMES,
        MarketData,
        Ticker,
    )
    from components.market.block import BarBlock, BlockRead, read_blocks
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

__all__ = [
    "BAR_COLUMNS",
    "CALENDAR_TIMEFRAMES",
    "GAP_POLICIES",
    "TIMEFRAMES",
    "BarBlock",
    "BarProblem",
    "BlockRead",
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
    "read_blocks",
    "validate_bars",
]

__getattr__ = lazy_exports(
    __name__, ("base", "validation", "block", "synthetic", "files", "ccxt_market")
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
    from components.market.ccxt_market import CcxtMarket
    from components.market.files import FileMarket
    from components.market.synthetic import SyntheticMarket

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
