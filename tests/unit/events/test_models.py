from __future__ import annotations

import pytest

from components.errors import DataError, UnknownEventTypeError
from components.events import Event, decode_event, encode_event, event_types, payload_model
from components.events.types import TradeExecuted
from tests.builders import T0

DESIGN_TYPES = {
    "policy.updated",
    "opportunities.updated",
    "universe.updated",
    "health.status_changed",
    "strategy.promoted",
    "model.promoted",
    "trade.executed",
    "order.rejected",
    "ess.state_changed",
}


def test_every_type_of_the_design_has_a_payload_model() -> None:
    assert set(event_types()) >= DESIGN_TYPES


def test_payload_dict_is_validated_into_its_model() -> None:
    event = Event.create(
        "trade.executed",
        {
            "client_order_id": "o1",
            "symbol": "BTC/USDT",
            "side": "buy",
            "quantity": 1,
            "price": 100,
            "fee": 0.1,
        },
        source="engine",
        occurred_at=T0,
        correlation_id="c1",
    )
    assert isinstance(event.payload, TradeExecuted)
    assert event.payload.price == 100
    assert event.id and event.correlation_id == "c1"


def test_invalid_payload_names_the_type_and_the_field() -> None:
    with pytest.raises(DataError, match=r"trade.executed event: price"):
        Event.create(
            "trade.executed",
            {
                "client_order_id": "o",
                "symbol": "X",
                "side": "buy",
                "quantity": 1,
                "price": -1,
                "fee": 0,
            },
            source="engine",
        )


def test_unknown_type_lists_the_known_ones() -> None:
    with pytest.raises(UnknownEventTypeError, match=r"policy\.updated"):
        payload_model("policy.upated")


def test_stream_fields_round_trip() -> None:
    event = Event.create(
        "ess.state_changed",
        {"state": "HALTED", "reason": "drawdown", "by": "ess"},
        source="engine",
        occurred_at=T0,
    )
    assert decode_event(encode_event(event)) == event


def test_malformed_stream_entry_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no 'payload' field"):
        decode_event({"id": "1", "type": "ess.state_changed", "source": "x", "at": T0.isoformat()})
