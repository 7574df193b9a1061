"""The Trading Mathematician's position sizer: volatility-targeted, Kelly-scaled, capped.

How a size is made (:meth:`PositionSizer.size`, or :meth:`PositionSizer.size_arrays` for
many at once, e.g. one per bar in a backtest):

1. The stop sits ``atr_stop_multiple * atr`` from the price (the *stop distance*).
2. The risk budget is ``equity * max_risk_per_trade``, scaled by the signal's
   ``confidence`` (when ``scale_by_confidence``) and, when a track record is given, by
   fractional Kelly as a share of its cap (``kelly / kelly_cap``: the full budget once
   the edge earns the capped Kelly fraction, nothing without an edge).
3. ``quantity = budget / stop_distance``: a stop-out loses the budget, whatever the
   volatility. The notional is then held to ``max_notional_fraction`` of equity, and a
   size below ``min_notional_fraction`` of equity becomes zero.

So ``quantity * stop_distance <= equity * max_risk_per_trade`` always, and the size is
zero when there is no edge or an input is degenerate (NaN, ``atr <= 0``, ``price <= 0``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.errors import ConfigurationError
from components.indicators import FloatArray
from components.sizing.kelly import kelly_fractions, kelly_inputs_valid


class SizingConfig(BaseModel):
    """Knobs of :class:`PositionSizer`; the defaults are half Kelly capped at 25%, a stop
    two ATRs away, and no leverage."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kelly_fraction: float = Field(0.5, gt=0, le=1, description="Share of full Kelly taken.")
    kelly_cap: float = Field(0.25, gt=0, le=1, description="Largest Kelly fraction used.")
    atr_stop_multiple: float = Field(2.0, gt=0, le=20, description="Stop distance in ATRs.")
    min_notional_fraction: float = Field(
        0.0, ge=0, le=1, description="Smaller positions (share of equity) are not taken."
    )
    max_notional_fraction: float = Field(
        1.0, gt=0, le=10, description="Largest position as a share of equity (1 = no leverage)."
    )
    scale_by_confidence: bool = Field(True, description="Risk budget times confidence.")

    @model_validator(mode="after")
    def _check_notional_range(self) -> Self:
        if self.min_notional_fraction > self.max_notional_fraction:
            raise ValueError(
                f"min_notional_fraction={self.min_notional_fraction} must not exceed "
                f"max_notional_fraction={self.max_notional_fraction}"
            )
        return self


class SizeOutcome(StrEnum):
    """Why a size is what it is; every outcome but SIZED and CAPPED means zero."""

    SIZED = "sized"
    CAPPED = "capped"
    """Held to ``max_notional_fraction`` of equity."""
    FLAT = "flat"
    """Direction 0: nothing to size."""
    BAD_INPUT = "bad_input"
    """A degenerate input (NaN, non-positive equity, price or ATR, out-of-range risk)."""
    STOP_BEYOND_PRICE = "stop_beyond_price"
    """A long's stop would sit at or below zero."""
    NO_EDGE = "no_edge"
    NO_CONFIDENCE = "no_confidence"
    BELOW_MIN_NOTIONAL = "below_min_notional"


_OUTCOMES: tuple[SizeOutcome, ...] = tuple(SizeOutcome)
_CODE = {outcome: np.int8(i) for i, outcome in enumerate(_OUTCOMES)}
_TRADABLE = (_CODE[SizeOutcome.SIZED], _CODE[SizeOutcome.CAPPED])


