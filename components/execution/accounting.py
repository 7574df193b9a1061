"""One position-accounting model: what a fill does to a position, as pure functions.

Signed quantity ``q`` and average price ``a`` of the position; a fill of signed quantity
``d`` at price ``p`` with fee ``f``:

- cash changes by ``-d * p - f``;
- opening or adding: ``a`` becomes the quantity-weighted average; the fill realises
  ``-f`` (a fee is a realised cost when paid);
- reducing: ``min(|d|, |q|) * (p - a) * sign(q) - f`` is realised; ``a`` is unchanged;
- going through zero closes the position and opens the rest in the new direction at
  ``p``, with the fee split pro rata between the two. A rest within ``1e-9 * |q|`` of
  zero is float dust: the position is closed.

So ``equity = cash + sum(q * mark) = initial_cash + realized_pnl + unrealized_pnl``.

:func:`apply_fill` is the model for one position (the :class:`~components.execution.Ledger`
of the paper broker and the shadow accounts writes what it computes);
:func:`realised_pnl` is its realised part on floats or numpy arrays alike (the backtester
applies it to whole columns of trades)::

    applied = apply_fill(position, Execution("o2", "BTC/USDT", -0.5, 51_000.0, 2.5, at))
    applied.position, applied.realised
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple, overload

from components.execution.models import ClosedPosition, Position

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

DUST = 1e-9
"""A rest within ``DUST * |q|`` of zero closes the position."""


class Execution(NamedTuple):
    """A fill to account for. ``quantity`` is signed (a sell is negative); ``fee`` >= 0.

    ``stop_loss`` / ``take_profit`` are explicit levels for the position the fill opens or
    adds to; ``default_stop_loss`` / ``default_take_profit`` apply to a position that has
    none yet. ``client_order_id`` becomes the id of a position the fill opens.
    """

    client_order_id: str
    symbol: str
    quantity: float
    price: float
    fee: float
    at: datetime
    strategy: str | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    default_stop_loss: float | None = None
    default_take_profit: float | None = None


class Applied(NamedTuple):
    """What a fill did: the position after it (None: flat), what it realised net of its
    fee, the position it closed (a close or a flip; else None), and the id of the position
    it traded against (the one it opened, when it only opened one)."""

    position: Position | None
    realised: float
    closed: ClosedPosition | None
    position_id: str


@overload
def realised_pnl(
    quantity: float, average_price: float, fill_quantity: float, price: float, fee: float
) -> float: ...


@overload
def realised_pnl(
    quantity: npt.NDArray[Any],
    average_price: npt.NDArray[Any],
    fill_quantity: npt.NDArray[Any],
    price: npt.NDArray[Any],
    fee: npt.NDArray[Any],
) -> npt.NDArray[np.float64]: ...


def realised_pnl(
    quantity: Any, average_price: Any, fill_quantity: Any, price: Any, fee: Any
) -> Any:
    """What a fill of signed ``fill_quantity`` at ``price`` realises on a position of signed
    ``quantity`` at ``average_price``, net of its ``fee`` (module docstring). Floats or
    numpy arrays (element-wise).

    Example: ``realised_pnl(2.0, 100.0, -1.0, 110.0, 0.1)`` -> ``9.9``.
    """
    if isinstance(quantity, float) and isinstance(fill_quantity, float):  # one fill: no numpy
        closed = min(abs(fill_quantity), abs(quantity)) if quantity * fill_quantity < 0 else 0.0
        direction = 1.0 if quantity > 0 else -1.0 if quantity < 0 else 0.0
        return closed * (price - average_price) * direction - fee
    import numpy as np  # only for arrays: the ledger (and the CLI reading it) needs none

    reducing = quantity * fill_quantity < 0
    closed = np.minimum(np.abs(fill_quantity), np.abs(quantity)) * reducing
    return closed * (price - average_price) * np.sign(quantity) - fee


def apply_fill(position: Position | None, fill: Execution) -> Applied:
    """The position after ``fill`` and what the fill realised (module docstring).

    ``position`` must be of ``fill.symbol`` (or None: flat); ``fill.quantity`` non-zero.

    Example: ``apply_fill(None, Execution("o1", "BTC/USDT", 0.1, 50_000.0, 5.0, at))``
    opens a long of 0.1 at 50,000 and realises ``-5.0``.
    """
    d, p, f, at = fill.quantity, fill.price, fill.fee, fill.at
    q = position.quantity if position is not None else 0.0
    if position is None or q == 0:
        return Applied(_open(fill, d, f), -f, None, fill.client_order_id)
    if (q > 0) == (d > 0):  # adding
        total = q + d
        added = position.model_copy(
            update={
                "quantity": total,
                "average_price": (q * position.average_price + d * p) / total,
                "realized_pnl": position.realized_pnl - f,
                "fees": position.fees + f,
                "stop_loss": _first(fill.stop_loss, position.stop_loss, fill.default_stop_loss),
                "take_profit": _first(
                    fill.take_profit, position.take_profit, fill.default_take_profit
                ),
                "updated_at": at,
            }
        )
        return Applied(added, -f, None, position.id)
    gain = float(realised_pnl(q, position.average_price, d, p, 0.0))
    realised = gain - f
    rest = q + d
    if abs(rest) <= DUST * abs(q):
        rest = 0.0
    if rest != 0 and (rest > 0) == (q > 0):  # a partial close
        reduced = position.model_copy(
            update={
                "quantity": rest,
                "realized_pnl": position.realized_pnl + realised,
                "fees": position.fees + f,
                "updated_at": at,
            }
        )
        return Applied(reduced, realised, None, position.id)
    opening_fee = f * abs(rest) / abs(d) if rest != 0 else 0.0
    closing_fee = f - opening_fee
    closed = ClosedPosition(
        id=position.id,
        symbol=position.symbol,
        direction="long" if q > 0 else "short",
        average_price=position.average_price,
        exit_price=p,
        realized_pnl=position.realized_pnl + gain - closing_fee,
        fees=position.fees + closing_fee,
        strategy=position.strategy,
        opened_at=position.opened_at,
        closed_at=at,
        exit_order_id=fill.client_order_id,
    )
    rest_position = _open(fill, rest, opening_fee) if rest != 0 else None
    return Applied(rest_position, realised, closed, position.id)


def _open(fill: Execution, quantity: float, fee: float) -> Position:
    """The position a fill opens with ``quantity`` of it, paying ``fee`` of its fee."""
    return Position(
        id=fill.client_order_id,
        symbol=fill.symbol,
        quantity=quantity,
        average_price=fill.price,
        realized_pnl=-fee,
        fees=fee,
        stop_loss=_first(fill.stop_loss, fill.default_stop_loss),
        take_profit=_first(fill.take_profit, fill.default_take_profit),
        strategy=fill.strategy or None,
        opened_at=fill.at,
        updated_at=fill.at,
    )


def _first(*levels: float | None) -> float | None:
    for level in levels:
        if level is not None:
            return level
    return None
