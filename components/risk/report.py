"""What a run of the emergency-response flow reports: the flow returns an
:class:`EmergencyReport` and publishes :meth:`EmergencyReport.render_markdown` as its
artifact."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from components.risk.emergency import EssState


class EmergencyReport(BaseModel):
    """The policy put in DEFENSIVE with the emergency flag, and the ESS halted: why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy_version: int
    ess_state: EssState
    reason: str

    def render_markdown(self) -> str:
        """The response as a markdown note, saying how it is left."""
        return (
            "# Emergency response\n\n"
            f"**Reason:** {self.reason}  \n"
            f"**Policy:** version {self.policy_version}, DEFENSIVE, emergency active  \n"
            f"**Emergency Stop:** {self.ess_state.value}\n\n"
            "The MSC clears the emergency after health has been HEALTHY for "
            "QT_MSC_EMERGENCY_CLEAR_MINUTES; the ESS leaves HALTED only by `ess resume`.\n"
        )
