"""Parameter grids: every parameter set of one strategy over one series, at once.

    grid = parse_grid(["fast=5:50:5", "slow=20:200:20"])
    result = Backtester().run_grid("sma_crossover", grid, bars)
    result.table.sort_values("sharpe", ascending=False).head()

The sets are the cartesian product of the grid's values; a set the strategy refuses
(``fast >= slow``, a value out of range) is skipped and counted. The bars are validated
once; the signals of all sets come from one
:meth:`~components.strategies.Strategy.signal_grid` call (a strategy whose sets share
indicators computes each distinct one once); the books of all sets are kept by
:func:`~components.backtest.simulation.simulate_many`, and the metrics are computed over the
(sets x time) equity block. Each set's trades are the trades :meth:`Backtester.run` gives
for it (a test checks every set).
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
from components.backtest.simulation import Simulation, TradeArrays, simulate_many
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
    signals = type(strategies[0]).signal_grid(
        strategies,
        open_,
        high,
        low,
        close,
        volume,
        with_confidence=config.sizing == "risk",  # all-in sizing never reads it
    )
    sims = simulate_many(
        signals.direction,
        signals.confidence,
        open_,
        high,
        low,
        close,
        config=config,
        spread_bps=spread_bps,
    )
    metrics = _metrics(sims, config)
    params = pd.DataFrame([{n: s.params.model_dump()[n] for n in param_names} for s in strategies])
    table = pd.concat([params, metrics], axis=1)
    return table, tuple(sim.trades for sim in sims)


def _metrics(sims: list[Simulation], config: BacktestConfig) -> pd.DataFrame:
    """:data:`GRID_METRICS` of every row, vectorised over the (sets x time) equity; the
    same definitions as :func:`~components.backtest.metrics.metrics_from_equity`."""
    cash = config.cash
    rows = len(sims)
    curve = np.empty((rows, sims[0].equity.size + 1))
    curve[:, 0] = cash
    for r, sim in enumerate(sims):
        curve[r, 1:] = sim.equity
    final = curve[:, -1]
    if curve.min() > 0:  # the usual case: a few passes, in place
        returns = np.divide(curve[:, 1:], curve[:, :-1])
        returns -= 1.0
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            returns = np.where(curve[:, :-1] > 0, curve[:, 1:] / curve[:, :-1] - 1.0, 0.0)
    count = returns.shape[1]
    mean = returns.mean(axis=1)
    centred = returns - mean[:, np.newaxis]
    variance = np.einsum("ij,ij->i", centred, centred) / max(count - 1, 1)
    std = np.sqrt(variance) if count > 1 else np.zeros(rows)
    ppy = float(config.periods_per_year or 1.0)
    peak = np.empty_like(curve)
    for r in range(rows):  # row by row: numpy accumulates a contiguous row much faster
        np.maximum.accumulate(curve[r], out=peak[r])
    if peak.min() > 0:
        worst = np.divide(curve, peak, out=peak).min(axis=1)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            worst = np.where(peak > 0, curve / peak, 1.0).min(axis=1)
    trades = [s.trades for s in sims]
    return pd.DataFrame(
        {
            "total_return": final / cash - 1.0,
            "sharpe": [
                _sharpe(float(m), float(d), count, ppy) for m, d in zip(mean, std, strict=True)
            ],
            "max_drawdown": np.clip(1.0 - worst, 0.0, 1.0),
            "trades": [len(t) for t in trades],
            "win_rate": [float(np.mean(t.pnl > 0)) if len(t) else math.nan for t in trades],
            "exposure": [s.exposure for s in sims],
            "final_equity": final,
        }
    )
