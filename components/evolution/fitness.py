"""Fitness from walk-forward folds: a candidate is only as good as its out-of-sample folds.

    data = BarArrays.from_frames(market.bars_many(symbols, "1h", limit=8_760))
    evaluation = evaluate_walk_forward(genome, data, GeneticConfig())
    evaluation.fitness, evaluation.out_of_sample, evaluation.in_sample, evaluation.rejected

The rules
---------
- **Folds.** The common history of every symbol is cut into ``folds`` consecutive windows
  of equal length (the oldest bars that do not fill a window are left out, so the latest
  bar always counts). Window ``k`` is *in sample* for the pair ``(k, k + 1)`` and window
  ``k + 1`` is its *out-of-sample* window: "fit on one window, score on the next". For a
  parameter search the genome is its own fit, so its in-sample figure is its score on the
  training window and its out-of-sample figure its score on the window after.
- **Fitness** is the mean score of the out-of-sample windows (``1 .. folds - 1``) only; the
  in-sample mean (windows ``0 .. folds - 2``) is reported beside it and never enters it.
- **A window's score** is the annualised Sharpe of the portfolio (the cash split equally
  between the symbols, as :meth:`Backtester.run_many
  <components.backtest.Backtester.run_many>`), clipped to ``+-sharpe_cap``, minus
  ``drawdown_penalty`` times its max drawdown. A window with fewer than ``min_trades``
  closed trades (all symbols together) scores ``floor_score`` instead: a strategy that
  sits out a window has shown nothing there.
- **Gates.** Before any scoring, the strategy must pass
  :func:`~components.backtest.check_no_lookahead` on the first symbol and, with
  ``engine_history_bars``, :func:`~components.backtest.check_recursion` over windows of
  that many bars (the engine's history). A candidate failing either gets fitness
  ``-inf`` and the reason in :attr:`Evaluation.rejected`.

Why one signal pass serves every window
---------------------------------------
Each window runs on the backtester's own simulation (:func:`~components.backtest.simulate`,
fills at the next open, the paper broker's costs, a trade open at the end closed at the
window's last close) and its metrics (:func:`~components.backtest.metrics_from_equity`),
starting flat with fresh cash. The signals come from one ``signal_arrays`` call over the
whole history, sliced per window. That is exact, not an approximation: a strategy's signal
at bar ``t`` uses bars ``<= t`` only (the lookahead gate checks it), so the full-history
signals up to a window's last bar equal the signals computed on the history cut there,
and nothing after a window reaches into it. Bars *before* a window do feed its first
signals, as they would feed the engine: an indicator is warm when the window opens.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from components.backtest.backtester import SPREAD_COLUMN
from components.backtest.lookahead import (
    LookaheadError,
    UnstableSignalError,
    check_no_lookahead,
    check_recursion,
)
from components.backtest.metrics import YEAR, Metrics, metrics_from_equity
from components.backtest.simulation import simulate
from components.errors import DataError, QuantumTraderError
from components.evolution.config import GeneticConfig
from components.evolution.genome import Genome
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.market.validation import infer_timeframe, timeframe_delta, validate_bars
from components.strategies.base import Strategy

MIN_FOLD_BARS = 24
"""The shortest window worth scoring."""


# --- the data ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class BarArrays:
    """Every symbol's bars on one time index, as (symbols x time) float64 arrays: what an
    evaluation reads, built once per run and shipped to the workers as is (it pickles).

    Attributes
    ----------
    symbols
        The symbols, one row each.
    index
        The bars' open times (UTC), shared by every symbol.
    open, high, low, close, volume
        2-D arrays, C-contiguous.
    spread_bps
        Observed spreads (NaN where unknown) when any frame had a ``spread_bps`` column.
    timeframe, periods_per_year
        The bar length and the bars in a 365-day year.
    """

    symbols: tuple[str, ...]
    index: pd.DatetimeIndex
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    spread_bps: FloatArray | None
    timeframe: str
    periods_per_year: float

    @classmethod
    def from_frames(
        cls, bars: Mapping[str, pd.DataFrame], *, timeframe: str | None = None
    ) -> BarArrays:
        """Validated arrays from each symbol's bars (:mod:`components.market.base`).

        Raises
        ------
        DataError
            No symbols, a symbol's bars break the contract (named, with the row), or the
            symbols do not share one time index.

        Example: ``BarArrays.from_frames(market.bars_many(symbols, "1h", limit=8_760))``.
        """
        if not bars:
            raise DataError("the strategy generator needs bars for at least one symbol")
        symbols = tuple(bars)
        first = bars[symbols[0]]
        tf = timeframe or infer_timeframe(first.index, where=symbols[0])
        clean = {
            s: validate_bars(frame, symbol=s, source="evolution", timeframe=tf)
            for s, frame in bars.items()
        }
        index = clean[symbols[0]].index
        for symbol in symbols[1:]:
            other = clean[symbol].index
            if not other.equals(index):
                raise DataError(
                    f"{symbol}: bars run {_span(other)} but {symbols[0]}'s run {_span(index)}; "
                    "the generator needs every symbol on one time index (fetch them with one "
                    "bars_many(..., end=...) call, or cut them to their common span)"
                )
        columns = {
            c: np.ascontiguousarray(np.vstack([clean[s][c].to_numpy(np.float64) for s in symbols]))
            for c in BAR_COLUMNS
        }
        spreads = None
        if any(SPREAD_COLUMN in frame.columns for frame in bars.values()):
            spreads = np.vstack([_spreads(bars[s], len(index)) for s in symbols])
        return cls(
            symbols=symbols,
            index=pd.DatetimeIndex(index),
            spread_bps=spreads,
            timeframe=tf,
            periods_per_year=float(YEAR / timeframe_delta(tf)),
            **columns,
        )

    @property
    def bars(self) -> int:
        """Bars per symbol."""
        return int(self.index.size)

    def frame(self, row: int = 0) -> pd.DataFrame:
        """One symbol's bars as a frame (for the checks that read frames)."""
        data = {c: getattr(self, c)[row] for c in BAR_COLUMNS}
        return pd.DataFrame(data, index=self.index, copy=False)


