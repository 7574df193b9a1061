"""Protections: pure locks computed from recent closed trades."""

from __future__ import annotations

from datetime import timedelta

import pytest

from components.risk import (
    ClosedTrade,
    PairLossLock,
    ProtectionResult,
    StoplossCooldown,
    check_protections,
)
from tests.unit.risk.builders import T0

BTC, ETH = "BTC/USDT", "ETH/USDT"


def trade(
    minutes_ago: float, pnl: float = -10.0, symbol: str = BTC, exit_reason: str | None = None
) -> ClosedTrade:
    return ClosedTrade(
        symbol=symbol,
        closed_at=T0 - timedelta(minutes=minutes_ago),
        pnl=pnl,
        exit_reason=exit_reason,
    )


# --- StoplossCooldown -----------------------------------------------------------------
def test_a_stop_loss_locks_its_symbol_for_the_cooldown() -> None:
    trades = [trade(20, exit_reason="stop_loss"), trade(10, exit_reason="take_profit")]
    result = StoplossCooldown(cooldown=timedelta(hours=1)).check(trades, BTC, now=T0)
    assert result.locked
    assert result.until == T0 + timedelta(minutes=40)
    assert result.reason is not None and result.reason.startswith("stoploss_cooldown:")


def test_the_stoploss_cooldown_ends_and_leaves_other_symbols_alone() -> None:
    trades = [trade(61, exit_reason="stop_loss")]
    protection = StoplossCooldown(cooldown=timedelta(hours=1))
    assert protection.check(trades, BTC, now=T0) == ProtectionResult()
    assert not protection.check([trade(5, exit_reason="stop_loss")], ETH, now=T0).locked


def test_exits_other_than_a_stop_loss_do_not_lock() -> None:
    trades = [trade(5, exit_reason="signal"), trade(3, exit_reason=None)]
    assert not StoplossCooldown().check(trades, BTC, now=T0).locked


# --- PairLossLock ---------------------------------------------------------------------
def test_enough_losses_within_the_window_lock_the_pair_after_the_last_loss() -> None:
    trades = [trade(300), trade(120), trade(30), trade(10, pnl=25.0), trade(5, symbol=ETH)]
    lock = PairLossLock(max_losses=3, window=timedelta(hours=6), lock_for=timedelta(hours=2))
    result = lock.check(trades, BTC, now=T0)
    assert result.locked
    assert result.until == T0 - timedelta(minutes=30) + timedelta(hours=2)
    assert "3 losing trades on BTC/USDT" in (result.reason or "")


def test_losses_outside_the_window_or_too_few_do_not_lock() -> None:
    lock = PairLossLock(max_losses=3, window=timedelta(hours=1))
    assert not lock.check([trade(90), trade(30), trade(10)], BTC, now=T0).locked
    assert not lock.check([trade(30), trade(10)], BTC, now=T0).locked


def test_the_pair_lock_ends_after_lock_for() -> None:
    lock = PairLossLock(max_losses=2, window=timedelta(hours=6), lock_for=timedelta(minutes=30))
    assert not lock.check([trade(100), trade(40)], BTC, now=T0).locked


def test_trades_closed_after_now_are_ignored() -> None:
    future = [trade(-5, exit_reason="stop_loss"), trade(-6), trade(-7), trade(-8)]
    assert not StoplossCooldown().check(future, BTC, now=T0).locked
    assert not PairLossLock(max_losses=3).check(future, BTC, now=T0).locked


# --- the chain ------------------------------------------------------------------------
def test_the_chain_returns_the_longest_lock() -> None:
    trades = [trade(50), trade(40), trade(30, exit_reason="stop_loss")]
    chain = [
        StoplossCooldown(cooldown=timedelta(hours=1)),
        PairLossLock(max_losses=3, lock_for=timedelta(hours=4)),
    ]
    result = check_protections(chain, trades, BTC, now=T0)
    assert result.until == T0 + timedelta(hours=3, minutes=30)
    assert (result.reason or "").startswith("pair_loss_lock:")
    assert check_protections(chain, trades, ETH, now=T0) == ProtectionResult()


def test_protection_configs_are_bounded() -> None:
    with pytest.raises(ValueError, match="cooldown"):
        StoplossCooldown(cooldown=timedelta(days=365))
    with pytest.raises(ValueError, match="max_losses"):
        PairLossLock(max_losses=0)
