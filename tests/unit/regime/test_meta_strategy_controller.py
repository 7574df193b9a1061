"""The Meta Strategy Controller's decision table, hysteresis and emergency path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from components.errors import ConfigurationError
from components.regime import (
    HealthSnapshot,
    HealthStatus,
    MarketState,
    MetaStrategyController,
    MSCConfig,
    MSCInputs,
    MSCMemory,
    PerformanceSnapshot,
    RegimeAssessment,
    StateAssessment,
)
from components.settings import RiskMode, load_settings

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
STEP = timedelta(minutes=30)
LONG_AGO = NOW - timedelta(days=1)

# --- builders ----------------------------------------------------------------------------


def market(
    state: MarketState = MarketState.SIDEWAYS_WIDE,
    *,
    volatility: float = 0.03,
    trend: float = 0.3,
    direction: int = 1,
) -> StateAssessment:
    return StateAssessment(
        symbol="MARKET",
        state=state,
        volatility=volatility,
        trend_strength=trend,
        direction=direction,
        window_return=0.01 * direction,
        swing=0.3,
        bars=49,
    )


FAVOURABLE = market(MarketState.BULL_STRONG, volatility=0.03, trend=0.8)
NEUTRAL = market(MarketState.SIDEWAYS_WIDE, volatility=0.03, trend=0.3)
VOLATILE = market(MarketState.VOLATILE, volatility=0.061, trend=0.1)
CHOPPY = market(MarketState.CHOPPY, volatility=0.03, trend=0.05)
SOUND = PerformanceSnapshot(pnl_pct=0.03, win_rate=0.55, drawdown=0.02, trades=40)


def healthy(since: datetime = LONG_AGO) -> HealthSnapshot:
    return HealthSnapshot(status=HealthStatus.HEALTHY, since=since)


def degraded(since: datetime = LONG_AGO) -> HealthSnapshot:
    return HealthSnapshot(status=HealthStatus.DEGRADED, since=since, detail="bus lag")


def critical(since: datetime = NOW) -> HealthSnapshot:
    return HealthSnapshot(status=HealthStatus.CRITICAL, since=since, detail="redis unreachable")


def inputs(
    market_state: StateAssessment = NEUTRAL,
    health: HealthSnapshot | None = None,
    performance: PerformanceSnapshot | None = SOUND,
) -> MSCInputs:
    return MSCInputs(market=market_state, health=health or healthy(), performance=performance)


def controller(**overrides: object) -> MetaStrategyController:
    settings = load_settings()
    config = MSCConfig(**{**settings.msc.model_dump(), **overrides})
    return MetaStrategyController(config, limits=settings.limits)


def run(
    msc: MetaStrategyController,
    sequence: list[MSCInputs],
    *,
    start: datetime = NOW,
    memory: MSCMemory | None = None,
) -> list[RegimeAssessment]:
    """Evaluate ``sequence`` every 30 minutes, carrying the memory along."""
    results = []
    for i, item in enumerate(sequence):
        result = msc.decide(item, memory, now=start + i * STEP)
        memory = result.memory
        results.append(result)
    return results


def first(msc: MetaStrategyController, item: MSCInputs) -> RegimeAssessment:
    return msc.decide(item, None, now=NOW)


# --- the decision table ----------------------------------------------------------------------


def test_a_favourable_market_with_a_sound_record_indicates_aggressive() -> None:
    result = first(controller(relax_after=1), inputs(FAVOURABLE))
    assert result.indicated_mode is RiskMode.AGGRESSIVE
    assert result.risk_mode is RiskMode.AGGRESSIVE
    assert result.limits.max_risk_per_trade == 0.02
    assert result.limits.max_positions == 10
    assert result.limits.global_min_confidence == 0.65
    assert "market trend strength 0.80 >= 0.70 strong threshold" in result.drivers[0]


def test_a_neutral_market_gives_normal_with_the_normal_limits() -> None:
    result = first(controller(), inputs(NEUTRAL))
    assert result.risk_mode is RiskMode.NORMAL
    assert not result.changed
    assert (result.limits.max_risk_per_trade, result.limits.max_positions) == (0.01, 5)
    assert result.limits.global_min_confidence == 0.70


def test_high_market_volatility_forces_defensive_at_once() -> None:
    result = first(controller(), inputs(VOLATILE))
    assert result.risk_mode is RiskMode.DEFENSIVE
    assert result.changed and result.previous_mode is RiskMode.NORMAL
    assert (result.limits.max_risk_per_trade, result.limits.max_positions) == (0.005, 3)
    assert result.limits.global_min_confidence == 0.75
    assert "market volatility 6.1% >= 5.0% high threshold -> unfavourable" in result.drivers


def test_a_choppy_market_is_unfavourable() -> None:
    assert first(controller(), inputs(CHOPPY)).risk_mode is RiskMode.DEFENSIVE


@pytest.mark.parametrize(
    ("performance", "driver"),
    [
        (PerformanceSnapshot(pnl_pct=-0.05, win_rate=0.5, trades=30), "rolling PnL -5.0%"),
        (PerformanceSnapshot(pnl_pct=0.01, win_rate=0.3, trades=30), "win rate 30% < 40%"),
        (PerformanceSnapshot(pnl_pct=0.0, drawdown=0.15, trades=2), "drawdown 15.0% >= 10.0%"),
    ],
    ids=["losing", "low win rate", "deep drawdown even with few trades"],
)
def test_poor_performance_forces_defensive_even_in_a_favourable_market(
    performance: PerformanceSnapshot, driver: str
) -> None:
    result = first(controller(), inputs(FAVOURABLE, performance=performance))
    assert result.risk_mode is RiskMode.DEFENSIVE
    assert any(driver in d and d.endswith("unfavourable") for d in result.drivers)


def test_missing_performance_is_neutral_but_not_enough_for_aggressive() -> None:
    result = first(controller(relax_after=1), inputs(FAVOURABLE, performance=None))
    assert result.risk_mode is RiskMode.NORMAL
    assert "no recent trading performance -> neutral" in result.drivers
    assert "AGGRESSIVE needs a sound trading record -> NORMAL" in result.drivers


def test_too_few_trades_are_not_judged() -> None:
    thin = PerformanceSnapshot(pnl_pct=-0.10, win_rate=0.0, trades=3)
    result = first(controller(), inputs(NEUTRAL, performance=thin))
    assert result.risk_mode is RiskMode.NORMAL
    assert "3 recent trades < 10 to judge performance -> neutral" in result.drivers


def test_a_healthy_system_leaves_the_choice_to_market_and_performance() -> None:
    result = first(controller(relax_after=1), inputs(FAVOURABLE, health=healthy()))
    assert result.risk_mode is RiskMode.AGGRESSIVE
    assert not result.emergency.active


def test_a_degraded_system_is_capped_at_normal() -> None:
    result = first(controller(relax_after=1), inputs(FAVOURABLE, health=degraded()))
    assert result.risk_mode is RiskMode.NORMAL
    assert not result.emergency.active
    assert any(d.startswith("health DEGRADED") for d in result.drivers)


def test_a_critical_system_forces_defensive_with_an_emergency() -> None:
    result = first(controller(), inputs(FAVOURABLE, health=critical()))
    assert result.risk_mode is RiskMode.DEFENSIVE
    assert result.emergency.active
    assert result.emergency.since == NOW
    assert result.emergency.reason is not None
    assert "CRITICAL" in result.emergency.reason and "redis unreachable" in result.emergency.reason
    assert result.allowed_strategies == ()


def test_allowed_strategies_follow_the_market_state() -> None:
    msc = controller()
    trend = first(msc, inputs(FAVOURABLE)).allowed_strategies
    assert set(trend) == {"trend_following", "momentum", "breakout"}
    assert first(msc, inputs(NEUTRAL)).allowed_strategies == ("mean_reversion",)
    assert "momentum" not in first(msc, inputs(VOLATILE)).allowed_strategies


def test_the_strategy_map_is_a_config_field() -> None:
    custom = dict(MSCConfig().allowed_strategies)
    custom[MarketState.SIDEWAYS_WIDE] = ("grid_v2",)
    result = first(controller(allowed_strategies=custom), inputs(NEUTRAL))
    assert result.allowed_strategies == ("grid_v2",)


# --- hysteresis --------------------------------------------------------------------------------


def test_alternating_favourable_and_neutral_inputs_do_not_flap_the_mode() -> None:
    results = run(controller(), [inputs(FAVOURABLE), inputs(NEUTRAL)] * 4)
    assert [r.risk_mode for r in results] == [RiskMode.NORMAL] * 8
    assert [r.indicated_mode for r in results[:2]] == [RiskMode.AGGRESSIVE, RiskMode.NORMAL]
    assert not any(r.changed for r in results)


def test_volatility_alternating_around_the_threshold_stays_defensive() -> None:
    above = market(MarketState.VOLATILE, volatility=0.051, trend=0.1)
    below = market(MarketState.SIDEWAYS_WIDE, volatility=0.049, trend=0.1)
    results = run(controller(), [inputs(above), inputs(below)] * 4)
    assert [r.risk_mode for r in results] == [RiskMode.DEFENSIVE] * 8
    assert [r.changed for r in results] == [True] + [False] * 7


def test_a_less_defensive_mode_needs_consecutive_confirmations_one_step_at_a_time() -> None:
    results = run(controller(relax_after=2), [inputs(VOLATILE)] + [inputs(FAVOURABLE)] * 4)
    assert [r.risk_mode for r in results] == [
        RiskMode.DEFENSIVE,
        RiskMode.DEFENSIVE,  # 1/2 confirmations
        RiskMode.NORMAL,  # 2/2: one step up
        RiskMode.NORMAL,  # 1/2 again for the next step
        RiskMode.AGGRESSIVE,
    ]
    assert "AGGRESSIVE indicated 1/2 evaluations in a row -> stay DEFENSIVE" in results[1].drivers


def test_a_move_toward_defensive_is_immediate_even_from_aggressive() -> None:
    msc = controller(relax_after=1)
    results = run(msc, [inputs(FAVOURABLE), inputs(VOLATILE)])
    assert [r.risk_mode for r in results] == [RiskMode.AGGRESSIVE, RiskMode.DEFENSIVE]
    assert results[1].previous_mode is RiskMode.AGGRESSIVE and results[1].changed


def test_the_first_evaluation_starts_from_the_configured_risk_mode() -> None:
    settings = load_settings(risk_mode="DEFENSIVE")
    msc = MetaStrategyController(settings.msc, initial_mode=settings.policy.risk_mode)
    result = first(msc, inputs(NEUTRAL))
    assert result.previous_mode is RiskMode.DEFENSIVE
    assert result.risk_mode is RiskMode.DEFENSIVE  # relaxing needs 2 evaluations


# --- the emergency ------------------------------------------------------------------------------


def test_the_emergency_stays_while_health_has_been_healthy_for_less_than_the_clear_time() -> None:
    msc = controller()
    raised = msc.decide(inputs(health=critical()), None, now=NOW)
    recovered_at = NOW + timedelta(minutes=5)
    later = msc.decide(
        inputs(FAVOURABLE, health=healthy(since=recovered_at)),
        raised.memory,
        now=NOW + timedelta(minutes=30),
    )
    assert later.emergency.active
    assert later.emergency.since == NOW
    assert later.risk_mode is RiskMode.DEFENSIVE
    assert later.allowed_strategies == ()
    assert "health HEALTHY for 25 min < 30 min -> emergency stays" in later.drivers


def test_the_emergency_clears_after_health_is_healthy_for_the_clear_time() -> None:
    msc = controller()
    raised = msc.decide(inputs(health=critical()), None, now=NOW)
    recovered_at = NOW + timedelta(minutes=5)
    cleared = msc.decide(
        inputs(NEUTRAL, health=healthy(since=recovered_at)),
        raised.memory,
        now=recovered_at + timedelta(minutes=30),
    )
    assert not cleared.emergency.active
    assert cleared.emergency.reason is None
    assert "health HEALTHY for 30 min >= 30 min -> emergency cleared" in cleared.drivers
    # The mode then relaxes through the usual hysteresis, not at once.
    assert cleared.risk_mode is RiskMode.DEFENSIVE
    after = msc.decide(inputs(NEUTRAL), cleared.memory, now=cleared.evaluated_at + STEP)
    assert after.risk_mode is RiskMode.NORMAL


def test_healthy_since_a_time_before_the_last_critical_report_counts_from_that_report() -> None:
    msc = controller()
    raised = msc.decide(inputs(health=critical()), None, now=NOW)
    # The health check claims HEALTHY since long ago, but we saw CRITICAL at NOW.
    still = msc.decide(
        inputs(health=healthy(since=LONG_AGO)), raised.memory, now=NOW + timedelta(minutes=10)
    )
    assert still.emergency.active


def test_a_degraded_system_after_an_emergency_keeps_it() -> None:
    msc = controller(emergency_clear_minutes=1)
    raised = msc.decide(inputs(health=critical()), None, now=NOW)
    later = msc.decide(inputs(health=degraded()), raised.memory, now=NOW + timedelta(hours=2))
    assert later.emergency.active
    assert "health DEGRADED -> emergency stays" in later.drivers


def test_a_persisting_critical_status_keeps_the_first_emergency_time() -> None:
    results = run(controller(), [inputs(health=critical())] * 3)
    assert all(r.emergency.active and r.emergency.since == NOW for r in results)
    assert [r.changed for r in results] == [True, False, False]


# --- memory, patch, report ----------------------------------------------------------------------


def test_the_memory_round_trips_through_json_and_decides_the_same() -> None:
    msc = controller()
    raised = msc.decide(inputs(health=critical()), None, now=NOW)
    stored = raised.memory.model_dump_json()
    restored = MSCMemory.model_validate_json(stored)
    assert restored == raised.memory
    item = inputs(health=healthy(since=NOW + STEP))
    later = NOW + timedelta(hours=1)
    assert msc.decide(item, restored, now=later) == msc.decide(item, raised.memory, now=later)


def test_unknown_keys_in_a_stored_memory_are_ignored() -> None:
    data = json.loads(MSCMemory(mode=RiskMode.NORMAL, evaluated_at=NOW).model_dump_json())
    data["from_a_newer_release"] = 1
    assert MSCMemory.model_validate(data).mode is RiskMode.NORMAL


def test_policy_patch_has_the_global_policy_keys() -> None:
    result = first(controller(), inputs(health=critical()))
    patch = result.policy_patch()
    assert patch == {
        "risk_mode": "DEFENSIVE",
        "max_risk_per_trade": 0.005,
        "max_positions": 3,
        "global_min_confidence": 0.75,
        "allowed_strategies": [],
        "emergency": {
            "active": True,
            "reason": result.emergency.reason,
            "since": NOW.isoformat(),
        },
    }
    json.dumps(patch)  # plain JSON types only
    calm = first(controller(), inputs(NEUTRAL)).policy_patch()
    assert calm["emergency"] == {"active": False, "reason": None, "since": None}
    assert calm["allowed_strategies"] == ["mean_reversion"]


def test_render_markdown_shows_the_decision_and_a_drivers_table() -> None:
    symbols = {"BTC/USDT": market(MarketState.BULL_STRONG, trend=0.9)}
    item = MSCInputs(market=VOLATILE, health=healthy(), performance=SOUND, symbols=symbols)
    text = first(controller(), item).render_markdown()
    assert "NORMAL -> **DEFENSIVE**" in text
    assert "| # | driver |" in text
    assert "market volatility 6.1% >= 5.0% high threshold" in text
    assert "| BTC/USDT | BULL_STRONG |" in text
    assert "Emergency:** none" in text


def test_msc_config_reads_limits_and_thresholds_from_settings() -> None:
    settings = load_settings(
        msc_high_volatility=0.08, aggressive_max_positions=12, defensive_min_confidence=0.8
    )
    assert settings.msc.high_volatility == 0.08
    assert settings.limits[RiskMode.AGGRESSIVE].max_positions == 12
    assert settings.limits[RiskMode.DEFENSIVE].global_min_confidence == 0.8


def test_msc_config_refuses_unknown_fields_and_bad_strategy_names() -> None:
    with pytest.raises(ValidationError, match="extra"):
        MSCConfig(hysteresis=3)  # type: ignore[call-arg]
    bad = dict(MSCConfig().allowed_strategies)
    bad[MarketState.CHOPPY] = ("Mean Reversion!",)
    with pytest.raises(ValidationError, match="CHOPPY"):
        MSCConfig(allowed_strategies=bad)


def test_a_defensive_limit_looser_than_a_normal_one_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"DEFENSIVE max_risk_per_trade=0\.02 is looser"):
        load_settings(defensive_max_risk_per_trade=0.02)


def test_a_naive_evaluation_time_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="timezone-aware"):
        controller().decide(inputs(), None, now=datetime(2024, 1, 1))


def test_a_live_candidate_trades_where_its_base_strategy_is_allowed() -> None:
    from components.regime.controller import candidate_base, policy_changes

    assert candidate_base("mean_reversion_0a1b2c3d") == "mean_reversion"
    assert candidate_base("mean_reversion") == "mean_reversion"
    assessment = controller().decide(inputs(NEUTRAL), None, now=NOW)
    states = {"mean_reversion_0a1b2c3d": "live", "momentum_0a1b2c3d": "live",
              "mean_reversion_ffffffff": "shadow"}  # fmt: skip
    changes = policy_changes(assessment, False, None, states)
    assert "mean_reversion_0a1b2c3d" in changes["allowed_strategies"]
    assert "momentum_0a1b2c3d" not in changes["allowed_strategies"]
    assert "mean_reversion_ffffffff" not in changes["allowed_strategies"]


def test_the_ml_strategy_is_allowed_only_once_a_model_is_in_production() -> None:
    from components.regime.controller import policy_changes

    states = dict.fromkeys(MarketState, ("mean_reversion", "ml"))  # a person wrote ml in
    assessment = controller(allowed_strategies=states).decide(inputs(NEUTRAL), None, now=NOW)

    waiting = policy_changes(assessment, False, None)
    ready = policy_changes(assessment, False, None, ml_ready=True)

    assert waiting["allowed_strategies"] == ["mean_reversion"]
    assert ready["allowed_strategies"] == ["mean_reversion", "ml"]
