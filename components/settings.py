"""Every knob of Quantum Trader, in one place.

Each field is read from the environment variable ``QT_<FIELD>`` (``QT_REDIS_URL`` ->
``redis_url``). Load them through :func:`load_settings`, which turns a bad value into one
:class:`~components.errors.ConfigurationError` naming the variable, the value and what is
allowed::

    settings = load_settings()              # from the environment
    settings = load_settings(namespace="t") # overrides win over the environment
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from components.errors import ConfigurationError

ENV_PREFIX = "QT_"


class RiskMode(StrEnum):
    AGGRESSIVE = "AGGRESSIVE"
    NORMAL = "NORMAL"
    DEFENSIVE = "DEFENSIVE"


class ModuleMode(StrEnum):
    """How much a decision-making module may steer: OFF, OBSERVE (decide, publish, leave
    the policy alone) or ENFORCED (write the policy)."""

    OFF = "OFF"
    OBSERVE = "OBSERVE"
    ENFORCED = "ENFORCED"


def _fixed_time(value: Any) -> Any:
    """``QT_CLOCK``: ``system`` (or empty) means the wall clock; otherwise a tz-aware time."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "system")):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                "expected 'system' or an ISO 8601 time with a zone, e.g. 2026-03-01T00:00:00Z"
            ) from None
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the time has no zone; add one, e.g. 2026-03-01T00:00:00Z")
        return value.astimezone(UTC)
    return value


FixedTime = Annotated[datetime | None, BeforeValidator(_fixed_time)]


