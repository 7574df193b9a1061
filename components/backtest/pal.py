"""The Profit Amplification Layer in a backtest: each trade replayed bar by bar through
the layer's own decision (:func:`components.pal.layer.amplify`, the engine's), with the
paper broker's fills, costs and exit model.

A trade here is what the signals make of it (its entry at the open after the signal, its
exit at the open after the signal changes, or the last close); along it, as the engine's
cycle does at each bar's close:

- the exit model (:func:`~components.execution.exits.exit_along`) checks the bar first,
  the stop being the one PAL last moved; an exit closes all that is held;
- then, unless the signal closes the position at this close, PAL decides: a partial
  profit and an add are orders filled at the next bar's open (market, with spread,
  slippage and fees; the partial first), a stop move applies from the next bar.

The size of the entry and of every add is a share of the equity at the entry (as the
sizing of a trade without PAL), so trades still compound. ``size`` in the trades is the
initial size; ``exit_fee`` holds every fee after the entry's (adds, partials, exit). This
is a Python loop over the bars of each trade: PAL backtests are slower than the
vectorised path, which they leave alone when PAL is off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from components.backtest.config import BacktestConfig
from components.backtest.simulation import (
    EXIT_REASONS,
    FloatArray,
    TradeArrays,
    TradePlan,
)
from components.execution.exits import ExitLevels, entry_levels, exit_along
from components.pal.config import PalConfig
from components.pal.layer import PalState, amplify

_CODE = {name: np.int8(i) for i, name in enumerate(EXIT_REASONS)}


def amplified_row(
    plan: TradePlan,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    exit_atr: FloatArray | None,
    *,
    config: BacktestConfig,
    pal: PalConfig,
    spread_bps: FloatArray | None = None,
) -> tuple[TradeArrays, FloatArray, FloatArray]:
    """One row's trades with PAL, and its cash and position after each bar (the books of
    :func:`~components.backtest.simulation.simulate_many`: a trade holds from its entry
    bar up to, not including, its exit bar).

    ``plan`` is the row's plan *on signals only* (the replay applies the exit model),
    ``exit_atr`` the ATR the exit model and PAL read.

    Example: ``amplified_row(plan, o, h, l, c, atr, config=cfg, pal=PalConfig(...))``.
    """
    n = close.size
    t = plan.trades
    cash_bars = np.full(n, config.cash)
    position_bars = np.zeros(n)
    columns: dict[str, list[float]] = {
        k: [] for k in ("exit_bar", "exit_price", "size", "entry_fee", "exit_fee", "pnl", "reason")
    }
    equity = config.cash
    bars = _Bars(open_, high, low, close, exit_atr, spread_bps, cash_bars, position_bars)
    for i in range(len(t)):
        before = equity
        trade = _replay(plan, i, before, bars, config, pal)
        equity = before + trade["pnl"]
        cash_bars[int(trade["exit_bar"]) :] = equity
        position_bars[int(trade["exit_bar"]) :] = 0.0
        for k, v in trade.items():
            columns[k].append(v)
    trades = TradeArrays(
        direction=t.direction.copy(),
        entry_bar=t.entry_bar.copy(),
        exit_bar=np.asarray(columns["exit_bar"], dtype=np.int64),
        entry_price=t.entry_price.copy(),
        exit_price=np.asarray(columns["exit_price"], dtype=np.float64),
        size=np.asarray(columns["size"], dtype=np.float64),
        entry_fee=np.asarray(columns["entry_fee"], dtype=np.float64),
        exit_fee=np.asarray(columns["exit_fee"], dtype=np.float64),
        pnl=np.asarray(columns["pnl"], dtype=np.float64),
        exit_reason=np.asarray(columns["reason"], dtype=np.int8),
    )
    return trades, cash_bars, position_bars


@dataclass(frozen=True, slots=True)
class _Bars:
    """What a replay reads of the bars, and the books it writes (one row)."""

    open_: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    exit_atr: FloatArray | None
    spread_bps: FloatArray | None
    cash: FloatArray
    position: FloatArray


def _replay(
    plan: TradePlan, i: int, before: float, bars: _Bars, config: BacktestConfig, pal: PalConfig
) -> dict[str, float]:
    """Trade ``i`` of ``plan`` with PAL, from ``before`` equity; books its held bars."""
    cm, rules, t = config.cost_model, config.exits, plan.trades
    open_, high, low, close = bars.open_, bars.high, bars.low, bars.close
    exit_atr, spread_bps = bars.exit_atr, bars.spread_bps
    cash_bars, position_bars = bars.cash, bars.position
    n = close.size
    sign, first = int(t.direction[i]), int(t.entry_bar[i])
    at_end = int(t.exit_reason[i]) == int(_CODE["end"])
    last = n - 1 if at_end else int(t.exit_bar[i]) - 1  # the last bar the signal holds
    size = float(t.size[i]) / float(plan.before[i]) * before  # the same share of equity
    price = float(t.entry_price[i])
    entry_fee = float(cm.fee(size * price))
    cash = before - entry_fee - sign * size * price
    held = sign * size
    fees = 0.0
    last_fill = price

    def atr_at(k: int) -> float:
        return math.nan if exit_atr is None or k < 0 else float(exit_atr[k])

    def spread_at(k: int) -> float:
        return cm.spread_for(None if spread_bps is None else float(spread_bps[k]))

    given = None
    if plan.stop is not None and math.isfinite(plan.stop[i]):
        given = float(plan.stop[i])
    levels = (
        entry_levels(sign, entry_price=price, atr=atr_at(first - 1), rules=rules, stop_loss=given)
        if rules is not None
        else ExitLevels(stop_loss=given)
    )
    state = PalState.open(side=sign, entry=price, stop=levels.stop_loss, quantity=size)
    pending: list[float] = []  # signed quantities PAL ordered at the last close
    for k in range(first, last + 1):
        for quantity in pending:  # filled at this open, the partial first
            if quantity * held < 0:  # reduce-only: never more than is held
                quantity = -math.copysign(min(abs(quantity), abs(held)), held)
            if quantity == 0:
                continue
            fill = float(cm.fill_price(math.copysign(1.0, quantity), open_[k],
                                       spread_bps=spread_at(k)))  # fmt: skip
            fee = float(cm.fee(abs(quantity) * fill))
            cash -= quantity * fill + fee
            fees += fee
            held += quantity
            last_fill = fill
        pending = []
        if held == 0:
            break  # PAL's partials took it all: flat from this bar
        if rules is not None:
            path = exit_along(
                sign, levels, open_=open_[k], high=high[k], low=low[k], atr=atr_at(k),
                rules=rules, cost_model=cm, spread_bps=spread_at(k),
            )  # fmt: skip
            levels = path.levels
            if path.decision is not None:
                exit_fee = float(cm.fee(abs(held) * path.decision.price))
                cash += held * path.decision.price - exit_fee
                return _closed(k, path.decision.price, size, entry_fee, fees + exit_fee,
                               cash - before, path.decision.reason.value)  # fmt: skip
        cash_bars[k], position_bars[k] = cash, held
        if state is not None and k < last:  # at `last` the signal closes the position
            decision = amplify(state, quantity=held, close=float(close[k]), atr=atr_at(k),
                               stop=levels.stop_loss, config=pal)  # fmt: skip
            state = decision.state
            if decision.stop is not None:
                levels = replace(levels, stop_loss=decision.stop)
            pending = [q for q in (-sign * decision.reduce, sign * decision.add) if q]
    else:  # the signal's exit at the next open, or the data's end at the last close
        at = n - 1 if at_end else last + 1
        reference = float(close[at]) if at_end else float(open_[at])
        exit_price = float(cm.fill_price(-sign, reference, spread_bps=spread_at(at)))
        exit_fee = float(cm.fee(abs(held) * exit_price))
        cash += held * exit_price - exit_fee
        return _closed(at, exit_price, size, entry_fee, fees + exit_fee, cash - before,
                       "end" if at_end else "signal")  # fmt: skip
    # PAL's partials took every unit off at the open of bar k: flat from there
    return _closed(k, last_fill, size, entry_fee, fees, cash - before, "pal")


def _closed(
    bar: int, price: float, size: float, entry_fee: float, fees: float, pnl: float, reason: str
) -> dict[str, float]:
    return {
        "exit_bar": float(bar),
        "exit_price": price,
        "size": size,
        "entry_fee": entry_fee,
        "exit_fee": fees,
        "pnl": pnl,
        "reason": float(_CODE[reason]),
    }
