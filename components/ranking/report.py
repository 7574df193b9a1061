"""What the ranking flows report: opportunity-ranking returns a :class:`RankingReport`
(its artifact is the ranking's own table), universe-refresh a :class:`UniverseReport` and
publishes :meth:`UniverseReport.render_markdown` as its artifact."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from components.config import ModuleMode
from components.ranking.universe import UniverseSelection


class RankingReport(BaseModel):
    """One run of opportunity-ranking (``mode`` OFF: nothing else is set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModuleMode
    top: list[str] = Field(default_factory=list, description="The best symbols, best first.")
    rankings: dict[str, float] = Field(default_factory=dict, description="Kept symbols' scores.")
    summary: str = ""
    policy_version: int | None = None


class UniverseReport(BaseModel):
    """One refresh of the active universe (``mode`` OFF: nothing else is set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    mode: ModuleMode
    symbols: list[str] = Field(default_factory=list)
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)
    kept_for_positions: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict)
    policy_version: int | None = None

    @classmethod
    def of(
        cls, selection: UniverseSelection, mode: ModuleMode, policy_version: int | None
    ) -> UniverseReport:
        """The report of ``selection``, decided in ``mode``."""
        return cls(
            mode=mode,
            symbols=list(selection.symbols),
            added=list(selection.added),
            removed=list(selection.removed),
            kept_for_positions=list(selection.kept_for_positions),
            reasons=dict(selection.reasons),
            policy_version=policy_version,
        )

    def summary(self) -> str:
        """``"8 symbols (+2 -1, 1 kept for open positions)"``."""
        held = len(self.kept_for_positions)
        kept = f", {held} kept for open positions" if held else ""
        return f"{len(self.symbols)} symbols (+{len(self.added)} -{len(self.removed)}{kept})"

    def render_markdown(self) -> str:
        """The refresh as a markdown note (the flow's Prefect artifact)."""
        if self.mode is ModuleMode.OFF:
            return "# Active universe\n\nQT_UNIVERSE_MODE=OFF: not refreshed.\n"
        rows = "\n".join(f"| {symbol} | {why} |" for symbol, why in self.reasons.items())
        return (
            f"# Active universe ({self.mode.value.lower()})\n\n{self.summary()}\n\n"
            f"**Added:** {', '.join(self.added) or 'none'}  \n"
            f"**Removed:** {', '.join(self.removed) or 'none'}\n\n"
            f"| symbol | why |\n|---|---|\n{rows}\n"
        )
