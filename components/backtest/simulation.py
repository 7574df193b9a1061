"""The position-accounting core: signals and prices in, trades and per-bar equity out.

No Python loop over bars or trades: every step is a numpy pass over whole columns.

The rules
---------
- ``direction[t]`` is the position wanted from bar ``t`` on; it is acted on at the open
  of bar ``t + 1``. So the position held during bar ``t`` is ``direction[t - 1]`` (flat
  during bar 0), and a trade is a run of bars holding one non-zero side.
- Every fill is a market order at the bar's open through
  :meth:`CostModel.fill_price <components.execution.costs.CostModel.fill_price>` (half
  the spread plus the slippage, against the trader), and pays
  :meth:`CostModel.fee <components.execution.costs.CostModel.fee>` on its notional. A
  reversal closes the old trade and opens the new one at the same open.
- A trade still open after the last bar is closed at the last close (the same costs
  apply). backtesting.py 0.6 with ``finalize_trades=True`` closes it at the last bar's
  *open* instead; without it, the trade stays open and out of its trade list.
- Sizes are fixed at entry. ``all_in`` commits the equity at entry, fee included:
  ``size = equity / (fill_price * (1 + fee rate))`` (backtesting.py's ``buy()``, in
  fractional units). ``risk`` asks the :class:`~components.sizing.PositionSizer` with
  what the engine knows at the signal bar: its close, its ATR and its confidence; an
  entry the sizer sizes at 0 is not taken (the account stays flat until the next change).
  With exit rules on, a ``risk`` trade's stop-loss is the sizer's stop (the engine puts it
  on its order); the take-profit and the trailing stop come from the rules.
- Equity at each bar is ``cash + position * close``.
- An account whose equity reaches 0 (a short through a rally, a leveraged loss) is wiped
  out as in backtesting.py: a trade still open then is closed at that bar's close (exit
  reason ``ruin``), the trade's loss is the whole equity (no debt is carried), and
  nothing trades afterwards.

Why it vectorises: every size above is proportional to the equity at entry (the sizer's
risk budget and notional caps are shares of equity), so each trade multiplies the equity
by a factor known from prices alone; the equity before each trade is a cumulative
product, and the per-bar curve follows from which trade holds each bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import numpy.typing as npt

from components.backtest.config import BacktestConfig
from components.config import ModuleMode
from components.execution.accounting import realised_pnl
from components.execution.costs import CostModel, fill_price
from components.execution.exits import ExitReason, entry_levels, exit_along
from components.indicators import FloatArray, atr
from components.sizing import PositionSizer

IntArray = npt.NDArray[np.int64]

EXIT_REASONS: tuple[str, ...] = ("signal", "end", "ruin", *(r.value for r in ExitReason), "pal")
"""Why a trade closed: the signal changed, the data ended, the account was wiped out, an
exit of :mod:`components.execution.exits` fired (stop-loss, take-profit, trailing), or
the Profit Amplification Layer's partial profits took the whole position."""
_SIGNAL, _END, _RUIN = (np.int8(i) for i in range(3))
_EXIT_CODE = {reason: np.int8(EXIT_REASONS.index(reason.value)) for reason in ExitReason}


@dataclass(frozen=True, slots=True, eq=False)
class TradeArrays:
    """Closed trades as columns, oldest first (see :class:`Simulation`).

    ``entry_bar`` is the bar at whose open the entry filled; ``exit_bar`` the bar at whose
    open the exit filled, or at whose close for the ``end`` and ``ruin`` exits.
    """

    direction: npt.NDArray[np.int8]
    entry_bar: IntArray
    exit_bar: IntArray
    entry_price: FloatArray
    exit_price: FloatArray
    size: FloatArray
    entry_fee: FloatArray
    exit_fee: FloatArray
    pnl: FloatArray
    exit_reason: npt.NDArray[np.int8]
    """Codes into :data:`EXIT_REASONS`."""

    @property
    def bars_held(self) -> IntArray:
        """Bars each trade was open during: from the entry bar to the bar before the exit,
        or to the exit bar itself when it closed at that bar's close."""
        at_close = (self.exit_reason != _SIGNAL).astype(np.int64)
        return self.exit_bar - self.entry_bar + at_close

    def __len__(self) -> int:
        return int(self.entry_bar.size)


