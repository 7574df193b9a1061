from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.errors import TemporaryError
from components.redis import connect, embedded_socket_path, stop_embedded
from components.settings import load_settings


def test_embedded_server_is_shared_between_processes_and_survives_restart(
    tmp_path: Path,
) -> None:
    home = tmp_path / "qt"
    settings = load_settings(home=home, namespace="emb")
    try:
        connect(settings).set("emb:greeting", "hello")
        other = subprocess.run(
            [sys.executable, "-c",
             "from components.redis import connect; from components.settings import load_settings;"
             f"print(connect(load_settings(home={str(home)!r})).get('emb:greeting'))"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert other.stdout.strip() == "hello"
        assert stop_embedded(home)
        assert not embedded_socket_path(home).exists() or not stop_embedded(home)
        # a new server on the same home finds the data again
        assert connect(settings).get("emb:greeting") == "hello"
    finally:
        stop_embedded(home)


def test_deep_home_gets_a_short_socket_path(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(str(embedded_socket_path(deep))) <= 100


def test_unreachable_server_is_a_temporary_error_without_the_password() -> None:
    settings = load_settings(redis_url="redis://:hunter2@127.0.0.1:1/0", redis_timeout_s=1)
    with pytest.raises(TemporaryError) as caught:
        connect(settings)
    assert "hunter2" not in str(caught.value)
    assert "***" in str(caught.value)


def test_a_server_slow_to_answer_gets_waited_for_not_a_twin(tmp_path: Path) -> None:
    import os
    import signal

    from components.redis import ensure_embedded

    home = tmp_path / "slow"
    socket = ensure_embedded(home)
    pid = int((home / "redis.pid").read_text())
    os.kill(pid, signal.SIGSTOP)  # alive, but answers nothing (as when loading a big file)
    try:
        with pytest.raises(TemporaryError, match="did not start"):
            ensure_embedded(home, timeout_s=1.5)
        assert int((home / "redis.pid").read_text()) == pid  # no second server started
    finally:
        os.kill(pid, signal.SIGCONT)
    assert ensure_embedded(home) == socket
    stop_embedded(home)


@pytest.mark.parametrize(
    "url",
    [
        "redis://u:hunter2@127.0.0.1:{port}/0",
        "redis://127.0.0.1:{port}/0?username=u&password=hunter2",
        "rediss://u:hunter2@127.0.0.1:{port}/0",
    ],
)
def test_a_server_that_does_not_answer_is_named_without_its_password(url: str) -> None:
    from deployments.prefect_server import free_port

    settings = load_settings(redis_url=url.format(port=free_port()), redis_timeout_s=2)
    with pytest.raises(TemporaryError, match="does not answer") as caught:
        connect(settings)
    assert "hunter2" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
