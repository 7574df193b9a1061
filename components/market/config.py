"""The settings of the market source (``settings.market``; ``QT_MARKET__*``, flat
``QT_MARKET_*``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field
from pydantic_settings import NoDecode

from components.config import ComponentConfig, Flat


def _comma_separated(value: Any) -> Any:
    """``"BTC/USDT, ETH/USDT"`` -> ``("BTC/USDT", "ETH/USDT")``; empty -> None."""
    if isinstance(value, str):
        names = tuple(name.strip() for name in value.split(",") if name.strip())
        return names or None
    return value


class MarketConfig(ComponentConfig):
    """Which market source to open, and how; see :func:`open_market`.

    Example: ``MarketConfig(source="ccxt", exchange="binance", symbols=("BTC/USDT",))``.
    """

    source: Literal["synthetic", "files", "ccxt"] = Field(
        "synthetic", description="synthetic (default), files (a folder) or ccxt (an exchange)."
    )
    seed: int = Field(7, ge=0, description="Seed of the synthetic market.")
    symbols: Annotated[tuple[str, ...] | None, NoDecode, BeforeValidator(_comma_separated)] = Field(
        None,
        description="Symbols to offer (synthetic, ccxt), comma-separated in a variable; "
        "default the source's own list.",
    )
    history_days: int = Field(
        730, ge=0, le=36_500, description="Days of synthetic history before the clock's start."
    )
    folder: Path | None = Field(None, description="Folder of OHLCV files (files).")
    spread_bps: float = Field(5.0, ge=0, le=10_000, description="Ticker spread of files.")
    exchange: str | None = Field(
        None, pattern=r"^[a-z0-9_]+$", description="ccxt exchange id, e.g. binance (ccxt)."
    )
    data_gaps: Annotated[Literal["refuse", "allow", "ffill"], Flat("QT_DATA_GAPS")] = Field(
        "allow", description="Missing bars in imported files: refuse, allow or forward-fill."
    )