@dataclass(frozen=True, slots=True, eq=False)
class Simulation:
    """One symbol's simulated account.

    ``cash``, ``position`` (signed base units) and ``equity`` are per bar, as they stand
    after the bar's close (after any fill at that bar). ``exposure`` is the share of bars
    with a position open during the bar.
    """

    equity: FloatArray
    cash: FloatArray
    position: FloatArray
    trades: TradeArrays
    exposure: float


def simulate(
    direction: npt.ArrayLike,
    confidence: npt.ArrayLike,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    *,
    config: BacktestConfig,
    spread_bps: FloatArray | None = None,
) -> Simulation:
    """Trade ``direction`` over one symbol's bars under ``config`` (module docstring rules).

    Parameters
    ----------
    direction, confidence
        A strategy's signals per bar (int in {-1, 0, 1}; float in [0, 1]).
    open_, high, low, close
        The bars' prices, 1-D, the length of ``direction``; validated by the caller.
    config
        Cash, costs, sizing and whether shorts are allowed.
    spread_bps
        An observed full spread per bar, used when the cost model has no fixed spread
        (NaN where unknown: the model's default).

    Example: ``simulate(direction, confidence, o, h, l, c, config=BacktestConfig())``.
    """
    return simulate_many(
        np.asarray(direction)[np.newaxis, :],
        np.asarray(confidence, dtype=np.float64)[np.newaxis, :],
        open_,
        high,
        low,
        close,
        config=config,
        spread_bps=spread_bps,
    )[0]


def simulate_many(
    direction: npt.ArrayLike,
    confidence: npt.ArrayLike,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    *,
    config: BacktestConfig,
    spread_bps: FloatArray | None = None,
) -> list[Simulation]:
    """:func:`simulate` for many signal rows over the same bars at once (e.g. every
    parameter set of a grid): ``direction`` and ``confidence`` are (rows x time); each
    row's result equals :func:`simulate` of that row. The trades are found row by row
    (a few small arrays each); the per-bar books of all rows are built in one pass.

    Example: ``simulate_many(directions, confidences, o, h, l, c, config=BacktestConfig())``.
    """
    n = close.size
    if config.pal is not None and config.pal.mode is ModuleMode.ENFORCED:
        prices = (open_, high, low, close)
        return _simulate_amplified(direction, confidence, prices, config, spread_bps)
    plans = plan_many(
        direction, confidence, open_, high, low, close, config=config, spread_bps=spread_bps
    )
    cash, position = _books(plans, n, config.cash)
    equity = position * close
    equity += cash
    results = []
    ruined = np.asarray((equity <= 0).any(axis=1))
    for r, plan in enumerate(plans):
        trades = plan.trades
        if ruined[r]:  # the account was wiped out at its first bar at or below zero
            broke = int(np.argmax(equity[r] <= 0))
            trades = _wipe_out(trades, broke, plan.before, close, config.cost_model, spread_bps)
            equity[r, broke:] = 0.0
            cash[r, broke:] = 0.0
            position[r, broke:] = 0.0
        exposure = float(trades.bars_held.sum()) / n if n else 0.0
        results.append(
            Simulation(
                equity=equity[r],
                cash=cash[r],
                position=position[r],
                trades=trades,
                exposure=exposure,
            )
        )
    return results


