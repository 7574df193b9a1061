"""The settings of paper trading (``settings.paper``; ``QT_PAPER__*``, flat ``QT_PAPER_*``):
the account's cash, the cost model and the paper broker's knobs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, SecretStr

from components.config import ComponentConfig, Flat

if TYPE_CHECKING:
    from components.execution.costs import ArrayLike
    from components.execution.exits import ExitRules


class CostModel(ComponentConfig):
    """Fees, slippage and spread in basis points (the rules: :mod:`components.execution.costs`).

    ``spread_bps=None`` means "use the observed spread" (a ticker's, or a bar's
    ``spread_bps``) and ``default_spread_bps`` when none is known.

    >>> CostModel(fee_bps=10, slippage_bps=2).fill_price(+1, 100.0, spread_bps=2)  # ~100.03
    """

    fee_bps: float = Field(10.0, ge=0, le=1_000, description="Fee per fill, on notional.")
    slippage_bps: float = Field(2.0, ge=0, le=1_000, description="Paid by market orders.")
    spread_bps: float | None = Field(
        None, ge=0, le=1_000, description="Fixed full spread; None = the observed one."
    )
    default_spread_bps: float = Field(
        2.0, ge=0, le=1_000, description="Full spread when none is fixed or observed."
    )

    def spread_for(self, observed_bps: float | None = None) -> float:
        """The full spread to charge: the fixed one, else ``observed_bps``, else the default.

        Example: ``CostModel().spread_for(5.0)`` is ``5.0``.
        """
        if self.spread_bps is not None:
            return self.spread_bps
        if observed_bps is not None and math.isfinite(observed_bps) and observed_bps >= 0:
            return observed_bps
        return self.default_spread_bps

    def fill_price(
        self, side_sign: ArrayLike, reference_price: ArrayLike, *, spread_bps: float | None = None
    ) -> Any:
        """A market fill around ``reference_price`` (:func:`fill_price` with this model's
        slippage and :meth:`spread_for` of ``spread_bps``).

        Example: ``CostModel().fill_price(-1, 100.0)`` is about ``99.97``.
        """
        from components.execution import costs

        return costs.fill_price(
            side_sign,
            reference_price,
            spread_bps=self.spread_for(spread_bps),
            slippage_bps=self.slippage_bps,
        )

    def fee(self, notional: ArrayLike) -> Any:
        """The fee on ``notional`` at this model's ``fee_bps``.

        Example: ``CostModel(fee_bps=10).fee(1_000.0)`` is ``1.0``.
        """
        from components.execution import costs

        return costs.fee(notional, fee_bps=self.fee_bps)


class BrokerConfig(ComponentConfig):
    """Knobs of the :class:`~components.execution.broker.PaperBroker`.

    >>> BrokerConfig(stop_loss_atr=1.5, take_profit_atr=4.0)
    """

    stop_loss_atr: float = Field(
        2.0, gt=0, le=50, description="Default stop: this many ATRs against the fill."
    )
    take_profit_atr: float = Field(
        3.0, gt=0, le=100, description="Default take-profit: this many ATRs in favour."
    )
    atr_period: int = Field(14, ge=1, le=1_000, description="Bars of the broker's own ATR.")
    slip_stops: bool = Field(
        True, description="A triggered stop pays spread and slippage like a market order."
    )
    trailing_atr: float | None = Field(
        None, gt=0, le=50, description="Trailing stop distance in ATRs; None: no trailing."
    )
    source: str = Field(
        "paper-broker", min_length=1, max_length=64, description="Source of its events."
    )

    @property
    def exit_rules(self) -> ExitRules:
        """These knobs as the one exit model's rules (the backtester takes the same)."""
        from components.execution.exits import ExitRules

        return ExitRules(
            stop_loss_atr=self.stop_loss_atr,
            take_profit_atr=self.take_profit_atr,
            trailing_atr=self.trailing_atr,
            slip_stops=self.slip_stops,
        )


class PaperConfig(ComponentConfig):
    """The paper account: its starting cash, what trading costs, how the broker fills."""

    initial_cash: float = Field(10_000.0, gt=0, le=1e12, description="Quote currency.")
    costs: Annotated[CostModel, Flat(prefix="PAPER_")] = CostModel()
    broker: Annotated[BrokerConfig, Flat(prefix="PAPER_")] = BrokerConfig()


class ExchangeConfig(ComponentConfig):
    """Which exchange the :class:`~components.execution.exchange.ExchangeBroker` trades on,
    and how (``settings.exchange``: ``QT_EXCHANGE__ID`` or ``QT_EXCHANGE_ID``, ...).

    >>> ExchangeConfig(id="binance", sandbox=True)
    """

    execution: Annotated[Literal["paper", "exchange"], Flat("QT_EXECUTION")] = Field(
        "paper", description="paper (simulated fills, the default) or exchange (ccxt)."
    )
    id: str = Field("binance", pattern=r"^[a-z0-9_]+$", description="ccxt exchange id.")
    sandbox: bool = Field(True, description="Trade on the exchange's testnet (the default).")
    api_key: SecretStr | None = Field(None, description="API key (secret, never logged).")
    api_secret: SecretStr | None = Field(None, description="API secret (never logged).")
    timeout_ms: int = Field(10_000, ge=100, le=120_000, description="HTTP timeout.")
