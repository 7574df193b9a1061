"""clm-retraining (Sundays 02:00, cron ``0 2 * * 0``): retrain the prediction model on
the latest bars, score the candidate against production in shadow on the same recent
out-of-sample window, and promote it only on evidence (``model.promoted``).

The walk-forward splits train in parallel on the flow's task runner: a Dask cluster when
``QT_DASK_ADDRESS`` names its scheduler, the local process pool otherwise; the same seed
gives the same result on either."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.events import Event
from components.events.types import MODEL_PROMOTED
from components.learning.report import RetrainReport
from components.settings import ModuleMode, load_settings
from tasks.artifacts import publish_markdown
from tasks.events import publish_event
from tasks.learning import retrain_model
from tasks.market import fetch_bars, read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy
from tasks.research import research_task_runner

NAME = "clm-retraining"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
    task_runner=research_task_runner(),  # Dask at QT_DASK_ADDRESS, else local processes
)
def clm_retraining() -> RetrainReport:
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "clm")
    if mode is ModuleMode.OFF:
        log.info("QT_CLM_MODE=OFF: not retraining")
        return RetrainReport(mode=mode)
    now = read_clock(settings)
    bars = fetch_bars(settings, settings.timeframe, settings.clm.history_bars)
    result = retrain_model(settings, bars, now=now, apply=mode is ModuleMode.ENFORCED)
    version = None
    if result.promoted:
        version = patch_policy(
            settings, result.policy_patch(), by=NAME, reason=result.summary()
        ).version
        payload = result.event_payload()
        if payload is not None:
            publish_event(
                settings, Event.create(MODEL_PROMOTED, payload, source=NAME, occurred_at=now)
            )
    report = RetrainReport.of(result, mode, version)
    publish_markdown("clm-retraining", report.render_markdown(), report.summary[:250])
    log.info(report.summary)
    return report


if __name__ == "__main__":
    clm_retraining()
