"""Builders for order intents, portfolios and policies shared by the risk and portfolio
tests, plus hypothesis strategies for random ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from components.policy import GlobalPolicy
from components.trading.types import OrderIntent, PortfolioView, PositionView, Side

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOLS = ("BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT")


def intent(
    symbol: str = "BTC/USDT",
    side: Side | str = Side.BUY,
    quantity: float = 0.01,
    price: float = 50_000.0,
    **kwargs: Any,
) -> OrderIntent:
    """A market order intent; 0.01 BTC at 50,000 = 500 USDT by default."""
    return OrderIntent(
        client_order_id=kwargs.pop("client_order_id", f"test:{symbol}:{side}:{quantity}"),
        symbol=symbol,
        side=Side(side),
        quantity=quantity,
        reference_price=price,
        created_at=kwargs.pop("created_at", T0),
        **kwargs,
    )


def position(symbol: str, quantity: float, price: float) -> PositionView:
    return PositionView(symbol=symbol, quantity=quantity, average_price=price, mark_price=price)


def portfolio(cash: float = 10_000.0, **holdings: tuple[float, float]) -> PortfolioView:
    """``portfolio(9_000, BTC=(0.02, 50_000))``: keyword names get ``/USDT`` appended."""
    positions = {
        f"{name}/USDT": position(f"{name}/USDT", quantity, price)
        for name, (quantity, price) in holdings.items()
    }
    return PortfolioView(cash=cash, positions=positions)


def policy(**changes: Any) -> GlobalPolicy:
    return GlobalPolicy(**changes)


@st.composite
def portfolios(draw: st.DrawFn) -> PortfolioView:
    """Random portfolios: cash and up to four long or short positions."""
    cash = draw(st.floats(1_000, 100_000))
    positions = {}
    for symbol in draw(st.lists(st.sampled_from(SYMBOLS), max_size=4, unique=True)):
        quantity = draw(st.floats(-5, 5).filter(lambda q: abs(q) > 1e-6))
        price = draw(st.floats(1, 1_000))
        positions[symbol] = position(symbol, quantity, price)
    return PortfolioView(cash=cash, positions=positions)


@st.composite
def intents(draw: st.DrawFn, portfolio_: PortfolioView | None = None) -> OrderIntent:
    """Random intents on the symbols of ``portfolio_`` or any other, either side."""
    symbol = draw(st.sampled_from(SYMBOLS))
    held = portfolio_.positions.get(symbol) if portfolio_ is not None else None
    price = held.mark_price if held is not None else draw(st.floats(1, 1_000))
    return intent(
        symbol=symbol,
        side=draw(st.sampled_from(Side)),
        quantity=draw(st.floats(1e-4, 20)),
        price=price,
        reduce_only=draw(st.sampled_from((False, False, False, True))),
    )


def signed_after(order: OrderIntent, book: PortfolioView) -> tuple[float, float]:
    """(position before, position after) in ``order.symbol`` if ``order`` fills."""
    held = book.positions.get(order.symbol)
    before = held.quantity if held is not None else 0.0
    return before, before + order.signed_quantity
