"""The figures of one run, as a plain-text table for people and as JSON for later comparison."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.load import LoadResult
from bench.servers import ROOT
from bench.sizes import (
    GZIP_LEVEL,
    HTML_GOAL_BYTES,
    JS_GOAL_BYTES,
    LANGUAGES,
    FirstVisit,
    PageSize,
    untranslated,
)
from bench.targets import FLOOR_TARGET, Target

# Above this share of one CPU, the load generator rather than the server sets the pace.
CLIENT_SATURATED = 0.9
# Other processes busy on more than this share of a CPU make the figures noisy.
NOISY = 0.25
# A dossier page with a long journal may be at most this much slower than with a short one.
JOURNAL_GOAL = 1.5
# Below this many requests a nearest-rank p99 is just the slowest one: shown, not judged.
P99_SAMPLES = 100
# The signed-in dossier pages against the bare page, in requests per second.
DOSSIER_RATIO_GOAL = 0.20
# Held at this share of its peak rate, a page's p99 may be at most this many times its p50.
STEADY_SHARE = 0.5
STEADY_TAIL_GOAL = 4.0
NAME_WIDTH = 24
TIMES = "\N{MULTIPLICATION SIGN}"  # Spelt out: ruff takes the sign for a confusable x.


@dataclass(frozen=True)
class Row:
    target: Target
    result: LoadResult | None = None
    html_bytes: int | None = None
    failure: str | None = None
    # The bare page measured just before and just after this target: a virtual machine's
    # speed drifts by tens of percent within minutes, so each target is compared with the
    # bare page of its own moment rather than with one measured minutes earlier.
    around: tuple[LoadResult, ...] = ()

    def base_rps(self, first: LoadResult | None) -> float | None:
        found = [r.rps for r in self.around if r.rps] or ([first.rps] if first else [])
        return sum(found) / len(found) if found else None

    def base_cpu(self, first: LoadResult | None) -> float | None:
        cpu = [c for r in self.around if (c := r.server_cpu_us_per_request)]
        if not cpu and first and first.server_cpu_us_per_request:
            cpu = [first.server_cpu_us_per_request]
        return sum(cpu) / len(cpu) if cpu else None


@dataclass(frozen=True)
class JournalLength:
    """A bench dossier's journal: entries before the load, and after (None: not read)."""

    reference: str
    before: int
    after: int | None


@dataclass(frozen=True)
class JournalComparison:
    """The same page on the longest journal against the shortest: latency must stay flat."""

    page: str
    short: Row
    long: Row

    def ratio(self, percent: float) -> float | None:
        if self.short.result is None or self.long.result is None:
            return None
        short = self.short.result.percentile_ms(percent)
        long = self.long.result.percentile_ms(percent)
        return long / short if short else None

    @property
    def cpu_ratio(self) -> float | None:
        """Server CPU per request, long over short: steadier than latency on a busy machine."""
        if self.short.result is None or self.long.result is None:
            return None
        short = self.short.result.server_cpu_us_per_request
        long = self.long.result.server_cpu_us_per_request
        return long / short if short and long else None

    @property
    def p99_judged(self) -> bool:
        return all(
            row.result is not None and len(row.result.latencies) >= P99_SAMPLES
            for row in (self.short, self.long)
        )

    @property
    def missed(self) -> list[str]:
        judged = (50, 99) if self.p99_judged else (50,)
        return [
            f"p{percent}"
            for percent in judged
            if (ratio := self.ratio(percent)) is None or ratio > JOURNAL_GOAL
        ]


@dataclass(frozen=True)
class Steady:
    """A page held at a fixed rate (half its peak) in an open loop."""

    target: Target
    rate: float
    result: LoadResult

    @property
    def tail(self) -> float | None:
        p50 = self.result.percentile_ms(50)
        return self.result.percentile_ms(99) / p50 if p50 else None

    @property
    def ok(self) -> bool:
        tail = self.tail
        return tail is not None and tail <= STEADY_TAIL_GOAL and self.result.errors == 0


