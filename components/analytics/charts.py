"""Equity and drawdown charts (PNG), drawn with matplotlib's Agg canvas.

No pyplot and no display: each chart is its own ``Figure`` on a ``FigureCanvasAgg``, so
charts can be drawn from any thread or process, headless. The analytics report writes
them under ``QT_HOME/reports/``; the backtest command uses the same function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from components.analytics.metrics import drawdown_series
from components.errors import DataError


class FillLike(Protocol):
    """What a fill must carry to move an equity curve (a ledger ``Fill`` or an analytics
    ``TradeRecord`` both do)."""

    @property
    def filled_at(self) -> datetime: ...

    @property
    def realized_pnl(self) -> float: ...


def equity_curve_from_fills(fills: Iterable[FillLike], starting_cash: float) -> pd.Series:
    """The realised equity curve: ``starting_cash`` plus the cumulative ``realized_pnl``
    (net of fees) of the fills in time order.

    The first point is ``starting_cash`` at the first fill's time, then one point per
    fill; no fills give an empty series. The index is UTC time.

    Example: ``equity_curve_from_fills(ledger.fills(), 10_000.0).iloc[-1]``.

    Raises
    ------
    DataError
        ``starting_cash`` is not a finite number > 0, or a fill's PnL is not finite.
    """
    if not (math.isfinite(starting_cash) and starting_cash > 0):
        raise DataError(f"starting_cash={starting_cash!r} must be a finite number > 0")
    ordered = sorted(fills, key=lambda f: _utc(f.filled_at))
    if not ordered:
        return pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz=UTC), name="equity")
    pnl = np.array([f.realized_pnl for f in ordered], dtype=float)
    if not np.isfinite(pnl).all():
        bad = ordered[int(np.argmin(np.isfinite(pnl)))]
        raise DataError(f"the fill at {bad.filled_at} has a non-finite realized_pnl")
    times = [_utc(ordered[0].filled_at), *(_utc(f.filled_at) for f in ordered)]
    values = np.concatenate(([starting_cash], starting_cash + np.cumsum(pnl)))
    return pd.Series(values, index=pd.DatetimeIndex(times), name="equity")


def equity_and_drawdown_chart(equity: pd.Series, path: Path, *, title: str) -> Path:
    """Write a PNG of ``equity`` (top) and its drawdown below the running peak (bottom).

    An empty series gives a chart that says there is nothing to show yet. Parent
    folders are created. Returns ``path``.

    Example: ``equity_and_drawdown_chart(curve, home / "reports" / "equity.png",
    title="Paper account")``.

    Raises
    ------
    DataError
        ``equity`` holds NaN or infinite values.
    """
    drawdown = drawdown_series(equity) * 100.0
    figure = Figure(figsize=(10, 6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    figure.suptitle(title)
    if len(equity):
        x = equity.index
        top.plot(
            x, equity.to_numpy(dtype=float), color="tab:blue", linewidth=1.2, drawstyle="steps-post"
        )  # realised equity moves at fills only
        bottom.fill_between(x, drawdown.to_numpy(), 0.0, color="tab:red", alpha=0.4, step="post")
        bottom.plot(x, drawdown.to_numpy(), color="tab:red", linewidth=0.8, drawstyle="steps-post")
        low = float(drawdown.min())
        bottom.set_ylim(min(low * 1.1, -0.5), 0.0)
        if isinstance(equity.index, pd.DatetimeIndex):
            locator = AutoDateLocator()
            bottom.xaxis.set_major_locator(locator)
            bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    else:
        top.text(0.5, 0.5, "no fills yet", ha="center", va="center", transform=top.transAxes)
    top.set_ylabel("equity")
    top.grid(True, alpha=0.3)
    bottom.set_ylabel("drawdown %")
    bottom.grid(True, alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="png")
    return path


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
