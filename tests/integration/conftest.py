"""Integration tests run flows under a real Prefect server (Prefect's test harness, one
per session: a real API with its database, started once, ~20 s) against real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
