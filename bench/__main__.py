"""python -m bench: the portal's pages against a bare Starlette + Jinja page, in the same run.

Each page is loaded for a few seconds over keep-alive connections, and the bare page just
before and just after it: a virtual machine's speed drifts by tens of percent within minutes,
so each page's ratio (its requests per second over the bare page's) is to the bare page of its
own moment. The goals are such ratios, never absolute times. Then the pages marked steady are
held at half their peak rate in an open loop, for the tail of their latency, and the pages a
phone downloads are weighed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import platform
import signal
import sqlite3
import sys
import tempfile
from contextlib import ExitStack, closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.load import LoadResult, closed_loop, open_loop
from bench.servers import (
    Server,
    ServerError,
    baseline_server,
    portal_environment,
    portal_server,
    run_module,
)
from bench.sizes import HTML_GOAL, LANGUAGES, PUBLIC_PAGES, PageSize, weigh
from bench.targets import JOURNAL_PAIRS, SetupError, Target, cookie_header, sign_in, targets, visit
from bench.weight import FirstVisit, first_visits
from bench.weight import report as weight_report
from bench.world import World

STEADY_SHARE = 0.5  # Held at this share of its peak rate, a page's p99 may be
TAIL_GOAL = 4.0  # at most this many times its p50, with no error.
JOURNAL_GOAL = 1.5  # A journal of 10,010 entries against 10: latency at most this much more.
TIMES = "\N{MULTIPLICATION SIGN}"


@dataclass(frozen=True)
class Row:
    target: Target
    result: LoadResult
    bare: tuple[LoadResult, ...]  # The bare page just before and just after.

    @property
    def bare_rps(self) -> float:
        return sum(b.rps for b in self.bare) / len(self.bare)

    @property
    def ratio(self) -> float:
        return self.result.rps / self.bare_rps

    @property
    def cpu_ratio(self) -> float | None:
        """The bare page's server CPU per request over the page's: no client in it."""
        cpu = [c for b in self.bare if (c := b.cpu_us)]
        page = self.result.cpu_us
        return sum(cpu) / len(cpu) / page if cpu and page else None


@dataclass
class Run:
    rows: list[Row] = field(default_factory=list)
    steady: list[tuple[str, float, LoadResult]] = field(default_factory=list)
    sizes: list[PageSize] = field(default_factory=list)
    first_visits: list[FirstVisit] = field(default_factory=list)
    journals: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)


async def collect(portal: Server, bare: Server, world: World, options: argparse.Namespace) -> Run:
    run = Run()

    async def load(server: Server, path: str, cookies: dict[str, str]) -> LoadResult:
        return await closed_loop(
            server.base_url,
            path,
            cookie_header(cookies) if cookies else {},
            concurrency=options.concurrency,
            warmup=options.warmup,
            duration=options.duration,
            server_cpu=server.cpu_seconds,
        )

    async with httpx.AsyncClient(base_url=portal.base_url, trust_env=False, timeout=30) as client:
        # A returning visitor sends back the CSRF cookie it was given, as most browsers do.
        sessions = {"": await visit(client, "/", {})}
        for who in dict.fromkeys(t.who for t in targets(world) if t.who):
            sessions[who] = await sign_in(client, who, world)
        progress("measuring the bare page ...")
        before = await load(bare, "/", {})
        for target in targets(world):
            cookies = sessions[target.who or ""]
            await visit(client, target.path, cookies)  # SetupError unless it answers 200.
            progress(f"measuring {target.name} ...")
            result = await load(portal, target.path, cookies)
            after = await load(bare, "/", {})
            run.rows.append(Row(target, result, (before, after)))
            before = after
            if target.steady:
                rate = result.rps * STEADY_SHARE
                progress(f"holding {target.name} at {rate:.0f} requests/s ...")
                held = await open_loop(
                    portal.base_url,
                    target.path,
                    cookie_header(cookies),
                    rate=rate,
                    warmup=options.warmup,
                    duration=options.duration,
                    server_cpu=portal.cpu_seconds,
                )
                run.steady.append((target.name, rate, held))
        progress("weighing the pages ...")
        for path in PUBLIC_PAGES:
            run.sizes += await weigh(client, path, sessions[""])
        run.sizes += await weigh(client, f"/espace/{world.short}", sessions["lou"])
        run.first_visits = await first_visits(client, portal.base_url)
    return run


def journal_lengths(var_dir: Path, world: World) -> dict[str, tuple[int, int | None]]:
    """Each bench dossier's journal before the run and after it (every worker view adds one)."""
    with closing(sqlite3.connect(f"file:{var_dir / 'portal.sqlite3'}?mode=ro", uri=True)) as db:
        after = dict(db.execute("SELECT reference, journal_seq FROM dossier").fetchall())
    return {
        ref: (n, after.get(ref))
        for ref, n in zip((world.short, world.long), world.entries, strict=True)
    }


