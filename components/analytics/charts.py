"""Equity and drawdown charts (PNG), drawn with matplotlib's Agg canvas.

No pyplot and no display: each chart is its own ``Figure`` on a ``FigureCanvasAgg``, so
charts can be drawn from any thread or process, headless. The analytics report writes
them under ``QT_HOME/reports/``; the backtest command uses the same function.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
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


class EquityPointLike(Protocol):
    """One recorded equity (the engine's telemetry records one per cycle)."""

    @property
    def at(self) -> datetime: ...

    @property
    def equity(self) -> float: ...


NO_FILLS = "No fills yet: the account has not traded, so there is no equity curve to draw."


def account_equity_curve(
    points: Sequence[EquityPointLike], fills: Sequence[FillLike], starting_cash: float
) -> pd.Series:
    """The account's equity over time, as the dashboard, the API's chart and the report
    show it: the equity the engine marked at each cycle when it recorded any, otherwise
    the realised curve of the fills; empty (say :data:`NO_FILLS`) without fills.

    Example: ``account_equity_curve(telemetry.equity_history(), ledger.fills(), 10_000)``.
    """
    if not fills:
        return pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz=UTC), name="equity")
    if points:
        return pd.Series(
            [float(p.equity) for p in points],
            index=pd.DatetimeIndex([_utc(p.at) for p in points]),
            name="equity",
        )
    return equity_curve_from_fills(fills, starting_cash)


def equity_and_drawdown_chart(
    equity: pd.Series, path: Path, *, title: str, empty: str = "No fills yet: nothing to chart."
) -> Path:
    """Write the PNG of :func:`equity_and_drawdown_figure` to ``path`` (parent folders are
    created) and return ``path``.

    Example: ``equity_and_drawdown_chart(curve, home / "reports" / "equity.png",
    title="Paper account")``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_png(equity_and_drawdown_figure(equity, title=title, empty=empty)))
    return path


def figure_png(figure: Figure) -> bytes:
    """The PNG of a matplotlib ``figure``, e.g. ``figure_png(equity_and_drawdown_figure(...))``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def equity_and_drawdown_figure(
    equity: pd.Series,
    *,
    title: str,
    empty: str = "No fills yet: nothing to chart.",
    size: tuple[float, float] = (10, 6),
    dpi: int = 100,
) -> Figure:
    """``equity`` (top) and its drawdown below the running peak (bottom), as a matplotlib
    ``Figure`` (:func:`figure_png` renders it).

    An empty series draws no axes at all: the picture says ``empty`` in words (an empty
    plot would look like a broken one).

    Raises
    ------
    DataError
        ``equity`` holds NaN or infinite values.
    """
    drawdown = drawdown_series(equity) * 100.0
    figure = Figure(figsize=size, dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    if len(equity):
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(3, 1))
        x = equity.index
        top.plot(
            x, equity.to_numpy(dtype=float), color="tab:blue", linewidth=1.2, drawstyle="steps-post"
        )  # equity moves in steps: at fills, or at each engine cycle
        bottom.fill_between(x, drawdown.to_numpy(), 0.0, color="tab:red", alpha=0.4, step="post")
        bottom.plot(x, drawdown.to_numpy(), color="tab:red", linewidth=0.8, drawstyle="steps-post")
        low = float(drawdown.min())
        bottom.set_ylim(min(low * 1.1, -0.5), 0.0)
        if isinstance(equity.index, pd.DatetimeIndex):
            locator = AutoDateLocator()
            bottom.xaxis.set_major_locator(locator)
            bottom.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        top.set_ylabel("equity")
        top.grid(True, alpha=0.3)
        bottom.set_ylabel("drawdown %")
        bottom.grid(True, alpha=0.3)
    else:
        figure.text(0.5, 0.5, empty, ha="center", va="center", fontsize=16, wrap=True)
    return figure


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