# --- the results ------------------------------------------------------------------------------


class FoldWindow(BaseModel):
    """One window of the walk-forward: bars ``start_bar`` to ``stop_bar - 1``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    fold: int = Field(ge=0)
    start_bar: int = Field(ge=0)
    stop_bar: int = Field(ge=1)
    start: datetime = Field(description="Open time of its first bar.")
    end: datetime = Field(description="Open time of its last bar.")

    @property
    def bars(self) -> int:
        return self.stop_bar - self.start_bar


class FoldScore(BaseModel):
    """What a genome achieved in one window, and the score it got for it.

    ``floored`` says the window had fewer than ``min_trades`` trades and scored the floor.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    fold: int = Field(ge=0)
    start: datetime
    end: datetime
    score: float
    floored: bool
    total_return: float
    sharpe: float
    sortino: float
    max_drawdown: float = Field(ge=0, le=1)
    volatility: float = Field(ge=0)
    trades: int = Field(ge=0)
    win_rate: float | None = Field(None, ge=0, le=1)
    exposure: float | None = Field(None, ge=0, le=1)


class FoldSummary(BaseModel):
    """Folds of one side (in or out of sample) in a line: means of the score, Sharpe and
    return, the worst drawdown and the trades in all.

    Example: ``evaluation.summary().sharpe``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    folds: int = Field(ge=0)
    score: float
    sharpe: float
    total_return: float
    max_drawdown: float = Field(ge=0, le=1)
    trades: int = Field(ge=0)


class Evaluation(BaseModel):
    """A genome's walk-forward evidence: ``fitness`` (the mean out-of-sample score,
    ``-inf`` when a gate rejected it), each out-of-sample window, and the in-sample
    windows and their mean reported apart (they never enter the fitness).

    ``generation`` is where the generator first bred it (``None`` outside a run).

    Example: ``evaluation.fitness``, ``evaluation.summary("in_sample")``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="strings")

    genome: Genome
    fitness: float
    in_sample_score: float
    out_of_sample: tuple[FoldScore, ...] = ()
    in_sample: tuple[FoldScore, ...] = ()
    rejected: str | None = Field(None, description="Why a gate refused it, if one did.")
    generation: int | None = Field(None, ge=0)
    gate_seconds: float = Field(
        0.0, ge=0, description="What its lookahead and recursion gates cost."
    )

    def __eq__(self, other: object) -> bool:
        # What the gates cost is measured, not evidence: the same genome on the same data
        # evaluates equal whatever it cost this time.
        if not isinstance(other, Evaluation):
            return NotImplemented
        return self.model_dump(exclude={"gate_seconds"}) == other.model_dump(
            exclude={"gate_seconds"}
        )

    def __hash__(self) -> int:
        return hash((self.genome, self.fitness, self.rejected, self.generation))

    @property
    def passed(self) -> bool:
        """True when the genome passed the gates (its fitness is a real score)."""
        return self.rejected is None

    @property
    def candidate_name(self) -> str:
        return self.genome.candidate_name

    def summary(self, side: Literal["out_of_sample", "in_sample"] = "out_of_sample") -> FoldSummary:
        """The folds of ``side`` (``"out_of_sample"`` or ``"in_sample"``) in one line."""
        if side not in ("out_of_sample", "in_sample"):
            raise ValueError(f"side={side!r} must be 'out_of_sample' or 'in_sample'")
        folds: tuple[FoldScore, ...] = getattr(self, side)
        if not folds:
            nan = math.nan
            return FoldSummary(
                folds=0, score=nan, sharpe=nan, total_return=nan, max_drawdown=0.0, trades=0
            )
        return FoldSummary(
            folds=len(folds),
            score=float(np.mean([f.score for f in folds])),
            sharpe=float(np.mean([f.sharpe for f in folds])),
            total_return=float(np.mean([f.total_return for f in folds])),
            max_drawdown=max(f.max_drawdown for f in folds),
            trades=sum(f.trades for f in folds),
        )