def number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None or value != value else f"{value:,.{digits}f}"


def report(run: Run, options: argparse.Namespace) -> list[str]:
    """The figures for people, each goal followed by OK or MISSED; fills ``run.missed``."""
    lines = [
        f"Portail AMO bench: {cpu_model()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; "
        f"{options.concurrency} connections, {options.warmup:g} s warm-up then "
        f"{options.duration:g} s per page; one uvicorn worker per server, SQLite.",
        "",
        f"{'page':<24}{'rps':>7}{'bare rps':>9}{'p50 ms':>8}{'p99 ms':>8}{'CPU us':>8}"
        f"{'CPU ratio':>10}{'ratio':>7}  goal",
    ]

    def judge(what: str, ok: bool) -> str:
        if not ok:
            run.missed.append(what)
        return "OK" if ok else "MISSED"

    for row in run.rows:
        r, goal = row.result, row.target.goal
        verdict = f"≥ {goal:g} {judge(row.target.name, row.ratio >= goal)}" if goal else ""
        if r.errors:
            verdict += f" {judge(f'{row.target.name}: {r.errors} errors', False)}"
        lines.append(
            f"{row.target.name:<24}{number(r.rps):>7}{number(row.bare_rps):>9}"
            f"{number(r.percentile_ms(50), 1):>8}{number(r.percentile_ms(99), 1):>8}"
            f"{number(r.cpu_us):>8}{number(row.cpu_ratio, 2):>10}{number(row.ratio, 2):>7}  "
            + verdict
        )
    lines.append(
        "ratio: the page's rate over the bare page's, measured just before and after it; "
        "CPU ratio: the bare page's server CPU per request over the page's."
    )
    if any(b.client_busy > 0.9 for row in run.rows for b in row.bare):
        lines.append("The load generator saturated a CPU on the bare page: trust the CPU ratio.")
    if (load := os.getloadavg()[1]) > (os.cpu_count() or 1):
        lines.append(f"Load average {load:.1f} over 5 minutes: a busy machine, noisy figures.")
    lines.append("")
    rows = {row.target.name: row for row in run.rows}
    for long, short in JOURNAL_PAIRS:
        if long in rows and short in rows:
            a, b = rows[long].result, rows[short].result
            p50 = a.percentile_ms(50) / b.percentile_ms(50)
            cpu = a.cpu_us / b.cpu_us if a.cpu_us and b.cpu_us else None
            ok = judge(f"{long} vs 10 entries", p50 <= JOURNAL_GOAL)
            lines.append(
                f"{long} vs 10 entries: p50 {TIMES}{p50:.2f} (≤ {JOURNAL_GOAL:g}) {ok}; "
                f"server CPU per request {TIMES}{number(cpu, 2)}"
            )
    lines.append(
        "journals, entries before → after (each worker view adds one): "
        + ", ".join(f"{ref} {a:,} → {number(b)}" for ref, (a, b) in run.journals.items())
    )
    for name, rate, held in run.steady:
        tail = held.percentile_ms(99) / held.percentile_ms(50)
        ok = judge(f"{name} held", tail <= TAIL_GOAL and not held.errors)
        lines.append(
            f"{name} held at {rate:.0f}/s: p50 {held.percentile_ms(50):.1f} ms, p99 "
            f"{held.percentile_ms(99):.1f} ms, {TIMES}{tail:.1f} (≤ {TAIL_GOAL:g}), "
            f"{held.errors} errors {ok}"
        )
    lines += ["", f"{'HTML gzipped, bytes':<24}" + "".join(f"{lang:>8}" for lang in LANGUAGES)]
    by_path: dict[str, list[str]] = {}
    for s in run.sizes:
        fits = s.ok and s.served_language == s.language
        if not fits:
            judge(f"{s.path} {s.language}: {s.status}, {s.gzip_bytes:,} B", False)
        by_path.setdefault(s.path, []).append(f"{s.gzip_bytes:,}" if fits else "MISSED")
    lines += [f"{path:<24}" + "".join(f"{c:>8}" for c in cells) for path, cells in by_path.items()]
    lines.append(f"goal: at most {HTML_GOAL:,} B each, in the language asked for")
    if run.first_visits:
        table, missed = weight_report(run.first_visits)
        lines += ["", *table]
        run.missed += missed
    lines += ["", "goals missed: " + (", ".join(run.missed) or "none")]
    return lines


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # Not Linux.
    return platform.machine()


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per page")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per page")
    parser.add_argument("--concurrency", type=int, default=8, help="connections")
    parser.add_argument("--quick", action="store_true", help="1 s per page, 0.3 s warm-up")
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--weight", action="store_true", help="only what first visits download (bench.weight)"
    )
    parser.add_argument(
        "--scale", action="store_true", help="every AMO for five years, on PostgreSQL (bench.scale)"
    )
    options, rest = parser.parse_known_args(argv)
    if rest and not options.scale:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if options.quick:
        options.duration, options.warmup = 1.0, 0.3
    return options, rest


