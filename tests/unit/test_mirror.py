from __future__ import annotations

from components.events import InMemoryEventBus
from tasks.mirror import attach_prefect_mirror, prefect_event_name
from tests.builders import ess_event


def test_prefect_event_names_carry_the_bus_type() -> None:
    assert prefect_event_name("policy.updated") == "quantum-trader.policy.updated"


def test_no_mirror_without_a_prefect_api() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert not attach_prefect_mirror(InMemoryEventBus(), "qt")


def test_unreachable_prefect_api_never_fails_a_publish() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):  # nothing listens
        bus = InMemoryEventBus()
        assert attach_prefect_mirror(bus, "qt")
        event = ess_event()
        bus.publish(event)
    assert bus.tail(count=1) == [event]
    assert bus.stats().published == 1
