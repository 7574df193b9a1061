"""The scheduled brain, run for real: flows under a Prefect server, against Redis."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from components.events import RedisEventBus
from components.market import ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.settings import ModuleMode, Settings
from tasks.runtime import use_market
from tests.builders import T0

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")


@pytest.fixture
def market(settings: Settings) -> SyntheticMarket:
    """The synthetic market at a fixed time, for every flow of this test."""
    market = SyntheticMarket(seed=7, clock=ManualClock(T0.replace(month=3)))
    use_market(settings, market, market.clock)
    return market


def artifact(key: str) -> Any:
    from prefect.artifacts import Artifact

    return Artifact.get(key)


def test_ranking_flow_writes_rankings_announces_them_and_publishes_a_table(
    settings: Settings, client: redis.Redis, market: SyntheticMarket
) -> None:
    from flows.opportunity_ranking import opportunity_ranking

    result = opportunity_ranking()

    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert policy.version == 1 and policy.updated_by == "opportunity-ranking"
    assert policy.opp_rankings == result.rankings and policy.opp_rankings
    assert all(0 <= score <= 1 for score in policy.opp_rankings.values())
    (event,) = RedisEventBus(client, namespace=settings.namespace).tail("opportunities.updated")
    assert event.payload.policy_version == 1  # type: ignore[attr-defined]
    assert event.payload.top == result.top  # type: ignore[attr-defined]
    table = artifact("opportunity-ranking")
    assert table is not None and table.type == "table"
    assert result.top[0] in str(table.data)


def test_msc_flow_sets_a_risk_mode_with_its_limits(
    settings: Settings, client: redis.Redis, market: SyntheticMarket
) -> None:
    from flows.msc_evaluation import msc_evaluation

    result = msc_evaluation()

    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert policy.risk_mode is result.risk_mode
    limits = {"AGGRESSIVE": (0.02, 10), "NORMAL": (0.01, 5), "DEFENSIVE": (0.005, 3)}
    assert (policy.max_risk_per_trade, policy.max_positions) == limits[policy.risk_mode.value]
    (event,) = RedisEventBus(client, namespace=settings.namespace).tail("regime.assessed")
    assert event.payload.market_state == result.market_state  # type: ignore[attr-defined]
    note = artifact("msc-evaluation")
    assert note is not None and "Meta Strategy Controller" in str(note.data)


def test_universe_flow_follows_the_ranking(
    settings: Settings, client: redis.Redis, market: SyntheticMarket
) -> None:
    from flows.opportunity_ranking import opportunity_ranking
    from flows.universe_refresh import universe_refresh

    ranked = opportunity_ranking()
    result = universe_refresh()

    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert policy.active_universe == result.symbols
    assert set(policy.active_universe) <= set(ranked.rankings)
    assert policy.version == 2
    (event,) = RedisEventBus(client, namespace=settings.namespace).tail("universe.updated")
    assert event.payload.symbols == result.symbols  # type: ignore[attr-defined]


def test_observe_mode_decides_and_announces_but_leaves_the_policy_alone(
    settings: Settings, client: redis.Redis, market: SyntheticMarket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from flows.opportunity_ranking import opportunity_ranking

    monkeypatch.setenv("QT_RANKER_MODE", "OBSERVE")
    ranker = settings.ranker.model_copy(update={"mode": ModuleMode.OBSERVE})
    observe = settings.model_copy(update={"ranker": ranker})
    use_market(observe, market, market.clock)

    result = opportunity_ranking()

    assert result.policy_version is None
    assert PolicyStore(client, namespace=settings.namespace, settings=settings).get().version == 0
    (event,) = RedisEventBus(client, namespace=settings.namespace).tail("opportunities.updated")
    assert event.payload.mode == "observe"  # type: ignore[attr-defined]


class CorruptMarket(SyntheticMarket):
    """The synthetic market with one bad bar in one symbol, as a broken source would give."""

    def bars_many(self, symbols: Any, timeframe: str = "1h", **kwargs: Any) -> Any:
        bars = super().bars_many(symbols, timeframe, **kwargs)
        broken = bars["ETH/USDT"].copy()
        broken.iloc[7, broken.columns.get_loc("high")] = broken["low"].iloc[7] / 2
        return {**bars, "ETH/USDT": broken}


def test_bad_bars_fail_the_flow_naming_symbol_and_row_and_leave_the_policy_alone(
    settings: Settings, client: redis.Redis
) -> None:
    from components.errors import DataError
    from flows.opportunity_ranking import opportunity_ranking

    corrupt = CorruptMarket(seed=7, clock=ManualClock(T0.replace(month=3)))
    use_market(settings, corrupt, corrupt.clock)

    with pytest.raises(DataError, match=r"ETH/USDT .*row 7 .*high"):
        opportunity_ranking()

    assert PolicyStore(client, namespace=settings.namespace, settings=settings).get().version == 0
    assert RedisEventBus(client, namespace=settings.namespace).tail() == []
