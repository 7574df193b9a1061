"""How good a model's predictions are, and what trading its signals would have earned.

Two halves, both pure functions over arrays:

- :func:`prediction_metrics`: log loss, ROC AUC and Brier score of up-probabilities
  against 0/1 labels.
- :func:`signal_pnl`: a small vectorised evaluation of a direction series with next-bar
  fills. The position chosen at bar ``t`` is entered at ``open[t + 1]`` and earns
  ``open[t + 2] / open[t + 1] - 1``; every change of position pays
  :class:`~components.execution.costs.CostModel` costs (fee, half the spread and the
  slippage, per unit of position changed), and the position is closed after the last
  bar it can be measured on. The full backtester (``components.backtest``) can replace
  this once it exists; this one is small on purpose (no sizing, stops or capital).

:func:`directions_from_probability` turns up-probabilities into directions and
confidences; the ``ml`` strategy and the shadow evaluation both use it, so what is
evaluated is what trades.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sklearn.metrics import log_loss, roc_auc_score

from components.errors import ConfigurationError, DataError
from components.execution.costs import BPS, CostModel
from components.indicators import FloatArray

Int8Array = npt.NDArray[np.int8]

_EPS = 1e-6  # probabilities are clipped to [_EPS, 1 - _EPS] for the log loss


class PredictionMetrics(BaseModel):
    """Prediction quality on labelled samples; lower ``log_loss``/``brier`` and higher
    ``auc`` are better. ``auc`` is NaN when the labels hold one class only."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    log_loss: float = Field(ge=0)
    auc: float
    brier: float = Field(ge=0, le=1)
    samples: int = Field(ge=0)
    up_share: float = Field(ge=0, le=1, description="Share of labels that are up.")


