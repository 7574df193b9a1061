"""What one session of the trading-engine flow reports: the flow returns a
:class:`SessionReport`, publishes :meth:`SessionReport.render_markdown` as its artifact, and
``quantum-trader engine run`` reads the same fields."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SessionReport(BaseModel):
    """How a session went: the cycles it ran, the orders they placed, and why it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cycles: int = Field(ge=0, description="engine cycles run, failed ones included")
    orders: int = Field(ge=0, description="orders submitted to the broker")
    failed_cycles: int = Field(ge=0, description="cycles that failed and placed nothing")
    ended: str = Field(description="why the session ended (stopped, session over, lease ...)")

    def render_markdown(self) -> str:
        """The session as a markdown note."""
        failed = (
            f"**Failed cycles:** {self.failed_cycles} (fail closed: they placed no orders)  \n"
            if self.failed_cycles
            else ""
        )
        return (
            "# Trading-engine session\n\n"
            f"**Ended:** {self.ended}  \n"
            f"**Cycles:** {self.cycles}  \n"
            f"**Orders placed:** {self.orders}  \n"
            f"{failed}"
        )
