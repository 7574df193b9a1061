"""Position intelligence: what each open position is, and what to do about it.

A position's move is measured in ATRs, ``pnl_atr = (mark - average_price) * sign / atr``,
and its age from ``opened_at`` to ``now``. The first rule that matches classifies it:

- ``at_risk``: its stop would realise a loss and the mark is within ``at_risk_atr`` of it
  (or past it) -> ``reduce`` (``close`` when ``pnl_atr <= -close_loser_atr``);
- ``winner``: ``pnl_atr >= winner_atr`` -> ``trail_stop`` to ``trail_atr`` from the mark
  when that tightens the stop, else ``hold``;
- ``loser``: ``pnl_atr <= -loser_atr`` -> ``reduce`` (``close`` from ``close_loser_atr``);
- ``stale``: open ``stale_after`` or longer and ``|pnl_atr| < stale_band_atr``, capital
  that is not working -> ``close``;
- ``neutral``: anything else -> ``hold``.

Only winners are candidates for scaling in (:func:`may_scale_in`); the added order still
goes through the RiskGuard like any other. Everything here is a pure function of the
position, the mark, the ATR and ``now``::

    assessment = assess_position(position, mark=105.0, atr=2.0, now=now)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from components.errors import DataError
from components.execution.models import Position


class PositionClass(StrEnum):
    WINNER = "winner"
    LOSER = "loser"
    STALE = "stale"
    AT_RISK = "at_risk"
    NEUTRAL = "neutral"


class PositionAction(StrEnum):
    HOLD = "hold"
    TRAIL_STOP = "trail_stop"
    REDUCE = "reduce"
    CLOSE = "close"


class PositionConfig(BaseModel):
    """Thresholds of the classification (module docstring), in ATRs and time.

    >>> PositionConfig(winner_atr=1.5, stale_after=timedelta(hours=48))
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    winner_atr: float = Field(1.0, gt=0, le=50, description="A move in favour this large.")
    loser_atr: float = Field(1.0, gt=0, le=50, description="A move against this large.")
    close_loser_atr: float = Field(
        1.5, gt=0, le=50, description="A loser this deep is closed, not reduced."
    )
    at_risk_atr: float = Field(
        0.5, gt=0, le=20, description="Mark this close to a losing stop: at risk."
    )
    stale_after: timedelta = Field(
        timedelta(hours=24),
        gt=timedelta(0),
        le=timedelta(days=365),
        description="Age from which a position that has barely moved is stale.",
    )
    stale_band_atr: float = Field(
        0.5, gt=0, le=50, description="'Barely moved': within this many ATRs of its entry."
    )
    trail_atr: float = Field(2.0, gt=0, le=50, description="Trailing stop distance.")
    reduce_fraction: float = Field(0.5, gt=0, lt=1, description="Share of the size to cut.")

    @model_validator(mode="after")
    def _check_order(self) -> PositionConfig:
        if self.close_loser_atr < self.loser_atr:
            raise ValueError(
                f"close_loser_atr={self.close_loser_atr} must be >= loser_atr={self.loser_atr}"
            )
        if self.stale_band_atr > min(self.winner_atr, self.loser_atr):
            raise ValueError(
                f"stale_band_atr={self.stale_band_atr} must not exceed winner_atr and loser_atr "
                f"({self.winner_atr}, {self.loser_atr}), or a winner could count as stale"
            )
        return self


