"""Lighthouse on the home, request and dossier pages: performance ≥ 95, accessibility 100.

    python -m bench.lighthouse [--runs N] [--language fr|nl|en] [--json PATH] [--reports DIR]

Builds a fresh SQLite database with the demo data (as ``python -m bench`` does), serves the
portal on loopback, signs the young person Lou in through the pages, then runs Lighthouse
``--runs`` times (3 by default) on each page:

- ``/``: the home page;
- ``/demande``: the first step of the help request;
- ``/espace/<reference>``: Lou's dossier, signed in. Lighthouse resets the browser's storage
  before it loads a page, so the session and CSRF cookies go in an explicit ``Cookie`` header
  (``--extra-headers``), sent with every request of the page, as Chromium would send them.

Lighthouse comes from npm, pinned in ``bench/npm/package-lock.json`` and installed there
(``npm ci``, never globally; ``node_modules`` is git-ignored) the first time. The 12.x line is
the last that runs on Node 20 (13.x asks for Node ≥ 22.19). It drives the Chromium named by
``CHROME_PATH`` (``/usr/bin/chromium`` by default) headless, with Lighthouse's defaults:
mobile form factor and screen (Moto G Power, 412 by 823 CSS pixels), simulated throttling of a
slow 4G network (150 ms round trip, 1.6 Mbit/s) and a CPU 4 times slower. Every load is a cold
one: empty cache, fresh profile. The pages are asked for in French (``--language``), the
portal's first language; Lighthouse's Chromium would ask for English. The portal is served as
``python -m portal run`` serves it, without compression: the bytes counted are uncompressed.

Prints one row per page, the median of the runs and their range, and writes a summary (no
full report) to ``bench/lighthouse-results.json``; ``--reports`` keeps the full JSON reports.
When Lighthouse fails to record a page's trace and says to run it again (NO_NAVSTART and the
like: its own failure, not the page's), that run is made again, up to three attempts; the
retries are counted and printed.
Exits with status 1 when a page's median performance is below 95 or any run's accessibility
below 100, or when a page could not be audited.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.data import BenchData
from bench.servers import ROOT, Server, ServerError, portal_server, prepare_portal_database
from bench.targets import SetupError, signed_in_as

NPM_DIR = ROOT / "bench" / "npm"
LIGHTHOUSE_BIN = NPM_DIR / "node_modules" / ".bin" / "lighthouse"
RESULTS = ROOT / "bench" / "lighthouse-results.json"
DEFAULT_CHROME = "/usr/bin/chromium"
# Headless without a sandbox (containers, root) and without a GPU (none on a server).
CHROME_FLAGS = "--headless=new --no-sandbox --disable-gpu"
CATEGORIES = ("performance", "accessibility", "best-practices")
PERFORMANCE_GOAL = 95
ACCESSIBILITY_GOAL = 100
LIGHTHOUSE_SECONDS = 180.0
INSTALL_SECONDS = 600.0

# The figures kept from each report: our name, Lighthouse's audit id, the unit shown.
METRICS = (
    ("fcp_ms", "first-contentful-paint"),
    ("lcp_ms", "largest-contentful-paint"),
    ("tbt_ms", "total-blocking-time"),
    ("cls", "cumulative-layout-shift"),
    ("speed_index_ms", "speed-index"),
    ("total_bytes", "total-byte-weight"),
)
STOP_SIGNALS = [signal.SIGTERM, *([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])]


class LighthouseError(RuntimeError):
    """Lighthouse could not be installed, or could not audit a page."""

    @property
    def run_again(self) -> bool:
        """Lighthouse's own advice for a trace it failed to record (NO_NAVSTART, NO_FCP…)."""
        return "Please run Lighthouse again" in str(self)


# A run whose trace Lighthouse failed to record is made again, at most this many times in all;
# each such retry is counted in the results.
ATTEMPTS = 3


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    shown_path: str  # The path without the run's dossier reference, for the summary.
    headers: dict[str, str]


def progress(message: str) -> None:
    # Progress goes to stderr so that stdout holds only the table.
    print(message, file=sys.stderr, flush=True)


