"""Protections: short per-symbol locks after bad trades (Freqtrade-style, kept small).

Each protection is a frozen config with a pure ``check(trades, symbol, now=...)`` over
recent closed trades (handed in by the caller; a protection never reads storage) that
returns a :class:`ProtectionResult`. Trades closed after ``now`` are ignored, so a
backtest replaying history gets the same answer a live run got.

- :class:`StoplossCooldown`: no new entry on a symbol for ``cooldown`` after a trade on
  it closed at its stop loss.
- :class:`PairLossLock`: ``max_losses`` losing trades on one symbol within ``window``
  lock it for ``lock_for`` after the last of them.

:func:`check_protections` runs a chain and returns the longest lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from components.config import Duration

STOP_LOSS = "stop_loss"


class ClosedTrade(BaseModel):
    """One closed trade as protections see it; ``exit_reason`` is e.g. ``"stop_loss"``,
    ``"take_profit"`` or ``"signal"``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    closed_at: AwareDatetime
    pnl: float
    exit_reason: str | None = None


class ProtectionResult(BaseModel):
    """Whether a symbol is locked, until when, and why.

    >>> ProtectionResult(locked=True, until=t, reason="stoploss_cooldown: ...")
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    locked: bool = False
    until: AwareDatetime | None = None
    reason: str | None = None


UNLOCKED = ProtectionResult()


class Protection(Protocol):
    """What every protection offers."""

    name: str

    def check(
        self, trades: Iterable[ClosedTrade], symbol: str, *, now: datetime
    ) -> ProtectionResult: ...


class StoplossCooldown(BaseModel):
    """Lock a symbol for ``cooldown`` after a trade on it closed at its stop loss.

    >>> StoplossCooldown(cooldown=timedelta(hours=1)).check(trades, "BTC/USDT", now=now)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "stoploss_cooldown"
    cooldown: Duration = Field(timedelta(hours=1), description="Lock after a stop loss.")

    def check(
        self, trades: Iterable[ClosedTrade], symbol: str, *, now: datetime
    ) -> ProtectionResult:
        """Locked until the last stop-loss exit on ``symbol`` plus ``cooldown``."""
        stops = [
            t.closed_at
            for t in trades
            if t.symbol == symbol and t.exit_reason == STOP_LOSS and t.closed_at <= now
        ]
        if not stops:
            return UNLOCKED
        until = max(stops) + self.cooldown
        if until <= now:
            return UNLOCKED
        return ProtectionResult(
            locked=True,
            until=until,
            reason=f"{self.name}: {symbol} hit its stop loss at {max(stops).isoformat()}; "
            f"no entry until {until.isoformat()}",
        )


class PairLossLock(BaseModel):
    """Lock a symbol for ``lock_for`` after ``max_losses`` losing trades on it within
    ``window``.

    >>> PairLossLock(max_losses=3).check(trades, "ETH/USDT", now=now).locked
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "pair_loss_lock"
    max_losses: int = Field(3, ge=1, le=1000, description="Losses within the window.")
    window: Duration = Field(timedelta(hours=6), description="How far back losses count.")
    lock_for: Duration = Field(timedelta(hours=6), description="Lock after the last loss.")

    def check(
        self, trades: Iterable[ClosedTrade], symbol: str, *, now: datetime
    ) -> ProtectionResult:
        """Locked until the last loss plus ``lock_for`` when enough losses fall in the
        window ending now."""
        start = now - self.window
        losses = sorted(
            t.closed_at
            for t in trades
            if t.symbol == symbol and t.pnl < 0 and start < t.closed_at <= now
        )
        if len(losses) < self.max_losses:
            return UNLOCKED
        until = losses[-1] + self.lock_for
        if until <= now:
            return UNLOCKED
        return ProtectionResult(
            locked=True,
            until=until,
            reason=f"{self.name}: {len(losses)} losing trades on {symbol} within "
            f"{self.window} (limit {self.max_losses}); no entry until {until.isoformat()}",
        )


def check_protections(
    protections: Sequence[Protection],
    trades: Iterable[ClosedTrade],
    symbol: str,
    *,
    now: datetime,
) -> ProtectionResult:
    """Run every protection; the result of the lock that lasts longest (or unlocked).

    >>> check_protections([StoplossCooldown(), PairLossLock()], trades, "BTC/USDT", now=now)
    """
    trades = list(trades)
    locks = [p.check(trades, symbol, now=now) for p in protections]
    locked = [r for r in locks if r.locked and r.until is not None]
    if not locked:
        return UNLOCKED
    return max(locked, key=lambda r: r.until or now)
