"""Universe selection: which symbols the engine trades, from a :class:`Ranking`.

A newcomer needs ``min_score`` to enter; an incumbent stays while it scores at least the
lower ``exit_score`` (hysteresis, so a symbol near the bar does not flap in and out).
The best ``max_size`` of those eligible are chosen. A symbol with an open position
always stays in, even when filtered, below the exit bar or beyond ``max_size``, so the
engine can still manage it; the reason says so.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from components.ranking.config import UniverseConfig
from components.ranking.ranker import Ranking, SymbolScore


@dataclass(frozen=True, slots=True)
class UniverseSelection:
    """The new universe and how it differs from the old one.

    ``symbols`` is sorted by score (best first; unranked symbols with open positions
    last, by name). ``reasons`` says why each symbol is in, or why each removed or
    rejected incumbent is out.
    """

    symbols: tuple[str, ...]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    kept_for_positions: tuple[str, ...]
    reasons: dict[str, str] = field(default_factory=dict)


def select_universe(
    ranking: Ranking,
    *,
    incumbents: Collection[str],
    open_positions: Collection[str],
    config: UniverseConfig,
) -> UniverseSelection:
    """Choose the active universe.

    Parameters
    ----------
    ranking
        The latest :class:`Ranking`.
    incumbents
        The current universe (``GlobalPolicy.active_universe``).
    open_positions
        Symbols with an open position; they always stay in.
    config
        Entry/exit bars and the maximum size.

    Example::

        selection = select_universe(ranking, incumbents=policy.active_universe,
                                    open_positions=ledger.symbols(), config=UniverseConfig())
    """
    current = set(incumbents)
    holding = set(open_positions)
    reasons: dict[str, str] = {}

    eligible: list[SymbolScore] = []
    for s in ranking.kept:
        if s.total >= config.min_score or (s.symbol in current and s.total >= config.exit_score):
            eligible.append(s)
        elif s.symbol in current:
            reasons[s.symbol] = f"score {s.total:.3f} < exit bar {config.exit_score:.3f}"
        else:
            reasons[s.symbol] = f"score {s.total:.3f} < entry bar {config.min_score:.3f}"
    # ``ranking.kept`` is already best first with ties broken by symbol.
    chosen = eligible[: config.max_size]
    for s in chosen:
        if s.total >= config.min_score:
            reasons[s.symbol] = (
                f"rank {s.rank}, score {s.total:.3f} >= entry bar {config.min_score:.3f}"
            )
        else:
            reasons[s.symbol] = (
                f"incumbent, rank {s.rank}, score {s.total:.3f} >= exit bar {config.exit_score:.3f}"
            )
    for s in eligible[config.max_size :]:
        reasons[s.symbol] = f"rank {s.rank}, beyond the maximum size {config.max_size}"

    selected = {s.symbol for s in chosen}
    kept_for_positions: list[str] = []
    for symbol in sorted(holding - selected):
        score = ranking.get(symbol)
        if score is None:
            why = "not ranked"
        elif score.filtered_reason is not None:
            why = f"filtered: {score.filtered_reason}"
        else:
            why = reasons.get(symbol, f"score {score.total:.3f}")
        reasons[symbol] = f"open position (otherwise out: {why})"
        kept_for_positions.append(symbol)
        selected.add(symbol)
    for s in ranking.filtered:
        if s.symbol in current and s.symbol not in selected:
            reasons[s.symbol] = f"filtered: {s.filtered_reason}"
    for symbol in current - selected:
        reasons.setdefault(symbol, "not ranked")

    order = {s.symbol: i for i, s in enumerate(ranking.scores) if s.kept}
    symbols = tuple(sorted(selected, key=lambda x: (order.get(x, len(order)), x)))
    reasons = {
        symbol: reasons[symbol]
        for symbol in sorted(reasons)
        if symbol in selected or symbol in current
    }
    return UniverseSelection(
        symbols=symbols,
        added=tuple(sorted(selected - current)),
        removed=tuple(sorted(current - selected)),
        kept_for_positions=tuple(kept_for_positions),
        reasons=reasons,
    )
