"""Command line: python -m bench [--quick] [--duration S] [--concurrency N] [--json PATH]."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx

from bench.data import BenchData, journal_lengths
from bench.load import LoadResult, measure, measure_at_rate
from bench.report import (
    STEADY_SHARE,
    JournalLength,
    Row,
    Run,
    Steady,
    machine_info,
    render_text,
    to_json,
)
from bench.servers import (
    Server,
    ServerError,
    baseline_server,
    floor_server,
    portal_server,
    prepare_portal_database,
)
from bench.sizes import PageSize, first_visit, page_sizes
from bench.targets import BASELINE, Prepared, SetupError, Target, all_targets

# Signals that end the bench the way Ctrl-C does (SIGHUP: the terminal went away).
STOP_SIGNALS = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]


def progress(message: str) -> None:
    # Progress goes to stderr so that stdout holds only the report.
    print(message, file=sys.stderr, flush=True)


def server_log(server: Server) -> str:
    """The end of the server's log, indented, to show with a failure (empty if none)."""
    tail = server.log_tail().strip()
    if not tail:
        return ""
    return f"\n    {server.name} log, last lines:\n" + "\n".join(
        f"      {line}" for line in tail.splitlines()
    )


async def measure_target(
    target: Target, server: Server, options: argparse.Namespace
) -> tuple[Row, Prepared | None]:
    progress(f"measuring {target.name} ...")
    try:
        async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
            prepared = await target.setup(client)
            headers = prepared.request_headers()
            check = await client.get(target.path, headers=headers)
    except (httpx.HTTPError, SetupError) as error:
        return Row(target, failure=f"setup failed: {error}{server_log(server)}"), None
    if check.status_code != 200:
        failure = f"GET {target.path} answered {check.status_code}"
        return Row(target, failure=failure + server_log(server)), None
    result = await measure(
        server.base_url,
        target.path,
        headers,
        client=options.client,
        concurrency=options.concurrency,
        warmup=options.warmup,
        duration=options.duration,
        server_cpu=server.cpu_seconds,
    )
    # Failed requests during the load: the server's log tells why (a traceback, a lock).
    load_failure = f"after the load:{server_log(server)}" if result.errors else None
    return Row(target, result=result, html_bytes=len(check.content), failure=load_failure), prepared


async def hold_steady(
    target: Target,
    server: Server,
    prepared: Prepared,
    peak: LoadResult,
    options: argparse.Namespace,
) -> Steady:
    """The same page at half the rate it just peaked at, in an open loop: is the tail short?"""
    rate = peak.rps * STEADY_SHARE
    progress(f"holding {target.name} at {rate:.0f} requests/s ...")
    result = await measure_at_rate(
        server.base_url,
        target.path,
        prepared.request_headers(),
        rate=rate,
        warmup=options.warmup,
        duration=options.duration,
        server_cpu=server.cpu_seconds,
    )
    return Steady(target, rate, result)


async def weigh(target: Target, server: Server, prepared: Prepared) -> list[PageSize]:
    progress(f"weighing {target.name} ...")
    async with httpx.AsyncClient(base_url=server.base_url, trust_env=False) as client:
        return await page_sizes(client, [(target, prepared)])


async def collect(
    servers: dict[str, Server], data: BenchData, options: argparse.Namespace, started: datetime
) -> Run:
    # Inside the loop a signal must cancel the work, not raise in the middle of a callback;
    # asyncio itself does this for Ctrl-C.
    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    if task is not None:
        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, task.cancel)
    baseline, _ = await measure_target(BASELINE, servers["baseline"], options)
    before: Row = baseline
    rows: list[Row] = []
    sizes: list[PageSize] = []
    steady: list[Steady] = []
    for target in all_targets(data):
        server = servers[target.server]
        row, prepared = await measure_target(target, server, options)
        # The bare page again right after: this target's ratio is to the two around it.
        bare_after, _ = await measure_target(BASELINE, servers["baseline"], options)
        row = replace(row, around=tuple(b.result for b in (before, bare_after) if b.result))
        before = bare_after
        rows.append(row)
        # Weighed at once: a later target may change the page (a worker's view is journaled).
        if target.weigh and prepared is not None:
            sizes += await weigh(target, server, prepared)
        if target.steady and prepared is not None and row.result is not None:
            steady.append(await hold_steady(target, server, prepared, row.result, options))

    progress("weighing the first visit's assets ...")
    portal = servers["portal"]
    async with httpx.AsyncClient(trust_env=False) as client:
        visit = await first_visit(client, portal.base_url, "/")
    dossiers = [data.short, data.long]
    after = journal_lengths(data.database_path, [d.reference for d in dossiers])
    journals = [JournalLength(d.reference, d.entries, after.get(d.reference)) for d in dossiers]
    return Run(
        started=started,
        machine=machine_info(),
        options={
            "client": options.client,
            "concurrency": options.concurrency,
            "warmup": options.warmup,
            "duration": options.duration,
        },
        baseline=baseline,
        rows=rows,
        sizes=sizes,
        first_visit=visit,
        journals=journals,
        steady=steady,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Serve the portal and a bare Starlette + Jinja page on loopback, load both "
        "and compare; weigh the public pages and the first visit's CSS and JS.",
    )
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per target")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per target")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent connections")
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default="raw",
        help="load generator: raw asyncio HTTP/1.1 (default; cheap enough not to be the "
        "bottleneck) or httpx.AsyncClient (about 1 ms of CPU per request)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a short run (1 s per target, 0.3 s warm-up)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a goal is missed"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.duration, options.warmup = 1.0, 0.3
    if options.duration <= 0 or options.warmup < 0 or options.concurrency < 1:
        parser.error("--duration must be > 0, --warmup >= 0 and --concurrency >= 1")
    return options


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (it is, with uvicorn[standard]): the client then costs less CPU."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Raising unwinds through the ExitStack, which stops the servers.
    raise SystemExit(128 + signum)


def stop_on_signals() -> None:
    """Let SIGTERM and SIGHUP end the bench as Ctrl-C does, servers stopped on the way out."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = datetime.now(UTC)
    stop_on_signals()
    try:
        with ExitStack() as stack:
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            progress("preparing a fresh database (migrate, seed-demo, bench.data) ...")
            data = prepare_portal_database(var_dir)
            progress("starting the portal and the baseline ...")
            servers = {
                "portal": stack.enter_context(portal_server(var_dir)),
                "baseline": stack.enter_context(baseline_server(var_dir)),
                "floor": stack.enter_context(floor_server(var_dir)),
            }
            with asyncio.Runner(loop_factory=loop_factory()) as runner:
                try:
                    run = runner.run(collect(servers, data, options, started))
                finally:
                    # Closing the loop reset its signals to the default, which would kill us
                    # before the servers are stopped.
                    stop_on_signals()
    except ServerError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("bench: interrupted; servers stopped.", file=sys.stderr)
        return 130

    print(render_text(run))
    if options.json:
        options.json.write_text(json.dumps(to_json(run), indent=2) + "\n", encoding="utf-8")
        progress(f"figures written to {options.json}")
    if run.failures:
        return 1
    return 1 if options.check and run.goals_missed else 0


if __name__ == "__main__":
    sys.exit(main())
