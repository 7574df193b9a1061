"""Backtests and the Strategy Generator, through the command line, as a user runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from components.engine import build_engine
from components.market import ManualClock, SyntheticMarket
from components.policy import PolicyStore
from components.settings import Settings, load_settings
from deployments.cli import main

pytestmark = pytest.mark.usefixtures("prefect_server", "qt_env")

SMALL_SEARCH = ["--population", "8", "--generations", "2", "--seed", "3", "--json"]

SEARCH_NOW = datetime(2026, 3, 2, tzinfo=UTC)
"""When the searches below run (``QT_CLOCK``). The 16 genomes of the small search find
candidates that trade at many times (2026-01-01, 2026-03-02, 2026-04-01) but not at every
one (none at 2026-03-01): the time is part of the test's input, like its seed."""


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"clock": SEARCH_NOW})


@pytest.fixture
def small_search(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_EVOLUTION_HISTORY_BARS", "3000")
    monkeypatch.setenv("QT_EVOLUTION_SYMBOLS", "4")


def evolve(capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    capsys.readouterr()
    assert main(["evolve", *SMALL_SEARCH]) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.usefixtures("small_search")
def test_a_seeded_search_repeats_exactly_and_reports_out_of_sample_apart(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    first = evolve(capsys)
    monkeypatch.setenv("QT_NAMESPACE", f"{settings.namespace}-again")
    try:
        second = evolve(capsys)
    finally:
        from components.redis import connect, delete_namespace

        delete_namespace(connect(load_settings()), f"{settings.namespace}-again")

    assert first["fitness_history"] == second["fitness_history"]
    assert [b["candidate"] for b in first["best"]] == [b["candidate"] for b in second["best"]]
    best = first["best"][0]
    assert {"out_of_sample", "in_sample"} <= best.keys()
    assert best["out_of_sample"] != best["in_sample"]


@pytest.mark.usefixtures("small_search")
def test_candidates_enter_shadow_and_a_later_engine_run_trades_them_on_paper(
    settings: Settings, client: redis.Redis, capsys: pytest.CaptureFixture[str]
) -> None:
    result = evolve(capsys)
    assert result["shadow"], "the best candidate should enter shadow"
    policy = PolicyStore(client, namespace=settings.namespace, settings=settings).get()
    assert {policy.strategy_states[name].value for name in result["shadow"]} == {"shadow"}
    events = json.loads(_cli(capsys, "events", "tail", "--type", "strategy.promoted", "--json"))
    assert {e["payload"]["strategy"] for e in events} == set(result["shadow"])

    assert settings.clock is not None
    clock = ManualClock(settings.clock)  # the search's own time (QT_CLOCK): what comes next
    market = SyntheticMarket(seed=7, clock=clock)
    PolicyStore(client, namespace=settings.namespace, settings=settings).patch(
        {"active_universe": market.symbols()[:8], "allowed_strategies": []},
        by="tests",
        reason="only shadow strategies",
    )
    engine = build_engine(settings, market)
    reports = []
    for cycle in range(60):
        reports.append(engine.run_cycle(cycle))
        clock.advance(timedelta(minutes=5))
    assert sum(r.shadow for r in reports) > 0
    assert not [o for r in reports for o in r.orders], "shadow strategies place no real order"


def test_backtest_command_prints_metrics_and_writes_the_chart(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _cli(
        capsys,
        "backtest",
        "--strategy",
        "sma_crossover",
        "--params",
        '{"fast": 10, "slow": 30}',
        "--symbols",
        "BTC/USDT",
        "--symbols",
        "ETH/USDT",
        "--bars",
        "2000",
        "--json",
    )
    result = json.loads(out)
    assert result["params"]["fast"] == 10 and result["metrics"]["n_trades"] > 0
    assert Path(result["chart"]).read_bytes()[:4] == b"\x89PNG"


def test_backtest_of_an_unknown_strategy_exits_2_naming_the_known_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["backtest", "--strategy", "moonshot"]) == 2
    err = capsys.readouterr().err
    assert "unknown strategy 'moonshot'" in err and "momentum" in err


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out
