"""Every knob of Quantum Trader, in one place: each declared once, beside its component.

``Settings`` nests each component's config as a section (``settings.engine``,
``settings.risk``, ...; see :mod:`components.config`). A setting is read from
``QT_<SECTION>__<FIELD>`` (``QT_ENGINE__TIMEFRAME``) or from its flat name, the one it
had before sections (``QT_ENGINE_TIMEFRAME``); top-level settings from ``QT_<FIELD>``
(``QT_REDIS_URL`` -> ``redis_url``). Load them through :func:`load_settings`, which turns a
bad value into one :class:`~components.errors.ConfigurationError` naming the variable,
the value and what is allowed::

    settings = load_settings()              # from the environment
    settings = load_settings(namespace="t") # overrides win over the environment
    settings.engine.timeframe               # "5m"
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from components.access.config import ApiConfig
from components.alerts.config import AlertsConfig
from components.config import ENV_PREFIX, NESTED, Flat, ModuleMode, SettingName, setting_names
from components.engine.config import EngineConfig, OrchestratorConfig, ShadowConfig
from components.errors import ConfigurationError
from components.events.config import BusConfig
from components.evolution.sections import EvolutionConfig, PromotionConfig
from components.execution.config import ExchangeConfig, PaperConfig
from components.learning.config import ClmConfig
from components.market.config import MarketConfig
from components.namespaces import NAMESPACE_RULE, check_namespace
from components.pal.config import PalConfig
from components.policy.config import Guardrails, PolicyDefaults, RiskLimits, RiskMode
from components.portfolio.config import BalancerConfig
from components.ranking.config import RankerConfig, UniverseConfig
from components.regime.config import MSCConfig
from components.risk.config import EssConfig, RiskConfig

__all__ = ["ENV_PREFIX", "ModuleMode", "RiskMode", "Settings", "load_settings"]


def _namespace(value: str) -> str:
    try:
        return check_namespace(value)
    except ConfigurationError:
        raise ValueError(NAMESPACE_RULE) from None


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
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED,
        frozen=True,
        extra="forbid",
        validate_default=True,
        # QT_X="" means unset (a deployment's job variables may pass an empty template)
        env_ignore_empty=True,
    )

    # --- where things live -------------------------------------------------------------
    home: Path = Field(
        Path(".quantum-trader"), description="Data folder: embedded Redis, models, reports."
    )
    redis_url: SecretStr | None = Field(
        None, description="redis:// or rediss:// URL; unset = the embedded server under home."
    )
    namespace: Annotated[str, AfterValidator(_namespace)] = Field(
        "qt",
        description="Prefix of every Redis key: letters, digits, '-' and '_' (no '.' or ':').",
    )
    redis_timeout_s: float = Field(5.0, gt=0, le=120, description="Socket timeout.")
    clock: FixedTime = Field(
        None,
        description="The time every flow and command reads as now: 'system' (unset) for the "
        "wall clock, or a fixed ISO 8601 time with a zone, for tests and reproducible runs.",
    )
    timeframe: str = Field(
        "1h", pattern=r"^(1m|5m|15m|30m|1h|4h|1d)$", description="Bars the pipelines decide on."
    )

    # --- sections: each component's config, declared beside it -------------------------
    policy: Annotated[PolicyDefaults, Flat(prefix="")] = PolicyDefaults()
    guardrails: Annotated[Guardrails, Flat(prefix="")] = Guardrails()
    limits: Annotated[RiskLimits, Flat(prefix="")] = RiskLimits()
    market: MarketConfig = MarketConfig()
    universe: UniverseConfig = UniverseConfig()
    engine: EngineConfig = EngineConfig()
    orchestrator: OrchestratorConfig = OrchestratorConfig()
    paper: PaperConfig = PaperConfig()
    risk: RiskConfig = RiskConfig()
    ess: EssConfig = EssConfig()
    balancer: BalancerConfig = BalancerConfig()
    pal: PalConfig = PalConfig()
    bus: BusConfig = BusConfig()
    msc: MSCConfig = MSCConfig()
    ranker: Annotated[RankerConfig, Flat(prefix="RANK_")] = RankerConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    shadow: ShadowConfig = ShadowConfig()
    clm: ClmConfig = ClmConfig()
    evolution: EvolutionConfig = EvolutionConfig()
    promotion: PromotionConfig = PromotionConfig()
    api: ApiConfig = ApiConfig()
    alerts: AlertsConfig = AlertsConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The nested names first; the flat names of before the sections still work.
        return (init_settings, env_settings, FlatNames(settings_cls), file_secret_settings)

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        caps = self.guardrails
        risks = [("policy.max_risk_per_trade", self.policy.max_risk_per_trade)]
        positions = [("policy.max_positions", self.policy.max_positions)]
        for mode in RiskMode:
            limits = self.limits[mode]
            section = f"limits.{mode.value.lower()}"
            risks.append((f"{section}.max_risk_per_trade", limits.max_risk_per_trade))
            positions.append((f"{section}.max_positions", limits.max_positions))
        checks = [
            (path, value, "guardrails.max_risk_cap", caps.max_risk_cap) for path, value in risks
        ]
        checks += [
            (path, value, "guardrails.max_positions_cap", caps.max_positions_cap)
            for path, value in positions
        ]
        for path, value, cap_path, cap in checks:
            if value > cap:
                raise ValueError(
                    f"{flat_name(path)}={value} exceeds the guardrail {flat_name(cap_path)}={cap}"
                )
        return self

    def redacted_redis_url(self) -> str:
        """The Redis URL with any password replaced by ``***``, safe for logs."""
        if self.redis_url is None:
            return f"embedded ({self.home})"
        return redact_url(self.redis_url.get_secret_value())


_SECRET_QUERY = re.compile(
    r"(?i)([?&;](?:password|passwd|pass|pwd|secret|token|auth|api_?key|access_?key|"
    r"private_?key|credentials?)=)[^&;#]*"
)


def env_name(field: str) -> str:
    """``max_risk_cap`` -> ``QT_MAX_RISK_CAP``."""
    return f"{ENV_PREFIX}{field.upper()}"


def redact_url(url: str) -> str:
    """``url`` with every credential in it replaced by ``***``: the password of
    ``user:password@`` (a lone ``secret@`` entirely), and the value of any query parameter
    that names one (``?password=``, ``token``, ``secret``, ...), whatever the scheme
    (``redis://``, ``rediss://``, ``unix://``, ``postgresql+asyncpg://``).

    >>> redact_url("rediss://app:hunter2@db:6380/0?ssl_cert_reqs=none")
    'rediss://app:***@db:6380/0?ssl_cert_reqs=none'
    >>> redact_url("redis://db:6379/0?password=hunter2")
    'redis://db:6379/0?password=***'
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_QUERY.sub(r"\1***", url)
    if "@" in rest:  # the last '@' ends the credentials; a password may hold '@', '/', '?'
        credentials, _, rest = rest.rpartition("@")
        user, colon, _ = credentials.partition(":")
        rest = (f"{user}:***@" if colon and "/" not in user else "***@") + rest
    return f"{scheme}://" + _SECRET_QUERY.sub(r"\1***", rest)


def load_settings(**overrides: Any) -> Settings:
    """Read :class:`Settings` from the environment, with ``overrides`` taking precedence;
    an override is a field (``namespace="t"``, ``engine={"timeframe": "1h"}``) or a
    setting's flat name (``engine_timeframe="1h"``).

    Raises
    ------
    ConfigurationError
        One line per bad value, naming the variable, the value and the allowed range.
    """
    try:
        return Settings(**_nest(overrides))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from None


def _nest(overrides: dict[str, Any]) -> dict[str, Any]:
    """Overrides by flat name (``engine_timeframe="1h"``, as the variables' flat names)
    put in their sections (``{"engine": {"timeframe": "1h"}}``); others as given."""
    by_flat = {name.flat: name.path for name in setting_name_table().values()}
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        path = by_flat.get(env_name(key)) if key not in Settings.model_fields else None
        if path is None:
            path = (key,)
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return nested


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors():
        path = tuple(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        if not path:  # a whole-model check already names its variables
            lines.append(message)
            continue
        value = error.get("input")
        if isinstance(value, SecretStr) or any("url" in part for part in path):
            value = "***"
        name = _setting_name(path)
        if name is None:  # a section's own check: it names its fields
            lines.append(f"{ENV_PREFIX}{path[0].upper()}{NESTED}*: {message}")
            continue
        lines.append(f"{name}={value!r} is invalid: {message}")
    return "; ".join(lines)


@cache
def setting_name_table() -> dict[tuple[str, ...], SettingName]:
    """Every setting of :class:`Settings` by its path, with its nested and flat names."""
    return {name.path: name for name in setting_names(Settings)}


def flat_name(path: str) -> str:
    """The flat variable of a setting, e.g. ``flat_name("engine.timeframe")`` is
    ``QT_ENGINE_TIMEFRAME`` and ``flat_name("policy.max_positions")`` ``QT_MAX_POSITIONS``."""
    return setting_name_table()[tuple(path.split("."))].flat


def _setting_name(path: tuple[str, ...]) -> str | None:
    """The variable a bad value came from: the nested name, or the flat one if that is what
    the environment has; None for a path that is a section, not a setting."""
    table = setting_name_table()
    for end in range(len(path), 0, -1):  # unions add their own steps to the path
        name = table.get(path[:end])
        if name is not None:
            if name.nested not in os.environ and name.flat in os.environ:
                return name.flat
            return name.nested if len(name.path) > 1 else name.flat
    return None if path[0] in Settings.model_fields else env_name(path[0])


class FlatNames(PydanticBaseSettingsSource):
    """The flat variables of the nested settings (``QT_ENGINE_TIMEFRAME`` for
    ``engine.timeframe``): the names settings had before sections, kept working."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is read in __call__

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in setting_names(self.settings_cls):
            value = os.environ.get(name.flat)
            if len(name.path) < 2 or value is None:
                continue
            node = data
            for part in name.path[:-1]:
                node = node.setdefault(part, {})
            node[name.path[-1]] = value
        return data
