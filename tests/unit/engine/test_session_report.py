"""The trading-engine flow's typed result: what `engine run` prints and the artifact shows."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from components.engine.session import SessionReport


def test_the_markdown_names_failed_cycles_only_when_there_were_some() -> None:
    clean = SessionReport(cycles=4, orders=2, failed_cycles=0, ended="session over")
    failed = SessionReport(cycles=4, orders=0, failed_cycles=3, ended="stopped")
    assert "**Ended:** session over" in clean.render_markdown()
    assert "**Orders placed:** 2" in clean.render_markdown()
    assert "Failed cycles" not in clean.render_markdown()
    assert "**Failed cycles:** 3" in failed.render_markdown()


def test_a_report_cannot_count_below_zero() -> None:
    with pytest.raises(ValidationError, match="cycles"):
        SessionReport(cycles=-1, orders=0, failed_cycles=0, ended="stopped")