@dataclass(frozen=True)
class Run:
    started: datetime
    machine: dict[str, Any]
    options: dict[str, Any]
    baseline: Row
    rows: list[Row]
    sizes: list[PageSize]
    first_visit: FirstVisit | None
    journals: list[JournalLength] = field(default_factory=list)
    steady: list[Steady] = field(default_factory=list)

    @property
    def journal_comparisons(self) -> list[JournalComparison]:
        by_page: dict[str, list[Row]] = {}
        for row in self.rows:
            if row.target.page is not None and row.target.journal is not None:
                by_page.setdefault(row.target.page, []).append(row)
        found = []
        for page, rows in by_page.items():
            ordered = sorted(rows, key=lambda row: row.target.journal or 0)
            if len(ordered) > 1:
                found.append(JournalComparison(page, ordered[0], ordered[-1]))
        return found

    def ratio(self, row: Row) -> float | None:
        base = row.base_rps(self.baseline.result)
        if row.result is None or not base:
            return None
        return row.result.rps / base

    def cpu_ratio(self, row: Row) -> float | None:
        """Baseline server CPU per request over the page's: does not depend on the client."""
        if row.result is None:
            return None
        page = row.result.server_cpu_us_per_request
        base = row.base_cpu(self.baseline.result)
        return base / page if page and base else None

    @property
    def failures(self) -> list[str]:
        found = [f"{row.target.name}: {row.failure}" for row in self.all_rows if row.failure]
        found += [
            f"{row.target.name}: {row.result.errors} failed requests"
            for row in self.all_rows
            if row.result and row.result.errors
        ]
        found += [
            f"{size.target} ({size.language}): status {size.status}, "
            f"<html lang={size.served_language!r}>"
            for size in self.sizes
            if size.status != 200 or size.served_language != size.language
        ]
        if self.first_visit:
            found += [f"not same-origin: {a.url}" for a in self.first_visit.third_party]
            found += [f"{a.url}: status {a.status}" for a in self.first_visit.failed]
        return found

    @property
    def goals_missed(self) -> list[str]:
        missed = [
            f"{size.target} ({size.language}) HTML {size.gzip_bytes:,} B > {HTML_GOAL_BYTES:,} B"
            for size in self.sizes
            if size.gzip_bytes > HTML_GOAL_BYTES
        ]
        if self.first_visit and not self.first_visit.js_ok:
            missed.append(f"JS {self.first_visit.total('js'):,} B > {JS_GOAL_BYTES:,} B")
        missed += [
            f"{c.page}: {c.long.target.name} vs {c.short.target.name} latency "
            f"({', '.join(c.missed)}) > {JOURNAL_GOAL:g}x"
            for c in self.journal_comparisons
            if c.missed
        ]
        missed += [
            f"{row.target.name}: {_number(ratio, 2)} of the bare page's rate "
            f"< {DOSSIER_RATIO_GOAL:g}"
            for row in self.rows
            if row.target.steady and (ratio := self.ratio(row)) is not None
            if ratio < DOSSIER_RATIO_GOAL
        ]
        missed += [
            f"{s.target.name} at {s.rate:.0f} requests/s: p99/p50 {_number(s.tail, 1)}, "
            f"{s.result.errors} errors (goal ≤ {STEADY_TAIL_GOAL:g}, none)"
            for s in self.steady
            if not s.ok
        ]
        return missed

    @property
    def all_rows(self) -> list[Row]:
        return [self.baseline, *self.rows]


def machine_info() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "commit": _commit(),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # Not Linux: fall back on what platform knows.
    return platform.processor() or "unknown"


def _commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None


