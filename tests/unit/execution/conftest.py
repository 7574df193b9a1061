"""Fixtures of the execution tests: a ledger and a paper broker on this test's own
namespace of the real test Redis server (see tests/conftest.py)."""

from __future__ import annotations

import pytest
import redis

from components.execution import BrokerConfig, CostModel, Ledger, PaperBroker


@pytest.fixture
def costs() -> CostModel:
    return CostModel(fee_bps=10, slippage_bps=2, spread_bps=2)


@pytest.fixture
def ledger(client: redis.Redis, namespace: str) -> Ledger:
    return Ledger(client, namespace=namespace)


@pytest.fixture
def broker(ledger: Ledger, costs: CostModel) -> PaperBroker:
    return PaperBroker(ledger, costs, BrokerConfig())