def _simulate_amplified(
    direction: npt.ArrayLike,
    confidence: npt.ArrayLike,
    prices: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    config: BacktestConfig,
    spread_bps: FloatArray | None,
) -> list[Simulation]:
    """:func:`simulate_many` with the Profit Amplification Layer on (``prices``: open,
    high, low, close): each row's trades on its signals, then replayed bar by bar with PAL
    and the exit model (:mod:`components.backtest.pal`). An account whose equity reaches 0
    has no books from there (its later trades are not cut: a limit of this path)."""
    from components.backtest.pal import amplified_row

    assert config.pal is not None
    open_, high, low, close = prices
    on_signals = config.model_copy(update={"exits": None})
    plans = plan_many(direction, confidence, *prices, config=on_signals, spread_bps=spread_bps)
    exit_atr = atr(high, low, close, config.atr_period)
    results = []
    for plan in plans:
        trades, cash, position = amplified_row(
            plan, open_, high, low, close, exit_atr,
            config=config, pal=config.pal, spread_bps=spread_bps,
        )  # fmt: skip
        equity = position * close
        equity += cash
        broke = np.flatnonzero(equity <= 0)
        if broke.size:
            equity[broke[0] :] = cash[broke[0] :] = position[broke[0] :] = 0.0
        n = close.size
        exposure = float(trades.bars_held.sum()) / n if n else 0.0
        results.append(Simulation(equity, cash, position, trades, min(exposure, 1.0)))
    return results


@dataclass(frozen=True, slots=True, eq=False)
class TradePlan:
    """One row's trades, and the equity before and after each (before any wipe-out: see
    :func:`equity_of`)."""

    trades: TradeArrays
    before: FloatArray
    after: FloatArray
    stop: FloatArray | None = None
    """The sizer's stop of each trade (``sizing="risk"``), else ``None``."""


def plan_many(
    direction: npt.ArrayLike,
    confidence: npt.ArrayLike | None,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    *,
    config: BacktestConfig,
    spread_bps: FloatArray | None = None,
) -> list[TradePlan]:
    """The trades of each signal row (rows x time), without the per-bar books: what
    :func:`simulate_many` starts from, and all a parameter grid needs besides the equity
    (:func:`equity_of`, row by row). ``confidence`` may be ``None`` for all-in sizing,
    which never reads it.

    Example: ``plan_many(directions, None, o, h, l, c, config=BacktestConfig())[0].trades``.
    """
    wanted = np.asarray(direction, dtype=np.int8)
    if not config.allow_short:
        wanted = np.maximum(wanted, 0)
    held = np.zeros(wanted.shape, dtype=np.int8)  # the side held during each bar
    held[:, 1:] = wanted[:, :-1]
    if confidence is None and config.sizing == "risk":
        raise ValueError("risk sizing reads the confidence: pass it")
    conf = None if confidence is None else np.asarray(confidence, dtype=np.float64)
    atr_values = atr(high, low, close, config.atr_period) if config.sizing == "risk" else None
    exit_atr = atr(high, low, close, config.atr_period) if config.exits is not None else None
    return _plans(held, conf, open_, high, low, close, config, spread_bps, atr_values, exit_atr)


def equity_of(plan: TradePlan, close: FloatArray, cash: float) -> FloatArray:
    """One row's equity after each bar, as :func:`simulate_many` computes it, from its
    plan (1-D, so a grid's rows stay in the cache). A row whose equity reaches 0 is wiped
    out there (:func:`simulate_many` closes its trade): its equity from that bar is 0 and
    its trades are no longer the plan's.

    Example: ``equity_of(plan_many(d, None, o, h, l, c, config=cfg)[0], c, cfg.cash)``.
    """
    lengths, cash_values, position_values = _stretches(plan, close.size, cash)
    equity = np.repeat(position_values, lengths) * close
    equity += np.repeat(cash_values, lengths)
    return equity


