"""Orchestrator policy: which strategy signals the engine acts on this cycle, in what order.

:func:`select_signals` applies the policy to the signals of one cycle:

1. ``stop_all_trading`` or an active ``emergency``: nothing at all (each signal dropped
   with the reason).
2. The strategy must not be in ``blocked_strategies`` nor ``retired``. A strategy whose
   ``strategy_states`` entry is ``shadow`` goes to :attr:`OrchestratorResult.shadow`
   (traded on paper without capital, never as a real order); any other must be in
   ``allowed_strategies``.
3. ``confidence >= global_min_confidence``, except for a signal that may close an open
   position (rule 4): leaving is de-risking, and a flat signal has confidence 0.
4. The symbol must be in ``active_universe``. A signal that may close an open position is
   kept outside it: a flat signal (direction 0) on an open position, or, when
   ``open_positions`` maps symbols to signed quantities, a direction opposite to the
   position. With symbol names alone, any signal on an open position is kept (sizing
   and the RiskGuard decide how much may trade).
5. A flat signal with no open position has nothing to do and is dropped.
6. One signal per symbol: the highest confidence wins (ties by strategy name). When the
   best signal in another direction is within ``disagreement_margin`` of it, the
   strategies disagree too closely to trust either, and every signal on the symbol is
   dropped with that reason. Shadow signals are resolved among themselves the same way.
7. Order: ``opp_rankings`` score descending (unranked symbols last), then confidence
   descending, then symbol; the result does not depend on the order of the input.

Every dropped signal carries a reason that starts with the rule's name
(``blocked: ...``, ``min_confidence: ...``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from components.engine.config import OrchestratorConfig
from components.policy.model import GlobalPolicy, StrategyState
from components.trading.types import Signal


class DroppedSignal(NamedTuple):
    """A signal the orchestrator did not keep, and why (unpacks as ``signal, reason``)."""

    signal: Signal
    reason: str


class OrchestratorResult(BaseModel):
    """Signals to trade (``accepted``, best first), to paper-trade (``shadow``), and the
    rest with their reasons (``dropped``).

    >>> result = select_signals(signals, policy)
    >>> [s.symbol for s in result.accepted]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    accepted: list[Signal] = Field(default_factory=list)
    shadow: list[Signal] = Field(default_factory=list)
    dropped: list[DroppedSignal] = Field(default_factory=list)


def select_signals(
    signals: Sequence[Signal],
    policy: GlobalPolicy,
    *,
    open_positions: Collection[str] = (),
    config: OrchestratorConfig | None = None,
) -> OrchestratorResult:
    """Keep, rank and de-conflict this cycle's signals under ``policy``.

    Parameters
    ----------
    signals:
        Every strategy's signals of this cycle, in any order.
    open_positions:
        Symbols with an open position, or a mapping symbol -> signed quantity (which
        lets a signal that would grow a position outside the universe be told apart from
        one that closes it).

    >>> select_signals(signals, policy, open_positions={"BTC/USDT": 0.5}).accepted
    """
    config = config or OrchestratorConfig()
    ordered = sorted(signals, key=_canonical)  # the outcome must not depend on input order
    if not policy.trading_allowed():
        why = (
            "stop_all_trading: the policy stops all trading"
            if policy.stop_all_trading
            else f"emergency: {policy.emergency.reason or 'the policy emergency is active'}"
        )
        return OrchestratorResult(dropped=[DroppedSignal(s, why) for s in ordered])

    live: list[Signal] = []
    shadow: list[Signal] = []
    dropped: list[DroppedSignal] = []
    universe = frozenset(policy.active_universe)  # a list: looked up once per signal
    sides = _sides(open_positions)
    named: dict[str, str | None] = {}  # strategy -> why its every signal is dropped
    for signal in ordered:
        name = signal.strategy
        if name not in named:
            named[name] = _strategy_refusal(name, policy)
        reason = named[name] or _filter(signal, policy, sides, universe)
        if reason is not None:
            dropped.append(DroppedSignal(signal, reason))
        elif policy.strategy_states.get(signal.strategy) == StrategyState.SHADOW:
            shadow.append(signal)
        else:
            live.append(signal)

    accepted, conflicts = _resolve(live, config.disagreement_margin)
    shadow, shadow_conflicts = _resolve(shadow, config.disagreement_margin)
    rank = _ranking(policy.opp_rankings)
    return OrchestratorResult(
        accepted=sorted(accepted, key=rank),
        shadow=sorted(shadow, key=rank),
        dropped=dropped + conflicts + shadow_conflicts,
    )


