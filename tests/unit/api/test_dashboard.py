"""The dashboard in a real headless Chromium: sign in with a viewer token, see the
account's real numbers, watch them change live, and a screenshot that is not blank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from components.access import Role, TokenStore
from components.engine import marked_account
from components.policy import PolicyStore
from components.risk.emergency import EmergencyStop
from components.settings import Settings
from deployments.api.app import create_app
from tests.accounts import TradedAccount, traded_account
from tests.browser import Browser
from tests.unit.api.conftest import NOW, serve_in_thread


@pytest.fixture
def account(settings: Settings) -> TradedAccount:
    return traded_account(settings)


@pytest.fixture
def served(settings: Settings, account: TradedAccount) -> Iterator[str]:
    yield from serve_in_thread(create_app(settings, clock=account.clock))


def money(value: float) -> str:
    return f"{value:,.2f}"


def test_the_dashboard_shows_the_accounts_real_numbers_live(
    settings: Settings, account: TradedAccount, served: str, tmp_path: Path
) -> None:
    secret = TokenStore.connect(settings).create("watcher", Role.VIEWER, now=NOW).secret
    expected = marked_account(
        account.engine.ledger, market=lambda: account.market, timeframe="5m", fills=0
    )
    assert expected.positions, "the traded account should hold positions"
    policy = PolicyStore.connect(settings).get()

    with Browser() as page:
        page.goto(served + "/")
        page.wait_for("!document.getElementById('signin').hidden")  # 401: asks for a token
        page.evaluate(
            f"document.getElementById('token').value = {secret!r};"
            "document.getElementById('signin-form').requestSubmit(); true"
        )
        page.wait_for("document.body.dataset.loaded === 'true'")
        page.wait_for("document.getElementById('live').classList.contains('on')")

        assert page.text("#who") == "watcher (viewer)"
        assert page.text("#equity") == money(expected.equity)
        assert page.text("#cash") == money(expected.cash)
        assert page.text("#realized") == money(expected.realized_pnl)
        symbols = page.evaluate(
            "[...document.querySelectorAll('#positions tbody tr')].map(r => r.cells[0].textContent)"
        )
        assert symbols == sorted(expected.positions)
        assert page.text("#risk-mode") == policy.risk_mode.value
        assert page.text("#ess-state") == "ACTIVE"
        assert page.evaluate("document.querySelectorAll('#chart svg path').length") == 2
        assert "trade.executed" in page.text("#events")

        shot = page.screenshot(tmp_path / "dashboard.png")
        pixels = imread(tmp_path / "dashboard.png")
        assert shot.startswith(b"\x89PNG")
        colours = np.unique((pixels[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
        assert len(colours) > 50, "the screenshot is (nearly) blank"
        assert pixels[..., :3].std() > 0.02

        # live: an ESS halt elsewhere reaches the page through the event stream
        EmergencyStop.connect(settings).halt("seen on the dashboard", by="ops")
        page.wait_for("document.getElementById('ess-state').textContent === 'HALTED'", 20)
        assert "seen on the dashboard" in page.text("#events")


def test_a_wrong_token_does_not_sign_in(settings: Settings, served: str) -> None:
    with Browser() as page:
        page.goto(served + "/")
        page.wait_for("!document.getElementById('signin').hidden")
        page.evaluate(
            "document.getElementById('token').value = 'qt_wrong';"
            "document.getElementById('signin-form').requestSubmit(); true"
        )
        page.wait_for("document.getElementById('signin-error').textContent !== ''")
        assert page.evaluate("document.getElementById('dashboard').hidden") is True
