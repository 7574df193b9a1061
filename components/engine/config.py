"""The settings of the trading engine (``settings.engine``; ``QT_ENGINE__*``, flat
``QT_ENGINE_*``), of its orchestrator (``settings.orchestrator``) and of its shadow
accounts (``settings.shadow``)."""

from __future__ import annotations

from pydantic import Field

from components.config import ComponentConfig


class EngineConfig(ComponentConfig):
    """How the engine trades, and how its flow runs it.

    >>> EngineConfig(timeframe="1m", history_bars=200)
    """

    timeframe: str = Field(
        "5m", pattern=r"^(1m|5m|15m|30m|1h|4h|1d)$", description="Bars the strategies trade."
    )
    history_bars: int = Field(
        300, ge=50, le=10_000, description="Bars read per symbol (>= 10x a strategy's warm-up)."
    )
    allow_short: bool = Field(False, description="Open shorts on -1 signals (else: go flat).")
    manage_positions: bool = Field(True, description="Trail stops, reduce and close losers.")
    incremental: bool = Field(
        True,
        description="Update signals with each cycle's new bars only (False: recompute them "
        "over every bar since the session's first cycle, the reference it equals).",
    )
    interval_s: float = Field(60, gt=0, le=86_400, description="Seconds between cycles.")
    session_minutes: float = Field(
        60, gt=0, le=1_440, description="One engine flow run lasts this long, then returns."
    )
    source: str = Field("trading-engine", min_length=1, max_length=64)


class OrchestratorConfig(ComponentConfig):
    """How :func:`~components.engine.orchestrator.select_signals` settles strategies that
    disagree on one symbol.

    >>> OrchestratorConfig(disagreement_margin=0.1)
    """

    disagreement_margin: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Opposite signals closer than this in confidence cancel each other.",
    )


class ShadowConfig(ComponentConfig):
    """The paper accounts of the shadow strategies (:class:`~components.engine.shadow.ShadowBook`).

    >>> ShadowConfig(capital=10_000)
    """

    capital: float = Field(10_000.0, gt=0, description="Paper capital of a shadow.")