def may_enter(
    direction: npt.NDArray[np.integer[Any]],
    confidence: npt.NDArray[np.floating[Any]],
    policy: GlobalPolicy,
) -> npt.NDArray[np.bool_]:
    """Which of one strategy's signals (arrays over symbols) could open a position: the
    array form of rules 3 and 5 for a symbol with no open position (a direction, and
    ``confidence >= global_min_confidence``). A signal on a symbol with no position that
    fails this is dropped by :func:`select_signals` whatever else holds, so a caller with
    thousands of symbols need only make :class:`Signal` objects for these rows (and for
    symbols with a position).

    >>> may_enter(np.array([1, 0, -1]), np.array([0.9, 0.0, 0.2]), policy)  # [True, False, False]
    """
    return np.asarray((direction != 0) & (confidence >= policy.global_min_confidence))


@dataclass(frozen=True)
class SettledEntries:
    """What :func:`settle_entries` decided on arrays: which signals are still to be made
    into objects for :func:`select_signals` (``make``, strategies x symbols), which of
    them it kept as the one on their symbol (``kept``: select_signals accepts each), and
    how many others it dropped, by rule (``superseded``, ``conflict``)."""

    make: npt.NDArray[np.bool_]
    kept: npt.NDArray[np.bool_]
    dropped: Counter[str]


def settle_entries(
    names: Sequence[str],
    symbols: Sequence[str],
    direction: npt.NDArray[np.integer[Any]],
    confidence: npt.NDArray[np.floating[Any]],
    held: npt.NDArray[np.bool_],
    policy: GlobalPolicy,
    config: OrchestratorConfig | None = None,
) -> SettledEntries:
    """The array form of the rules for the signals of one bar (``direction`` and
    ``confidence``: strategies ``names`` x ``symbols``) on symbols with no position
    (``held`` False): a caller with thousands of symbols makes :class:`Signal` objects
    only for ``make`` and gives them to :func:`select_signals`, which then decides as it
    would on every signal, and adds ``dropped`` to its reasons.

    Signals that cannot open a position (:func:`may_enter`) are not made (rules 3 and 5:
    they would be dropped; the caller counts them). Where trading is allowed, the
    signals that may open a position of the live strategies the policy lets trade, on
    symbols of the universe, are resolved here, one per symbol (rule 6): only the one
    kept is made. Every other signal (held symbols, shadow or refused strategies) is made
    as it is.

    >>> settle_entries(["a", "b"], ["BTC/USDT"], np.array([[1], [1]]),
    ...                np.array([[0.9], [0.8]]), np.array([False]), policy).dropped
    Counter({'superseded': 1})
    """
    config = config or OrchestratorConfig()
    enter = may_enter(direction, confidence, policy)
    make = enter | held
    kept = np.zeros_like(make)
    dropped: Counter[str] = Counter()
    if not policy.trading_allowed() or len(set(names)) != len(names) or not len(names):
        return SettledEntries(make, kept, dropped)
    universe = frozenset(policy.active_universe)
    free = ~held & np.fromiter((s in universe for s in symbols), np.bool_, len(symbols))
    pooled = np.array(
        [
            _strategy_refusal(n, policy) is None
            and policy.strategy_states.get(n) != StrategyState.SHADOW
            for n in names
        ]
    )
    candidate = enter & pooled[:, None] & free
    if not candidate.any():
        return SettledEntries(make, kept, dropped)
    # Rule 6 as _resolve reads it: the best is the most confident (ties: by strategy
    # name), the rival the most confident in another direction.
    order = np.array(sorted(range(len(names)), key=names.__getitem__))
    cand, side = candidate[order], direction[order]
    sure = confidence[order].astype(np.float64)  # compared as Python floats would be
    strength = np.where(cand, sure, -np.inf)
    best_conf = strength.max(axis=0)
    best = np.argmax(cand & (strength == best_conf), axis=0)
    columns = np.arange(len(symbols))
    rival_conf = np.where(cand & (side != side[best, columns]), sure, -np.inf).max(axis=0)
    counts = cand.sum(axis=0)
    with np.errstate(invalid="ignore"):
        conflict = (counts > 0) & (best_conf - rival_conf < config.disagreement_margin)
    resolved = np.flatnonzero((counts > 0) & ~conflict)
    kept[order[best[resolved]], resolved] = True
    make = (make & ~candidate) | kept
    for rule, number in (
        ("superseded", int((counts[resolved] - 1).sum())),
        ("conflict", int(counts[conflict].sum())),
    ):
        if number:
            dropped[rule] = number
    return SettledEntries(make, kept, dropped)


