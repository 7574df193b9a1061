"""Universe selection: entry and exit bars, maximum size, open-position stickiness."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from components.ranking import Ranking, SymbolScore, UniverseConfig, select_universe

CONFIG = UniverseConfig(min_score=0.55, exit_score=0.45, max_size=3)


def ranking(totals: dict[str, float], filtered: dict[str, str] | None = None) -> Ranking:
    """A ranking with the given totals (sub-scores equal to the total)."""
    kept = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    scores = [
        SymbolScore(symbol, total, total, total, total, total, rank=i)
        for i, (symbol, total) in enumerate(kept, start=1)
    ]
    scores += [
        SymbolScore(symbol, 0.0, 0.0, 0.0, 0.0, 0.0, filtered_reason=reason)
        for symbol, reason in sorted((filtered or {}).items())
    ]
    return Ranking(scores=tuple(scores))


def test_a_newcomer_needs_the_entry_bar() -> None:
    selection = select_universe(
        ranking({"A": 0.60, "B": 0.50}), incumbents=[], open_positions=[], config=CONFIG
    )
    assert selection.symbols == ("A",)
    assert selection.added == ("A",)
    assert selection.reasons["A"] == "rank 1, score 0.600 >= entry bar 0.550"


def test_an_incumbent_stays_above_the_lower_exit_bar() -> None:
    selection = select_universe(
        ranking({"A": 0.60, "B": 0.50}), incumbents=["B"], open_positions=[], config=CONFIG
    )
    assert selection.symbols == ("A", "B")
    assert selection.added == ("A",) and selection.removed == ()
    assert selection.reasons["B"] == "incumbent, rank 2, score 0.500 >= exit bar 0.450"


def test_an_incumbent_below_the_exit_bar_is_removed_with_a_reason() -> None:
    selection = select_universe(
        ranking({"A": 0.60, "B": 0.40}), incumbents=["A", "B"], open_positions=[], config=CONFIG
    )
    assert selection.symbols == ("A",)
    assert selection.removed == ("B",)
    assert selection.reasons["B"] == "score 0.400 < exit bar 0.450"


def test_a_score_hovering_between_the_bars_does_not_flap() -> None:
    universe: tuple[str, ...] = ()
    history = []
    for score in (0.56, 0.50, 0.54, 0.47, 0.52):
        universe = select_universe(
            ranking({"A": score}), incumbents=universe, open_positions=[], config=CONFIG
        ).symbols
        history.append(universe)
    assert history == [("A",)] * 5


def test_only_the_best_max_size_symbols_are_chosen() -> None:
    totals = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.65}
    selection = select_universe(ranking(totals), incumbents=["D"], open_positions=[], config=CONFIG)
    assert selection.symbols == ("A", "B", "C")
    assert selection.removed == ("D",)
    assert selection.reasons["D"] == "rank 4, beyond the maximum size 3"


def test_symbols_with_open_positions_always_stay_in_with_the_reason() -> None:
    totals = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.65, "LOW": 0.2}
    selection = select_universe(
        ranking(totals, filtered={"BAD": "no ticker"}),
        incumbents=["D", "LOW", "BAD", "GONE"],
        open_positions=["D", "LOW", "BAD", "GONE"],
        config=CONFIG,
    )
    assert selection.symbols == ("A", "B", "C", "D", "LOW", "BAD", "GONE")
    assert selection.removed == ()
    assert selection.kept_for_positions == ("BAD", "D", "GONE", "LOW")
    assert selection.reasons["D"] == (
        "open position (otherwise out: rank 4, beyond the maximum size 3)"
    )
    assert selection.reasons["LOW"] == "open position (otherwise out: score 0.200 < exit bar 0.450)"
    assert selection.reasons["BAD"] == "open position (otherwise out: filtered: no ticker)"
    assert selection.reasons["GONE"] == "open position (otherwise out: not ranked)"


def test_a_filtered_incumbent_without_a_position_is_removed() -> None:
    selection = select_universe(
        ranking({"A": 0.9}, filtered={"B": "spread 80.0 bps > maximum 50 bps"}),
        incumbents=["A", "B"],
        open_positions=[],
        config=CONFIG,
    )
    assert selection.symbols == ("A",)
    assert selection.removed == ("B",)
    assert selection.reasons["B"] == "filtered: spread 80.0 bps > maximum 50 bps"


def test_an_exit_bar_above_the_entry_bar_is_rejected() -> None:
    with pytest.raises(ValidationError, match=r"exit_score=0\.6 must not be above min_score=0\.5"):
        UniverseConfig(min_score=0.5, exit_score=0.6)


symbols = st.sampled_from([f"S{i}" for i in range(12)])


@given(
    st.dictionaries(symbols, st.floats(min_value=0, max_value=1), max_size=12),
    st.sets(symbols),
    st.sets(symbols),
    st.integers(min_value=0, max_value=6),
)
def test_selection_invariants(
    totals: dict[str, float], incumbents: set[str], positions: set[str], max_size: int
) -> None:
    config = UniverseConfig(min_score=0.55, exit_score=0.45, max_size=max_size)
    selection = select_universe(
        ranking(totals), incumbents=incumbents, open_positions=positions, config=config
    )
    chosen = set(selection.symbols)
    assert positions <= chosen
    assert len(chosen - set(selection.kept_for_positions)) <= max_size
    for symbol in chosen - positions:
        bar = config.exit_score if symbol in incumbents else config.min_score
        assert totals[symbol] >= bar
    assert set(selection.added) == chosen - incumbents
    assert set(selection.removed) == incumbents - chosen
    assert set(selection.reasons) >= chosen | set(selection.removed)
    ranked = [s for s in selection.symbols if s in totals]
    assert ranked == sorted(ranked, key=lambda s: (-totals[s], s))
