"""What a strategy-generation run reports: the best candidates with their out-of-sample
and in-sample folds side by side, the state changes and the policy version it wrote.

The flow returns a :class:`GenerationReport`; its artifact is
:meth:`GenerationReport.render_markdown` and ``quantum-trader evolve`` prints
:meth:`GenerationReport.candidate_table`, so the out-of-sample table is built in one place.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from components.config import ModuleMode
from components.evolution.fitness import Evaluation, FoldSummary
from components.evolution.promotion import Transition


class CandidateRow(BaseModel):
    """One candidate's walk-forward evidence, out of sample apart from in sample."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    candidate: str
    strategy: str
    params: dict[str, Any]
    fitness: float
    out_of_sample: FoldSummary
    in_sample: FoldSummary

    @classmethod
    def of(cls, evaluation: Evaluation) -> CandidateRow:
        """The row of ``evaluation``, e.g. ``CandidateRow.of(result.best(1)[0])``."""
        return cls(
            candidate=evaluation.candidate_name,
            strategy=evaluation.genome.strategy,
            params=dict(evaluation.genome.params),
            fitness=evaluation.fitness,
            out_of_sample=evaluation.summary("out_of_sample"),
            in_sample=evaluation.summary("in_sample"),
        )


CANDIDATE_COLUMNS: tuple[str, ...] = (
    "candidate",
    "fitness",
    "OOS Sharpe",
    "OOS return",
    "OOS max DD",
    "OOS trades",
    "in-sample Sharpe",
    "in-sample return",
)


class GenerationReport(BaseModel):
    """One run of the strategy-generation flow (``mode`` OFF: nothing else is set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModuleMode
    run_id: str | None = None
    seed: int | None = None
    best: list[CandidateRow] = Field(default_factory=list)
    shadow: list[str] = Field(default_factory=list, description="Entered shadow this run.")
    transitions: list[Transition] = Field(default_factory=list)
    fitness_history: list[float] = Field(default_factory=list)
    policy_version: int | None = None

    def candidate_table(self) -> list[tuple[str, ...]]:
        """The best candidates as text cells, in the order of :data:`CANDIDATE_COLUMNS`."""
        return [
            (
                row.candidate,
                f"{row.fitness:.3f}",
                f"{row.out_of_sample.sharpe:.2f}",
                f"{row.out_of_sample.total_return:.2%}",
                f"{row.out_of_sample.max_drawdown:.2%}",
                str(row.out_of_sample.trades),
                f"{row.in_sample.sharpe:.2f}",
                f"{row.in_sample.total_return:.2%}",
            )
            for row in self.best
        ]

    def render_markdown(self) -> str:
        """The run as a markdown note (the flow's Prefect artifact)."""
        if self.run_id is None:
            return f"# Strategy generation\n\nQT_GENERATOR_MODE={self.mode.value}: no search.\n"
        lines = [
            f"# Strategy generation `{self.run_id}`",
            "",
            "## Best candidates (out-of-sample folds)",
            "",
            "| " + " | ".join(CANDIDATE_COLUMNS) + " |",
            "|" + "---|" * len(CANDIDATE_COLUMNS),
        ]
        lines += ["| " + " | ".join(cells) + " |" for cells in self.candidate_table()]
        observe = "" if self.mode is ModuleMode.ENFORCED else " (observe)"
        lines += ["", f"## State changes{observe}", ""]
        lines += [
            f"- {t.strategy}: {t.from_state or 'new'} -> {t.to_state} ({t.reason})"
            for t in self.transitions
        ] or ["- none"]
        return "\n".join(lines) + "\n"