class TradingMetrics(BaseModel):
    """The result of trading a direction series (see :func:`signal_pnl`).

    ``total_return`` is compounded and net of costs; ``sharpe`` is annualised (0 when the
    returns do not vary); ``trades`` counts changes of position inside the window (a round
    trip is two, a flip from long to short one); ``exposure`` is the share of bars in a
    position.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    total_return: float
    sharpe: float
    trades: int = Field(ge=0)
    exposure: float = Field(ge=0, le=1)
    bars: int = Field(ge=0)
    costs: float = Field(ge=0, description="Costs paid, as a sum of per-bar returns.")


def prediction_metrics(p_up: npt.ArrayLike, labels: npt.ArrayLike) -> PredictionMetrics:
    """Log loss, AUC and Brier score of ``p_up`` against ``labels`` (1 up, 0 down).

    Samples where either is NaN are left out.

    Raises
    ------
    DataError
        The arrays differ in shape or no sample is left.

    Example: ``prediction_metrics([0.7, 0.4], [1, 0]).auc`` -> ``1.0``.
    """
    p = np.asarray(p_up, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise DataError(f"p_up has {p.size} values, labels {y.size}")
    keep = ~(np.isnan(p) | np.isnan(y))
    p, y = np.clip(p[keep], _EPS, 1 - _EPS), y[keep]
    if len(p) == 0:
        raise DataError("no sample with both a probability and a label to score")
    both = 0 < y.sum() < len(y)
    return PredictionMetrics(
        log_loss=float(log_loss(y, p, labels=[0.0, 1.0])),
        auc=float(roc_auc_score(y, p)) if both else math.nan,
        brier=float(np.mean((p - y) ** 2)),
        samples=len(p),
        up_share=float(y.mean()),
    )


def auc_by_fold(
    p_up: npt.ArrayLike, labels: npt.ArrayLike, fold: npt.ArrayLike
) -> tuple[float, ...]:
    """The AUC of each fold (``fold`` numbers the samples' folds), in fold order; folds
    whose labels hold one class only are left out.

    Example: ``auc_by_fold([0.7, 0.4, 0.6, 0.3], [1, 0, 0, 1], [0, 0, 1, 1])`` -> ``(1.0, 0.0)``.
    """
    p = np.asarray(p_up, dtype=np.float64).ravel()
    y = np.asarray(labels, dtype=np.float64).ravel()
    k = np.asarray(fold).ravel()
    keep = ~(np.isnan(p) | np.isnan(y))
    p, y, k = p[keep], y[keep], k[keep]
    aucs = []
    for number in np.unique(k):
        mine = k == number
        if 0 < y[mine].sum() < mine.sum():
            aucs.append(float(roc_auc_score(y[mine], p[mine])))
    return tuple(aucs)


def directions_from_probability(
    p_up: npt.ArrayLike, *, threshold: float, long_only: bool = False
) -> tuple[Int8Array, FloatArray]:
    """Directions and confidences from up-probabilities.

    +1 where ``p_up >= threshold``; -1 where ``1 - p_up >= threshold`` (unless
    ``long_only``); 0 elsewhere and where ``p_up`` is NaN. The confidence is the
    probability of the chosen direction, 0 when flat.

    Example: ``directions_from_probability([0.7, 0.5, 0.2], threshold=0.6)`` ->
    ``([1, 0, -1], [0.7, 0.0, 0.8])``.
    """
    if not 0.5 <= threshold <= 1.0:
        raise ConfigurationError(f"threshold must be in [0.5, 1], got {threshold}")
    p = np.asarray(p_up, dtype=np.float64)
    finite = np.isfinite(p)
    long = finite & (p >= threshold)
    short = finite & ~long & (1.0 - p >= threshold) & (not long_only)
    direction = long.astype(np.int8) - short.astype(np.int8)
    confidence = np.where(long, p, np.where(short, 1.0 - p, 0.0))
    return direction, confidence


def signal_returns(
    direction: npt.ArrayLike, open: npt.ArrayLike, *, costs: CostModel
) -> tuple[FloatArray, FloatArray]:
    """Per-bar net returns and costs of holding ``direction`` with next-bar fills.

    Parameters
    ----------
    direction
        The position wanted from each bar on (-1, 0, +1; NaN counts as flat), 1-D or 2-D
        (symbols x time).
    open
        Open prices of the same bars, the same shape.
    costs
        Fee, spread (``spread_for()``: the fixed or default spread) and slippage.

    Returns
    -------
    tuple of numpy.ndarray
        ``(net, paid)``, each of shape ``(..., time - 2)``: element ``t`` is the return of
        the position of bar ``t`` over ``open[t + 1] -> open[t + 2]`` net of the costs of
        entering it, and the costs alone. The exit of the last position is charged at the
        last element.

    Example: ``net, paid = signal_returns(direction, opens, costs=CostModel())``.
    """
    d = np.nan_to_num(np.asarray(direction, dtype=np.float64), nan=0.0)
    o = np.asarray(open, dtype=np.float64)
    if d.shape != o.shape:
        raise DataError(f"direction has shape {d.shape}, open {o.shape}")
    if o.shape[-1] < 3:
        empty = np.zeros((*o.shape[:-1], 0))
        return empty, empty.copy()
    position = np.clip(np.sign(d[..., :-2]), -1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        bar_return = o[..., 2:] / o[..., 1:-1] - 1.0
    bar_return = np.nan_to_num(bar_return, nan=0.0, posinf=0.0, neginf=0.0)
    previous = np.concatenate([np.zeros_like(position[..., :1]), position[..., :-1]], axis=-1)
    turnover = np.abs(position - previous)
    turnover[..., -1] += np.abs(position[..., -1])  # close what is left at the end
    rate = (costs.fee_bps + costs.spread_for() / 2 + costs.slippage_bps) / BPS
    paid = turnover * rate
    return position * bar_return - paid, paid


def signal_pnl(
    direction: npt.ArrayLike,
    open: npt.ArrayLike,
    *,
    costs: CostModel,
    bars_per_year: float = 24 * 365,
) -> TradingMetrics:
    """Trade ``direction`` with next-bar fills and costs (see the module docstring).

    With 2-D input (symbols x time) the capital is split equally across the symbols,
    rebalanced every bar: the portfolio's return per bar is the mean of theirs.

    Example: ``signal_pnl(direction, bars["open"].to_numpy(), costs=CostModel()).sharpe``.
    """
    net, paid = signal_returns(direction, open, costs=costs)
    position = _positions(direction)[..., :-2]
    trades = int(np.count_nonzero(np.diff(position, axis=-1, prepend=0.0)))
    exposure = np.count_nonzero(position) / position.size if position.size else 0.0
    if net.ndim == 2:
        net, paid = net.mean(axis=0), paid.mean(axis=0)
    bars = net.shape[-1]
    if bars == 0:
        return TradingMetrics(total_return=0.0, sharpe=0.0, trades=0, exposure=0, bars=0, costs=0)
    std = float(net.std(ddof=1)) if bars > 1 else 0.0
    sharpe = float(net.mean() / std * math.sqrt(bars_per_year)) if std > 1e-15 else 0.0
    return TradingMetrics(
        total_return=float(np.prod(1.0 + net) - 1.0),
        sharpe=sharpe,
        trades=trades,
        exposure=exposure,
        bars=bars,
        costs=float(paid.sum()),
    )


def _positions(direction: npt.ArrayLike) -> FloatArray:
    return np.sign(np.nan_to_num(np.asarray(direction, dtype=np.float64), nan=0.0))