def _plans(
    held: npt.NDArray[np.int8],
    confidence: FloatArray | None,
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    close: FloatArray,
    config: BacktestConfig,
    spread_bps: FloatArray | None,
    atr_values: FloatArray | None,
    exit_atr: FloatArray | None,
) -> list[TradePlan]:
    """The trades of each row of held sides (rows x n): fills, sizes, fees and pnl, found
    for all rows at once (rows are independent accounts over the same bars)."""
    rows, n = held.shape
    cm = config.cost_model
    # Bars where a row's side changes, as flat indices (row * n + bar) in row order: one
    # pass over the whole block, ignoring the step from one row's end to the next's start.
    series = np.ascontiguousarray(held).ravel()
    changed = np.empty(series.size, dtype=bool)
    np.not_equal(series[1:], series[:-1], out=changed[1:])
    changed[:: max(n, 1)] = False  # bar 0 of each row (against the row before it)
    flat = np.flatnonzero(changed)
    row_of, change = np.divmod(flat, n)
    starts_entry = held[row_of, change] != 0
    row, entry = row_of[starts_entry], change[starts_entry]
    following = np.searchsorted(flat, row * n + entry, side="right")
    nearest = np.minimum(following, max(flat.size - 1, 0))
    has_exit = (following < flat.size) & (row_of[nearest] == row) if flat.size else following < 0
    at_end = ~has_exit
    exit_ = np.where(at_end, n - 1, change[nearest] if flat.size else n - 1)
    side = held[row, entry]

    sign = side.astype(np.float64)
    entry_price = _fill(cm, sign, open_[entry], spread_bps, entry)
    last_close = close[-1] if n else np.nan
    exit_price = _fill(cm, -sign, np.where(at_end, last_close, open_[exit_]), spread_bps, exit_)
    reason = np.where(at_end, _END, _SIGNAL).astype(np.int8)
    signal_confidence = np.ones(entry.size) if confidence is None else confidence[row, entry - 1]
    unit, stop = _size_per_unit_equity(
        config, sign, entry, entry_price, signal_confidence, close, atr_values
    )
    if exit_atr is not None and config.exits is not None:
        _apply_exits(
            side, entry, exit_, at_end, entry_price, exit_price, reason,
            open_, high, low, exit_atr, config, spread_bps, stop,
        )  # fmt: skip
    if config.sizing == "risk":  # an entry the sizer sizes at 0 is not taken
        taken = unit > 0
        row, entry, exit_, at_end, side = (
            row[taken],
            entry[taken],
            exit_[taken],
            at_end[taken],
            side[taken],
        )
        reason = reason[taken]
        sign, unit = sign[taken], unit[taken]
        entry_price, exit_price = entry_price[taken], exit_price[taken]
        stop = None if stop is None else stop[taken]

    # The fee is linear in the notional (CostModel.fee), so the fee per unit of notional
    # turns each trade into a growth factor of the equity it started with.
    fee_rate = float(cm.fee(1.0))
    growth = np.maximum(
        1.0 + unit * (sign * (exit_price - entry_price) - fee_rate * (entry_price + exit_price)),
        0.0,
    )
    bounds = np.searchsorted(row, np.arange(rows + 1))
    # Each account compounds its own trades: trade k of a row at (k, row) of a block
    # padded with 1s, multiplied down the columns in order (the products of a cumprod
    # over the row's trades alone).
    number = np.arange(row.size) - bounds[row]  # each trade's place in its row
    factors = np.ones((int(np.diff(bounds).max(initial=0)), rows))
    factors[number, row] = growth
    after = config.cash * np.multiply.accumulate(factors, axis=0)[number, row]
    before = np.empty_like(growth)
    before[1:] = after[:-1]
    before[number == 0] = config.cash
    size = before * unit
    entry_fee = np.asarray(cm.fee(size * entry_price), dtype=np.float64)
    exit_fee = np.asarray(cm.fee(size * exit_price), dtype=np.float64)
    # The one accounting model (the ledger's): the entry opens, the exit closes it all.
    held = sign * size
    opened = realised_pnl(np.zeros_like(held), entry_price, held, entry_price, entry_fee)
    pnl = opened + realised_pnl(held, entry_price, -held, exit_price, exit_fee)
    columns = {
        "direction": side,
        "entry_bar": entry.astype(np.int64),
        "exit_bar": exit_.astype(np.int64),
        "entry_price": entry_price,
        "exit_price": exit_price,
        "size": size,
        "entry_fee": entry_fee,
        "exit_fee": exit_fee,
        "pnl": pnl,
        "exit_reason": reason,
    }
    plans = []
    for r in range(rows):
        part = slice(bounds[r], bounds[r + 1])
        trades = TradeArrays(**{name: values[part] for name, values in columns.items()})
        plans.append(
            TradePlan(trades, before[part], after[part], None if stop is None else stop[part])
        )
    return plans


