"""quantum-trader data import|download|list: the user's own market history."""

from __future__ import annotations

from pathlib import Path

import typer

from deployments.cli._app import fail, group, handles_errors, out, print_json, settings

app = group("data", help="Import, download and list market history (QT_HOME/data).")

GAPS_HELP = "Missing bars: allow (keep them as gaps), refuse, or ffill (flat bars)."


@app.command("import")
@handles_errors
def data_import(
    paths: list[Path] = typer.Argument(..., help="Files (or folders of files) to import."),
    symbol: str | None = typer.Option(None, "--symbol", help="When the name does not say it."),
    timeframe: str | None = typer.Option(None, "--timeframe", help="Default: from the name."),
    gaps: str | None = typer.Option(None, "--gaps", help=GAPS_HELP),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Read CSV (time in s, ms or ISO), Binance kline CSV, Freqtrade json/feather or parquet
    files, normalise them to UTC bars and store them under QT_HOME/data (parquet)."""
    import warnings

    from components.market.store import BarStore
    from components.market.validation import GAP_POLICIES, NaiveTimeWarning

    config = settings()
    policy = gaps or config.market.data_gaps
    if policy not in GAP_POLICIES:
        fail(f"--gaps {policy!r}: use one of {', '.join(GAP_POLICIES)}")
    store = BarStore.under(config.home)
    for path in paths:
        if not path.exists():
            fail(f"{path}: no such file or folder")
    files = [f for p in paths for f in (sorted(p.iterdir()) if p.is_dir() else [p]) if f.is_file()]
    if not files:
        fail(f"no file to import in {', '.join(str(p) for p in paths)}")
    done = []
    for path in files:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NaiveTimeWarning)
            imported = store.import_file(path, symbol=symbol, timeframe=timeframe, gaps=policy)  # type: ignore[arg-type]
        for warning in caught:
            typer.echo(f"warning: {warning.message}", err=True)
        done.append(imported)
    if as_json:
        print_json(
            [
                {
                    "file": str(i.source), "symbol": i.symbol, "timeframe": i.timeframe,
                    "bars": i.bars, "added": i.added, "stored": i.stored, "path": str(i.path),
                    "gaps": len(i.gaps.gaps), "missing_bars": i.gaps.missing,
                }
                for i in done
            ]
        )  # fmt: skip
        return
    for i in done:
        out.print(
            f"{i.source}: {i.symbol} {i.timeframe}, {i.bars:,} bars ({i.added:,} new, "
            f"{i.stored:,} stored in {i.path}); {i.gaps.describe()}"
        )


@app.command("download")
@handles_errors
def data_download(
    symbols: list[str] = typer.Argument(..., help="e.g. BTC/USDT ETH/USDT"),
    timeframe: str = typer.Option("1h", "--timeframe"),
    since: str = typer.Option(..., "--since", help="UTC start, e.g. 2024-01-01"),
    until: str | None = typer.Option(None, "--until", help="UTC end (default: now)"),
    exchange_id: str | None = typer.Option(None, "--exchange", help="Default QT_EXCHANGE_ID."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Download closed bars through ccxt (public data, no keys) into QT_HOME/data,
    resuming after the newest stored bar; a progress bar per symbol."""
    import pandas as pd
    from rich.console import Console
    from rich.progress import Progress

    from components.market.ccxt_market import ccxt_exchange_class
    from components.market.download import download_bars
    from components.market.store import BarStore

    config = settings()
    start = (
        pd.Timestamp(since, tz="UTC") if pd.Timestamp(since).tzinfo is None else pd.Timestamp(since)
    )
    stop = pd.Timestamp(until) if until else pd.Timestamp.now(tz="UTC")
    stop = stop.tz_localize("UTC") if stop.tzinfo is None else stop
    exchange_class = ccxt_exchange_class(exchange_id or config.exchange.id, purpose="data download")
    exchange = exchange_class(
        {"enableRateLimit": True, "options": {"defaultType": "spot", "fetchMarkets": ["spot"]}}
    )
    store = BarStore.under(config.home)
    reports = []
    with Progress(console=Console(stderr=True), transient=True) as progress:
        for symbol in symbols:
            task = progress.add_task(f"{symbol} {timeframe}", total=None)

            def advance(done: int, total: int, task: int = task) -> None:
                progress.update(task, completed=done, total=total)  # type: ignore[arg-type]

            reports.append(
                download_bars(
                    exchange, store, symbol, timeframe, since=start.to_pydatetime(),
                    until=stop.to_pydatetime(), progress=advance,
                )
            )  # fmt: skip
    if as_json:
        print_json(
            [
                {"symbol": r.symbol, "timeframe": r.timeframe, "added": r.added,
                 "stored": r.stored, "requests": r.requests, "missing_bars": r.gaps.missing,
                 "resumed_from": None if r.resumed_from is None else r.resumed_from.isoformat()}
                for r in reports
            ]
        )  # fmt: skip
        return
    for r in reports:
        resumed = f", resumed after {r.resumed_from}" if r.resumed_from is not None else ""
        out.print(
            f"{r.symbol} {r.timeframe}: {r.added:,} new bars, {r.stored:,} stored "
            f"({r.requests} requests{resumed}); {r.gaps.describe()}"
        )


@app.command("list")
@handles_errors
def data_list(as_json: bool = typer.Option(False, "--json")) -> None:
    """What QT_HOME/data holds: each symbol and timeframe, its span, bars and gaps."""
    from rich.table import Table

    from components.market.store import BarStore
    from components.market.validation import format_timestamp

    coverage = BarStore.under(settings().home).coverage()
    if as_json:
        print_json(
            [
                {
                    "symbol": c.symbol, "timeframe": c.timeframe, "bars": c.bars,
                    "first": None if c.first is None else c.first.isoformat(),
                    "last": None if c.last is None else c.last.isoformat(),
                    "gaps": len(c.gaps.gaps), "missing_bars": c.gaps.missing,
                    "coverage": round(c.gaps.coverage, 6), "path": str(c.path),
                }
                for c in coverage
            ]
        )  # fmt: skip
        return
    if not coverage:
        out.print("no data yet: quantum-trader data import PATH or data download SYMBOL")
        return
    table = Table("symbol", "timeframe", "first", "last", "bars", "coverage", "gaps", "missing")
    for c in coverage:
        table.add_row(
            c.symbol, c.timeframe,
            format_timestamp(c.first) if c.first is not None else "-",
            format_timestamp(c.last) if c.last is not None else "-",
            f"{c.bars:,}", f"{c.gaps.coverage:.1%}", str(len(c.gaps.gaps)), f"{c.gaps.missing:,}",
        )  # fmt: skip
    out.print(table)
