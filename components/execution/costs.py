"""The one fill-price and fee model: the paper broker and the backtester both use it.

Conventions (prices in quote currency, rates in basis points, 1 bp = 0.0001):

- **Market orders** fill at the reference price (the next bar's open) moved against the
  trader by half the spread plus the slippage::

      price = reference * (1 + side_sign * (spread_bps / 2 + slippage_bps) / 10_000)

  A buy (``side_sign = +1``) pays above the reference, a sell (``-1``) receives below.
- **Limit orders** fill only when the bar trades through the limit, at the limit or at the
  open when the bar opened better (a buy at ``min(open, limit)`` when ``low <= limit``, a
  sell at ``max(open, limit)`` when ``high >= limit``). The limit is the price guarantee:
  no spread or slippage is added on top.
- **Stop-loss exits** trigger when the bar's range reaches the stop; the reference is the
  stop, or the open when the bar gapped through it. A triggered stop is a market order,
  so the broker applies :func:`fill_price` to that reference (``BrokerConfig.slip_stops``).
- **Take-profit exits** are resting limit orders: the target, or the open on a
  favourable gap, with no slippage.
- **Fees** are ``|notional| * fee_bps / 10_000``, paid in quote currency on every fill
  (entries and exits alike).

Every function takes scalars or numpy arrays (broadcast together) and returns the same
kind, so the vectorised backtester calls them on whole columns::

    price = fill_price(+1, 100.0, spread_bps=2, slippage_bps=2)      # ~100.03
    prices = fill_price(signs, opens, spread_bps=2, slippage_bps=2)  # arrays
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from components.execution.config import CostModel as CostModel
from components.market.base import Ticker

FloatArray: TypeAlias = npt.NDArray[np.float64]
ArrayLike: TypeAlias = float | npt.NDArray[Any]

BPS = 10_000.0

__all__ = [
    "CostModel",
    "fee",
    "fill_price",
    "limit_fill_price",
    "spread_bps_of",
    "stop_exit_price",
    "take_profit_exit_price",
]


def _out(value: FloatArray | np.floating[Any] | float) -> Any:
    """A numpy 0-d result as a Python float; arrays unchanged."""
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


def _ohl(
    open_: ArrayLike, high: ArrayLike, low: ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    return (
        np.asarray(open_, dtype=np.float64),
        np.asarray(high, dtype=np.float64),
        np.asarray(low, dtype=np.float64),
    )


@overload
def fill_price(
    side_sign: float, reference_price: float, *, spread_bps: float, slippage_bps: float
) -> float: ...
@overload
def fill_price(
    side_sign: ArrayLike,
    reference_price: ArrayLike,
    *,
    spread_bps: ArrayLike,
    slippage_bps: ArrayLike,
) -> Any: ...
def fill_price(
    side_sign: ArrayLike,
    reference_price: ArrayLike,
    *,
    spread_bps: ArrayLike,
    slippage_bps: ArrayLike,
) -> Any:
    """The price a market order pays (buy) or receives (sell) around ``reference_price``.

    Parameters
    ----------
    side_sign
        ``+1`` for a buy, ``-1`` for a sell (``0`` leaves the reference unchanged).
    reference_price
        The price the order is measured against: the next bar's open.
    spread_bps, slippage_bps
        Full bid/ask spread and extra slippage, in basis points; half the spread is paid.

    Example: ``fill_price(+1, 100.0, spread_bps=2, slippage_bps=2)`` is about ``100.03``.
    """
    sign = np.sign(np.asarray(side_sign, dtype=np.float64))
    reference = np.asarray(reference_price, dtype=np.float64)
    cost = (np.asarray(spread_bps, dtype=np.float64) / 2 + slippage_bps) / BPS
    return _out(reference * (1.0 + sign * cost))


@overload
def fee(notional: float, *, fee_bps: float) -> float: ...
@overload
def fee(notional: ArrayLike, *, fee_bps: ArrayLike) -> Any: ...
def fee(notional: ArrayLike, *, fee_bps: ArrayLike) -> Any:
    """The fee on a fill of ``notional`` (quantity x price, either sign), in quote currency.

    Example: ``fee(1_000.0, fee_bps=10)`` is ``1.0``.
    """
    return _out(np.abs(np.asarray(notional, dtype=np.float64)) * fee_bps / BPS)


def limit_fill_price(
    side_sign: ArrayLike,
    limit_price: ArrayLike,
    *,
    open_: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
) -> Any:
    """Where a resting limit order fills on a bar, or ``NaN`` where the bar never reached it.

    A buy fills when ``low <= limit`` at ``min(open, limit)``; a sell when
    ``high >= limit`` at ``max(open, limit)``.

    Example: ``limit_fill_price(+1, 99.0, open_=100.0, high=101.0, low=98.5)`` is ``99.0``.
    """
    sign = np.asarray(side_sign, dtype=np.float64)
    limit = np.asarray(limit_price, dtype=np.float64)
    o, h, lo = _ohl(open_, high, low)
    buy = np.where(lo <= limit, np.minimum(o, limit), np.nan)
    sell = np.where(h >= limit, np.maximum(o, limit), np.nan)
    return _out(np.where(sign > 0, buy, sell))


def stop_exit_price(
    position_sign: ArrayLike,
    stop_price: ArrayLike,
    *,
    open_: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
) -> Any:
    """The reference price at which a stop-loss closes a position on a bar, or ``NaN``.

    A long (``position_sign = +1``) is stopped when ``low <= stop``, at the stop, or at
    the open when the bar opened below it (a gap through the stop); a short when
    ``high >= stop``, at ``max(open, stop)``. Spread and slippage come on top
    (:func:`fill_price`), since a triggered stop is a market order.

    Example: ``stop_exit_price(+1, 95.0, open_=93.0, high=94.0, low=92.0)`` is ``93.0``.
    """
    # The bar touches a long's stop as it touches a buy limit at that price (low <= level,
    # at the open when it gapped through), and a short's as a sell limit.
    return limit_fill_price(position_sign, stop_price, open_=open_, high=high, low=low)


def take_profit_exit_price(
    position_sign: ArrayLike,
    target_price: ArrayLike,
    *,
    open_: ArrayLike,
    high: ArrayLike,
    low: ArrayLike,
) -> Any:
    """The price at which a take-profit closes a position on a bar, or ``NaN``.

    A long takes profit when ``high >= target``, at ``max(open, target)``; a short when
    ``low <= target``, at ``min(open, target)``. No slippage: it is a resting limit.

    Example: ``take_profit_exit_price(+1, 110.0, open_=100.0, high=111.0, low=99.0)``
    is ``110.0``.
    """
    # A long's take-profit is a sell limit; a short's is a buy limit.
    return limit_fill_price(
        -np.asarray(position_sign, dtype=np.float64), target_price, open_=open_, high=high, low=low
    )


def spread_bps_of(ticker: Ticker) -> float | None:
    """The ticker's relative bid/ask spread in basis points, or ``None`` when unusable.

    Example: ``spread_bps_of(ticker)`` is ``2.0`` for bid 99.99 and ask 100.01.
    """
    spread = ticker.spread * BPS
    return spread if math.isfinite(spread) and spread >= 0 else None
