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
found together, as columns of all trades). The metrics of every set holding only
all-in long trades come from those trades, not from a per-bar curve (:func:`_event_rows`:
the equity is flat between trades and a multiple of the close inside one); any other set
builds its equity curve, one set at a time (a row of a few thousand floats stays in the
cache, where the whole (sets x time) block would not: that was 5x slower). Each set's
trades are the trades :meth:`Backtester.run` gives for it (a test checks every set).
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
from components.backtest.simulation import (
    IntArray,
    TradeArrays,
    TradePlan,
    equity_of,
    plan_many,
    simulate_many,
)
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
    from_events = _event_rows(plans, close, config)
    for r, plan in enumerate(plans):
        known = from_events[r]
        if known is not None:  # no per-bar curve needed
            trades.append(plan.trades)
            rows.append(known)
            continue
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


def _event_rows(
    plans: Sequence[TradePlan], close: FloatArray, config: BacktestConfig
) -> list[tuple[float, ...] | None]:
    """:data:`GRID_METRICS` of every row whose equity is, between its trades, a constant,
    and in each trade a positive multiple of the close (all-in long trades: the cash left
    after the entry is rounding), computed from the trades without a per-bar curve; ``None``
    for the other rows (:func:`_row_metrics` then reads their curve).

    The equity stands still between trades, so its per-bar returns are 0 there; inside a
    trade each return is the close's own (shared by every row: prefix sums over the close
    give a trade's sums of returns and of their squares); the bars where a trade starts or
    ends are computed one by one. The drawdown needs no running maximum per bar: each
    stretch's highest and lowest equity come from the close's range extremes (a sparse
    table), which bound the worst ratio to the peak of every stretch; only the stretches
    whose lower bound beats the best upper bound of their row are walked bar by bar, with
    the same float operations as the curve (so the same result)."""
    n, rows, cash = close.size, len(plans), config.cash
    count = np.array([len(p.trades) for p in plans], dtype=np.int64)
    out: list[tuple[float, ...] | None] = [None] * rows
    if n < 2 or not (close > 0).all():
        return out
    trow = np.repeat(np.arange(rows), count)
    start = np.concatenate([p.trades.entry_bar for p in plans])
    stop = np.concatenate([p.trades.exit_bar for p in plans])
    position = np.concatenate([p.trades.direction * p.trades.size for p in plans])
    entry_price = np.concatenate([p.trades.entry_price for p in plans])
    entry_fee = np.concatenate([p.trades.entry_fee for p in plans])
    before = np.concatenate([p.before for p in plans])
    after = np.concatenate([p.after for p in plans])
    held = before - entry_fee - position * entry_price  # the cash beside the position
    fast = (position > 0) & (np.abs(held) <= 1e-13 * position * float(close.min())) & (after > 0)
    ok = np.bincount(trow, weights=(~fast).astype(np.float64), minlength=rows) == 0
    if not ok.any():
        return out

    # Returns: 0 on flat bars; the close's own inside a trade; computed at each entry/exit.
    step = close[1:] / close[:-1]
    step -= 1.0
    sums = np.zeros(n)
    squares = np.zeros(n)
    np.cumsum(step, out=sums[1:])
    np.cumsum(step * step, out=squares[1:])
    inner = stop - 1 > start  # bars start+1 .. stop-1 are inside the trade
    s1 = np.bincount(
        trow[inner], weights=sums[stop[inner] - 1] - sums[start[inner]], minlength=rows
    )
    s2 = np.bincount(
        trow[inner], weights=squares[stop[inner] - 1] - squares[start[inner]], minlength=rows
    )
    # Each entry and exit bar, once (an exit at the next entry's bar is that entry), with
    # the trade that holds the account there: the latest one entered by then.
    events = np.empty(2 * start.size, dtype=np.int64)
    events[0::2], events[1::2] = trow * n + start, trow * n + stop
    kept = np.flatnonzero(np.append(events[:-1] != events[1:], True))
    events, owner, at_entry = events[kept], kept // 2, kept % 2 == 0
    busy = stop > start
    before_owner = np.where(at_entry | ~busy[owner], owner - 1, owner)  # at the bar before
    erow, ebar = np.divmod(events, n)
    now = _equity_at(ebar, erow, owner, trow, stop, position, held, after, close, cash)
    then = _equity_at(ebar - 1, erow, before_owner, trow, stop, position, held, after, close, cash)
    jump = now / then - 1.0
    s1 += np.bincount(erow, weights=jump, minlength=rows)
    s2 += np.bincount(erow, weights=jump * jump, minlength=rows)

    # Drawdown: stretches per row (flat, trade 1, flat, trade 2, ..., flat) in a block.
    width = 2 * int(count.max(initial=0)) + 1
    highest = np.zeros((rows, width))
    lowest = np.full((rows, width), np.inf)
    highest[:, 0] = lowest[:, 0] = cash
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    k = np.arange(start.size) - first[trow]  # each trade's number in its row
    top, bottom = _range_extremes(close, start[busy], stop[busy] - 1)
    t_row, t_col = trow[busy], 2 * k[busy] + 1
    highest[t_row, t_col] = position[busy] * top + held[busy]
    lowest[t_row, t_col] = position[busy] * bottom + held[busy]
    nxt = np.append(start[1:], n)
    nxt[np.cumsum(count)[count > 0] - 1] = n  # a row's last trade: flat to the end
    flat = nxt > stop
    highest[trow[flat], 2 * k[flat] + 2] = after[flat]
    lowest[trow[flat], 2 * k[flat] + 2] = after[flat]
    peak = np.empty_like(highest)  # the peak before each stretch
    peak[:, 0] = cash
    np.maximum.accumulate(highest[:, :-1], axis=1, out=peak[:, 1:])
    np.maximum(peak, cash, out=peak)
    low_bound = lowest / np.maximum(peak, highest)
    high_bound = lowest / peak
    high_bound[:, 0::2] = low_bound[:, 0::2]  # a flat stretch's ratio is exact
    best = high_bound.min(axis=1)
    walk = np.flatnonzero((low_bound[t_row, t_col] < best[t_row]) & ok[t_row])
    worst = best.copy()
    b_start, b_stop, b_pos, b_held = start[busy], stop[busy], position[busy], held[busy]
    for j in walk:
        r = int(t_row[j])
        curve = b_pos[j] * close[b_start[j] : b_stop[j]]
        curve += b_held[j]
        high = np.maximum.accumulate(curve)
        np.maximum(high, peak[r, t_col[j]], out=high)
        worst[r] = min(worst[r], float(np.min(curve / high)))

    ppy = float(config.periods_per_year or 1.0)
    last = np.where(count > 0, 0.0, cash)
    ends = np.cumsum(count)[count > 0] - 1
    last[count > 0] = after[ends]
    pnl = np.concatenate([p.trades.pnl for p in plans])
    reason = np.concatenate([p.trades.exit_reason for p in plans])
    wins = np.bincount(trow, weights=(pnl > 0).astype(np.float64), minlength=rows)
    bars_held = (stop - start + (reason != 0)).astype(np.float64)  # TradeArrays.bars_held
    exposure = np.bincount(trow, weights=bars_held, minlength=rows) / n
    for r in np.flatnonzero(ok).tolist():
        mean = float(s1[r]) / n
        centred = float(s2[r]) - n * mean * mean
        std = math.sqrt(max(centred, 0.0) / (n - 1))
        final = float(last[r])
        out[r] = (
            final / cash - 1.0,
            _sharpe(mean, std, n, ppy),
            min(max(1.0 - min(float(worst[r]), 1.0), 0.0), 1.0),
            float(count[r]),
            float(wins[r]) / float(count[r]) if count[r] else math.nan,
            float(exposure[r]),
            final,
        )
    return out