async def weigh_first_visits(portal: Server) -> list[FirstVisit]:
    async with httpx.AsyncClient(base_url=portal.base_url, trust_env=False, timeout=30) as client:
        return await first_visits(client, portal.base_url)


def weight_only(options: argparse.Namespace) -> int:
    """The first visits' weight alone, on the demo's data: a few seconds, not minutes."""
    try:
        with tempfile.TemporaryDirectory(prefix="bench-") as directory:
            var_dir = Path(directory)
            progress("building the demo's data ...")
            for command in (["portal", "migrate"], ["portal", "seed-demo"]):
                run_module(command, portal_environment(var_dir))
            with portal_server(var_dir) as portal:
                try:
                    visits = asyncio.run(weigh_first_visits(portal))
                except httpx.HTTPError as error:
                    raise ServerError(f"{error}\nportal log:\n{portal.log_tail()}") from error
    except ServerError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    lines, missed = weight_report(visits)
    print("\n".join([*lines, "", "goals missed: " + (", ".join(missed) or "none")]))
    return 1 if options.check and missed else 0


def main(argv: list[str] | None = None) -> int:
    options, rest = parse_args(argv)
    # SIGTERM stops the bench as Ctrl-C does: the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if options.scale:
        # Its own options, passed on; imported only here (it needs PostgreSQL).
        scale = importlib.import_module("bench.scale")
        return int(scale.main(rest))
    if options.weight:
        return weight_only(options)
    try:
        with ExitStack() as stack:
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            progress("building the bench's data (migrate, the demo, bench.world) ...")
            run_module(["bench.world", str(var_dir / "world.json")], portal_environment(var_dir))
            world = World.read(var_dir / "world.json")
            portal = stack.enter_context(portal_server(var_dir))
            bare = stack.enter_context(baseline_server(var_dir))
            try:
                run = asyncio.run(collect(portal, bare, world, options))
            except (SetupError, httpx.HTTPError) as error:
                raise ServerError(f"{error}\nportal log:\n{portal.log_tail()}") from error
            run.journals = journal_lengths(var_dir, world)
    except ServerError as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; servers stopped.", file=sys.stderr)
        return 130
    print("\n".join(report(run, options)))
    return 1 if options.check and run.missed else 0


if __name__ == "__main__":
    sys.exit(main())