# --- the evaluation ---------------------------------------------------------------------------


def fold_windows(index: pd.DatetimeIndex, folds: int) -> tuple[FoldWindow, ...]:
    """``folds`` consecutive windows of equal length ending at the last bar.

    Raises
    ------
    DataError
        A window would be shorter than :data:`MIN_FOLD_BARS` bars.

    Example: ``fold_windows(index, 4)[1].start_bar`` (the first out-of-sample window).
    """
    n = int(index.size)
    length = n // folds
    if length < MIN_FOLD_BARS:
        raise DataError(
            f"{n} bars make {folds} folds of {length} bars; each needs at least "
            f"{MIN_FOLD_BARS}: give more history or fewer folds"
        )
    first = n - folds * length
    windows = []
    for k in range(folds):
        a = first + k * length
        b = a + length
        windows.append(
            FoldWindow(
                fold=k,
                start_bar=a,
                stop_bar=b,
                start=index[a].to_pydatetime(),
                end=index[b - 1].to_pydatetime(),
            )
        )
    return tuple(windows)


def evaluate_walk_forward(genome: Genome, data: BarArrays, config: GeneticConfig) -> Evaluation:
    """Gate, then score ``genome`` on every window of ``data`` (module docstring rules).

    A pure function of its arguments, defined at module level, so process pools and Dask
    can run it. A genome the gates refuse (or whose strategy raises a
    :class:`~components.errors.QuantumTraderError`) gets fitness ``-inf`` and the reason.

    Example: ``evaluate_walk_forward(Genome.create("momentum"), data, GeneticConfig())``.
    """
    gated = 0.0
    try:
        strategy = genome.build()
        started = time.perf_counter()
        reason = gate(strategy, data, config)
        gated = time.perf_counter() - started
        if reason is not None:
            return _rejected(genome, reason, gated)
        scores = score_windows(strategy, data, fold_windows(data.index, config.folds), config)
    except QuantumTraderError as exc:
        return _rejected(genome, f"{type(exc).__name__}: {exc}", gated)
    in_sample, out_of_sample = scores[:-1], scores[1:]
    return Evaluation(
        genome=genome,
        fitness=float(np.mean([s.score for s in out_of_sample])),
        in_sample_score=float(np.mean([s.score for s in in_sample])),
        out_of_sample=tuple(out_of_sample),
        in_sample=tuple(in_sample),
        gate_seconds=gated,
    )