def _apply_exits(
    side: npt.NDArray[np.int8],
    entry: IntArray,
    exit_: IntArray,
    at_end: npt.NDArray[np.bool_],
    entry_price: FloatArray,
    exit_price: FloatArray,
    reason: npt.NDArray[np.int8],
    open_: FloatArray,
    high: FloatArray,
    low: FloatArray,
    exit_atr: FloatArray,
    config: BacktestConfig,
    spread_bps: FloatArray | None,
    stop: FloatArray | None,
) -> None:
    """End each trade where the one exit model (:func:`exit_along`, the paper broker's)
    closes it first, in place: its bars run from the entry bar (the rest of it follows
    the fill at the open) to the last bar it is held; the levels come from the fill price
    and the ATR known at the fill (through the bar before the entry bar: the entry bar's
    range is still to come), except the stop-loss of a trade the sizer sized (``stop``,
    not NaN): the sizer's stop, which the engine's order carries. After an exit the
    account stays flat until the signal changes again (as the engine)."""
    rules = config.exits
    if rules is None:
        return
    n = open_.size
    for i in range(entry.size):
        sign, first = int(side[i]), int(entry[i])
        last = n - 1 if at_end[i] else int(exit_[i]) - 1
        given = None if stop is None or not np.isfinite(stop[i]) else float(stop[i])
        levels = entry_levels(
            sign,
            entry_price=float(entry_price[i]),
            atr=float(exit_atr[first - 1]) if first > 0 else math.nan,
            rules=rules,
            stop_loss=given,
        )
        bars = slice(first, last + 1)
        path = exit_along(
            sign,
            levels,
            open_=open_[bars],
            high=high[bars],
            low=low[bars],
            atr=exit_atr[bars],
            rules=rules,
            cost_model=config.cost_model,
            spread_bps=None if spread_bps is None else spread_bps[bars],
        )
        if path.bar is None or path.decision is None:
            continue
        exit_[i] = first + path.bar
        at_end[i] = False
        exit_price[i] = path.decision.price
        reason[i] = _EXIT_CODE[path.decision.reason]


def _books(plans: list[TradePlan], n: int, cash0: float) -> tuple[FloatArray, FloatArray]:
    """Cash and position after each bar of every row (rows x n), in one pass.

    Per bar, the books stand still between fills: flat before the first trade, holding
    trade i from its entry bar up to (not including) its exit bar, flat after it until
    the next entry. Cut each row into those stretches and repeat each one's values.
    """
    lengths, cash_values, position_values = [], [], []
    for plan in plans:
        length, stretch_cash, stretch_position = _stretches(plan, n, cash0)
        lengths.append(length)
        cash_values.append(stretch_cash)
        position_values.append(stretch_position)
    rows = len(plans)
    counts = np.concatenate(lengths)
    cash = np.repeat(np.concatenate(cash_values), counts).reshape(rows, n)
    position = np.repeat(np.concatenate(position_values), counts).reshape(rows, n)
    return cash, position


