"""Self-healing of the decision modules: three failed runs put a module into OBSERVE,
three good runs in OBSERVE (or a person) give its configured mode back; each change is
one ``module.mode_changed`` event, written with it, on real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest
import redis

from components.alerts import Level, alert_for
from components.config import ModuleMode
from components.errors import ConfigurationError
from components.events import RedisEventBus
from components.health import HealthStatus
from components.health.check import HealthInputs, assess_health
from components.health.modules import (
    ModuleModes,
    ModuleOverride,
    ModuleRun,
    decide_healing,
    effective_mode,
    module,
    module_of_flow,
)
from components.settings import Settings
from tests.builders import PINNED_NOW

NOW = PINNED_NOW
ENFORCED, OBSERVE, OFF = ModuleMode.ENFORCED, ModuleMode.OBSERVE, ModuleMode.OFF
HELD = ModuleOverride(since=NOW, reason="3 failed runs in a row")


def failed(error: str = "DataError: ETH/USDT row 7") -> ModuleRun:
    return ModuleRun(ok=False, at=NOW, mode=ENFORCED, error=error)


def good(mode: ModuleMode = OBSERVE) -> ModuleRun:
    return ModuleRun(ok=True, at=NOW, mode=mode)


def fail_three_times(modes: ModuleModes, name: str, error: str = "boom") -> None:
    for _ in range(3):
        modes.record_run(name, failed(error))


# --- the rule ---------------------------------------------------------------------------
def test_three_failed_runs_in_a_row_put_an_enforced_module_into_observe() -> None:
    mode, reason = decide_healing(ENFORCED, None, [failed("boom"), failed(), failed()]) or (
        None,
        "",
    )
    assert mode is OBSERVE
    assert reason == "3 failed runs in a row; the last: boom"


@pytest.mark.parametrize(
    "runs",
    [
        [],
        [failed(), failed()],
        [failed(), failed(), good(ENFORCED), failed()],  # newest first: not three in a row
        [good(ENFORCED), failed(), failed(), failed()],  # it recovered on its own
    ],
)
def test_fewer_than_three_failures_in_a_row_change_nothing(runs: list[ModuleRun]) -> None:
    assert decide_healing(ENFORCED, None, runs) is None


@pytest.mark.parametrize("configured", [OBSERVE, OFF])
def test_a_module_not_enforced_is_never_held_back(configured: ModuleMode) -> None:
    assert decide_healing(configured, None, [failed()] * 5) is None


def test_three_good_runs_in_observe_give_the_configured_mode_back() -> None:
    assert decide_healing(ENFORCED, HELD, [good(), good()]) is None
    assert decide_healing(ENFORCED, HELD, [good(), good(), good()]) == (
        ENFORCED,
        "3 good runs in OBSERVE",
    )


def test_a_failure_in_observe_starts_the_count_again() -> None:
    assert decide_healing(ENFORCED, HELD, [good(), good(), failed(), good()]) is None


def test_a_run_that_decided_in_enforced_before_the_change_does_not_count() -> None:
    # It started before the health check held the module back and ended after.
    assert decide_healing(ENFORCED, HELD, [good(), good(), good(ENFORCED)]) is None


def test_an_override_of_a_module_configured_observe_is_dropped() -> None:
    assert decide_healing(OBSERVE, HELD, []) == (
        OBSERVE,
        "configured OBSERVE: nothing to hold back",
    )


def test_an_override_only_ever_holds_an_enforced_module_back() -> None:
    assert effective_mode(ENFORCED, HELD) is OBSERVE
    assert effective_mode(OFF, HELD) is OFF
    assert effective_mode(ENFORCED, None) is ENFORCED


def test_an_unknown_module_is_refused_naming_the_modules() -> None:
    with pytest.raises(ConfigurationError, match=r"no module named 'nosuch'.*msc, ranker"):
        module("nosuch")


# --- on Redis -------------------------------------------------------------------------
def mode_events(client: redis.Redis, namespace: str) -> list[tuple[str, str, str, str]]:
    events = RedisEventBus(client, namespace=namespace).tail("module.mode_changed", count=100)
    return [(e.payload.module, e.payload.previous, e.payload.mode, e.payload.by) for e in events]  # type: ignore[attr-defined]


def test_the_health_check_holds_a_failing_module_back_and_lets_it_go_after_good_runs(
    settings: Settings, client: redis.Redis
) -> None:
    modes = ModuleModes(client, namespace=settings.namespace)
    fail_three_times(modes, "ranker")
    modes.record_run("msc", failed())  # one failure: left alone

    [(change, event)] = modes.heal(settings, now=NOW)

    assert (change.module, change.previous, change.mode) == ("ranker", ENFORCED, OBSERVE)
    assert "3 failed runs in a row" in change.reason
    assert modes.effective(settings, "ranker") is OBSERVE
    assert modes.effective(settings, "msc") is ENFORCED
    assert mode_events(client, settings.namespace) == [
        ("ranker", "ENFORCED", "OBSERVE", "health-check")
    ]
    assert (
        RedisEventBus(client, namespace=settings.namespace).tail("module.mode_changed")[0] == event
    )
    assert modes.heal(settings, now=NOW) == []  # the same failures are not counted twice

    for _ in range(2):
        modes.record_run("ranker", good())
    assert modes.heal(settings, now=NOW + timedelta(minutes=1)) == []
    modes.record_run("ranker", good())
    [(back, _)] = modes.heal(settings, now=NOW + timedelta(minutes=2))

    assert (back.previous, back.mode, back.reason) == (OBSERVE, ENFORCED, "3 good runs in OBSERVE")
    assert modes.effective(settings, "ranker") is ENFORCED
    assert [e[2] for e in mode_events(client, settings.namespace)] == ["OBSERVE", "ENFORCED"]


def test_a_person_restores_a_module_at_once(settings: Settings, client: redis.Redis) -> None:
    modes = ModuleModes(client, namespace=settings.namespace)
    fail_three_times(modes, "clm")
    modes.heal(settings, now=NOW)

    [status] = [s for s in modes.statuses(settings) if s.module == "clm"]
    assert (status.configured, status.effective) == (ENFORCED, OBSERVE)
    assert status.override is not None and "failed runs" in status.override.reason

    change, _ = modes.restore(settings, "clm", now=NOW, by="alice") or (None, None)
    assert change is not None and change.mode is ENFORCED and change.by == "alice"
    assert modes.effective(settings, "clm") is ENFORCED
    assert modes.restore(settings, "clm", now=NOW, by="alice") is None  # nothing held back
    assert modes.heal(settings, now=NOW) == []  # old failures were cleared with the change


def test_a_module_held_back_makes_health_degraded_and_says_why() -> None:
    inputs = HealthInputs(
        redis_latency_ms=0.5,
        heartbeat_age_s=10,
        modules_held_back={"ranker": "3 failed runs in a row; the last: boom"},
    )
    verdict = assess_health(inputs)
    assert verdict.status is HealthStatus.DEGRADED
    assert verdict.reasons == [
        "module ranker held in OBSERVE: 3 failed runs in a row; the last: boom"
    ]


def test_a_module_held_back_is_alerted_as_a_warning_and_its_return_as_good_news(
    settings: Settings, client: redis.Redis
) -> None:
    modes = ModuleModes(client, namespace=settings.namespace)
    fail_three_times(modes, "msc")
    [(_, held)] = modes.heal(settings, now=NOW)
    [(_, back)] = [modes.restore(settings, "msc", now=NOW, by="cli")]  # type: ignore[list-item]

    alert = alert_for(held, namespace="qt")
    assert alert is not None and alert.level is Level.WARNING
    assert alert.title == "[qt] Module msc: ENFORCED -> OBSERVE"
    again = alert_for(back, namespace="qt")
    assert again is not None and again.level is Level.SUCCESS


# --- the command line -----------------------------------------------------------------
def cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deployments.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_modules_command_lists_configured_and_effective_modes_and_restores_by_hand(
    settings: Settings, client: redis.Redis, qt_env: dict[str, str]
) -> None:
    modes = ModuleModes(client, namespace=settings.namespace)
    fail_three_times(modes, "universe", "universe: no ranking")
    modes.heal(settings, now=NOW)

    listed = cli("modules", "--json", env={**qt_env, "QT_MSC_MODE": "OBSERVE"})
    assert listed.returncode == 0, listed.stderr
    rows = {row["module"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == {"msc", "ranker", "universe", "clm", "generator", "balancer", "pal"}
    assert (rows["universe"]["configured"], rows["universe"]["effective"]) == (
        "ENFORCED",
        "OBSERVE",
    )
    assert (rows["msc"]["configured"], rows["msc"]["effective"]) == ("OBSERVE", "OBSERVE")
    assert rows["ranker"]["effective"] == "ENFORCED"

    table = cli("modules", env=qt_env)
    assert table.returncode == 0 and "universe held in OBSERVE by the health check" in table.stdout
    assert "modules restore NAME" in table.stdout

    restored = cli("modules", "restore", "universe", env=qt_env)
    assert restored.returncode == 0, restored.stderr
    assert "universe: OBSERVE -> ENFORCED (restored by hand (cli))" in restored.stdout
    assert modes.effective(settings, "universe") is ENFORCED

    unknown = cli("modules", "restore", "nosuch", env=qt_env)
    assert unknown.returncode == 2 and unknown.stderr.count("\n") == 1
    assert "no module named 'nosuch'" in unknown.stderr


def test_a_run_stopped_by_a_signal_is_not_counted_for_or_against_its_module(
    qt_env: dict[str, str], client: redis.Redis, settings: Settings
) -> None:
    """`up` stopping sends SIGTERM to the flow runs it serves; a Ctrl-C during three
    strategy generations must not put the generator into OBSERVE."""
    from types import SimpleNamespace

    from prefect.states import Completed, Crashed

    from tasks.modules import record_module_run

    flow = SimpleNamespace(name="strategy-generation")
    spec = module_of_flow(flow.name)
    assert spec is not None
    modes = ModuleModes(client, namespace=settings.namespace)
    for message in (
        "Execution was aborted by a termination signal.",
        "Execution was aborted by an interrupt signal.",
    ):
        run = SimpleNamespace(id=message)
        record_module_run(flow, run, Crashed(message=message))
    assert modes.runs(spec.name) == []

    record_module_run(flow, SimpleNamespace(id="2"), Crashed(message="process gone: -9"))
    record_module_run(flow, SimpleNamespace(id="3"), Completed())
    assert [run.ok for run in modes.runs(spec.name)] == [True, False]  # newest first
