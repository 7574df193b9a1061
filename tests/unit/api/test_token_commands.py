"""``quantum-trader api token create|list|revoke`` as a person (or a script) uses them."""

from __future__ import annotations

import json

import pytest

from components.access import TokenStore
from components.settings import Settings
from deployments.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.usefixtures("qt_env")
def test_create_prints_the_token_alone_on_the_last_line_and_it_works(
    capsys: pytest.CaptureFixture[str], settings: Settings
) -> None:
    code, out, err = run(capsys, "api", "token", "create", "--role", "operator", "--name", "alice")
    assert code == 0
    secret = out.splitlines()[-1]
    assert secret.startswith("qt_") and secret == out.strip()
    assert "shown only once" in err
    token = TokenStore.connect(settings).authenticate(secret)
    assert token is not None and (token.name, token.role.value) == ("alice", "operator")

    code, out, _ = run(capsys, "api", "token", "list", "--json")
    assert code == 0
    [listed] = json.loads(out)
    assert (listed["name"], listed["role"]) == ("alice", "operator")
    assert secret not in out

    assert run(capsys, "api", "token", "revoke", "alice")[0] == 0
    assert TokenStore.connect(settings).authenticate(secret) is None


@pytest.mark.usefixtures("qt_env")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["api", "token", "create", "--role", "admin", "--name", "x"], "viewer, operator"),
        (["api", "token", "create", "--role", "viewer", "--name", "a b"], "token name"),
        (["api", "token", "revoke", "nobody"], "no token named 'nobody'"),
    ],
)
def test_mistakes_are_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


@pytest.mark.usefixtures("qt_env")
def test_a_second_token_of_the_same_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "api", "token", "create", "--role", "viewer", "--name", "v")[0] == 0
    code, _, err = run(capsys, "api", "token", "create", "--role", "viewer", "--name", "v")
    assert code == 2 and "exists" in err
