from __future__ import annotations

from components.config import ModuleMode
from components.evolution.results import CANDIDATE_COLUMNS, CandidateRow, GenerationReport
from tests.unit.evolution.builders import evaluation


def report(mode: ModuleMode = ModuleMode.ENFORCED) -> GenerationReport:
    return GenerationReport(
        mode=mode,
        run_id="r1",
        seed=7,
        best=[CandidateRow.of(evaluation("momentum", 1.25))],
        shadow=[],
        fitness_history=[1.25],
    )


def test_the_candidate_table_keeps_out_of_sample_apart_from_in_sample() -> None:
    (cells,) = report().candidate_table()

    row = dict(zip(CANDIDATE_COLUMNS, cells, strict=True))
    assert row["fitness"] == "1.250"
    assert row["OOS Sharpe"] == "1.25" and row["in-sample Sharpe"] == "2.25"


def test_the_markdown_artifact_shows_the_same_table_the_cli_prints() -> None:
    text = report(ModuleMode.OBSERVE).render_markdown()

    assert "| " + " | ".join(CANDIDATE_COLUMNS) + " |" in text
    assert "| " + " | ".join(report().candidate_table()[0]) + " |" in text
    assert "## State changes (observe)" in text and "- none" in text


def test_a_run_with_the_generator_off_says_so() -> None:
    assert "QT_GENERATOR_MODE=OFF" in GenerationReport(mode=ModuleMode.OFF).render_markdown()
