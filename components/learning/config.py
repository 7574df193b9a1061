"""The settings of the Continuous Learning Manager (``settings.clm``; ``QT_CLM__*``, flat
``QT_CLM_*``). :meth:`~components.learning.learning_manager.LearningConfig.from_settings`
turns them, with the paper costs and the timeframe, into the retraining's config."""

from __future__ import annotations

from pydantic import Field

from components.config import ComponentConfig, ModuleMode


class ClmConfig(ComponentConfig):
    """What the scheduled retraining trains, on how much, and what a new model must beat.

    >>> ClmConfig(horizon=4, threshold=0.6)
    """

    mode: ModuleMode = Field(ModuleMode.ENFORCED, description="OFF, OBSERVE or ENFORCED.")
    model_name: str = Field("price_direction", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    horizon: int = Field(4, ge=1, le=1_000, description="Bars to the forward close.")
    dead_zone: float = Field(
        0.001, ge=0, le=0.5, description="|forward return| below this is no label (NaN)."
    )
    train_bars: int = Field(2_160, ge=100, le=1_000_000, description="Training window.")
    eval_bars: int = Field(336, ge=20, le=1_000_000, description="Evaluation window (bars).")
    threshold: float = Field(
        0.55, ge=0.5, le=0.99, description="Probability to act on, as the ml strategy."
    )
    min_log_loss_gain: float = Field(0.001, ge=0, le=1)
    min_auc_gain: float = Field(0.005, ge=0, le=0.5)
    min_trading_gain: float = Field(
        0.25, ge=0, le=100, description="In units of trading_metric (Sharpe, or a return)."
    )
    history_bars: int = Field(3_000, ge=500, le=100_000, description="Bars fetched.")
    seed: int = Field(7, ge=0)
