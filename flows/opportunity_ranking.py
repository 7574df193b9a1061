"""opportunity-ranking (every 5 minutes): score every symbol, write ``opp_rankings``,
announce ``opportunities.updated`` and publish the ranking as a table artifact."""

from __future__ import annotations

from prefect import flow, get_run_logger

from components.events import Event
from components.events.types import OPPORTUNITIES_UPDATED
from components.ranking.report import RankingReport
from components.settings import ModuleMode, load_settings
from tasks.artifacts import publish_table
from tasks.events import publish_event
from tasks.market import fetch_bars, fetch_tickers, read_clock
from tasks.modules import module_mode, watched
from tasks.monitoring import record_success
from tasks.policy import patch_policy, read_policy
from tasks.ranking import ranker_config, save_ranking, score_symbols

NAME = "opportunity-ranking"


@flow(
    name=NAME,
    persist_result=False,
    log_prints=False,
    **watched(record_success),  # last-success metric; self-healing (tasks.modules)
)
def opportunity_ranking(timeframe: str | None = None) -> RankingReport:
    """Rank the market's symbols for trading opportunity."""
    settings = load_settings()
    log = get_run_logger()
    mode = module_mode(settings, "ranker")
    if mode is ModuleMode.OFF:
        log.info("QT_RANKER_MODE=OFF: not ranking")
        return RankingReport(mode=mode)
    timeframe = timeframe or settings.timeframe
    now = read_clock(settings)
    bars = fetch_bars(settings, timeframe, ranker_config(settings, timeframe).window)
    tickers = fetch_tickers(settings)
    ranking = score_symbols(settings, bars, tickers, timeframe)
    save_ranking(settings, ranking)

    scores = ranking.as_policy_map()
    top = [s.symbol for s in ranking.top()]
    summary = (
        f"ranked {len(ranking.kept)} of {len(ranking.scores)} symbols; "
        f"top: {', '.join(f'{s.symbol} {s.total:.2f}' for s in ranking.top(3)) or 'none'}"
    )
    version = None
    if mode is ModuleMode.ENFORCED:
        dropped = {s: None for s in read_policy(settings).opp_rankings if s not in scores}
        policy = patch_policy(
            settings, {"opp_rankings": {**dropped, **scores}}, by=NAME, reason=summary
        )
        version = policy.version
    publish_event(
        settings,
        Event.create(
            OPPORTUNITIES_UPDATED,
            {
                "mode": mode.value.lower(),
                "rankings": scores,
                "top": top,
                "filtered": {s.symbol: s.filtered_reason for s in ranking.filtered},
                "policy_version": version,
            },
            source=NAME,
            occurred_at=now,
        ),
    )
    publish_table(
        "opportunity-ranking",
        ranking.render_table(),
        f"Opportunity ranking ({mode.value.lower()}): {summary}",
    )
    log.info("%s (%s)", summary, mode.value)
    return RankingReport(
        mode=mode, top=top, rankings=scores, summary=summary, policy_version=version
    )


if __name__ == "__main__":
    opportunity_ranking()
