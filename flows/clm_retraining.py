"""clm-retraining (Sundays 02:00, cron ``0 2 * * 0``): retrain the prediction model on
the latest bars, score the candidate against production in shadow on the same recent
out-of-sample window, and promote it only on evidence (``model.promoted``)."""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from components.events import Event
from components.events.types import MODEL_PROMOTED
from components.settings import ModuleMode, load_settings
from tasks.artifacts import publish_markdown
from tasks.events import publish_event
from tasks.learning import retrain_model
from tasks.market import fetch_bars, read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy

NAME = "clm-retraining"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
)
def clm_retraining() -> dict[str, Any]:
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "clm")
    if mode is ModuleMode.OFF:
        log.info("QT_CLM_MODE=OFF: not retraining")
        return {"mode": mode.value}
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
    candidate = result.candidate.metrics()
    production = result.production.metrics() if result.production else {}
    rows = "\n".join(
        f"| {name} | {value:.4f} | "
        + (f"{production[name]:.4f}" if name in production else "-")
        + " |"
        for name, value in candidate.items()
    )
    note = "" if mode is ModuleMode.ENFORCED else "\n\n_Observe mode: production left alone._"
    publish_markdown(
        "clm-retraining",
        f"# Model retraining\n\n{result.summary()}\n\n| metric | candidate | production |\n"
        f"|---|---|---|\n{rows}\n{note}",
        result.summary()[:250],
    )
    log.info(result.summary())
    return {
        "mode": mode.value,
        "model": result.model,
        "version": result.version,
        "promoted": result.promoted,
        "reasons": list(result.reasons),
        "metrics": candidate,
        "policy_version": version,
    }


if __name__ == "__main__":
    clm_retraining()