def pinned_version() -> str:
    manifest = json.loads((NPM_DIR / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"]["lighthouse"])


def _run(
    command: list[str], timeout: float, cwd: Path = NPM_DIR
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def installed_version() -> str | None:
    if not LIGHTHOUSE_BIN.exists():
        return None
    done = _run([str(LIGHTHOUSE_BIN), "--version"], timeout=60)
    return done.stdout.strip() if done.returncode == 0 else None


def ensure_lighthouse() -> str:
    """Install the pinned Lighthouse under bench/npm when it is missing or another version."""
    wanted = pinned_version()
    if installed_version() == wanted:
        return wanted
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise LighthouseError("Node.js and npm are needed to install Lighthouse")
    progress(f"installing Lighthouse {wanted} in {NPM_DIR.relative_to(ROOT)} (npm ci) ...")
    # `ci` installs exactly the lock file's versions; no audit or funding calls.
    done = _run([npm, "ci", "--no-audit", "--no-fund"], timeout=INSTALL_SECONDS)
    if done.returncode != 0:
        raise LighthouseError(f"npm ci failed ({done.returncode}):\n{done.stderr[-2000:]}")
    found = installed_version()
    if found != wanted:
        raise LighthouseError(f"npm installed Lighthouse {found}, not {wanted}")
    return wanted


def chrome_version(chrome: str) -> str:
    try:
        done = _run([chrome, "--version"], timeout=30, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise LighthouseError(f"cannot run {chrome}: {error}") from error
    match = re.search(r"\d+(\.\d+)+", done.stdout)
    if done.returncode != 0 or match is None:
        raise LighthouseError(f"{chrome} --version answered {done.returncode}: {done.stdout}")
    return match.group(0)


def localhost(server: Server) -> str:
    # localhost rather than 127.0.0.1: the address a person's browser uses, where the
    # portal's passkeys work and Chromium treats plain http as a secure context.
    return f"http://localhost:{urlsplit(server.base_url).port}"


async def signed_in_headers(base_url: str, data: BenchData) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=base_url, trust_env=False) as client:
        setup = signed_in_as(data.short.subject, data.password, landing="/espace")
        prepared = await setup(client)
    return prepared.request_headers()


def pages(data: BenchData, signed_in: dict[str, str], language: str) -> list[Page]:
    # Lighthouse's Chromium asks for en-US; the portal answers in the language asked for.
    asked = {"Accept-Language": language}
    reference = data.short.reference
    return [
        Page("home", "/", "/", asked),
        Page("request", "/demande", "/demande", asked),
        Page("dossier", f"/espace/{reference}", "/espace/{reference}", {**asked, **signed_in}),
    ]


def audit(
    base_url: str, page: Page, chrome: str, work_dir: Path, run: int
) -> tuple[dict[str, Any], Path]:
    """Run Lighthouse once on ``page``; return its report and where it was written."""
    report = work_dir / f"{page.name}-{run}.json"
    command = [
        str(LIGHTHOUSE_BIN),
        base_url + page.path,
        "--output=json",
        f"--output-path={report}",
        f"--only-categories={','.join(CATEGORIES)}",
        f"--chrome-flags={CHROME_FLAGS}",
        "--quiet",
    ]
    if page.headers:
        headers = work_dir / f"{page.name}-headers.json"
        headers.write_text(json.dumps(page.headers), encoding="utf-8")
        command.append(f"--extra-headers={headers}")
    env = {**os.environ, "CHROME_PATH": chrome}
    try:
        done = subprocess.run(
            command,
            cwd=NPM_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=LIGHTHOUSE_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LighthouseError(f"Lighthouse took over {LIGHTHOUSE_SECONDS:.0f} s") from error
    if done.returncode != 0 or not report.exists():
        raise LighthouseError(f"Lighthouse answered {done.returncode}:\n{done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return result, report


def figures(report: dict[str, Any], page: Page) -> dict[str, float]:
    """Scores (0-100) and metrics from one report; raise when the page was not the one asked."""
    if report.get("runtimeError"):
        raise LighthouseError(f"{page.name}: {report['runtimeError'].get('message')}")
    final = urlsplit(report["finalDisplayedUrl"]).path
    if final != page.path:
        # A dossier page that sends to the sign-in page was not audited signed in.
        raise LighthouseError(f"{page.name}: {page.path} ended on {final}")
    requests = report["audits"]["network-requests"]["details"]["items"]
    document = next((r for r in requests if urlsplit(r["url"]).path == page.path), None)
    if document is None or document.get("statusCode") != 200:
        status = document.get("statusCode") if document else "nothing"
        raise LighthouseError(f"{page.name}: {page.path} answered {status}")
    found: dict[str, float] = {}
    for category in CATEGORIES:
        score = report["categories"][category]["score"]
        if score is None:
            raise LighthouseError(f"{page.name}: no {category} score")
        found[category] = round(score * 100)
    for name, audit_id in METRICS:
        value = report["audits"][audit_id]["numericValue"]
        found[name] = round(value, 3) if name == "cls" else round(value)
    # Lighthouse's measure of the host's CPU speed during the run: a low one explains a slow run.
    found["benchmark_index"] = round(report["environment"]["benchmarkIndex"])
    return found


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    keys = list(runs[0])
    return {
        "median": {k: statistics.median(r[k] for r in runs) for k in keys},
        "min": {k: min(r[k] for r in runs) for k in keys},
        "max": {k: max(r[k] for r in runs) for k in keys},
    }


def goals_missed(name: str, runs: list[dict[str, float]]) -> list[str]:
    # Performance varies from run to run: Lighthouse advises judging the median.
    # Accessibility does not: every run must reach it.
    missed = []
    performance = statistics.median(r["performance"] for r in runs)
    if performance < PERFORMANCE_GOAL:
        missed.append(f"{name}: performance {performance:g} < {PERFORMANCE_GOAL}")
    accessibility = min(r["accessibility"] for r in runs)
    if accessibility < ACCESSIBILITY_GOAL:
        missed.append(f"{name}: accessibility {accessibility:g} < {ACCESSIBILITY_GOAL}")
    return missed


def _cell(
    summary: dict[str, dict[str, float]],
    key: str,
    unit: str = "",
    scale: float = 1,
    digits: int = 0,
) -> str:
    def shown(value: float) -> str:
        return f"{value / scale:.{digits}f}" if digits else f"{value:g}"

    low, mid, high = (shown(summary[s][key]) for s in ("min", "median", "max"))
    return f"{mid}{unit}" if low == high else f"{mid}{unit} ({low}–{high})"


def render_table(results: list[dict[str, Any]], runs: int) -> str:
    header = ["page", "perf", "a11y", "best pr.", "FCP", "LCP", "TBT", "CLS", "bytes"]
    rows = [header]
    for result in results:
        if "failure" in result:
            rows.append(
                [f"{result['name']} {result['path']}", "failed", "", "", "", "", "", "", ""]
            )
            continue
        s = result["summary"]
        rows.append(
            [
                f"{result['name']} {result['path']}",
                _cell(s, "performance"),
                _cell(s, "accessibility"),
                _cell(s, "best-practices"),
                _cell(s, "fcp_ms", " s", 1000, 2),
                _cell(s, "lcp_ms", " s", 1000, 2),
                _cell(s, "tbt_ms", " ms"),
                _cell(s, "cls"),
                _cell(s, "total_bytes", " KiB", 1024, 1),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    retries = [f"{r['name']} {r['retried']}" for r in results if r.get("retried")]
    notes = [f"runs made again (Lighthouse failed to record the trace): {', '.join(retries)}"]
    return "\n".join(
        [
            f"median of {runs} run(s), range in brackets",
            *(line.rstrip() for line in lines),
            *(notes if retries else []),
        ]
    )


def collect(
    base_url: str, targets: list[Page], chrome: str, runs: int, work_dir: Path
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Audit every page ``runs`` times, pages interleaved; return the results and the setup."""
    found: dict[str, list[dict[str, float]]] = {page.name: [] for page in targets}
    retried = {page.name: 0 for page in targets}
    failures: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for run in range(1, runs + 1):
        for page in targets:
            if page.name in failures:
                continue
            progress(f"run {run}/{runs}: {page.name} {page.shown_path} ...")
            for attempt in range(1, ATTEMPTS + 1):
                try:
                    report, _ = audit(base_url, page, chrome, work_dir, run)
                    found[page.name].append(figures(report, page))
                    break
                except LighthouseError as error:
                    if attempt < ATTEMPTS and error.run_again:
                        retried[page.name] += 1
                        progress("  Lighthouse failed to record the page's trace: run again")
                        continue
                    failures[page.name] = str(error)
                    break
            if page.name in failures:
                continue
            config = report["configSettings"]
            settings = {
                "lighthouse": report["lighthouseVersion"],
                "user_agent": report["environment"]["networkUserAgent"],
                "form_factor": config["formFactor"],
                "screen": config["screenEmulation"],
                "throttling_method": config["throttlingMethod"],
                "throttling": config["throttling"],
            }
    results: list[dict[str, Any]] = []
    for page in targets:
        result: dict[str, Any] = {
            "name": page.name,
            "path": page.shown_path,
            "retried": retried[page.name],
        }
        if page.name in failures:
            result["failure"] = failures[page.name]
        else:
            result["summary"] = summarize(found[page.name])
            result["runs"] = found[page.name]
        results.append(result)
    return results, settings


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    # Raising unwinds through the ExitStack, which stops the portal.
    raise SystemExit(128 + signum)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.lighthouse",
        description="Lighthouse (mobile, default throttling) on the home, request and dossier "
        f"pages; fails when performance < {PERFORMANCE_GOAL} or accessibility < "
        f"{ACCESSIBILITY_GOAL}.",
    )
    parser.add_argument("--runs", type=int, default=3, help="audits per page (default 3)")
    parser.add_argument(
        "--json",
        type=Path,
        default=RESULTS,
        metavar="PATH",
        help="where to write the summary (bench/lighthouse-results.json)",
    )
    parser.add_argument(
        "--reports", type=Path, metavar="DIR", help="keep Lighthouse's full JSON reports here"
    )
    parser.add_argument(
        "--language",
        choices=["fr", "nl", "en"],
        default="fr",
        help="the pages' language, sent as Accept-Language (default fr)",
    )
    parser.add_argument(
        "--chrome",
        default=os.environ.get("CHROME_PATH", DEFAULT_CHROME),
        help=f"the Chromium to drive (CHROME_PATH, else {DEFAULT_CHROME})",
    )
    options = parser.parse_args(argv)
    if options.runs < 1:
        parser.error("--runs must be >= 1")
    return options


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    started = datetime.now(UTC)
    load_before = os.getloadavg()
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop_on_signal)
    try:
        version = ensure_lighthouse()
        chromium = chrome_version(options.chrome)
        with ExitStack() as stack:
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="lighthouse-")))
            work_dir = options.reports or var_dir / "reports"
            work_dir.mkdir(parents=True, exist_ok=True)
            progress("preparing a fresh database (migrate, seed-demo, bench.data) ...")
            data = prepare_portal_database(var_dir)
            progress("starting the portal ...")
            base_url = localhost(stack.enter_context(portal_server(var_dir)))
            headers = asyncio.run(signed_in_headers(base_url, data))
            results, settings = collect(
                base_url,
                pages(data, headers, options.language),
                options.chrome,
                options.runs,
                work_dir,
            )
    except (ServerError, SetupError, LighthouseError, httpx.HTTPError) as error:
        print(f"bench.lighthouse: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench.lighthouse: interrupted; portal stopped.", file=sys.stderr)
        return 130

    missed = [m for r in results if "runs" in r for m in goals_missed(r["name"], r["runs"])]
    failed = [f"{r['name']}: {r['failure']}" for r in results if "failure" in r]
    node = _run(["node", "--version"], timeout=30).stdout.strip()
    summary = {
        "started": started.isoformat(timespec="seconds"),
        "lighthouse": settings.get("lighthouse", version),
        "chromium": chromium,
        "node": node,
        "language": options.language,
        "chrome_flags": CHROME_FLAGS,
        # Other work on the machine makes the CPU-bound figures (TBT) noisy.
        "load_average": {
            "before": [round(x, 2) for x in load_before],
            "after": [round(x, 2) for x in os.getloadavg()],
        },
        "settings": settings,
        "runs": options.runs,
        "goals": {"performance": PERFORMANCE_GOAL, "accessibility": ACCESSIBILITY_GOAL},
        "pages": results,
        "goals_missed": missed,
        "failures": failed,
    }
    print(
        f"Lighthouse {summary['lighthouse']}, Chromium {chromium}, Node {node}, {started:%F}, "
        f"pages in {options.language}"
    )
    if settings:
        throttling = settings["throttling"]
        print(
            f"{settings['form_factor']}, {settings['throttling_method']} throttling: "
            f"{throttling['rttMs']:g} ms RTT, {throttling['throughputKbps']:g} kbit/s, "
            f"CPU x{throttling['cpuSlowdownMultiplier']:g}"
        )
    print(render_table(results, options.runs))
    for line in failed + missed:
        print(f"  not met: {line}")
    options.json.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    progress(f"summary written to {options.json}")
    return 1 if missed or failed else 0


if __name__ == "__main__":
    sys.exit(main())
