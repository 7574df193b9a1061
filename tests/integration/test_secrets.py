"""The Redis password never leaves: flows run against a password-protected Redis (an ACL
user of the test's own on the test server), then every output, the Prefect database and
QT_HOME are searched for the password."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import redis

from components.namespaces import NamespaceUser, create_namespace_user, delete_namespace_user
from components.policy import PolicyStore
from components.settings import Settings
from deployments.prefect_server import free_port

pytestmark = [pytest.mark.usefixtures("prefect_server"), pytest.mark.timeout(600)]

ENGINE = [str(Path(sys.executable).parent / "quantum-trader"), "engine", "run",
          "--cycles", "2", "--interval", "0.05", "--speed", "3000"]  # fmt: skip


@pytest.fixture
def user(redis_url: str, settings: Settings) -> Iterator[NamespaceUser]:
    """The test namespace's ACL user, with a password no other text holds."""
    admin = redis.Redis.from_url(redis_url, decode_responses=True)
    password = f"pw-{secrets.token_hex(12)}-{secrets.token_hex(4)}"
    yield create_namespace_user(admin, settings.namespace, password=password)
    delete_namespace_user(admin, settings.namespace)
    admin.close()


def other_port(url: str) -> str:
    """``url`` (a TCP or unix URL) aimed at a port nothing listens on."""
    parts = urlsplit(url)
    return f"{parts.scheme if parts.scheme != 'unix' else 'redis'}://127.0.0.1:{free_port()}/0"


def prefect_database() -> list[Path]:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    db = Path(str(PREFECT_SERVER_DATABASE_CONNECTION_URL.value()).split(":///", 1)[1])
    return [p for p in db.parent.glob(f"{db.name}*")]


def namespace_values(client: redis.Redis, namespace: str) -> str:
    """Every value stored under the namespace, as text."""
    out = []
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        kind = client.type(key)
        if kind == "string":
            out.append(str(client.get(key)))
        elif kind == "hash":
            out.append(str(client.hgetall(key)))
        elif kind == "list":
            out.append(str(client.lrange(key, 0, -1)))
        elif kind == "set":
            out.append(str(client.smembers(key)))
        elif kind == "zset":
            out.append(str(client.zrange(key, 0, -1, withscores=True)))
        elif kind == "stream":
            out.append(str(client.xrange(key)))
    return "\n".join(out)


def test_a_redis_password_is_in_no_output_prefect_record_or_file(
    settings: Settings,
    client: redis.Redis,
    qt_env: dict[str, str],
    user: NamespaceUser,
    redis_url: str,
) -> None:
    from prefect.settings import PREFECT_API_URL

    PolicyStore.connect(settings).patch(
        {"active_universe": ["BTC/USDT", "ETH/USDT"]}, by="tests", reason="something to trade"
    )
    env = {**qt_env, "PREFECT_API_URL": str(PREFECT_API_URL.value())}
    dead = other_port(redis_url)
    password, username = user.password, user.username
    forms = {  # a password in each place a URL holds one (rediss:// and the rest: unit tests)
        "userinfo": user.url(redis_url),
        "query, server down": f"{dead}?username={username}&password={quote(password)}",
    }
    outputs = []
    for form, url in forms.items():
        done = subprocess.run(ENGINE, env={**env, "QT_REDIS_URL": url}, capture_output=True,
                              text=True, timeout=300)  # fmt: skip
        assert done.returncode == (0 if form == "userinfo" else 1), (form, done.stderr[-2000:])
        outputs += [done.stdout, done.stderr]
    assert "2 cycles" in outputs[0]
    assert "does not answer" in outputs[3]  # the failure was reported, redacted

    found = [
        where
        for where, text in [
            *((f"output {n}", out) for n, out in enumerate(outputs)),
            *((str(p), p.read_bytes().decode("latin-1")) for p in prefect_database()),
            *(
                (str(p), p.read_bytes().decode("latin-1"))
                for p in Path(settings.home).rglob("*")
                if p.is_file()
            ),
            ("redis", namespace_values(client, settings.namespace)),
        ]
        if password in text or quote(password) in text
    ]
    assert found == []
    database = "".join(p.read_bytes().decode("latin-1") for p in prefect_database())
    assert f"?username={username}&password=***" in database  # the failed runs, redacted
