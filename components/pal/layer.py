"""The Profit Amplification Layer (PAL): add to winners, take partial profits, trail the
stop. One pure decision per position per closed bar, used by the engine
(:meth:`~components.engine.engine.TradingEngine`) and by the backtester's replay
(:func:`components.pal.replay.replay_trade`)::

    state = PalState.open(side=+1, entry=100.0, stop=96.0, quantity=2.0)
    decision = amplify(state, quantity=2.0, close=105.0, atr=1.5, stop=96.0, config=cfg)
    decision.add, decision.reduce, decision.stop, decision.state   # then carry the state

Everything is measured in R, the position's initial risk per unit ``|entry - initial
stop|``; ``r = (close - entry) * side / R`` at the bar's close. Per bar, in this order:

1. **Partial profits.** Each level of ``partial_r`` the close has reached and not taken
   yet takes ``partial_fraction`` of the initial size (never more than is held).
2. **Scale in.** With no partial on this bar, the ``k``-th add (``k <= max_scale_ins``)
   comes at ``r >= k * scale_in_r``: ``scale_in_fraction`` of the initial size. The add is
   an ordinary order: the engine puts it through the RiskGuard, which may cut or refuse it.
3. **Trail.** From ``r >= trail_r`` the stop moves to ``close - side * trail_atr * atr``,
   and never below break-even (the entry) nor back.

A position without an initial stop has no R: PAL leaves it alone. Orders the decision
implies fill at the next bar's open, as any order the engine places. The mode:
:func:`effective_mode` turns the layer OFF in the DEFENSIVE risk mode.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from components.config import ModuleMode
from components.pal.config import PalConfig
from components.policy.model import RiskMode


@dataclass(frozen=True, slots=True)
class PalState:
    """What PAL remembers of one position: its side, entry, initial risk per unit and
    size, and how many adds and partials it has made."""

    side: int
    entry: float
    risk: float
    initial_quantity: float
    adds: int = 0
    partials: int = 0

    @classmethod
    def open(
        cls, *, side: int, entry: float, stop: float | None, quantity: float
    ) -> PalState | None:
        """The state of a position just opened; ``None`` without a usable stop (no R)."""
        if stop is None or not math.isfinite(stop) or side not in (1, -1):
            return None
        risk = (entry - stop) * side
        if not risk > 0 or not quantity > 0:
            return None
        return cls(side=side, entry=entry, risk=risk, initial_quantity=abs(quantity))


@dataclass(frozen=True, slots=True)
class PalDecision:
    """What PAL does on one bar: units to add and to take off (both >= 0), the new stop
    (``None``: unchanged), the state after, and why (one line per action)."""

    add: float
    reduce: float
    stop: float | None
    state: PalState
    reasons: tuple[str, ...] = ()

    @property
    def acts(self) -> bool:
        return self.add > 0 or self.reduce > 0 or self.stop is not None


def effective_mode(mode: ModuleMode, risk_mode: RiskMode | str | None) -> ModuleMode:
    """The mode PAL runs in: ``mode``, except OFF in the DEFENSIVE risk mode."""
    if risk_mode is not None and RiskMode(risk_mode) is RiskMode.DEFENSIVE:
        return ModuleMode.OFF
    return mode


def amplify(
    state: PalState,
    *,
    quantity: float,
    close: float,
    atr: float | None,
    stop: float | None,
    config: PalConfig,
) -> PalDecision:
    """PAL's decision for a position described by ``state`` (held ``quantity``, any sign,
    its stop in force ``stop``) at a bar's ``close`` with that bar's ``atr`` (module
    docstring rules).

    Example: ``amplify(state, quantity=2.0, close=105.0, atr=1.5, stop=96.0, config=cfg)``.
    """
    held = abs(quantity)
    if held <= 0 or not math.isfinite(close):
        return PalDecision(0.0, 0.0, None, state)
    side = state.side
    r = (close - state.entry) * side / state.risk
    reasons: list[str] = []
    reduce = 0.0
    reached = sum(1 for level in config.partial_r if r >= level)
    if reached > state.partials:
        levels = config.partial_r[state.partials : reached]
        reduce = min(len(levels) * config.partial_fraction * state.initial_quantity, held)
        reasons.append(
            f"partial profit at {r:.2f}R (levels {', '.join(f'{x:g}R' for x in levels)})"
        )
        state = replace(state, partials=reached)
    add = 0.0
    if (
        reduce == 0
        and config.scale_in_r is not None
        and state.adds < config.max_scale_ins
        and r >= (state.adds + 1) * config.scale_in_r
    ):
        add = config.scale_in_fraction * state.initial_quantity
        reasons.append(f"scale in #{state.adds + 1} at {r:.2f}R")
        state = replace(state, adds=state.adds + 1)
    new_stop = None
    if config.trail_r is not None and r >= config.trail_r:
        trail = state.entry
        if atr is not None and math.isfinite(atr) and atr > 0:
            trail = max((close - side * config.trail_atr * atr) * side, state.entry * side) * side
        if stop is None or (trail - stop) * side > 0:
            new_stop = trail
            reasons.append(f"trail the stop to {trail:.6g} at {r:.2f}R")
    return PalDecision(add, reduce, new_stop, state, tuple(reasons))
