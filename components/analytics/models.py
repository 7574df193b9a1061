"""The records and results of analytics: frozen pydantic models.

Money is in the quote currency (USDT). A *fill* is one ``trade.executed`` event; a
*trade* (what win rate counts) is a fill that closed or reduced a position. Every PnL is
net of fees, as the ledger records it: each fill's ``realized_pnl`` already has that
fill's own fee taken off (an opening fill realises ``-fee``), so a sum of ``realized_pnl``
over fills is the PnL after every entry and exit fee. See ``components.analytics``.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from components.recomputed import Recomputed


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TradeRecord(_Result):
    """One fill as analytics keeps it (from a ``trade.executed`` event).

    ``closing`` is True when the fill realised a price gain or loss, i.e. it closed or
    reduced a position: ``realized_pnl + fee != 0``. ``model`` and ``model_version`` say
    which prediction model the fill is attributed to, if any.

    Example: ``TradeRecord(event_id="e1", client_order_id="o1", symbol="BTC/USDT",
    side="sell", quantity=0.1, price=51_000.0, fee=5.1, realized_pnl=94.9,
    filled_at=at, closing=True)``.
    """

    event_id: str
    client_order_id: str
    symbol: str
    side: str
    quantity: float
    price: float
    fee: float
    realized_pnl: float
    strategy: str | None = None
    model: str | None = None
    model_version: str | None = None
    filled_at: AwareDatetime
    closing: bool


class TradeMetrics(_Result, Recomputed):
    """What a group of fills (a strategy, a model version, everything) earned.

    Attributes
    ----------
    fills
        Every fill, opening ones included.
    trades, wins, losses
        Closing or reducing fills; a win realised ``realized_pnl > 0`` (net of its own
        fee), a loss ``< 0``; an exactly zero result is neither.
    pnl
        Net realised PnL: the sum of ``realized_pnl`` over every fill (after all fees).
    fees
        Fees paid; ``gross_pnl = pnl + fees``.
    volume
        Traded notional, ``sum(quantity * price)``.
    win_pnl, loss_pnl
        Sums of ``realized_pnl`` over winning and over losing trades.
    max_drawdown
        Deepest fall of cumulative net PnL below its running peak (the peak starts at 0),
        in quote currency, in the order the fills were processed.
    sharpe
        Annualised, from the daily PnL series (``components.analytics.metrics``); None
        with fewer than two days or no variation.
    """

    fills: int = Field(0, ge=0)
    trades: int = Field(0, ge=0)
    wins: int = Field(0, ge=0)
    losses: int = Field(0, ge=0)
    pnl: float = 0.0
    fees: float = Field(0.0, ge=0)
    volume: float = Field(0.0, ge=0)
    win_pnl: float = Field(0.0, ge=0)
    loss_pnl: float = Field(0.0, le=0)
    max_drawdown: float = Field(0.0, ge=0)
    sharpe: float | None = None
    first_fill_at: datetime | None = None
    last_fill_at: datetime | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def win_rate(self) -> float | None:
        """``wins / trades``; None before the first trade."""
        return self.wins / self.trades if self.trades else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gross_pnl(self) -> float:
        """PnL before fees."""
        return self.pnl + self.fees

    @computed_field  # type: ignore[prop-decorator]
    @property
    def avg_win(self) -> float | None:
        return self.win_pnl / self.wins if self.wins else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def avg_loss(self) -> float | None:
        """Average losing trade, a negative number."""
        return self.loss_pnl / self.losses if self.losses else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def profit_factor(self) -> float | None:
        """``win_pnl / -loss_pnl``; None without a loss."""
        return self.win_pnl / -self.loss_pnl if self.loss_pnl < 0 else None


class StrategyMetrics(TradeMetrics):
    """:class:`TradeMetrics` of one strategy (fills without one: ``"unattributed"``)."""

    strategy: str


class ModelMetrics(TradeMetrics):
    """:class:`TradeMetrics` of one version of one prediction model; ``production`` is
    whether it is the version in production as of the last ``model.promoted`` seen."""

    model: str
    version: str
    production: bool = False

    @property
    def label(self) -> str:
        """``model@version``, the key of :meth:`Analytics.model_metrics`."""
        return f"{self.model}@{self.version}"


class RejectionRecord(_Result):
    """One ``order.rejected`` event, as listed among the recent rejections."""

    at: datetime
    client_order_id: str
    symbol: str
    check: str | None = None
    reason: str
    strategy: str | None = None


class EssTripRecord(_Result):
    """One move of the Emergency Stop into REDUCING or HALTED."""

    at: datetime
    state: str
    previous: str | None = None
    reason: str
    by: str


class SystemMetrics(_Result):
    """Counts over every event analytics has handled.

    ``policy_changes_by_hour`` is keyed ``YYYY-MM-DDTHH:00Z`` (UTC hour of the change)
    in time order; ``ess_trips_by_state`` counts moves into REDUCING or HALTED from a
    different state; ``duplicates_ignored`` counts redeliveries that changed nothing.
    """

    events_total: int = 0
    events_by_type: dict[str, int] = Field(default_factory=dict)
    duplicates_ignored: int = 0
    rejections_total: int = 0
    rejections_by_check: dict[str, int] = Field(default_factory=dict)
    recent_rejections: list[RejectionRecord] = Field(default_factory=list)
    ess_trips: int = 0
    ess_trips_by_state: dict[str, int] = Field(default_factory=dict)
    ess_transitions: dict[str, int] = Field(default_factory=dict)
    recent_ess_trips: list[EssTripRecord] = Field(default_factory=list)
    policy_changes_total: int = 0
    policy_changes_by_hour: dict[str, int] = Field(default_factory=dict)
    policy_changes_by_author: dict[str, int] = Field(default_factory=dict)
    policy_changes_by_field: dict[str, int] = Field(default_factory=dict)
    health_changes_by_status: dict[str, int] = Field(default_factory=dict)
    strategy_promotions_by_state: dict[str, int] = Field(default_factory=dict)
    model_promotions: int = 0
    production_models: dict[str, str] = Field(default_factory=dict)