def gate(strategy: Strategy[Any], data: BarArrays, config: GeneticConfig) -> str | None:
    """Why ``strategy`` may not count (it peeks at later bars, or its signals from the
    engine's history differ from the full-history ones), or ``None`` when it passes.

    Example: ``gate(create_strategy("momentum"), data, GeneticConfig())`` -> ``None``.
    """
    bars = data.frame(0)
    report = check_no_lookahead(strategy, bars, raise_error=False)
    if not report.passed:
        return str(LookaheadError(report))
    history = config.engine_history_bars
    if history is not None:
        recursion = check_recursion(
            strategy,
            bars,
            history=history,
            samples=config.lookahead_samples,
            seed=config.seed,
            max_mismatch_rate=config.max_recursion_mismatch,
            raise_error=False,
            atol=config.recursion_tolerance,
        )
        if not recursion.passed:
            return str(UnstableSignalError(recursion))
    return None


def score_windows(
    strategy: Strategy[Any],
    data: BarArrays,
    windows: Sequence[FoldWindow],
    config: GeneticConfig,
) -> list[FoldScore]:
    """Each window's metrics and score, from one signal pass over the whole history.

    Example: ``score_windows(strategy, data, fold_windows(data.index, 4), config)``.
    """
    direction, confidence = strategy.signal_arrays(
        data.open, data.high, data.low, data.close, data.volume
    )
    cash = config.backtest.cash
    per_symbol = config.backtest.model_copy(
        update={"cash": cash / len(data.symbols), "periods_per_year": data.periods_per_year}
    )
    scores = []
    for window in windows:
        a, b = window.start_bar, window.stop_bar
        total = np.zeros(b - a)
        marks = np.zeros(b - a + 1, dtype=np.int64)
        pnl = []
        for row in range(len(data.symbols)):
            sim = simulate(
                direction[row, a:b],
                confidence[row, a:b],
                data.open[row, a:b],
                data.high[row, a:b],
                data.low[row, a:b],
                data.close[row, a:b],
                config=per_symbol,
                spread_bps=None if data.spread_bps is None else data.spread_bps[row, a:b],
            )
            total += sim.equity
            trades = sim.trades
            np.add.at(marks, trades.entry_bar, 1)
            np.add.at(marks, trades.entry_bar + trades.bars_held, -1)
            pnl.append(trades.pnl)
        in_market = np.cumsum(marks[:-1]) > 0  # a position open on any symbol
        metrics = metrics_from_equity(
            pd.Series(total, index=data.index[a:b], copy=False),
            trades=np.concatenate(pnl),
            initial_equity=cash,
            exposure=float(in_market.mean()),
            periods_per_year=data.periods_per_year,
        )
        scores.append(_fold_score(window, metrics, config))
    return scores


def fold_score(metrics: Metrics, config: GeneticConfig) -> tuple[float, bool]:
    """A window's score and whether it is the floor (too few trades).

    Example: ``fold_score(result.metrics, GeneticConfig())`` -> ``(1.42, False)``.
    """
    if metrics.n_trades < config.min_trades:
        return config.floor_score, True
    sharpe = float(np.clip(metrics.sharpe, -config.sharpe_cap, config.sharpe_cap))
    return sharpe - config.drawdown_penalty * metrics.max_drawdown, False


# --- helpers ----------------------------------------------------------------------------------


def _fold_score(window: FoldWindow, metrics: Metrics, config: GeneticConfig) -> FoldScore:
    score, floored = fold_score(metrics, config)
    return FoldScore(
        fold=window.fold,
        start=window.start,
        end=window.end,
        score=score,
        floored=floored,
        total_return=metrics.total_return,
        sharpe=metrics.sharpe,
        sortino=metrics.sortino,
        max_drawdown=metrics.max_drawdown,
        volatility=metrics.volatility,
        trades=metrics.n_trades,
        win_rate=metrics.win_rate,
        exposure=metrics.exposure,
    )


def _rejected(genome: Genome, reason: str, gate_seconds: float = 0.0) -> Evaluation:
    return Evaluation(
        genome=genome,
        fitness=-math.inf,
        in_sample_score=-math.inf,
        rejected=reason,
        gate_seconds=gate_seconds,
    )


def _span(index: pd.Index) -> str:
    if len(index) == 0:
        return "empty"
    return f"{index[0]} .. {index[-1]} ({len(index)} bars)"


def _spreads(frame: pd.DataFrame, n: int) -> FloatArray:
    if SPREAD_COLUMN not in frame.columns:
        return np.full(n, np.nan)
    values = pd.to_numeric(frame[SPREAD_COLUMN], errors="coerce")
    return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan))
