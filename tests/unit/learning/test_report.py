from __future__ import annotations

from components.config import ModuleMode
from components.learning.report import RetrainReport


def test_the_cli_lines_and_the_artifact_tell_the_same_verdict() -> None:
    report = RetrainReport(
        mode=ModuleMode.OBSERVE,
        model="price_direction",
        version="v0002",
        promoted=False,
        reasons=["AUC 0.51 does not beat production's 0.55"],
        metrics={"auc": 0.51, "log_loss": 0.69},
        production_metrics={"auc": 0.55},
        summary="price_direction v0002 not promoted: AUC 0.51 does not beat production's 0.55",
    )

    assert report.lines() == [
        "price_direction v0002 not promoted",
        "  - AUC 0.51 does not beat production's 0.55",
    ]
    text = report.render_markdown()
    assert report.summary in text
    assert "| auc | 0.5100 | 0.5500 |" in text and "| log_loss | 0.6900 | - |" in text
    assert "Observe mode" in text


def test_a_retraining_switched_off_says_so() -> None:
    report = RetrainReport(mode=ModuleMode.OFF)

    assert report.lines() == ["QT_CLM_MODE=OFF: not retrained"]
    assert "QT_CLM_MODE=OFF" in report.render_markdown()
