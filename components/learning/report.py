"""What a run of the clm-retraining flow reports: the flow returns a :class:`RetrainReport`,
publishes :meth:`RetrainReport.render_markdown` as its artifact, and ``quantum-trader
retrain`` prints :meth:`RetrainReport.lines`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from components.config import ModuleMode
from components.learning.learning_manager import RetrainResult, WalkForwardFold


class RetrainReport(BaseModel):
    """One retraining (``mode`` OFF: nothing else is set)."""

    model_config = ConfigDict(frozen=True, extra="forbid", ser_json_inf_nan="constants")

    mode: ModuleMode
    model: str | None = None
    version: str | None = None
    promoted: bool = False
    reasons: list[str] = Field(default_factory=list)
    metrics: dict[str, float] = Field(default_factory=dict, description="The candidate's.")
    production_metrics: dict[str, float] = Field(default_factory=dict)
    summary: str = ""
    policy_version: int | None = None
    walk_forward: list[WalkForwardFold] = Field(
        default_factory=list,
        description="Each split's out-of-sample scores, oldest first; the last: the candidate.",
    )

    @classmethod
    def of(
        cls, result: RetrainResult, mode: ModuleMode, policy_version: int | None
    ) -> RetrainReport:
        """The report of ``result``, decided in ``mode``."""
        return cls(
            mode=mode,
            model=result.model,
            version=result.version,
            promoted=result.promoted,
            reasons=list(result.reasons),
            metrics=result.candidate.metrics(),
            production_metrics=result.production.metrics() if result.production else {},
            summary=result.summary(),
            policy_version=policy_version,
            walk_forward=list(result.walk_forward),
        )

    def lines(self) -> list[str]:
        """The verdict and its reasons, as the command line prints them."""
        if self.model is None:
            return [f"QT_CLM_MODE={self.mode.value}: not retrained"]
        verdict = "promoted" if self.promoted else "not promoted"
        return [f"{self.model} {self.version} {verdict}"] + [f"  - {r}" for r in self.reasons]

    def render_markdown(self) -> str:
        """The retraining as a markdown note (the flow's Prefect artifact)."""
        if self.model is None:
            return f"# Model retraining\n\nQT_CLM_MODE={self.mode.value}: not retrained.\n"
        production = self.production_metrics
        rows = "\n".join(
            f"| {name} | {value:.4f} | "
            + (f"{production[name]:.4f}" if name in production else "-")
            + " |"
            for name, value in self.metrics.items()
        )
        note = (
            "" if self.mode is ModuleMode.ENFORCED else "\n\n_Observe mode: production left alone._"
        )
        folds = "\n".join(
            f"| {f.test_window.start:%Y-%m-%d %H:%M} .. {f.test_window.end:%Y-%m-%d %H:%M} | "
            f"{f.scores.prediction.auc:.4f} | {f.scores.prediction.log_loss:.4f} | "
            f"{f.scores.trading.total_return:+.4f} | {f.scores.trading.trades} |"
            for f in self.walk_forward
        )
        return (
            f"# Model retraining\n\n{self.summary}\n\n| metric | candidate | production |\n"
            f"|---|---|---|\n{rows}\n\n## Walk-forward (out of sample, oldest first; the "
            f"last is the candidate)\n\n| test window | AUC | log loss | net return | trades |\n"
            f"|---|---|---|---|---|\n{folds}\n{note}"
        )