def _equity_at(
    bar: IntArray,
    row: IntArray,
    owner: IntArray,
    trow: IntArray,
    stop: IntArray,
    position: FloatArray,
    held: FloatArray,
    after: FloatArray,
    close: FloatArray,
    cash: float,
) -> FloatArray:
    """The equity of ``row`` at ``bar`` as the per-bar curve has it, ``owner`` being the
    latest trade entered by then (-1 or another row's: none): that trade's while it is
    held, its ``after`` once closed, or the starting cash before any trade."""
    j = np.maximum(owner, 0)
    mine = (owner >= 0) & (trow[j] == row)
    inside = mine & (bar < stop[j])
    return np.where(inside, position[j] * close[bar] + held[j], np.where(mine, after[j], cash))


def _range_extremes(
    values: FloatArray, lo: IntArray, hi: IntArray
) -> tuple[FloatArray, FloatArray]:
    """The max and min of ``values[lo[i] : hi[i] + 1]`` for each i (``lo <= hi``), from a
    sparse table (row k holds the extremes of the 2**k values from each point)."""
    if lo.size == 0:
        return np.empty(0), np.empty(0)
    level = np.log2(hi - lo + 1).astype(np.int64)  # floor: lengths are positive
    depth = int(level.max()) + 1
    tops, bottoms = np.empty((depth, values.size)), np.empty((depth, values.size))
    tops[0] = bottoms[0] = values
    for k in range(1, depth):
        half = 1 << (k - 1)
        np.maximum(tops[k - 1, :-half], tops[k - 1, half:], out=tops[k, :-half])
        np.minimum(bottoms[k - 1, :-half], bottoms[k - 1, half:], out=bottoms[k, :-half])
    other = hi - (np.int64(1) << level) + 1
    return (
        np.maximum(tops[level, lo], tops[level, other]),
        np.minimum(bottoms[level, lo], bottoms[level, other]),
    )
