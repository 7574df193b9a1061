"""Every command exits non-zero when its work failed, and an expected failure (Redis down
or gone in the middle of a command, a bad file) is one line naming what and where; the
traceback only under ``--debug``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from components.redis import ensure_embedded, stop_embedded
from deployments.cli import main


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A Redis server of this test's own (it will stop it), set as QT_REDIS_URL."""
    home = tmp_path / "own-redis"
    path = ensure_embedded(home)
    monkeypatch.setenv("QT_REDIS_URL", f"unix://{path}")
    yield home
    stop_embedded(home)


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize(
    "argv",
    [["policy", "show"], ["events", "tail"], ["positions"], ["ess", "status"]],
)
def test_redis_down_is_one_line_naming_where_and_exit_1(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: list[str]
) -> None:
    monkeypatch.setenv("QT_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    code = main(argv)
    out, err = capfd.readouterr()
    assert code == 1 and out == ""
    assert err.startswith("error: Redis at redis://127.0.0.1:") and err.count("\n") == 1


@pytest.mark.usefixtures("qt_env")
def test_debug_adds_the_traceback(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QT_REDIS_URL", f"redis://127.0.0.1:{closed_port()}/0")
    code = main(["--debug", "policy", "show"])
    _, err = capfd.readouterr()
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: Redis at redis://127.0.0.1:")


@pytest.mark.usefixtures("qt_env")
def test_events_follow_when_redis_goes_away_is_one_line_and_exit_1(
    capfd: pytest.CaptureFixture[str], own_redis: Path
) -> None:
    codes: list[int] = []
    follower = threading.Thread(target=lambda: codes.append(main(["events", "tail", "-f"])))
    follower.start()
    # The follower is blocked reading the stream once its connection is listed.
    client = redis.Redis(unix_socket_path=str(ensure_embedded(own_redis)))
    for _ in range(600):  # at most 60 s
        if any(c.get("cmd") == "xread" for c in client.client_list()):
            break
        follower.join(0.1)
    stop_embedded(own_redis)
    follower.join(60)
    assert not follower.is_alive()
    _, err = capfd.readouterr()
    assert codes == [1]
    assert err.startswith("error: Redis at unix://") and err.count("\n") == 1


@pytest.mark.usefixtures("qt_env")
def test_a_missing_file_to_import_is_one_line_and_exit_2(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["data", "import", str(tmp_path / "nosuch.csv"), "--symbol", "BTC/USDT"])
    _, err = capfd.readouterr()
    assert code == 2
    assert err == f"error: {tmp_path / 'nosuch.csv'}: no such file or folder\n"


@pytest.mark.usefixtures("qt_env")
def test_an_empty_folder_to_import_is_one_line_and_exit_2(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(["data", "import", str(tmp_path)])
    _, err = capfd.readouterr()
    assert code == 2 and "no file to import" in err and err.count("\n") == 1


def test_an_unexpected_error_is_one_line_with_a_hint_and_exit_1(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments.cli import _app

    def broken() -> None:
        raise KeyError("boom")

    monkeypatch.setattr(_app, "load_settings", broken)
    code = main(["policy", "show"])
    _, err = capfd.readouterr()
    assert code == 1
    assert err == "error: unexpected KeyError: 'boom' (run again with --debug for the traceback)\n"
