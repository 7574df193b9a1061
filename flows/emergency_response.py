"""emergency-response (a Prefect automation runs it on a CRITICAL health event): put the
policy into DEFENSIVE with the emergency flag, and halt the Emergency Stop System.

Leaving it is deliberate: the MSC clears the emergency only after health has been HEALTHY
for QT_MSC_EMERGENCY_CLEAR_MINUTES, and the ESS leaves HALTED only by ``ess resume``.
"""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.risk.report import EmergencyReport
from components.settings import load_settings
from tasks.artifacts import publish_markdown
from tasks.health import critical_reason, halt_trading
from tasks.market import read_clock
from tasks.monitoring import record_success
from tasks.policy import patch_policy

NAME = "emergency-response"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    on_completion=[record_success],  # for the last-success metric
)
def emergency_response(reason: str | None = None) -> EmergencyReport:
    settings = load_settings()
    log = get_run_logger()
    reason = reason or critical_reason(settings)
    changes = {
        "risk_mode": "DEFENSIVE",
        **settings.limits.defensive.policy_changes(),
        "emergency": {"active": True, "reason": reason, "since": read_clock(settings).isoformat()},
    }
    policy = patch_policy(settings, changes, by=NAME, reason=reason)
    ess = halt_trading(settings, reason, NAME)
    log.warning("emergency: policy v%d DEFENSIVE, ESS %s: %s", policy.version,
                ess.state.value, reason)  # fmt: skip
    report = EmergencyReport(policy_version=policy.version, ess_state=ess.state, reason=reason)
    publish_markdown("emergency-response", report.render_markdown(), f"Emergency: {reason}"[:250])
    return report


if __name__ == "__main__":
    emergency_response()
