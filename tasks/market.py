"""Tasks that read market data."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from components.market import Ticker, validate_bars
from components.settings import Settings
from tasks.common import io_task
from tasks.runtime import runtime


@io_task("fetch_bars")
def fetch_bars(settings: Settings, timeframe: str, limit: int) -> dict[str, pd.DataFrame]:
    """The last ``limit`` closed bars of every symbol, validated (a bad bar raises
    ``DataError`` naming the symbol and the row, and nothing downstream runs)."""
    market = runtime(settings).market
    bars = market.bars_many(market.symbols(), timeframe, limit=limit, end=market.now())
    # Every source validates what it hands out; checking again here means no source,
    # however written, can feed a decision a bad bar.
    source = type(market).__name__
    return {
        symbol: validate_bars(frame, symbol=symbol, source=source, timeframe=timeframe)
        for symbol, frame in bars.items()
    }


@io_task("fetch_tickers")
def fetch_tickers(settings: Settings) -> dict[str, Ticker]:
    """A ticker snapshot of every symbol."""
    market = runtime(settings).market
    now = market.now()
    many = getattr(market, "tickers", None)  # every source here has it: all at once
    if many is not None:
        return dict(many(market.symbols(), at=now))
    return {symbol: market.ticker(symbol, at=now) for symbol in market.symbols()}


@io_task("read_clock", retries=0)
def read_clock(settings: Settings) -> datetime:
    """``now`` for a flow: the wall clock, the fixed time of ``QT_CLOCK``, or the demo's
    simulated clock (the clock the market was opened with)."""
    return runtime(settings).clock.now()
