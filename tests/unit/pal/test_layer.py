"""The Profit Amplification Layer's decision, bar by bar, in R."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.config import ModuleMode
from components.pal import PalConfig, PalState, amplify, effective_mode
from components.policy.model import RiskMode

CONFIG = PalConfig(
    mode=ModuleMode.ENFORCED,
    partial_r=(2.0, 3.0),
    partial_fraction=0.25,
    scale_in_r=1.0,
    scale_in_fraction=0.5,
    max_scale_ins=1,
    trail_r=1.0,
    trail_atr=2.0,
)
LONG = PalState.open(side=+1, entry=100.0, stop=96.0, quantity=4.0)  # R = 4
SHORT = PalState.open(side=-1, entry=100.0, stop=104.0, quantity=4.0)


def test_a_winner_at_one_r_gets_an_add_and_a_stop_at_break_even_or_better() -> None:
    assert LONG is not None
    d = amplify(LONG, quantity=4.0, close=104.0, atr=1.0, stop=96.0, config=CONFIG)

    assert (d.add, d.reduce) == (2.0, 0.0)  # half the initial size
    assert d.stop == 102.0  # close - 2 ATR, above the entry
    assert d.state.adds == 1
    again = amplify(d.state, quantity=6.0, close=104.5, atr=1.0, stop=102.0, config=CONFIG)
    assert again.add == 0  # one add at most; the next would be at 2R anyway


def test_partials_come_at_their_levels_once_and_never_exceed_the_position() -> None:
    assert LONG is not None
    d = amplify(LONG, quantity=4.0, close=112.5, atr=1.0, stop=96.0, config=CONFIG)  # 3.1R

    assert d.reduce == 2.0 and d.add == 0  # both levels at once, 25% each; no add that bar
    assert d.state.partials == 2
    assert (
        amplify(d.state, quantity=2.0, close=113.0, atr=1.0, stop=110.5, config=CONFIG).reduce == 0
    )
    tiny = amplify(LONG, quantity=0.5, close=112.5, atr=1.0, stop=96.0, config=CONFIG)
    assert tiny.reduce == 0.5


def test_a_short_mirrors_a_long() -> None:
    assert SHORT is not None
    d = amplify(SHORT, quantity=-4.0, close=96.0, atr=1.0, stop=104.0, config=CONFIG)

    assert (d.add, d.reduce, d.stop) == (2.0, 0.0, 98.0)


def test_a_loser_and_a_position_without_a_stop_are_left_alone() -> None:
    assert LONG is not None
    d = amplify(LONG, quantity=4.0, close=99.0, atr=1.0, stop=96.0, config=CONFIG)

    assert not d.acts and d.state == LONG
    assert PalState.open(side=+1, entry=100.0, stop=None, quantity=1.0) is None
    assert PalState.open(side=+1, entry=100.0, stop=101.0, quantity=1.0) is None  # no risk


@pytest.mark.parametrize(
    ("risk_mode", "expected"),
    [
        (RiskMode.DEFENSIVE, ModuleMode.OFF),
        (RiskMode.NORMAL, ModuleMode.ENFORCED),
        (RiskMode.AGGRESSIVE, ModuleMode.ENFORCED),
    ],
)
def test_the_defensive_risk_mode_switches_pal_off(
    risk_mode: RiskMode, expected: ModuleMode
) -> None:
    assert effective_mode(ModuleMode.ENFORCED, risk_mode) is expected


@given(
    closes=st.lists(st.floats(50, 200), min_size=1, max_size=40),
    side=st.sampled_from([1, -1]),
)
def test_over_any_path_the_stop_only_tightens_and_the_size_stays_within_its_bounds(
    closes: list[float], side: int
) -> None:
    state = PalState.open(side=side, entry=100.0, stop=100.0 - 4.0 * side, quantity=4.0)
    assert state is not None
    quantity, stop = 4.0, 100.0 - 4.0 * side
    for close in closes:
        d = amplify(state, quantity=quantity * side, close=close, atr=1.0, stop=stop, config=CONFIG)
        assert d.reduce <= quantity + 1e-12
        if d.stop is not None:
            assert (d.stop - stop) * side > 0 and (d.stop - 100.0) * side >= 0
            stop = d.stop
        quantity += d.add - d.reduce
        state = d.state
    assert state.adds <= CONFIG.max_scale_ins and state.partials <= len(CONFIG.partial_r)
    assert quantity <= 4.0 * (1 + CONFIG.max_scale_ins * CONFIG.scale_in_fraction) + 1e-9


def test_the_settings_nest_pal_and_read_its_levels_from_a_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from components.settings import load_settings

    monkeypatch.setenv("QT_PAL__MODE", "OBSERVE")
    monkeypatch.setenv("QT_PAL_PARTIAL_R", "1.5, 3")

    pal = load_settings().pal

    assert (pal.mode, pal.partial_r) == (ModuleMode.OBSERVE, (1.5, 3.0))
    assert PalConfig().mode is ModuleMode.OFF  # off by default