def _stretches(plan: TradePlan, n: int, cash0: float) -> tuple[IntArray, FloatArray, FloatArray]:
    """One row's books as stretches: their lengths in bars, and the cash and position
    held over each (see :func:`_books`)."""
    t = plan.trades
    cuts = np.empty(2 * len(t) + 2, dtype=np.int64)
    cuts[0], cuts[-1] = 0, n
    cuts[1:-1:2], cuts[2:-1:2] = t.entry_bar, t.exit_bar
    signed = t.direction * t.size
    stretch_cash = np.empty(cuts.size - 1)
    stretch_position = np.zeros(cuts.size - 1)
    stretch_cash[0::2] = np.concatenate(([cash0], plan.after))
    stretch_cash[1::2] = plan.before - t.entry_fee - signed * t.entry_price
    stretch_position[1::2] = signed
    return np.diff(cuts), stretch_cash, stretch_position


def _fill(
    cm: CostModel,
    sign: FloatArray,
    reference: FloatArray,
    spread_bps: FloatArray | None,
    bars: IntArray,
) -> FloatArray:
    """Market fills around ``reference`` through the cost model (observed spreads if any)."""
    if spread_bps is None or cm.spread_bps is not None:
        return np.asarray(cm.fill_price(sign, reference), dtype=np.float64)
    observed = spread_bps[bars]
    spreads = np.where(np.isfinite(observed) & (observed >= 0), observed, cm.default_spread_bps)
    return np.asarray(
        fill_price(sign, reference, spread_bps=spreads, slippage_bps=cm.slippage_bps),
        dtype=np.float64,
    )


def _size_per_unit_equity(
    config: BacktestConfig,
    sign: FloatArray,
    entry: IntArray,
    entry_price: FloatArray,
    signal_confidence: FloatArray,
    close: FloatArray,
    atr_values: FloatArray | None,
) -> tuple[FloatArray, FloatArray | None]:
    """Base units each trade buys (or sells short) per unit of equity at its entry
    (``signal_confidence``: each trade's confidence at its signal bar, ``entry - 1``), and
    the sizer's stop price of each (``None`` for all-in sizing; NaN where unsized)."""
    if config.sizing == "all_in" or atr_values is None:
        return 1.0 / (entry_price * (1.0 + float(config.cost_model.fee(1.0)))), None
    signal_bar = entry - 1
    sizes = PositionSizer(config.sizer).size_arrays(
        equity=1.0,
        price=close[signal_bar],
        atr=atr_values[signal_bar],
        confidence=signal_confidence,
        max_risk_per_trade=config.max_risk_per_trade,
        direction=sign,
    )
    return sizes.quantity, sizes.stop_price


def _wipe_out(
    trades: TradeArrays,
    bar: int,
    before: FloatArray,
    close: FloatArray,
    cm: CostModel,
    spread_bps: FloatArray | None,
) -> TradeArrays:
    """The trades of an account wiped out at ``bar``: the trade that lost everything is the
    last one (closed at that bar's close, exit reason ``ruin``, if still open then), and its
    loss is its whole equity."""
    keep = (trades.entry_bar <= bar) & (before > 0)
    count = int(np.flatnonzero(keep)[-1]) + 1  # equity starts positive: some trade lost it
    columns = {f.name: getattr(trades, f.name)[:count].copy() for f in fields(TradeArrays)}
    i = count - 1
    still_open = trades.exit_bar[i] > bar or trades.exit_reason[i] != _SIGNAL
    if still_open:
        sign = float(trades.direction[i])
        bars = np.array([bar])
        price = _fill(cm, np.array([-sign]), close[bars], spread_bps, bars)[0]
        columns["exit_bar"][i] = bar
        columns["exit_price"][i] = price
        columns["exit_fee"][i] = float(cm.fee(trades.size[i] * price))
        columns["exit_reason"][i] = _RUIN
    columns["pnl"][i] = -before[i]
    return TradeArrays(**columns)