def _number(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    return f"{value:,.{digits}f}"


def render_text(run: Run) -> str:
    m, o = run.machine, run.options
    lines = [
        f"Portail AMO benchmark, {run.started.isoformat(timespec='seconds')}",
        f"platform: {m['platform']} ({m['machine']}), Python {m['python']}",
        f"CPU: {m['cpu']}, {m['cpus']} logical CPUs; commit {m['commit'] or 'unknown'}",
        f"load: {o['client']} client, {o['concurrency']} connections, "
        f"{o['warmup']:g} s warm-up then {o['duration']:g} s per target; "
        "one uvicorn worker per server; SQLite with the demo data and the bench's dossiers",
        "",
        f"{'target':<{NAME_WIDTH}}{'rps':>8}{'bare rps':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'ratio':>7}{'CPU us/req':>12}{'CPU ratio':>11}{'errors':>8}{'HTML B':>8}",
    ]
    for row in run.all_rows:
        name = row.target.name
        if row.result is None:
            lines.append(f"{name:<{NAME_WIDTH}}FAILED: {row.failure}")
            continue
        r = row.result
        lines.append(
            f"{name:<{NAME_WIDTH}}{_number(r.rps):>8}"
            f"{_number(row.base_rps(run.baseline.result)):>9}"
            f"{_number(r.percentile_ms(50), 1):>9}"
            f"{_number(r.percentile_ms(99), 1):>9}{_number(run.ratio(row), 2):>7}"
            f"{_number(r.server_cpu_us_per_request):>12}{_number(run.cpu_ratio(row), 2):>11}"
            f"{r.errors:>8}{_number(row.html_bytes):>8}"
        )
    lines += [
        "ratio = page rps / bare rps, the bare page measured just before and just after each",
        "target (their mean). CPU us/req = server process CPU time per request; CPU ratio =",
        "the bare page's CPU per request, measured the same way, over the page's.",
    ]
    if any(row.target.name == FLOOR_TARGET for row in run.rows):
        lines += [
            f"{FLOOR_TARGET}: the worker's dossier page cut down to the goal's list (session,",
            "dossier, latest 20 journal entries, the journaled read, render) and what every",
            "signed-in page does (middleware, news count, layout); served by bench/floor.py.",
        ]
    base = run.baseline.result
    if base and base.client_cpu_share >= CLIENT_SATURATED:
        lines.append(
            f"Note: the load generator used {base.client_cpu_share:.0%} of a CPU during the "
            "baseline, so it, not the server, set the baseline's pace: the rps ratios are "
            "upper bounds; trust the CPU ratio more."
        )
    noise = [r.result.other_cpu_share or 0.0 for r in run.all_rows if r.result]
    if noise and max(noise) > NOISY:
        lines.append(
            f"Note: other processes kept up to {max(noise):.2f} CPUs busy during the measurements "
            f"(of {run.machine['cpus']}): the figures are noisy; rerun on a quiet machine."
        )
    lines += _journal_lines(run)
    lines += _steady_lines(run)
    lines += ["", *_size_lines(run)]
    if run.first_visit:
        lines += ["", *_asset_lines(run.first_visit)]
    problems = run.failures
    lines += ["", "failures: " + ("none" if not problems else "")]
    lines += [f"  {problem}" for problem in problems]
    missed = run.goals_missed
    lines += ["goals missed: " + ("none" if not missed else "")]
    lines += [f"  {goal}" for goal in missed]
    return "\n".join(lines)


def _journal_lines(run: Run) -> list[str]:
    lines = []
    for c in run.journal_comparisons:
        p50, p99 = c.ratio(50), c.ratio(99)
        verdict = "OVER" if c.missed else "OK"
        lines.append(
            f"journal {_journal_name(c.long)} vs {_journal_name(c.short)} latency, {c.page}: "
            f"p50 {TIMES}{_number(p50, 2)}, p99 {TIMES}{_number(p99, 2)} "
            f"(goal ≤ {JOURNAL_GOAL:g}{TIMES})   {verdict}; "
            f"server CPU/request {TIMES}{_number(c.cpu_ratio, 2)}"
            + ("" if c.p99_judged else f"; p99 not judged (< {P99_SAMPLES} requests)")
        )
    if run.journals:
        lengths = ", ".join(
            f"{j.reference} {j.before:,} → {'?' if j.after is None else f'{j.after:,}'}"
            for j in run.journals
        )
        lines.append(
            f"journal entries before → after the run: {lengths} "
            "(each worker view appends one; the subject's views append none)"
        )
    return ["", *lines] if lines else []


def _steady_lines(run: Run) -> list[str]:
    lines = [
        f"{s.target.name} held at {s.rate:.0f} requests/s ({STEADY_SHARE:.0%} of its peak, "
        f"open loop): p50 {_number(s.result.percentile_ms(50), 1)} ms, "
        f"p99 {_number(s.result.percentile_ms(99), 1)} ms, p99/p50 {_number(s.tail, 1)} "
        f"(goal ≤ {STEADY_TAIL_GOAL:g}), {s.result.errors} errors   " + ("OK" if s.ok else "OVER")
        for s in run.steady
    ]
    return ["", *lines] if lines else []


def _journal_name(row: Row) -> str:
    return row.target.name.rsplit(" ", 1)[-1]


def _size_lines(run: Run) -> list[str]:
    lines = [
        f"HTML per page, gzip level {GZIP_LEVEL}, goal <= {HTML_GOAL_BYTES:,} B "
        "(one round trip on a phone)",
        f"{'page':<{NAME_WIDTH}}" + "".join(f"{lang:>13}" for lang in LANGUAGES),
    ]
    by_page: dict[str, dict[str, PageSize]] = {}
    for size in run.sizes:
        by_page.setdefault(size.target, {})[size.language] = size
    for page, sizes in by_page.items():
        cells = []
        for lang in LANGUAGES:
            found = sizes.get(lang)
            if found is None:
                cell = "-"
            elif found.status != 200:
                cell = f"status {found.status}"
            else:
                cell = f"{found.gzip_bytes:,} {'OK' if found.ok else 'OVER'}"
            cells.append(f"{cell:>13}")
        lines.append(f"{page:<{NAME_WIDTH}}" + "".join(cells))
    lines += [f"Warning: {line} (catalogue missing?)" for line in untranslated(run.sizes)]
    return lines


def _asset_lines(visit: FirstVisit) -> list[str]:
    lines = [f"First visit of {visit.page}: what it loads, gzip level {GZIP_LEVEL}"]
    for asset in visit.assets:
        # Our own addresses without the origin, whose port changes on every run.
        where = urlsplit(asset.url)._replace(scheme="", netloc="").geturl()
        if not asset.same_origin:
            lines.append(f"  {asset.kind:<6}{asset.url}  THIRD PARTY, not fetched")
        elif asset.gzip_bytes is None:
            lines.append(f"  {asset.kind:<6}{where}  (not counted)")
        else:
            lines.append(
                f"  {asset.kind:<6}{where:<48}{_number(asset.raw_bytes):>8} B"
                f"   gzip {_number(asset.gzip_bytes):>7} B"
            )
    js = visit.total("js")
    third = visit.third_party
    lines += [
        f"  CSS total gzip {visit.total('css'):>8,} B",
        f"  JS total gzip  {js:>8,} B   goal <= {JS_GOAL_BYTES:,} B   "
        f"{'OK' if visit.js_ok else 'OVER'}",
        f"  third parties: {len(visit.assets)} addresses checked, "
        + ("all same-origin   OK" if not third else f"{len(third)} NOT same-origin   FAIL"),
    ]
    return lines


def to_json(run: Run) -> dict[str, Any]:
    def row(r: Row) -> dict[str, Any]:
        data: dict[str, Any] = {
            "target": r.target.name,
            "path": r.target.path,
            "server": r.target.server,
            "failure": r.failure,
            "html_bytes": r.html_bytes,
        }
        if r.result:
            data |= {
                "requests": r.result.requests,
                "errors": r.result.errors,
                "seconds": r.result.seconds,
                "rps": r.result.rps,
                "p50_ms": r.result.percentile_ms(50),
                "p99_ms": r.result.percentile_ms(99),
                "ratio": run.ratio(r),
                "bare_rps": r.base_rps(run.baseline.result),
                "server_cpu_us_per_request": r.result.server_cpu_us_per_request,
                "cpu_ratio": run.cpu_ratio(r),
                "client_cpu_share": r.result.client_cpu_share,
                "other_cpu_share": r.result.other_cpu_share,
            }
        return data

    visit = run.first_visit
    return {
        "date": run.started.isoformat(),
        "machine": run.machine,
        "options": run.options,
        "load": [row(r) for r in run.all_rows],
        "html": {
            "gzip_level": GZIP_LEVEL,
            "goal_bytes": HTML_GOAL_BYTES,
            "pages": [
                {
                    "target": s.target,
                    "path": s.path,
                    "language": s.language,
                    "status": s.status,
                    "raw_bytes": s.raw_bytes,
                    "gzip_bytes": s.gzip_bytes,
                    "ok": s.ok,
                }
                for s in run.sizes
            ],
            "untranslated": untranslated(run.sizes),
        },
        "first_visit": None
        if visit is None
        else {
            "page": visit.page,
            "gzip_level": GZIP_LEVEL,
            "css_gzip_bytes": visit.total("css"),
            "js_gzip_bytes": visit.total("js"),
            "js_goal_bytes": JS_GOAL_BYTES,
            "js_ok": visit.js_ok,
            "third_party": [a.url for a in visit.third_party],
            "assets": [asdict(a) for a in visit.assets],
        },
        "journal": {
            "goal_ratio": JOURNAL_GOAL,
            "comparisons": [
                {
                    "page": c.page,
                    "short": c.short.target.name,
                    "long": c.long.target.name,
                    "short_entries": c.short.target.journal,
                    "long_entries": c.long.target.journal,
                    "p50_ratio": c.ratio(50),
                    "p99_ratio": c.ratio(99),
                    "cpu_per_request_ratio": c.cpu_ratio,
                    "ok": not c.missed,
                }
                for c in run.journal_comparisons
            ],
            "lengths": [asdict(j) for j in run.journals],
        },
        "dossier_ratio_goal": DOSSIER_RATIO_GOAL,
        "steady": [
            {
                "target": s.target.name,
                "rate": s.rate,
                "share_of_peak": STEADY_SHARE,
                "requests": s.result.requests,
                "errors": s.result.errors,
                "p50_ms": s.result.percentile_ms(50),
                "p99_ms": s.result.percentile_ms(99),
                "p99_over_p50": s.tail,
                "goal": STEADY_TAIL_GOAL,
                "ok": s.ok,
            }
            for s in run.steady
        ],
        "failures": run.failures,
        "goals_missed": run.goals_missed,
    }
