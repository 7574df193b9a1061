"""msc-evaluation (every 30 minutes): classify the market, weigh health and recent
performance, and set the risk mode, its limits and the allowed strategies."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.events import Event
from components.events.types import REGIME_ASSESSED
from components.regime.assessment import MSCReport
from components.regime.controller import policy_changes
from components.settings import ModuleMode, load_settings
from tasks.analytics import read_performance
from tasks.artifacts import publish_markdown
from tasks.events import publish_event
from tasks.market import fetch_bars, read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy, read_policy
from tasks.regime import (
    classifier,
    classify_market,
    decide_risk_mode,
    load_msc_memory,
    read_health,
    save_msc_memory,
)

NAME = "msc-evaluation"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
)
def msc_evaluation(timeframe: str | None = None) -> MSCReport:
    """One evaluation of the Meta Strategy Controller."""
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "msc")
    if mode is ModuleMode.OFF:
        log.info("QT_MSC_MODE=OFF: not evaluating")
        return MSCReport(mode=mode)
    timeframe = timeframe or settings.timeframe
    now = read_clock(settings)
    bars = fetch_bars(settings, timeframe, classifier(settings, timeframe).bars_needed)
    classification = classify_market(settings, bars, timeframe)
    health = read_health(settings, now)
    memory = load_msc_memory(settings)
    performance = read_performance(settings, now)  # None until the first closed trade
    assessment = decide_risk_mode(settings, classification, health, performance, memory, now)

    reason = "; ".join(assessment.drivers[:3]) or f"market {assessment.market_state.state.value}"
    version = None
    if mode is ModuleMode.ENFORCED:
        current = read_policy(settings)
        changes = policy_changes(
            assessment,
            current.emergency.active,
            memory,
            current.strategy_states,
            ml_ready=settings.clm.model_name in current.model_versions,
        )
        version = patch_policy(settings, changes, by=NAME, reason=reason).version
    save_msc_memory(settings, assessment.memory)
    publish_event(
        settings,
        Event.create(
            REGIME_ASSESSED,
            {
                "mode": mode.value.lower(),
                "risk_mode": assessment.risk_mode.value,
                "previous_mode": assessment.previous_mode.value,
                "market_state": assessment.market_state.state.value,
                "emergency": assessment.emergency.active,
                "drivers": list(assessment.drivers),
                "policy_version": version,
            },
            source=NAME,
            occurred_at=now,
        ),
    )
    report = MSCReport(mode=mode, assessment=assessment, policy_version=version)
    publish_markdown(
        "msc-evaluation",
        report.render_markdown(),
        f"Risk mode {assessment.risk_mode.value} ({mode.value.lower()})",
    )
    log.info("risk mode %s (%s): %s", assessment.risk_mode.value, mode.value, reason)
    return report


if __name__ == "__main__":
    msc_evaluation()
