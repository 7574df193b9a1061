"""Parameter grids: every parameter set of one strategy over one series, at once.

    grid = parse_grid(["fast=5:50:5", "slow=20:200:20"])
    result = Backtester().run_grid("sma_crossover", grid, bars)
    result.table.sort_values("sharpe", ascending=False).head()

The sets are the cartesian product of the grid's values; a set the strategy refuses
(``fast >= slow``, a value out of range) is skipped and counted. The bars are validated
once; the signals of all sets come from one
:meth:`~components.strategies.Strategy.signal_grid` call (a strategy whose sets share
indicators computes each distinct one once); the trades of all sets from one
:func:`~components.backtest.simulation.plan_many` call (every set's fills, sizes and exits
found together, as columns of all trades). Only the equity curve, which the Sharpe and the
drawdown read bar by bar, is then built one set at a time: a row of a few thousand floats
stays in the cache, where the whole (sets x time) block of every step of the books and the
metrics would not (that was 5x slower). Each set's trades are the trades
:meth:`Backtester.run` gives for it (a test checks every set).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from components.backtest.config import BacktestConfig
from components.backtest.metrics import _sharpe
from components.backtest.simulation import TradeArrays, equity_of, plan_many, simulate_many
from components.config import ModuleMode
from components.errors import ConfigurationError
from components.indicators import FloatArray
from components.strategies import STRATEGIES, Strategy, create_strategy

GRID_METRICS: tuple[str, ...] = (
    "total_return",
    "sharpe",
    "max_drawdown",
    "trades",
    "win_rate",
    "exposure",
    "final_equity",
)
"""The metric columns of :attr:`GridResult.table`, after one column per param."""


@dataclass(frozen=True, slots=True, eq=False)
class GridResult:
    """Every valid parameter set of a grid, one row each.

    Attributes
    ----------
    strategy
        The strategy's name.
    table
        One row per valid set, in grid order: the params, then :data:`GRID_METRICS`.
    trades
        Each row's closed trades (the same as :meth:`Backtester.run` gives for that set).
    skipped
        How many sets the strategy refused; ``skip_reasons`` counts them by reason.
    """

    strategy: str
    table: pd.DataFrame
    trades: tuple[TradeArrays, ...]
    skipped: int
    skip_reasons: Mapping[str, int]

    @property
    def sets(self) -> int:
        """Valid sets evaluated."""
        return len(self.table)


def parse_grid(specs: Sequence[str]) -> dict[str, list[Any]]:
    """A grid from ``name=values`` texts: ``start:stop:step`` (inclusive of ``stop``) or a
    comma list; numbers stay ints when they look like ints, ``true``/``false`` are bools.

    Example: ``parse_grid(["fast=5:50:5", "long_only=true,false"])``.

    Raises
    ------
    ConfigurationError
        A text is not ``name=values``, a range has a non-positive step or is empty, or a
        name repeats.
    """
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip()
        if not sep or not name or not values.strip():
            raise ConfigurationError(
                f"grid {spec!r}: write name=start:stop:step or name=a,b,c (e.g. fast=5:50:5)"
            )
        if name in grid:
            raise ConfigurationError(f"grid: {name!r} is given twice")
        grid[name] = (
            _range(spec, values) if ":" in values else [_value(v) for v in values.split(",")]
        )
    return grid


def _range(spec: str, text: str) -> list[Any]:
    parts = text.split(":")
    if len(parts) != 3:
        raise ConfigurationError(f"grid {spec!r}: a range is start:stop:step")
    start, stop, step = (_value(p) for p in parts)
    if any(isinstance(x, bool) for x in (start, stop, step)):
        raise ConfigurationError(f"grid {spec!r}: a range needs numbers")
    if step <= 0:
        raise ConfigurationError(f"grid {spec!r}: the step must be positive")
    if stop < start:
        raise ConfigurationError(f"grid {spec!r}: stop is below start")
    count = math.floor((stop - start) / step + 1e-9) + 1
    values = [start + k * step for k in range(count)]
    if all(isinstance(x, int) for x in (start, stop, step)):
        return [int(v) for v in values]
    return [round(float(v), 12) for v in values]


def _value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"grid value {text!r} is not a number or true/false") from None


def expand_grid(
    strategy_name: str, grid: Mapping[str, Sequence[Any]]
) -> tuple[list[Strategy[Any]], Counter[str]]:
    """The strategies of every set of ``grid`` the strategy accepts, in grid order, and the
    count of refused sets by reason.

    Raises
    ------
    ConfigurationError
        Unknown strategy, an unknown param (named, with the strategy's params), or an
        empty grid.
    """
    cls = STRATEGIES.get(strategy_name)
    if cls is None:
        create_strategy(strategy_name)  # raises, naming the known ones
        raise AssertionError  # pragma: no cover
    known = cls.params_type.model_fields
    unknown = [name for name in grid if name not in known]
    if unknown:
        raise ConfigurationError(
            f"{strategy_name} has no param {', '.join(map(repr, unknown))} "
            f"(params: {', '.join(known)})"
        )
    if not grid or any(len(values) == 0 for values in grid.values()):
        raise ConfigurationError("the grid is empty: give at least one value per param")
    names = list(grid)
    strategies: list[Strategy[Any]] = []
    refused: Counter[str] = Counter()
    for values in itertools.product(*(grid[n] for n in names)):
        try:
            strategies.append(cls(dict(zip(names, values, strict=True))))
        except ConfigurationError as exc:
            refused[str(exc).split(": ", 1)[-1]] += 1
    return strategies, refused


def run_grid(
    strategies: Sequence[Strategy[Any]],
    columns: tuple[FloatArray, ...],
    *,
    config: BacktestConfig,
    spread_bps: FloatArray | None,
    param_names: Sequence[str],
) -> tuple[pd.DataFrame, tuple[TradeArrays, ...]]:
    """The table and trades of ``strategies`` (sets of one strategy) over validated OHLCV
    ``columns`` under ``config`` (its ``periods_per_year`` set)."""
    if not strategies:
        return pd.DataFrame(columns=[*param_names, *GRID_METRICS]), ()
    open_, high, low, close, volume = columns
    with_confidence = config.sizing == "risk"  # all-in sizing never reads it
    signals = type(strategies[0]).signal_grid(
        strategies, open_, high, low, close, volume, with_confidence=with_confidence
    )
    confidence = signals.confidence if with_confidence else None
    if config.pal is not None and config.pal.mode is ModuleMode.ENFORCED:
        sims = simulate_many(signals.direction, signals.confidence, open_, high, low, close,
                             config=config, spread_bps=spread_bps)  # fmt: skip
        amplified = [_row_metrics(sim.equity, sim.trades, config) for sim in sims]
        return _table(strategies, param_names, amplified), tuple(sim.trades for sim in sims)
    plans = plan_many(
        signals.direction,
        confidence,
        open_,
        high,
        low,
        close,
        config=config,
        spread_bps=spread_bps,
    )
    rows: list[tuple[float, ...]] = []
    trades: list[TradeArrays] = []
    for r, plan in enumerate(plans):
        equity = equity_of(plan, close, config.cash)
        t = plan.trades
        if equity.min() <= 0:  # wiped out: the full books close its trade there
            sim = simulate_many(
                signals.direction[r : r + 1],
                signals.confidence[r : r + 1],
                open_, high, low, close, config=config, spread_bps=spread_bps,
            )[0]  # fmt: skip
            equity, t = sim.equity, sim.trades
        trades.append(t)
        rows.append(_row_metrics(equity, t, config))
    return _table(strategies, param_names, rows), tuple(trades)


def _table(
    strategies: Sequence[Strategy[Any]], param_names: Sequence[str], rows: list[tuple[float, ...]]
) -> pd.DataFrame:
    columns: dict[str, Any] = {n: [getattr(s.params, n) for s in strategies] for n in param_names}
    values = np.array(rows, dtype=np.float64).reshape(len(rows), len(GRID_METRICS))
    for j, name in enumerate(GRID_METRICS):
        columns[name] = values[:, j].astype(np.int64) if name == "trades" else values[:, j]
    return pd.DataFrame(columns)


def _row_metrics(
    equity: FloatArray, trades: TradeArrays, config: BacktestConfig
) -> tuple[float, ...]:
    """:data:`GRID_METRICS` of one set, by the definitions of
    :func:`~components.backtest.metrics.metrics_from_equity` (the starting cash is the
    first point of the curve). The variance comes from the sums of the returns and of
    their squares, which agrees with the two-pass estimate far inside the 1e-9 the grid
    promises (returns are small and their mean much smaller than their spread)."""
    cash = config.cash
    n = equity.size
    previous = np.empty(n)
    previous[0] = cash
    previous[1:] = equity[:-1]
    positive = bool(equity.min() > 0)
    if positive:  # the usual case
        returns = np.divide(equity, previous)
        returns -= 1.0
    else:  # a return from nothing counts as 0
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.where(previous > 0, equity / previous - 1.0, 0.0)
    mean = float(returns.sum()) / n
    if n > 1:
        centred = float(np.dot(returns, returns)) - n * mean * mean
        std = math.sqrt(max(centred, 0.0) / (n - 1))
    else:
        std = 0.0
    if positive:
        # Positive floats order as their bits do, and numpy's running maximum is several
        # times faster over int64 than over float64 (which must mind NaN).
        np.maximum.accumulate(equity.view(np.int64), out=previous.view(np.int64))
        peak = np.maximum(previous, cash, out=previous)  # the starting cash: first peak
        worst = float(np.min(np.divide(equity, peak, out=peak)))
    else:
        peak = np.maximum(np.maximum.accumulate(equity), cash)
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = float(np.where(peak > 0, equity / peak, 1.0).min())
    final = float(equity[-1])
    return (
        final / cash - 1.0,
        _sharpe(mean, std, n, float(config.periods_per_year or 1.0)),
        min(max(1.0 - min(worst, 1.0), 0.0), 1.0),
        float(len(trades)),
        float(np.mean(trades.pnl > 0)) if len(trades) else math.nan,
        float(trades.bars_held.sum()) / n,
        final,
    )