def _canonical(signal: Signal) -> tuple[Any, ...]:
    return (signal.symbol, signal.strategy, -signal.confidence, signal.direction, signal.at)


def _strategy_refusal(name: str, policy: GlobalPolicy) -> str | None:
    """Why every signal of strategy ``name`` is dropped, or None (rules 1 and 2)."""
    state = policy.strategy_states.get(name)
    if name in policy.blocked_strategies:
        return f"blocked: strategy {name!r} is in blocked_strategies"
    if state == StrategyState.RETIRED:
        return f"retired: strategy {name!r} is retired"
    if state != StrategyState.SHADOW and name not in policy.allowed_strategies:
        return f"not_allowed: strategy {name!r} is not in allowed_strategies"
    return None


def _filter(
    signal: Signal,
    policy: GlobalPolicy,
    sides: Mapping[str, int],
    universe: Collection[str],
) -> str | None:
    """Why ``signal`` (of a strategy :func:`_strategy_refusal` lets through) is dropped, or
    None when it passes every per-signal rule (``sides``: :func:`_sides` of the open
    positions; ``universe``: the policy's active universe, as a set)."""
    side = sides.get(signal.symbol)
    if signal.direction == 0 and side is None:
        return f"flat: a flat signal on {signal.symbol} with no open position to close"
    may_close = side is not None and (signal.direction == 0 or signal.direction * side <= 0)
    # Leaving a position is de-risking: it need not clear the bar an entry must (a flat
    # signal has confidence 0 by contract, so the bar would keep every position open).
    if signal.confidence < policy.global_min_confidence and not may_close:
        return (
            f"min_confidence: confidence {signal.confidence:.3f} is below "
            f"global_min_confidence {policy.global_min_confidence:.3f}"
        )
    if signal.symbol not in universe and not may_close:
        return f"universe: {signal.symbol} is not in the active universe"
    return None


def _sides(open_positions: Collection[str]) -> dict[str, int]:
    """The side (+1, -1; 0 if unknown) of each symbol with an open position."""
    if isinstance(open_positions, Mapping):
        return {s: 1 if q > 0 else -1 for s, q in open_positions.items() if q}
    return dict.fromkeys(open_positions, 0)


def _resolve(signals: Iterable[Signal], margin: float) -> tuple[list[Signal], list[DroppedSignal]]:
    """One signal per symbol: the most confident, unless the other side is within margin."""
    by_symbol: dict[str, list[Signal]] = defaultdict(list)
    for signal in signals:
        by_symbol[signal.symbol].append(signal)
    kept: list[Signal] = []
    dropped: list[DroppedSignal] = []
    for symbol, group in by_symbol.items():
        if len(group) == 1:  # most symbols: nothing to resolve
            kept.append(group[0])
            continue
        group.sort(key=lambda s: (-s.confidence, s.strategy, s.direction, s.at))
        best = group[0]
        rival = next((s for s in group if s.direction != best.direction), None)
        if rival is not None and best.confidence - rival.confidence < margin:
            reason = (
                f"conflict: {best.strategy} ({_word(best)}, {best.confidence:.3f}) and "
                f"{rival.strategy} ({_word(rival)}, {rival.confidence:.3f}) disagree on "
                f"{symbol} within {margin:.3f}; neither is traded"
            )
            dropped.extend(DroppedSignal(s, reason) for s in group)
            continue
        kept.append(best)
        for other in group[1:]:
            verb = "agrees with" if other.direction == best.direction else "is outvoted by"
            dropped.append(
                DroppedSignal(
                    other,
                    f"superseded: {other.strategy} ({other.confidence:.3f}) {verb} "
                    f"{best.strategy} ({best.confidence:.3f}) on {symbol}",
                )
            )
    return kept, dropped


def _word(signal: Signal) -> str:
    return {1: "long", -1: "short", 0: "flat"}[signal.direction]


def _ranking(rankings: Mapping[str, float]) -> Callable[[Signal], tuple[int, float, float, str]]:
    def key(signal: Signal) -> tuple[int, float, float, str]:
        score = rankings.get(signal.symbol)
        unranked = score is None
        return (int(unranked), -(score or 0.0), -signal.confidence, signal.symbol)

    return key
