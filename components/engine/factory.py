"""How a :class:`~components.engine.engine.TradingEngine` is put together from the settings.

The engine runs a cycle and nothing else; this module wires it: the Redis client, the
ledger, the broker (paper, or the exchange when ``QT_EXECUTION=exchange``), the Emergency
Stop, the RiskGuard, the sizer, the Portfolio Balancer, the strategy resolver (built-ins or
the Strategy Generator's stored candidates) and the shadow accounts::

    engine = build_engine(settings, market, bus=bus)
    engine.run_cycle(0)
"""

from __future__ import annotations

from components.engine.engine import TradingEngine
from components.engine.intents import IntentPlanner
from components.engine.shadow import ShadowBook
from components.events.bus import EventBus
from components.execution import Ledger, PaperBroker
from components.market.base import MarketData
from components.market.validation import timeframe_delta
from components.policy.store import PolicyStore
from components.portfolio import PortfolioBalancer
from components.risk.emergency import EmergencyStop
from components.risk.guard import RiskGuard
from components.settings import Settings
from components.sizing import PositionSizer, SizingConfig


def build_engine(
    settings: Settings, market: MarketData, *, bus: EventBus | None = None
) -> TradingEngine:
    """An engine on the configured Redis, trading ``market``; strategies resolve to the
    built-ins or to the Strategy Generator's stored candidates, and shadow strategies
    trade in a :class:`ShadowBook` of their own."""
    from components.evolution import EvolutionStore
    from components.execution.exchange import broker_for
    from components.redis import connect

    client = connect(settings)
    config = settings.engine
    ledger = Ledger(
        client,
        namespace=settings.namespace,
        initial_cash=settings.paper.initial_cash,
        stream_maxlen=settings.bus.stream_maxlen,
        bus=bus,
    )
    ledger.initialize()
    bar = timeframe_delta(config.timeframe).to_pytimedelta()
    ess_config = settings.ess.model_copy(update={"bar_length": bar})
    planner = IntentPlanner(PositionSizer(SizingConfig()), allow_short=config.allow_short)
    return TradingEngine(
        client=client,
        namespace=settings.namespace,
        market=market,
        store=PolicyStore(client, namespace=settings.namespace, settings=settings, bus=bus),
        ledger=ledger,
        broker=broker_for(
            settings, ledger, PaperBroker(ledger, settings.paper.costs, settings.paper.broker)
        ),
        ess=EmergencyStop(client, namespace=settings.namespace, bus=bus, config=ess_config),
        guard=RiskGuard(settings.risk),
        planner=planner,
        bus=bus,
        config=config,
        orchestrator=settings.orchestrator,
        resolve_strategy=EvolutionStore(client, namespace=settings.namespace).resolve_strategy,
        balancer=PortfolioBalancer(settings.balancer),
        balancer_mode=settings.balancer.mode,
        pal=settings.pal,
        shadow_book=ShadowBook(
            client,
            namespace=settings.namespace,
            capital=settings.shadow.capital,
            planner=planner,
            cost_model=settings.paper.costs,
            broker_config=settings.paper.broker.model_copy(update={"source": "shadow"}),
            stream_maxlen=settings.bus.stream_maxlen,
        ),
    )
