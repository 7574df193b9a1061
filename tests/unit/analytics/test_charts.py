"""Charts: the equity curve of fills, and the equity-and-drawdown PNG."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from components.analytics import equity_and_drawdown_chart, equity_curve_from_fills
from components.analytics.charts import equity_and_drawdown_figure
from components.errors import DataError
from components.execution import Fill
from components.trading.types import Side

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def fill(n: int, pnl: float) -> Fill:
    return Fill(
        client_order_id=f"o{n}", symbol="BTC/USDT", side=Side.SELL, quantity=0.01,
        price=43_000.0, fee=0.43, realized_pnl=pnl, filled_at=T0 + timedelta(hours=n),
        strategy="momentum",
    )  # fmt: skip


def test_equity_curve_starts_at_the_cash_and_adds_each_fill_in_time_order() -> None:
    fills = [fill(2, -30.0), fill(0, -0.43), fill(1, 50.0)]

    curve = equity_curve_from_fills(fills, 1_000.0)

    assert curve.tolist() == pytest.approx([1_000.0, 999.57, 1_049.57, 1_019.57])
    assert list(curve.index) == [T0, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=2)]
    assert isinstance(curve.index, pd.DatetimeIndex) and str(curve.index.tz) == "UTC"


def test_equity_curve_of_no_fills_is_empty() -> None:
    assert equity_curve_from_fills([], 1_000.0).empty


def test_equity_curve_refuses_bad_cash_or_a_non_finite_pnl() -> None:
    with pytest.raises(DataError, match="starting_cash"):
        equity_curve_from_fills([fill(0, 1.0)], 0.0)
    with pytest.raises(DataError, match="non-finite"):
        equity_curve_from_fills([fill(0, 1.0), fill(1, math.inf)], 1_000.0)


def test_chart_is_a_png_of_equity_over_drawdown(tmp_path: Path) -> None:
    pnls = [25.0 * math.sin(n / 5) + 3.0 for n in range(200)]
    curve = equity_curve_from_fills([fill(n, p) for n, p in enumerate(pnls)], 10_000.0)
    path = tmp_path / "reports" / "equity.png"

    written = equity_and_drawdown_chart(curve, path, title="Paper account")

    assert written == path
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) > 20_000  # two panels of lines and fills, not an empty canvas
    height, width, _ = imread(path).shape
    assert (width, height) == (1000, 600)


def test_chart_of_an_empty_curve_still_writes_a_png(tmp_path: Path) -> None:
    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz=UTC))

    path = equity_and_drawdown_chart(empty, tmp_path / "empty.png", title="No fills")

    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_chart_of_no_fills_says_so_in_words_instead_of_empty_axes() -> None:
    empty = pd.Series([], dtype=float, index=pd.DatetimeIndex([], tz=UTC))

    figure = equity_and_drawdown_figure(empty, title="Paper account", empty="No fills yet.")

    assert figure.axes == []
    assert [text.get_text() for text in figure.texts] == ["Paper account", "No fills yet."]
