"""No split brain: the embedded Redis is refused where it would be a private store."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.errors import ConfigurationError
from components.settings import load_settings
from tasks.runtime import refuse_split_brain, runtime


def test_against_a_prefect_api_on_another_machine_the_embedded_redis_is_refused(
    tmp_path: Path,
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    settings = load_settings(home=tmp_path / "home", namespace="split-brain")
    remote = {PREFECT_API_URL: "http://prefect.example.invalid:4200/api"}
    with temporary_settings(remote), pytest.raises(ConfigurationError) as refused:
        runtime(settings)
    message = str(refused.value)
    assert "QT_REDIS_URL" in message and "prefect.example.invalid" in message
    assert "\n" not in message
    assert not (tmp_path / "home").exists()  # no embedded server was started: nothing written


@pytest.mark.parametrize("url", ["http://127.0.0.1:4200/api", "http://localhost:4200/api"])
def test_against_a_local_prefect_api_the_embedded_redis_is_allowed(url: str) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: url}):
        refuse_split_brain()  # no error outside a worker's flow run


def test_a_failed_run_is_not_recorded_in_an_embedded_redis_that_would_split_the_brain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The self-healing's end hook of a run that failed for want of QT_REDIS_URL under a
    worker starts no private embedded Redis to remember the failure (found by the cluster
    test: the refused worker's QT_HOME held redis.conf)."""
    from types import SimpleNamespace

    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.states import Failed

    from tasks.modules import record_module_run

    home = tmp_path / "home"
    monkeypatch.delenv("QT_REDIS_URL", raising=False)
    monkeypatch.setenv("QT_HOME", str(home))
    monkeypatch.setenv("QT_NAMESPACE", "split-brain")
    flow = SimpleNamespace(name="opportunity-ranking")
    flow_run = SimpleNamespace(id="00000000-0000-0000-0000-000000000001")
    remote = {PREFECT_API_URL: "http://prefect.example.invalid:4200/api"}
    with temporary_settings(remote):
        record_module_run(flow, flow_run, Failed(message="split brain"))  # logs, never raises
    assert not home.exists()
