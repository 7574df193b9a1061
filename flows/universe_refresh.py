"""universe-refresh (hourly): choose the active universe from the latest ranking, keeping
every symbol with an open position, and announce ``universe.updated``."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.events import Event
from components.events.types import UNIVERSE_UPDATED
from components.ranking import Ranking
from components.ranking.report import UniverseReport
from components.settings import ModuleMode, load_settings
from tasks.artifacts import publish_markdown
from tasks.events import publish_event
from tasks.ledger import open_position_symbols
from tasks.market import read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy, read_policy
from tasks.ranking import choose_universe, load_ranking

NAME = "universe-refresh"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
)
def universe_refresh() -> UniverseReport:
    """Refresh ``active_universe`` from the latest opportunity ranking."""
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "universe")
    if mode is ModuleMode.OFF:
        log.info("QT_UNIVERSE_MODE=OFF: not refreshing")
        return UniverseReport(mode=mode)
    now = read_clock(settings)
    policy = read_policy(settings)
    # The ranking flow keeps the whole ranking (with filter reasons); the policy's
    # opp_rankings is the fallback when it has not run in this namespace yet.
    ranking = load_ranking(settings) or Ranking.from_policy_map(policy.opp_rankings)
    holding = open_position_symbols(settings)
    selection = choose_universe(settings, ranking, list(policy.active_universe), holding)

    report = UniverseReport.of(selection, mode, policy_version=None)
    summary = report.summary()
    version = None
    if mode is ModuleMode.ENFORCED:
        new = list(selection.symbols)
        updated = patch_policy(settings, {"active_universe": new}, by=NAME, reason=summary)
        version = updated.version
    publish_event(
        settings,
        Event.create(
            UNIVERSE_UPDATED,
            {
                "mode": mode.value.lower(),
                "symbols": list(selection.symbols),
                "added": list(selection.added),
                "removed": list(selection.removed),
                "reasons": selection.reasons,
                "policy_version": version,
            },
            source=NAME,
            occurred_at=now,
        ),
    )
    report = report.model_copy(update={"policy_version": version})
    publish_markdown("universe-refresh", report.render_markdown(), f"Active universe: {summary}")
    log.info("universe %s (%s)", summary, mode.value)
    return report


if __name__ == "__main__":
    universe_refresh()