class SizeDecision(BaseModel):
    """One sizing decision; ``quantity`` is in base units and never negative.

    Example: ``decision.quantity, decision.stop_price, decision.reason``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    quantity: float = Field(ge=0)
    notional: float = Field(ge=0, description="quantity * price.")
    stop_distance: float = Field(ge=0, description="atr_stop_multiple * atr (0 if unusable).")
    stop_price: float | None = Field(
        None, description="price -/+ stop_distance for a long/short; None when quantity is 0."
    )
    risk_amount: float = Field(ge=0, description="quantity * stop_distance: loss at the stop.")
    risk_fraction: float = Field(ge=0, description="risk_amount / equity.")
    kelly: float | None = Field(None, description="Fractional Kelly used, when stats given.")
    outcome: SizeOutcome
    reason: str

    @property
    def is_zero(self) -> bool:
        """True when there is nothing to trade."""
        return self.quantity <= 0


@dataclass(frozen=True, slots=True, eq=False)
class SizeArrays:
    """Sizes for many inputs at once (the broadcast shape of the inputs).

    ``stop_price`` is NaN where ``quantity`` is 0; ``outcome`` holds codes, which
    :meth:`outcome_at` turns back into :class:`SizeOutcome`.
    """

    quantity: FloatArray
    notional: FloatArray
    stop_distance: FloatArray
    stop_price: FloatArray
    risk_amount: FloatArray
    kelly: FloatArray | None
    outcome: npt.NDArray[np.int8]

    def outcome_at(self, index: int | tuple[int, ...]) -> SizeOutcome:
        """The outcome of one element, e.g. ``sizes.outcome_at(17)``."""
        return _OUTCOMES[int(self.outcome[index])]


class PositionSizer:
    """Turns a signal, the equity and the market's volatility into a position size.

    See the module docstring for the rule. Example::

        sizer = PositionSizer(SizingConfig(atr_stop_multiple=2.0))
        decision = sizer.size(equity=10_000, price=50_000, atr=500, confidence=0.8,
                              max_risk_per_trade=0.01)
        decision.quantity   # 0.08 BTC: a 1,000 stop-out loses 80 = 1% x 0.8 of equity
    """

    def __init__(self, config: SizingConfig | None = None) -> None:
        self.config = config or SizingConfig()

    def size(
        self,
        *,
        equity: float,
        price: float,
        atr: float,
        confidence: float,
        max_risk_per_trade: float,
        win_rate: float | None = None,
        win_loss_ratio: float | None = None,
        direction: int = 1,
    ) -> SizeDecision:
        """Size one position.

        Parameters
        ----------
        equity
            Account equity in quote currency.
        price
            Reference (entry) price.
        atr
            Average true range at the signal bar, in price units.
        confidence
            The signal's confidence in [0, 1].
        max_risk_per_trade
            Largest share of equity a stop-out may lose, in (0, 1] (from the policy).
        win_rate, win_loss_ratio
            The strategy's track record; give both or neither. Without them the Kelly
            scaling is skipped.
        direction
            +1 long, -1 short (decides the side of the stop); 0 sizes nothing.

        Returns
        -------
        SizeDecision
            Zero-sized, with the reason, when there is no edge, no confidence or a
            degenerate input; never risking more than ``max_risk_per_trade`` of equity.

        Raises
        ------
        ConfigurationError
            Only one of ``win_rate`` and ``win_loss_ratio`` is given.
        """
        (decision,) = self.size_many(
            equity=equity,
            price=[price],
            atr=[atr],
            confidence=[confidence],
            max_risk_per_trade=max_risk_per_trade,
            win_rate=win_rate,
            win_loss_ratio=win_loss_ratio,
            direction=[direction],
        )
        return decision

    def size_many(
        self,
        *,
        equity: float,
        price: Sequence[float],
        atr: Sequence[float],
        confidence: Sequence[float],
        max_risk_per_trade: float,
        win_rate: float | None = None,
        win_loss_ratio: float | None = None,
        direction: Sequence[int],
    ) -> list[SizeDecision]:
        """:meth:`size` for many positions at once (one vectorised pass), e.g. every entry
        of an engine cycle; ``price``, ``atr``, ``confidence`` and ``direction`` hold one
        value per position.

        Example: ``sizer.size_many(equity=10_000, price=[50_000, 3_000], atr=[500, 40],
        confidence=[0.8, 0.7], max_risk_per_trade=0.01, direction=[1, 1])``.
        """
        arrays = self.size_arrays(
            equity=equity,
            price=price,
            atr=atr,
            confidence=confidence,
            max_risk_per_trade=max_risk_per_trade,
            win_rate=win_rate,
            win_loss_ratio=win_loss_ratio,
            direction=direction,
        )
        decisions = []
        for i in range(len(arrays.quantity)):
            outcome = arrays.outcome_at(i)
            quantity = float(arrays.quantity[i])
            stop_distance = float(arrays.stop_distance[i])
            risk_amount = float(arrays.risk_amount[i])
            kelly = None if arrays.kelly is None else float(arrays.kelly[i])
            reason = self._explain(
                outcome,
                equity=equity,
                price=float(price[i]),
                atr=float(atr[i]),
                confidence=float(confidence[i]),
                max_risk_per_trade=max_risk_per_trade,
                win_rate=win_rate,
                win_loss_ratio=win_loss_ratio,
                direction=int(direction[i]),
                stop_distance=stop_distance,
                notional=float(arrays.notional[i]),
                risk_amount=risk_amount,
                kelly=kelly,
            )
            decisions.append(
                SizeDecision(
                    quantity=quantity,
                    notional=float(arrays.notional[i]),
                    stop_distance=stop_distance,
                    stop_price=float(arrays.stop_price[i]) if quantity > 0 else None,
                    risk_amount=risk_amount,
                    risk_fraction=risk_amount / equity if quantity > 0 else 0.0,
                    kelly=kelly,
                    outcome=outcome,
                    reason=reason,
                )
            )
        return decisions

    def size_arrays(
        self,
        *,
        equity: npt.ArrayLike,
        price: npt.ArrayLike,
        atr: npt.ArrayLike,
        confidence: npt.ArrayLike,
        max_risk_per_trade: npt.ArrayLike,
        win_rate: npt.ArrayLike | None = None,
        win_loss_ratio: npt.ArrayLike | None = None,
        direction: npt.ArrayLike = 1,
    ) -> SizeArrays:
        """:meth:`size` element-wise over broadcastable arrays (e.g. one per bar).

        Example: ``sizer.size_arrays(equity=equity, price=close, atr=atr14,
        confidence=confidence, max_risk_per_trade=0.01, direction=direction).quantity``.
        """
        if (win_rate is None) != (win_loss_ratio is None):
            raise ConfigurationError(
                "give both win_rate and win_loss_ratio (the strategy's track record) or neither"
            )
        cfg = self.config
        values = [
            np.asarray(x, dtype=np.float64)
            for x in (equity, price, atr, confidence, max_risk_per_trade, direction)
        ]
        if win_rate is not None:
            values += [np.asarray(win_rate, dtype=np.float64)]
            values += [np.asarray(win_loss_ratio, dtype=np.float64)]
        e, px, a, conf, risk, d, *stats = np.broadcast_arrays(*values)
        with np.errstate(all="ignore"):
            good = (
                _positive(e)
                & _positive(px)
                & _positive(a)
                & np.isfinite(conf)
                & (conf >= 0)
                & (conf <= 1)
                & _positive(risk)
                & (risk <= 1)
                & np.isfinite(d)
            )
            scale = conf if cfg.scale_by_confidence else np.ones_like(conf)
            kelly: FloatArray | None = None
            no_edge = np.zeros(e.shape, dtype=np.bool_)
            if stats:
                good &= kelly_inputs_valid(stats[0], stats[1])
                kelly = kelly_fractions(
                    stats[0], stats[1], fraction=cfg.kelly_fraction, cap=cfg.kelly_cap
                )
                no_edge = kelly <= 0
                scale = scale * np.minimum(kelly / cfg.kelly_cap, 1.0)
            side = np.sign(d)
            stop_distance = np.where(good, cfg.atr_stop_multiple * a, 0.0)
            beyond = (side > 0) & (stop_distance >= px)
            # (equity * risk) first: scaling it by a factor <= 1 cannot round above it.
            budget = (e * risk) * scale
            quantity = budget / stop_distance
            # Rounding may leave quantity * stop_distance one unit in the last place over
            # the budget; one step down provably brings it back within.
            over = quantity * stop_distance > budget
            quantity = np.where(over, np.nextafter(quantity, 0.0), quantity)
            most = cfg.max_notional_fraction * e / px
            capped = quantity > most
            quantity = np.minimum(quantity, most)
            notional = quantity * px
            below = (quantity <= 0) | (notional < cfg.min_notional_fraction * e)
            code = np.select(
                [~good, side == 0, beyond, no_edge, scale <= 0, below, capped],
                [
                    _CODE[SizeOutcome.BAD_INPUT],
                    _CODE[SizeOutcome.FLAT],
                    _CODE[SizeOutcome.STOP_BEYOND_PRICE],
                    _CODE[SizeOutcome.NO_EDGE],
                    _CODE[SizeOutcome.NO_CONFIDENCE],
                    _CODE[SizeOutcome.BELOW_MIN_NOTIONAL],
                    _CODE[SizeOutcome.CAPPED],
                ],
                default=_CODE[SizeOutcome.SIZED],
            ).astype(np.int8)
            tradable = np.isin(code, _TRADABLE)
            quantity = np.where(tradable, quantity, 0.0)
            notional = np.where(tradable, notional, 0.0)
            stop_price = np.where(tradable, px - side * stop_distance, np.nan)
        return SizeArrays(
            quantity=quantity,
            notional=notional,
            stop_distance=stop_distance,
            stop_price=stop_price,
            risk_amount=quantity * stop_distance,
            kelly=None if kelly is None else np.where(good, kelly, 0.0),
            outcome=code,
        )

    def _explain(
        self,
        outcome: SizeOutcome,
        *,
        equity: float,
        price: float,
        atr: float,
        confidence: float,
        max_risk_per_trade: float,
        win_rate: float | None,
        win_loss_ratio: float | None,
        direction: int,
        stop_distance: float,
        notional: float,
        risk_amount: float,
        kelly: float | None,
    ) -> str:
        cfg = self.config
        stop = f"a stop {stop_distance:g} away ({cfg.atr_stop_multiple:g} x ATR {atr:g})"
        if outcome in (SizeOutcome.SIZED, SizeOutcome.CAPPED):
            text = (
                f"risking {risk_amount:g} ({risk_amount / equity:.3%} of equity, limit "
                f"{max_risk_per_trade:.3%}) at {stop}; confidence {confidence:.2f}"
            )
            if kelly is not None:
                text += f", kelly {kelly:.4f} of cap {cfg.kelly_cap:g}"
            if outcome is SizeOutcome.CAPPED:
                text += f"; notional capped at {cfg.max_notional_fraction:g} x equity"
            return text
        if outcome is SizeOutcome.BAD_INPUT:
            return _bad_input(
                equity=equity,
                price=price,
                atr=atr,
                confidence=confidence,
                max_risk_per_trade=max_risk_per_trade,
                direction=direction,
                win_rate=win_rate,
                win_loss_ratio=win_loss_ratio,
            )
        if outcome is SizeOutcome.FLAT:
            return "direction is 0: nothing to size"
        if outcome is SizeOutcome.STOP_BEYOND_PRICE:
            return f"{stop} reaches the price {price:g}: no room for a long's stop"
        if outcome is SizeOutcome.NO_EDGE:
            return (
                f"no edge: win_rate={win_rate} and win_loss_ratio={win_loss_ratio} give a "
                f"Kelly fraction of 0"
            )
        if outcome is SizeOutcome.NO_CONFIDENCE:
            return f"confidence {confidence:g} leaves no risk budget"
        return (
            f"notional {notional:g} is below min_notional_fraction="
            f"{cfg.min_notional_fraction:g} of equity {equity:g}"
        )


def _positive(x: FloatArray) -> npt.NDArray[np.bool_]:
    return np.isfinite(x) & (x > 0)


def _bad_input(
    *,
    equity: float,
    price: float,
    atr: float,
    confidence: float,
    max_risk_per_trade: float,
    direction: int,
    win_rate: float | None,
    win_loss_ratio: float | None,
) -> str:
    """Name the first degenerate input and what it should be."""
    checks: list[tuple[str, float | None, bool, str]] = [
        ("equity", equity, _is_positive(equity), "a positive number"),
        ("price", price, _is_positive(price), "a positive number"),
        ("atr", atr, _is_positive(atr), "a positive number"),
        ("confidence", confidence, _in_unit(confidence, closed=True), "in [0, 1]"),
        ("max_risk_per_trade", max_risk_per_trade, _in_unit(max_risk_per_trade), "in (0, 1]"),
        ("direction", direction, _is_finite(direction), "-1, 0 or 1"),
        ("win_rate", win_rate, _in_unit(win_rate, closed=True), "in [0, 1]"),
        ("win_loss_ratio", win_loss_ratio, _is_positive(win_loss_ratio), "a positive number"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            return f"{name}={value!r} must be {allowed}: size 0"
    return "degenerate input: size 0"


def _is_finite(value: float | None) -> bool:
    return value is None or math.isfinite(value)


def _is_positive(value: float | None) -> bool:
    return value is None or (math.isfinite(value) and value > 0)


def _in_unit(value: float | None, *, closed: bool = False) -> bool:
    if value is None:
        return True
    low_ok = value >= 0 if closed else value > 0
    return math.isfinite(value) and low_ok and value <= 1
