"""The Backtester: the engine's own strategies over history, with the paper broker's costs.

    result = Backtester(cash=10_000, cost_model=CostModel(fee_bps=10)).run(strategy, bars)
    result.metrics.sharpe, result.equity, result.trades

One call of :meth:`Strategy.signal_arrays <components.strategies.Strategy.signal_arrays>`
over the whole history gives every bar's signal (the same code the engine runs, which
sees bars ``<= t`` only); :func:`~components.backtest.simulation.simulate` then fills
each change of direction at the next bar's open through the
:class:`~components.execution.costs.CostModel` and keeps the books. The trading rules
(fills, sizing, the end of the data, a wiped-out account) are in
:mod:`components.backtest.simulation`; the metrics in :mod:`components.backtest.metrics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from components.backtest.config import BacktestConfig, SizingMode
from components.backtest.grid import GridResult, expand_grid, run_grid
from components.backtest.metrics import YEAR, Metrics, metrics_from_equity
from components.backtest.metrics import drawdown as drawdown_of
from components.backtest.simulation import EXIT_REASONS, TradeArrays, simulate
from components.errors import ConfigurationError, DataError
from components.execution.costs import CostModel
from components.execution.exits import ExitRules
from components.indicators import FloatArray
from components.market.base import BAR_COLUMNS
from components.market.validation import (
    GapPolicy,
    infer_timeframe,
    timeframe_delta,
    validate_bars,
)
from components.sizing import SizingConfig
from components.strategies.base import Strategy

SPREAD_COLUMN = "spread_bps"
"""An optional bars column: the observed full spread of each bar, in basis points, used
when the cost model has no fixed spread."""

TRADE_COLUMNS: tuple[str, ...] = (
    "direction",
    "entry_bar",
    "exit_bar",
    "entry_time",
    "exit_time",
    "entry_price",
    "exit_price",
    "size",
    "pnl",
    "return",
    "fees",
    "exit_reason",
)
"""Columns of :attr:`BacktestResult.trades`, in order (a portfolio's start with ``symbol``)."""

_REASONS = pd.CategoricalDtype(list(EXIT_REASONS))


@dataclass(frozen=True, slots=True, eq=False)
class BacktestResult:
    """One strategy on one symbol.

    Attributes
    ----------
    strategy, params
        The strategy's name and params.
    symbol
        The name the bars were given.
    config
        The configuration it ran with.
    equity
        Equity after each bar's close (``cash + position * close``), indexed like the bars.
    cash, position
        Cash and signed position (base units) after each bar's close.
    trade_arrays
        The closed trades as numpy columns (:class:`~components.backtest.simulation.TradeArrays`),
        the fast path for searches; :attr:`trades` is the same as a frame.
    trades
        One row per closed trade, oldest first (:data:`TRADE_COLUMNS`): ``direction``
        (+1/-1), ``entry_bar``/``exit_bar`` (positions in the bars) and
        ``entry_time``/``exit_time`` (those bars' open times), fill prices, ``size``
        (base units, positive), ``pnl`` (after fees), ``return`` (pnl over the entry
        notional), ``fees`` (entry plus exit) and ``exit_reason`` (``signal``, ``end``:
        closed at the last close, ``ruin``: the account was wiped out).
    metrics
        The summary (:class:`~components.backtest.metrics.Metrics`).
    """

    strategy: str
    params: Mapping[str, Any]
    symbol: str
    config: BacktestConfig
    equity: pd.Series
    cash: pd.Series
    position: pd.Series
    trade_arrays: TradeArrays
    metrics: Metrics
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def trades(self) -> pd.DataFrame:
        """The closed trades as a frame (see the class docstring); built on first access
        from :attr:`trade_arrays`, the same trades as numpy columns."""
        frame = self._frames.get("trades")
        if frame is None:
            index = self.equity.index
            t = self.trade_arrays
            frame = _trades_frame(t, index.take(t.entry_bar), index.take(t.exit_bar))
            self._frames["trades"] = frame
        return frame

    @property
    def drawdown(self) -> pd.Series:
        """Fall from the running peak (the starting cash included) after each bar, in
        [0, 1]; computed on access."""
        values = drawdown_of(self.equity.to_numpy(), initial_equity=self.config.cash)
        return pd.Series(values, index=self.equity.index, name="drawdown", copy=False)


@dataclass(frozen=True, slots=True, eq=False)
class PortfolioBacktestResult:
    """One strategy on several symbols, the cash split equally between them.

    Attributes
    ----------
    results
        Each symbol's own :class:`BacktestResult` (each started with ``cash / symbols``).
    equity
        The sum of the symbols' equities on the union of their bar times (a symbol counts
        its starting cash before its first bar and its last equity after its last bar);
        ``drawdown`` is its fall from the running peak, in [0, 1].
    trades
        Every symbol's trades, a ``symbol`` column first, by entry time (then symbol).
    metrics
        Metrics of the summed equity; ``exposure`` is the share of bars with a position
        open on at least one symbol.
    """

    strategy: str
    params: Mapping[str, Any]
    config: BacktestConfig
    results: Mapping[str, BacktestResult]
    equity: pd.Series
    metrics: Metrics
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def trades(self) -> pd.DataFrame:
        """Every symbol's trades (see the class docstring); built on first access."""
        frame = self._frames.get("trades")
        if frame is None:
            frame = self._frames["trades"] = _portfolio_trades(self.results)
        return frame

    @property
    def drawdown(self) -> pd.Series:
        """Fall of the summed equity from its running peak (the starting cash included),
        in [0, 1]; computed on access."""
        values = drawdown_of(self.equity.to_numpy(), initial_equity=self.config.cash)
        return pd.Series(values, index=self.equity.index, name="drawdown", copy=False)


class Backtester:
    """Runs :class:`~components.strategies.Strategy` objects over bars; see the module
    docstring and :mod:`components.backtest.simulation` for the rules.

    Parameters
    ----------
    config
        A whole :class:`BacktestConfig`; the keyword options below override its fields.
    cash, cost_model, sizing, sizer, max_risk_per_trade, atr_period, allow_short
        Fields of :class:`BacktestConfig` (``None`` keeps the config's value; the defaults:
        10,000 cash, ``CostModel()``, all-in sizing, shorts allowed).
    periods_per_year, exits
        Also fields of :class:`BacktestConfig`; ``exits`` (stop-loss, take-profit, trailing
        stop: :class:`~components.execution.exits.ExitRules`) is off by default.

    Raises
    ------
    ConfigurationError
        An option is out of range; the message names it and the allowed range.

    Example: ``Backtester(cash=10_000, cost_model=CostModel(fee_bps=10)).run(strategy, bars)``.
    """

    def __init__(
        self,
        config: BacktestConfig | None = None,
        *,
        cash: float | None = None,
        cost_model: CostModel | None = None,
        sizing: SizingMode | None = None,
        sizer: SizingConfig | None = None,
        max_risk_per_trade: float | None = None,
        atr_period: int | None = None,
        allow_short: bool | None = None,
        periods_per_year: float | None = None,
        exits: ExitRules | None = None,
    ) -> None:
        options = {
            "cash": cash,
            "cost_model": cost_model,
            "sizing": sizing,
            "sizer": sizer,
            "max_risk_per_trade": max_risk_per_trade,
            "atr_period": atr_period,
            "allow_short": allow_short,
            "periods_per_year": periods_per_year,
            "exits": exits,
        }
        given = {name: value for name, value in options.items() if value is not None}
        base = (config or BacktestConfig()).model_dump()
        try:
            self.config = BacktestConfig.model_validate({**base, **given})
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}={e.get('input')!r}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigurationError(f"invalid backtest option: {problems}") from None

    def run(
        self,
        strategy: Strategy[Any],
        bars: pd.DataFrame,
        *,
        symbol: str = "bars",
        timeframe: str | None = None,
        gaps: GapPolicy = "allow",
    ) -> BacktestResult:
        """Backtest ``strategy`` on one symbol's ``bars``.

        Parameters
        ----------
        strategy
            Any strategy; its signals come from one ``signal_arrays`` call over ``bars``.
        bars
            Bars per :mod:`components.market.base` (UTC time index of open times, evenly
            spaced; columns ``open, high, low, close, volume``), optionally with a
            :data:`SPREAD_COLUMN`.
        symbol
            Named in errors and in the result.
        timeframe
            The bars' timeframe (``"1h"``); by default read from their spacing.
        gaps
            Missing bars (weekends, outages): ``allow`` (default) trades over the bars as
            they are, a signal before a gap filling at the open of the bar after it, and
            invents no price; ``refuse`` raises; ``ffill`` inserts flat bars first.

        Returns
        -------
        BacktestResult
            Equity, drawdown, trades and metrics. A trade still open after the last bar is
            closed at the last close, with the usual costs.

        Raises
        ------
        DataError
            The bars break the contract (NaN, prices <= 0, high < low, reversed, unsorted
            or duplicate timestamps, a missing column, gaps under ``gaps="refuse"``); the
            message names the first bad row.

        Example: ``Backtester().run(create_strategy("sma_crossover"), bars).metrics``.
        """
        clean, tf = _validated(bars, symbol, timeframe, gaps)
        columns = _columns(clean)
        direction, confidence = strategy.signal_arrays(*columns)
        return self._result(
            strategy,
            symbol,
            self._config_for(tf, self.config.cash),
            clean.index,
            columns,
            direction,
            confidence,
            _spreads(bars),
        )

    def run_many(
        self,
        strategy: Strategy[Any],
        bars: Mapping[str, pd.DataFrame],
        *,
        timeframe: str | None = None,
        gaps: GapPolicy = "allow",
    ) -> PortfolioBacktestResult:
        """Backtest ``strategy`` on several symbols, each with an equal share of the cash.

        The symbols trade independently (no rebalancing between them). When every frame
        has the same time index the signals come from one 2-D ``signal_arrays`` call
        (symbols x time); otherwise from one call per symbol. Either way each symbol's
        result equals :meth:`run` with ``cash / len(bars)`` (``gaps`` as there).

        Raises
        ------
        DataError
            ``bars`` is empty, or a symbol's bars break the contract (named).

        Example: ``Backtester().run_many(strategy, {"BTC/USDT": btc, "ETH/USDT": eth})``.
        """
        if not bars:
            raise DataError("run_many needs bars for at least one symbol")
        cash = self.config.cash / len(bars)
        checked = {
            symbol: _validated(frame, symbol, timeframe, gaps) for symbol, frame in bars.items()
        }
        clean = {symbol: frame for symbol, (frame, _) in checked.items()}
        columns = {symbol: _columns(frame) for symbol, frame in clean.items()}
        signals = _signals_by_symbol(strategy, clean, columns)
        results = {
            symbol: self._result(
                strategy,
                symbol,
                self._config_for(checked[symbol][1], cash),
                clean[symbol].index,
                columns[symbol],
                direction,
                confidence,
                _spreads(bars[symbol]),
            )
            for symbol, (direction, confidence) in signals.items()
        }
        return self._portfolio(strategy, results)

    def run_grid(
        self,
        strategy_name: str,
        grid: Mapping[str, Sequence[Any]],
        bars: pd.DataFrame,
        *,
        symbol: str = "bars",
        timeframe: str | None = None,
        gaps: GapPolicy = "allow",
    ) -> GridResult:
        """Backtest every parameter set of ``grid`` (each param mapped to its values) for
        ``strategy_name`` on ``bars`` at once; see :mod:`components.backtest.grid`.

        Each set's trades equal :meth:`run`'s for that set; sets the strategy refuses
        (``fast >= slow``, out of range) are skipped and counted.

        Raises
        ------
        ConfigurationError
            Unknown strategy or param, or an empty grid.
        DataError
            The bars break the contract (as :meth:`run`).

        Example: ``Backtester().run_grid("sma_crossover", {"fast": [5, 10], "slow": [20, 40]},
        bars).table``.
        """
        strategies, refused = expand_grid(strategy_name, grid)
        clean, tf = _validated(bars, symbol, timeframe, gaps)
        table, trades = run_grid(
            strategies,
            _columns(clean),
            config=self._config_for(tf, self.config.cash),
            spread_bps=_spreads(bars),
            param_names=list(grid),
        )
        return GridResult(
            strategy=strategy_name,
            table=table,
            trades=trades,
            skipped=sum(refused.values()),
            skip_reasons=MappingProxyType(dict(refused)),
        )

    # --- assembling results ------------------------------------------------------------------

    def _config_for(self, timeframe: str, cash: float) -> BacktestConfig:
        """This backtester's config with ``cash`` and the bars per year of ``timeframe``
        (unless the config fixes them)."""
        per_year = self.config.periods_per_year or YEAR / timeframe_delta(timeframe)
        return self.config.model_copy(update={"cash": cash, "periods_per_year": per_year})

    def _result(
        self,
        strategy: Strategy[Any],
        symbol: str,
        config: BacktestConfig,
        index: pd.Index,
        columns: tuple[FloatArray, ...],
        direction: np.ndarray,
        confidence: np.ndarray,
        spreads: FloatArray | None,
    ) -> BacktestResult:
        open_, high, low, close, _ = columns
        sim = simulate(
            direction, confidence, open_, high, low, close, config=config, spread_bps=spreads
        )
        equity = pd.Series(sim.equity, index=index, name="equity", copy=False)
        metrics = metrics_from_equity(
            equity,
            trades=sim.trades.pnl,
            initial_equity=config.cash,
            exposure=sim.exposure,
            periods_per_year=config.periods_per_year,
        )
        return BacktestResult(
            strategy=strategy.name,
            params=MappingProxyType(strategy.params.model_dump()),
            symbol=symbol,
            config=config,
            equity=equity,
            cash=pd.Series(sim.cash, index=index, name="cash", copy=False),
            position=pd.Series(sim.position, index=index, name="position", copy=False),
            trade_arrays=sim.trades,
            metrics=metrics,
        )

    def _portfolio(
        self, strategy: Strategy[Any], results: dict[str, BacktestResult]
    ) -> PortfolioBacktestResult:
        first = next(iter(results.values()))
        indexes = [r.equity.index for r in results.values()]
        index = indexes[0]
        for other in indexes[1:]:
            if not other.equals(index):
                index = index.union(other)
        total = np.zeros(len(index))
        in_market = np.zeros(len(index), dtype=np.bool_)
        for result in results.values():
            if result.equity.index.equals(index):
                total += result.equity.to_numpy()
                in_market |= _in_market(result)
                continue
            aligned = result.equity.reindex(index).ffill().fillna(result.config.cash)
            total += aligned.to_numpy()
            held = pd.Series(_in_market(result), index=result.equity.index)
            in_market |= held.reindex(index, fill_value=False).to_numpy(dtype=np.bool_)
        equity = pd.Series(total, index=index, name="equity", copy=False)
        per_year = {r.config.periods_per_year for r in results.values()}
        metrics = metrics_from_equity(
            equity,
            trades=np.concatenate([r.trade_arrays.pnl for r in results.values()]),
            initial_equity=self.config.cash,
            exposure=float(in_market.mean()) if len(index) else 0.0,
            # symbols of different timeframes: from the spacing of the union of their bars
            periods_per_year=per_year.pop() if len(per_year) == 1 else None,
        )
        return PortfolioBacktestResult(
            strategy=first.strategy,
            params=first.params,
            config=self.config,
            results=MappingProxyType(dict(results)),
            equity=equity,
            metrics=metrics,
        )


