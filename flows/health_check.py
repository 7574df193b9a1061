"""health-check (every minute): hold back in OBSERVE the decision modules whose flows keep
failing (and let go those that run well again), measure Redis, the bus, market data and
the engine, store the verdict, and announce ``health.status_changed`` only when it
changes. A CRITICAL verdict's Prefect event triggers the emergency-response deployment
(prefect.yaml)."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.health.report import HealthReport
from components.settings import load_settings
from tasks.health import judge_health, measure_health, record_health
from tasks.modules import heal_modules
from tasks.monitoring import record_success

NAME = "health-check"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    on_completion=[record_success],  # for the last-success metric
)
def health_check() -> HealthReport:
    settings = load_settings()
    log = get_run_logger()
    changes = heal_modules(settings)
    for change in changes:
        log.warning("module %s: %s -> %s (%s)", change.module, change.previous.value,
                    change.mode.value, change.reason)  # fmt: skip
    inputs = measure_health(settings)
    verdict = judge_health(settings, inputs)
    record, changed = record_health(settings, verdict.status, verdict.reasons, verdict.checks)
    report = HealthReport(
        status=record.status, changed=changed, reasons=record.reasons, modules=changes
    )
    (log.warning if changed else log.info)(report.summary() + (" (changed)" if changed else ""))
    return report


if __name__ == "__main__":
    health_check()
