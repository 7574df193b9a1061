from __future__ import annotations

import pytest

from components.errors import ConfigurationError
from components.settings import ModuleMode, RiskMode, load_settings, redact_url


def test_defaults_are_the_original_design_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("QT_"):
            monkeypatch.delenv(name)
    settings = load_settings()
    assert settings.policy.risk_mode is RiskMode.NORMAL
    assert (settings.policy.max_risk_per_trade, settings.policy.max_positions) == (0.01, 5)
    assert settings.policy.confidence_threshold == 0.70
    assert (settings.msc.high_volatility, settings.msc.low_volatility) == (0.05, 0.015)
    assert settings.msc.strong_trend == 0.7
    weights = (
        settings.ranker.weight_trend,
        settings.ranker.weight_volatility,
        settings.ranker.weight_liquidity,
        settings.ranker.weight_performance,
    )
    assert weights == (0.35, 0.25, 0.20, 0.20)
    assert settings.ranker.min_quote_volume == 1e9
    assert (settings.guardrails.max_risk_cap, settings.guardrails.max_positions_cap) == (0.05, 50)
    assert settings.msc.mode is ModuleMode.ENFORCED
    assert settings.namespace == "qt"


def test_environment_variables_use_the_qt_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "7")
    monkeypatch.setenv("QT_NAMESPACE", "staging")
    settings = load_settings()
    assert settings.policy.max_positions == 7
    assert settings.namespace == "staging"


def test_bad_value_names_the_variable_the_value_and_the_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QT_MAX_RISK_PER_TRADE", "2")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    message = str(caught.value)
    assert "QT_MAX_RISK_PER_TRADE" in message
    assert "'2'" in message
    assert "less than or equal to 1" in message


def test_default_above_its_guardrail_fails_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_MAX_POSITIONS", "80")
    with pytest.raises(ConfigurationError, match="QT_MAX_POSITIONS=80 exceeds the guardrail"):
        load_settings()


def test_ranking_weights_must_sum_to_one() -> None:
    with pytest.raises(ConfigurationError, match="must sum to 1"):
        load_settings(rank_weight_trend=0.5)


def test_unknown_mode_is_rejected_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_MSC_MODE", "SOMETIMES")
    with pytest.raises(ConfigurationError, match="QT_MSC_MODE='SOMETIMES' is invalid"):
        load_settings()
    monkeypatch.delenv("QT_MSC_MODE")
    with pytest.raises(ConfigurationError, match="QT_MSC__MODE='SOMETIMES' is invalid"):
        load_settings(msc_mode="SOMETIMES")  # not from a variable: the nested name


def test_password_never_appears_in_errors_or_redacted_url() -> None:
    settings = load_settings(redis_url="redis://user:hunter2@db.example:6380/1")
    assert "hunter2" not in settings.redacted_redis_url()
    assert "hunter2" not in repr(settings)
    assert redact_url("rediss://:s3cret@h:1/0") == "rediss://:***@h:1/0"
    assert redact_url("redis://h:1/0") == "redis://h:1/0"
    with pytest.raises(ConfigurationError) as caught:
        load_settings(redis_url="redis://u:hunter2@h/0", namespace="bad namespace!")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:hunter2@db:6380/1", "redis://user:***@db:6380/1"),
        (
            "rediss://:hunter2@db:6380/0?ssl_cert_reqs=none",
            "rediss://:***@db:6380/0?ssl_cert_reqs=none",
        ),
        ("redis://db:6379/0?password=hunter2", "redis://db:6379/0?password=***"),
        (
            "redis://db/0?db=1&username=u&Password=hunter2&x=1",
            "redis://db/0?db=1&username=u&Password=***&x=1",
        ),
        ("rediss://db/0?ssl=true;token=hunter2", "rediss://db/0?ssl=true;token=***"),
        ("redis://hunter2@db:6379", "redis://***@db:6379"),  # a lone userinfo may be a password
        ("redis://u:hun@ter/2?x@db:6379/0", "redis://u:***@db:6379/0"),  # unescaped @, /, ?
        ("unix://u:hunter2@/run/redis.sock?db=0", "unix://u:***@/run/redis.sock?db=0"),
        ("unix:///run/redis.sock?password=hunter2", "unix:///run/redis.sock?password=***"),
        ("redis://db:6379/0", "redis://db:6379/0"),
    ],
)
def test_every_form_of_a_redis_password_is_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert load_settings(redis_url=url).redacted_redis_url() == shown