# --- helpers ------------------------------------------------------------------------------------


def _validated(
    bars: pd.DataFrame, symbol: str, timeframe: str | None, gaps: GapPolicy = "allow"
) -> tuple[pd.DataFrame, str]:
    """``bars`` checked against the bars contract (see :func:`validate_bars`), and their
    timeframe."""
    if not isinstance(bars, pd.DataFrame):
        raise DataError(f"{symbol}: bars must be a pandas DataFrame, not {type(bars).__name__}")
    if len(bars) == 0:
        raise DataError(f"{symbol}: no bars to backtest")
    if timeframe is None and len(bars) == 1:
        timeframe = "1h"  # one bar has no spacing to check
    tf = timeframe or infer_timeframe(bars.index, where=symbol)
    return validate_bars(bars, symbol=symbol, source="backtest", timeframe=tf, gaps=gaps), tf


def _columns(bars: pd.DataFrame) -> tuple[FloatArray, ...]:
    """The OHLCV columns of validated bars (columns in contract order) as 1-D arrays."""
    # One float block (the usual case) comes out transposed: each row is one column, with
    # no copy and contiguous; anything else is copied once.
    rows = bars.to_numpy(dtype=np.float64).T
    return tuple(np.ascontiguousarray(rows[j]) for j in range(len(BAR_COLUMNS)))