class Settings(BaseSettings):
    """Quantum Trader settings; see the module docstring for how they are read."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", validate_default=True
    )

    # --- where things live -------------------------------------------------------------
    home: Path = Field(
        Path(".quantum-trader"), description="Data folder: embedded Redis, models, reports."
    )
    redis_url: SecretStr | None = Field(
        None, description="redis:// or rediss:// URL; unset = the embedded server under home."
    )
    namespace: str = Field(
        "qt", pattern=r"^[A-Za-z0-9_.-]{1,64}$", description="Prefix of every Redis key."
    )
    redis_timeout_s: float = Field(5.0, gt=0, le=120, description="Socket timeout.")
    clock: FixedTime = Field(
        None,
        description="The time every flow and command reads as now: 'system' (unset) for the "
        "wall clock, or a fixed ISO 8601 time with a zone, for tests and reproducible runs.",
    )

    # --- global policy defaults (what the PolicyStore holds before its first write) -----
    risk_mode: RiskMode = RiskMode.NORMAL
    max_risk_per_trade: float = Field(0.01, gt=0, le=1)
    max_positions: int = Field(5, ge=0, le=1000)
    confidence_threshold: float = Field(
        0.70, ge=0, le=1, description="Default global_min_confidence."
    )

    # --- guardrails: hard caps no component (human or AI) can write past ----------------
    max_risk_cap: float = Field(0.05, gt=0, le=1)
    max_positions_cap: int = Field(50, ge=0, le=1000)
    min_confidence_floor: float = Field(0.5, ge=0, le=1)

    # --- limits that go with each risk mode (Meta Strategy Controller) ------------------
    aggressive_max_risk_per_trade: float = Field(0.02, gt=0, le=1)
    aggressive_max_positions: int = Field(10, ge=0, le=1000)
    aggressive_min_confidence: float = Field(0.65, ge=0, le=1)
    normal_max_risk_per_trade: float = Field(0.01, gt=0, le=1)
    normal_max_positions: int = Field(5, ge=0, le=1000)
    normal_min_confidence: float = Field(0.70, ge=0, le=1)
    defensive_max_risk_per_trade: float = Field(0.005, gt=0, le=1)
    defensive_max_positions: int = Field(3, ge=0, le=1000)
    defensive_min_confidence: float = Field(0.75, ge=0, le=1)

    # --- Meta Strategy Controller thresholds ---------------------------------------------
    msc_high_volatility: float = Field(0.05, gt=0, le=10)
    msc_low_volatility: float = Field(0.015, gt=0, le=10)
    msc_strong_trend: float = Field(0.7, gt=0, le=1)

    # --- Opportunity Ranker --------------------------------------------------------------
    rank_weight_trend: float = Field(0.35, ge=0, le=1)
    rank_weight_volatility: float = Field(0.25, ge=0, le=1)
    rank_weight_liquidity: float = Field(0.20, ge=0, le=1)
    rank_weight_performance: float = Field(0.20, ge=0, le=1)
    rank_min_volume: float = Field(1e9, ge=0, description="Minimum 24h quote volume.")

    # --- Universe ----------------------------------------------------------------------------
    # The best few of a 24-symbol market score 0.45-0.8 (quiet to trending): a newcomer
    # needs a better-than-middling score, an incumbent keeps its place a little below it.
    universe_min_score: float = Field(0.45, ge=0, le=1, description="Score a newcomer needs.")
    universe_exit_score: float = Field(0.35, ge=0, le=1, description="Score an incumbent keeps.")
    universe_max_size: int = Field(10, ge=0, le=10_000)

    # --- Meta Strategy Controller hysteresis and emergency ------------------------------------
    msc_relax_after: int = Field(
        2, ge=1, le=100, description="Evaluations in a row before a less defensive mode."
    )
    msc_emergency_clear_minutes: float = Field(
        30, ge=0, le=10_080, description="HEALTHY this long before an emergency clears."
    )

    # --- market data ---------------------------------------------------------------------------
    market_source: Literal["synthetic", "files", "ccxt"] = "synthetic"
    market_seed: int = Field(7, ge=0, description="Seed of the synthetic market.")
    market_symbols: str | None = Field(
        None, description="Comma-separated symbols to trade; default: the source's own list."
    )
    market_history_days: int = Field(730, ge=0, le=36_500, description="Synthetic history.")
    market_folder: Path | None = Field(None, description="Folder of OHLCV files (files).")
    market_spread_bps: float = Field(5.0, ge=0, le=10_000, description="Spread of file tickers.")
    market_exchange: str | None = Field(None, pattern=r"^[a-z0-9_]+$", description="ccxt id.")
    timeframe: str = Field(
        "1h", pattern=r"^(1m|5m|15m|30m|1h|4h|1d)$", description="Bars the pipelines decide on."
    )

    # --- trading engine ------------------------------------------------------------------------
    engine_timeframe: str = Field(
        "5m", pattern=r"^(1m|5m|15m|30m|1h|4h|1d)$", description="Bars the strategies trade."
    )
    engine_history_bars: int = Field(300, ge=50, le=10_000, description="Bars per symbol.")
    engine_allow_short: bool = Field(False, description="Open shorts (else -1 means flat).")
    engine_interval_s: float = Field(60, gt=0, le=86_400, description="Seconds between cycles.")
    engine_session_minutes: float = Field(
        60, gt=0, le=1_440, description="One engine flow run lasts this long, then returns."
    )

    # --- paper broker (components/execution) --------------------------------------------------
    paper_initial_cash: float = Field(10_000.0, gt=0, le=1e12, description="Quote currency.")
    paper_fee_bps: float = Field(10.0, ge=0, le=1_000)
    paper_slippage_bps: float = Field(2.0, ge=0, le=1_000)
    paper_spread_bps: float | None = Field(
        None, ge=0, le=1_000, description="Fixed full spread; unset = the observed one."
    )
    paper_default_spread_bps: float = Field(2.0, ge=0, le=1_000)
    paper_stop_loss_atr: float = Field(2.0, gt=0, le=50, description="Default stop, in ATRs.")
    paper_take_profit_atr: float = Field(3.0, gt=0, le=100, description="Default target, ATRs.")

    # --- RiskGuard: exposures are multiples of equity ------------------------------------------
    risk_max_gross_exposure: float = Field(1.0, gt=0, le=10)
    risk_max_net_exposure: float = Field(1.0, gt=0, le=10)
    risk_max_symbol_exposure: float = Field(0.25, gt=0, le=10)
    risk_min_notional: float = Field(10.0, ge=0, le=1e9, description="Smallest order placed.")

    # --- Emergency Stop System ---------------------------------------------------------------
    ess_drawdown_halt: float = Field(0.10, gt=0, le=1, description="Drawdown from peak: HALTED.")
    ess_drawdown_reduce: float = Field(0.05, gt=0, le=1, description="Drawdown: REDUCING.")
    ess_daily_loss_reduce: float = Field(0.03, gt=0, le=1, description="Day's loss: REDUCING.")
    ess_max_consecutive_losses: int = Field(5, ge=1, le=1_000)
    ess_bar_length_s: float = Field(3600, gt=0, le=86_400 * 7, description="For stale data.")
    ess_stale_data_bars: int = Field(3, ge=1, le=1_000, description="Bars old: data is stale.")
    ess_cooldown_s: float = Field(1800, ge=0, le=86_400 * 7, description="Soft-trip recovery.")
    ess_flatten_on_halt: bool = Field(False, description="HALTED also closes every position.")

    # --- Portfolio Balancer and orchestrator ---------------------------------------------------
    balancer_aggressive_gross: float = Field(1.0, ge=0, le=10)
    balancer_normal_gross: float = Field(0.7, ge=0, le=10)
    balancer_defensive_gross: float = Field(0.3, ge=0, le=10)
    balancer_max_weight: float = Field(0.25, gt=0, le=1)
    balancer_drift_tolerance: float = Field(0.02, ge=0, le=1)
    balancer_min_order_notional: float = Field(10.0, ge=0, le=1e9)
    orchestrator_disagreement_margin: float = Field(0.05, ge=0, le=1)

    # --- Continuous Learning Manager -------------------------------------------------------------
    clm_model_name: str = Field("price_direction", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    clm_horizon: int = Field(4, ge=1, le=1_000, description="Bars to the labelled close.")
    clm_dead_zone: float = Field(0.001, ge=0, le=0.5, description="|return| left unlabelled.")
    clm_train_bars: int = Field(2_160, ge=100, le=1_000_000, description="Training window.")
    clm_eval_bars: int = Field(336, ge=20, le=1_000_000, description="Shadow evaluation window.")
    clm_threshold: float = Field(0.55, ge=0.5, le=0.99, description="Probability to act on.")
    clm_min_log_loss_gain: float = Field(0.001, ge=0, le=1)
    clm_min_auc_gain: float = Field(0.005, ge=0, le=0.5)
    clm_min_trading_gain: float = Field(0.25, ge=0, le=100, description="Sharpe units.")
    clm_history_bars: int = Field(3_000, ge=500, le=100_000, description="Bars fetched.")
    clm_seed: int = Field(7, ge=0)

    # --- Strategy Generator and promotion ------------------------------------------------------
    evolution_population: int = Field(64, ge=4, le=10_000)
    evolution_generations: int = Field(20, ge=1, le=10_000)
    evolution_seed: int = Field(0, ge=0)
    evolution_history_bars: int = Field(
        8_760, ge=500, le=1_000_000, description="Bars per symbol searched (engine timeframe)."
    )
    evolution_symbols: int = Field(10, ge=1, le=1_000, description="Symbols searched.")
    evolution_workers: int = Field(2, ge=1, le=256, description="Processes evaluating.")
    promotion_min_trades: int | None = Field(None, ge=0, description="Shadow trades to judge.")
    promotion_promote_sharpe: float | None = Field(None, ge=-100, le=100)
    promotion_retire_sharpe: float | None = Field(None, ge=-100, le=100)
    promotion_max_new_shadow: int | None = Field(None, ge=0, le=100)
    shadow_capital: float = Field(10_000.0, gt=0, description="Paper capital of a shadow.")

    # --- module modes ----------------------------------------------------------------------
    msc_mode: ModuleMode = ModuleMode.ENFORCED
    ranker_mode: ModuleMode = ModuleMode.ENFORCED
    universe_mode: ModuleMode = ModuleMode.ENFORCED
    clm_mode: ModuleMode = ModuleMode.ENFORCED
    generator_mode: ModuleMode = ModuleMode.ENFORCED
    balancer_mode: ModuleMode = ModuleMode.ENFORCED

    # --- PolicyStore -------------------------------------------------------------------------
    policy_history_limit: int = Field(
        10_000, ge=10, le=1_000_000, description="History entries (and rollback points) kept."
    )

    # --- EventBus ----------------------------------------------------------------------------
    stream_maxlen: int = Field(
        100_000, ge=100, le=100_000_000, description="Approximate entries kept per stream."
    )
    bus_max_retries: int = Field(
        3, ge=0, le=100, description="Retries after a handler's first failure, then dead-letter."
    )
    bus_retry_backoff_ms: int = Field(100, ge=0, le=600_000)
    bus_claim_idle_ms: int = Field(
        30_000, ge=100, le=86_400_000, description="Reclaim a consumer's entry idle this long."
    )
    bus_block_ms: int = Field(200, ge=1, le=60_000, description="Longest wait for new events.")
    bus_batch_size: int = Field(256, ge=1, le=10_000)

    # --- operator surface: the HTTP API and alerts (issue 11) ----------------------------
    api_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Where `quantum-trader api` listens; beyond loopback only with a token.",
    )
    api_port: int = Field(8000, ge=1, le=65_535, description="Port of the HTTP API.")
    alert_urls: SecretStr | None = Field(
        None,
        description="Apprise URLs (mailto://, slack://, tgram://, json://, ...) separated by "
        "spaces or commas; each alert goes to every one. Secret: never logged.",
    )

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        weights = {
            "rank_weight_trend": self.rank_weight_trend,
            "rank_weight_volatility": self.rank_weight_volatility,
            "rank_weight_liquidity": self.rank_weight_liquidity,
            "rank_weight_performance": self.rank_weight_performance,
        }
        total = sum(weights.values())
        if not math.isclose(total, 1.0, abs_tol=1e-9):
            names = " + ".join(env_name(n) for n in weights)
            raise ValueError(f"{names} = {total:g}; the ranking weights must sum to 1")
        caps = [
            ("max_risk_per_trade", self.max_risk_per_trade, "max_risk_cap", self.max_risk_cap),
            ("max_positions", self.max_positions, "max_positions_cap", self.max_positions_cap),
        ]
        for mode in RiskMode:
            prefix = mode.value.lower()
            caps.append(
                (
                    f"{prefix}_max_risk_per_trade",
                    getattr(self, f"{prefix}_max_risk_per_trade"),
                    "max_risk_cap",
                    self.max_risk_cap,
                )
            )
            caps.append(
                (
                    f"{prefix}_max_positions",
                    getattr(self, f"{prefix}_max_positions"),
                    "max_positions_cap",
                    self.max_positions_cap,
                )
            )
        for name, value, cap_name, cap in caps:
            if value > cap:
                raise ValueError(
                    f"{env_name(name)}={value} exceeds the guardrail {env_name(cap_name)}={cap}"
                )
        if self.universe_exit_score > self.universe_min_score:
            raise ValueError(
                f"{env_name('universe_exit_score')}={self.universe_exit_score} must not be above "
                f"{env_name('universe_min_score')}={self.universe_min_score}"
            )
        if self.msc_low_volatility >= self.msc_high_volatility:
            raise ValueError(
                f"{env_name('msc_low_volatility')}={self.msc_low_volatility} must be below "
                f"{env_name('msc_high_volatility')}={self.msc_high_volatility}"
            )
        return self

    def redacted_redis_url(self) -> str:
        """The Redis URL with any password replaced by ``***``, safe for logs."""
        if self.redis_url is None:
            return f"embedded ({self.home})"
        return redact_url(self.redis_url.get_secret_value())


def env_name(field: str) -> str:
    """``max_risk_cap`` -> ``QT_MAX_RISK_CAP``."""
    return f"{ENV_PREFIX}{field.upper()}"


def redact_url(url: str) -> str:
    """Hide the password in ``scheme://user:password@host``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ':'}***@{host}"


def load_settings(**overrides: Any) -> Settings:
    """Read :class:`Settings` from the environment, with ``overrides`` taking precedence.

    Raises
    ------
    ConfigurationError
        One line per bad value, naming the variable, the value and the allowed range.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not location:  # a whole-model check already names its variables
            lines.append(message)
            continue
        value = error.get("input")
        if isinstance(value, SecretStr) or "url" in location:
            value = "***"
        lines.append(f"{env_name(location)}={value!r} is invalid: {message}")
    return "; ".join(lines)
