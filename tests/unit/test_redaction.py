"""Known secrets are masked in every log record, whoever logs them."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from components.redaction import hide_secrets_in_logs, secret_values
from components.settings import load_settings

PASSWORD = "hunter2-Xq9"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(logging.Formatter("%(message)s").format(record))


@pytest.fixture
def captured() -> Iterator[Capture]:
    handler = Capture()
    logger = logging.getLogger("tests.redaction.library")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)


def test_a_library_logging_the_redis_url_or_password_shows_neither(captured: Capture) -> None:
    url = f"redis://app:{PASSWORD}@db:6379/0"
    hide_secrets_in_logs(load_settings(redis_url=url))
    log = logging.getLogger("tests.redaction.library")

    log.info("connecting to %s", url)
    log.warning("auth with %r failed", PASSWORD)
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        log.exception("lost the server")

    text = "\n".join(captured.lines)
    assert PASSWORD not in text
    assert "connecting to ***" in text and "lost the server" in text
    assert "ConnectionError: cannot reach ***" in text


@pytest.mark.parametrize(
    "url",
    [
        f"redis://db:6379/0?password={PASSWORD}",
        f"rediss://:{PASSWORD}@db:6380/0",
        f"unix://u:{PASSWORD}@/run/redis.sock",
    ],
)
def test_the_password_is_a_secret_value_in_every_url_form(url: str) -> None:
    assert PASSWORD in secret_values(load_settings(redis_url=url))


def test_a_url_without_a_password_is_no_secret() -> None:
    assert secret_values(load_settings(redis_url="redis://db:6379/0")) == []


def test_prefects_auth_string_is_masked_too(
    captured: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "admin:s3cret-Auth-9")
    hide_secrets_in_logs(load_settings())

    logging.getLogger("tests.redaction.library").info("auth header from s3cret-Auth-9")

    assert captured.lines == ["auth header from ***"]