def test_a_nested_variable_sets_its_section_and_the_flat_name_still_works(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QT_ENGINE__TIMEFRAME", "15m")
    monkeypatch.setenv("QT_RISK_MAX_SYMBOL_EXPOSURE", "0.5")  # flat, as before sections
    monkeypatch.setenv("QT_PAPER_FEE_BPS", "7")
    monkeypatch.setenv("QT_ESS_COOLDOWN_S", "600")
    monkeypatch.setenv("QT_DEFENSIVE_MAX_POSITIONS", "2")

    settings = load_settings()

    assert settings.engine.timeframe == "15m"
    assert settings.risk.max_symbol_exposure == 0.5
    assert settings.paper.costs.fee_bps == 7
    assert settings.ess.cooldown.total_seconds() == 600
    assert settings.limits.defensive.max_positions == 2


def test_when_both_spellings_are_set_the_nested_one_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_ENGINE_TIMEFRAME", "1h")
    monkeypatch.setenv("QT_ENGINE__TIMEFRAME", "15m")

    assert load_settings().engine.timeframe == "15m"


@pytest.mark.parametrize(
    "variable", ["QT_ESS__DRAWDOWN_HALT", "QT_ESS_DRAWDOWN_HALT", "QT_POLICY__MAX_RISK_PER_TRADE"]
)
def test_a_bad_value_in_either_spelling_is_one_line_naming_that_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.setenv(variable, "2")

    with pytest.raises(ConfigurationError) as caught:
        load_settings()

    message = str(caught.value)
    assert message.startswith(f"{variable}='2' is invalid") and "less than or equal to 1" in message
    assert "\n" not in message


def test_the_defensive_limits_are_declared_once_and_read_everywhere() -> None:
    settings = load_settings(limits={"defensive": {"max_positions": 1, "max_risk_per_trade": 0.001,
                                                   "global_min_confidence": 0.9}})  # fmt: skip

    assert settings.limits[RiskMode.DEFENSIVE].max_positions == 1
    assert settings.limits.defensive.policy_changes() == {
        "max_risk_per_trade": 0.001,
        "max_positions": 1,
        "global_min_confidence": 0.9,
    }


@pytest.mark.parametrize(
    ("flat", "nested", "value", "path"),
    [
        ("QT_CLM_THRESHOLD", "QT_CLM__THRESHOLD", "0.7", ("clm", "threshold")),
        ("QT_CLM_MODE", "QT_CLM__MODE", "OBSERVE", ("clm", "mode")),
        ("QT_EVOLUTION_POPULATION", "QT_EVOLUTION__POPULATION", "16", ("evolution", "population")),
        ("QT_GENERATOR_MODE", "QT_EVOLUTION__MODE", "OFF", ("evolution", "mode")),
        ("QT_DASK_ADDRESS", "QT_EVOLUTION__DASK_ADDRESS", "tcp://h:8786",
         ("evolution", "dask_address")),
        ("QT_PROMOTION_MIN_TRADES", "QT_PROMOTION__MIN_TRADES", "3", ("promotion", "min_trades")),
        ("QT_SHADOW_CAPITAL", "QT_SHADOW__CAPITAL", "500.0", ("shadow", "capital")),
        ("QT_API_PORT", "QT_API__PORT", "8050", ("api", "port")),
        ("QT_DATA_GAPS", "QT_MARKET__DATA_GAPS", "ffill", ("market", "data_gaps")),
        ("QT_EXECUTION", "QT_EXCHANGE__EXECUTION", "exchange", ("exchange", "execution")),
    ],
)  # fmt: skip
def test_every_section_answers_to_its_nested_name_and_its_old_flat_name(
    monkeypatch: pytest.MonkeyPatch, flat: str, nested: str, value: str, path: tuple[str, str]
) -> None:
    for variable in (flat, nested):
        monkeypatch.delenv(flat, raising=False)
        monkeypatch.delenv(nested, raising=False)
        monkeypatch.setenv(variable, value)

        section = getattr(load_settings(), path[0])

        assert str(getattr(section, path[1])) == value


def test_the_alert_urls_are_a_secret_under_either_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_ALERT_URLS", "json://user:hunter2@127.0.0.1:9000")

    settings = load_settings()

    assert settings.alerts.urls is not None
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings.model_dump())