class PositionAssessment(BaseModel):
    """One position's class, the action for it, and why.

    ``new_stop`` is set for ``trail_stop``; ``reduce_quantity`` (base units, positive) for
    ``reduce`` and ``close``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    position_id: str
    classification: PositionClass
    action: PositionAction
    pnl_atr: float
    age: timedelta
    mark: float = Field(gt=0)
    atr: float = Field(gt=0)
    new_stop: float | None = None
    reduce_quantity: float | None = Field(None, gt=0)
    reason: str

    @property
    def may_scale_in(self) -> bool:
        """Only winners may be added to (and only within the RiskGuard's limits)."""
        return self.classification is PositionClass.WINNER


def assess_position(
    position: Position,
    *,
    mark: float,
    atr: float,
    now: datetime,
    config: PositionConfig | None = None,
) -> PositionAssessment:
    """Classify ``position`` at ``mark`` and pick its action (see the module docstring).

    Raises
    ------
    DataError
        ``mark`` or ``atr`` is not a finite number > 0, or ``now`` has no time zone.

    Example: ``assess_position(position, mark=105.0, atr=2.0, now=now).action``.
    """
    config = config or PositionConfig()
    where = f"position {position.id} in {position.symbol}"
    for name, value in (("mark", mark), ("atr", atr)):
        if not math.isfinite(value) or value <= 0:
            raise DataError(f"{where}: {name}={value!r} must be a finite number > 0")
    if now.tzinfo is None or now.utcoffset() is None:
        raise DataError(f"{where}: now={now.isoformat()} has no time zone")
    sign = position.sign
    pnl_atr = (mark - position.average_price) * sign / atr
    age = now - position.opened_at
    size = abs(position.quantity)

    def result(
        classification: PositionClass,
        action: PositionAction,
        reason: str,
        *,
        new_stop: float | None = None,
    ) -> PositionAssessment:
        cut = None
        if action is PositionAction.REDUCE:
            cut = size * config.reduce_fraction
        elif action is PositionAction.CLOSE:
            cut = size
        return PositionAssessment(
            symbol=position.symbol,
            position_id=position.id,
            classification=classification,
            action=action,
            pnl_atr=pnl_atr,
            age=age,
            mark=mark,
            atr=atr,
            new_stop=new_stop,
            reduce_quantity=cut,
            reason=reason,
        )

    def cut_loss() -> PositionAction:
        return PositionAction.CLOSE if pnl_atr <= -config.close_loser_atr else PositionAction.REDUCE

    stop = position.stop_loss
    if stop is not None and (stop - position.average_price) * sign < 0:
        distance = (mark - stop) * sign / atr
        if distance <= config.at_risk_atr:
            return result(
                PositionClass.AT_RISK,
                cut_loss(),
                f"{distance:.2f} ATR from a losing stop at {stop:g} ({pnl_atr:+.2f} ATR)",
            )
    if pnl_atr >= config.winner_atr:
        candidate = mark - sign * config.trail_atr * atr
        tighter = stop is None or (candidate - stop) * sign > 0
        if tighter and candidate > 0:
            was = "no stop" if stop is None else f"{stop:g}"
            return result(
                PositionClass.WINNER,
                PositionAction.TRAIL_STOP,
                f"{pnl_atr:+.2f} ATR: trail the stop from {was} to {candidate:g}",
                new_stop=candidate,
            )
        return result(
            PositionClass.WINNER,
            PositionAction.HOLD,
            f"{pnl_atr:+.2f} ATR; the stop is already tighter than a trail to {candidate:g}",
        )
    if pnl_atr <= -config.loser_atr:
        return result(PositionClass.LOSER, cut_loss(), f"{pnl_atr:+.2f} ATR against the entry")
    if age >= config.stale_after and abs(pnl_atr) < config.stale_band_atr:
        return result(
            PositionClass.STALE,
            PositionAction.CLOSE,
            f"open {age} and only {pnl_atr:+.2f} ATR from its entry",
        )
    return result(PositionClass.NEUTRAL, PositionAction.HOLD, f"{pnl_atr:+.2f} ATR; nothing to do")


def assess_positions(
    positions: Mapping[str, Position],
    *,
    marks: Mapping[str, float],
    atrs: Mapping[str, float],
    now: datetime,
    config: PositionConfig | None = None,
) -> dict[str, PositionAssessment]:
    """:func:`assess_position` for every position that has a mark and an ATR; the symbols
    without one are left out (the caller sees which by comparing keys).

    Example: ``assess_positions(ledger.positions(), marks=marks, atrs=atrs, now=now)``.
    """
    return {
        symbol: assess_position(
            position, mark=marks[symbol], atr=atrs[symbol], now=now, config=config
        )
        for symbol, position in positions.items()
        if symbol in marks and symbol in atrs
    }


def may_scale_in(
    position: Position,
    *,
    mark: float,
    atr: float,
    now: datetime,
    config: PositionConfig | None = None,
) -> bool:
    """Whether ``position`` is a candidate for adding to: only winners are. The add itself
    must still pass the RiskGuard.

    Example: ``may_scale_in(position, mark=110.0, atr=2.0, now=now)``.
    """
    return assess_position(position, mark=mark, atr=atr, now=now, config=config).may_scale_in