def _spreads(bars: pd.DataFrame) -> FloatArray | None:
    if SPREAD_COLUMN not in bars.columns:
        return None
    return np.asarray(
        pd.to_numeric(bars[SPREAD_COLUMN], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    )


def _signals_by_symbol(
    strategy: Strategy[Any],
    clean: dict[str, pd.DataFrame],
    columns: dict[str, tuple[FloatArray, ...]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each symbol's direction and confidence: one 2-D call when the indexes agree."""
    indexes = [frame.index for frame in clean.values()]
    if len(clean) > 1 and all(ix.equals(indexes[0]) for ix in indexes[1:]):
        stacked = [np.vstack([columns[s][j] for s in clean]) for j in range(len(BAR_COLUMNS))]
        direction, confidence = strategy.signal_arrays(*stacked)
        return {s: (direction[i], confidence[i]) for i, s in enumerate(clean)}
    return {s: tuple(strategy.signal_arrays(*columns[s])) for s in clean}  # type: ignore[misc]


def _trades_frame(t: TradeArrays, entry_time: pd.Index, exit_time: pd.Index) -> pd.DataFrame:
    notional = t.size * t.entry_price
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.where(notional > 0, t.pnl / notional, 0.0)
    return pd.DataFrame(
        {
            "direction": t.direction,
            "entry_bar": t.entry_bar,
            "exit_bar": t.exit_bar,
            "entry_time": entry_time,
            "exit_time": exit_time,
            "entry_price": t.entry_price,
            "exit_price": t.exit_price,
            "size": t.size,
            "pnl": t.pnl,
            "return": returns,
            "fees": t.entry_fee + t.exit_fee,
            "exit_reason": pd.Categorical.from_codes(t.exit_reason, dtype=_REASONS),
        },
    )


def _portfolio_trades(results: Mapping[str, BacktestResult]) -> pd.DataFrame:
    """The trades of every symbol in one frame, ``symbol`` first, by entry time then symbol."""
    names = sorted(results)
    parts = [results[name] for name in names]
    arrays = [r.trade_arrays for r in parts]
    t = TradeArrays(
        **{
            f.name: np.concatenate([getattr(a, f.name) for a in arrays])
            for f in fields(TradeArrays)
        }
    )
    entry_times = [r.equity.index.take(a.entry_bar) for r, a in zip(parts, arrays, strict=True)]
    exit_times = [r.equity.index.take(a.exit_bar) for r, a in zip(parts, arrays, strict=True)]
    entry_time = entry_times[0].append(entry_times[1:])
    frame = _trades_frame(t, entry_time, exit_times[0].append(exit_times[1:]))
    codes = np.repeat(np.arange(len(names)), [len(a) for a in arrays])
    symbol = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(names))
    frame.insert(0, "symbol", pd.Series(symbol, index=frame.index))
    order = np.lexsort((codes, entry_time.to_numpy()))
    return frame.take(order).reset_index(drop=True)


def _in_market(result: BacktestResult) -> np.ndarray:
    """Per bar of ``result``: whether a position was open during the bar."""
    t = result.trade_arrays
    marks = np.zeros(len(result.equity) + 1, dtype=np.int64)
    np.add.at(marks, t.entry_bar, 1)
    np.add.at(marks, t.entry_bar + t.bars_held, -1)
    return np.cumsum(marks[:-1]) > 0
