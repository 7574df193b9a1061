from __future__ import annotations

import pytest

from components.errors import PolicyValidationError
from components.policy import GlobalPolicy, Guardrails
from components.policy.model import validate_policy
from components.settings import RiskMode, load_settings


def test_defaults_come_from_settings() -> None:
    policy = GlobalPolicy.defaults(
        load_settings(max_positions=3, confidence_threshold=0.8, risk_mode="DEFENSIVE").policy
    )
    assert policy.max_positions == 3
    assert policy.global_min_confidence == 0.8
    assert policy.risk_mode is RiskMode.DEFENSIVE
    assert policy.version == 0


def test_invalid_value_names_the_field() -> None:
    with pytest.raises(PolicyValidationError) as caught:
        validate_policy({"global_min_confidence": 1.5})
    assert caught.value.field == "global_min_confidence"
    assert "1.5" in str(caught.value)


def test_unknown_field_names_it_and_lists_the_known_ones() -> None:
    with pytest.raises(PolicyValidationError, match="max_positions") as caught:
        validate_policy({"max_postions": 3})
    assert caught.value.field == "max_postions"


def test_nested_invalid_value_names_the_dotted_path() -> None:
    with pytest.raises(PolicyValidationError) as caught:
        validate_policy({"strategy_states": {"momentum": "promoted"}})
    assert caught.value.field == "strategy_states.momentum"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"max_risk_per_trade": 0.06}, "max_risk_per_trade"),
        ({"max_positions": 51}, "max_positions"),
        ({"global_min_confidence": 0.4}, "global_min_confidence"),
    ],
)
def test_guardrails_name_the_field_and_the_cap(changes: dict[str, float], field: str) -> None:
    with pytest.raises(PolicyValidationError) as caught:
        Guardrails().check(GlobalPolicy(**changes))  # type: ignore[arg-type]
    assert caught.value.field == field
    assert "guardrail QT_" in str(caught.value)


def test_trading_allowed_is_false_under_stop_or_emergency() -> None:
    assert GlobalPolicy().trading_allowed()
    assert not GlobalPolicy(stop_all_trading=True).trading_allowed()
    assert not GlobalPolicy.model_validate({"emergency": {"active": True}}).trading_allowed()


def test_blocked_wins_over_allowed() -> None:
    policy = GlobalPolicy(allowed_strategies=["momentum"], blocked_strategies=["momentum"])
    assert not policy.strategy_allowed("momentum")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"opp_rankings": {"BTC/USDT": float("nan")}}, "opp_rankings.BTC/USDT"),
        ({"opp_rankings": {"BTC/USDT": float("-inf")}}, "opp_rankings.BTC/USDT"),
        ({"opp_rankings": {"BTC/USDT": 1e308}}, "opp_rankings.BTC/USDT"),
        ({"opp_rankings": {"BTC/USDT": -0.1}}, "opp_rankings.BTC/USDT"),
        ({"max_risk_per_trade": float("inf")}, "max_risk_per_trade"),
        ({"global_min_confidence": float("nan")}, "global_min_confidence"),
        ({"max_positions": 10**9}, "max_positions"),
        ({"stop_all_trading": "yes"}, "stop_all_trading"),
        ({"stop_all_trading": 1}, "stop_all_trading"),
        ({"emergency": {"active": "true"}}, "emergency.active"),
        ({"max_positions": "7"}, "max_positions"),
        ({"max_positions": 7.0}, "max_positions"),
        ({"max_positions": True}, "max_positions"),
        ({"max_risk_per_trade": "0.01"}, "max_risk_per_trade"),
        ({"allowed_strategies": "momentum"}, "allowed_strategies"),
        ({"model_versions": {"direction": 3}}, "model_versions.direction"),
    ],
)
def test_a_value_out_of_range_not_finite_or_of_another_type_is_refused(
    data: dict[str, object], field: str
) -> None:
    with pytest.raises(PolicyValidationError) as caught:
        validate_policy(data)
    assert caught.value.field == field


def test_numbers_of_the_right_kind_are_accepted_as_they_are() -> None:
    policy = validate_policy(
        {"max_positions": 7, "global_min_confidence": 1, "opp_rankings": {"BTC/USDT": 0.5}}
    )
    assert (policy.max_positions, policy.global_min_confidence) == (7, 1.0)


def test_the_ml_strategy_name_is_the_learning_strategy_s() -> None:
    from components.learning.strategy import MLStrategy
    from components.policy.model import ML_STRATEGY

    assert MLStrategy.name == ML_STRATEGY
