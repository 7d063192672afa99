"""Faults under load: PostgreSQL cut behind a TCP proxy, and a read-only SQLite file."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from bench.servers import HOST, free_port
from bench.stress import (
    Actor,
    Keys,
    Stats,
    Subject,
    app_server,
    database,
    log_tail,
    progress,
    read_back,
    seed,
    sign_everyone_in,
)

T = TypeVar("T")
PG = ("127.0.0.1", 5432)
BEFORE, CUT, AFTER = 5.0, 5.0, 20.0
RECOVERY_LIMIT = 15.0


class TcpProxy:
    """A loopback TCP relay in its own thread and event loop, which can be cut and restored.

    Its own loop: the bench's blocking steps (starting the server, which checks the database
    through the proxy) must not stop it from relaying.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.relayed = 0
        self.open = False

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def start(self) -> None:
        self.thread.start()
        self._call(self._listen())

    async def _listen(self) -> None:
        self.open = True
        self.server = await asyncio.start_server(self._relay, HOST, self.port, reuse_address=True)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if not self.open:  # Cut while this one was being set up.
            writer.transport.abort()
            up_writer.transport.abort()
            return
        self.relayed += 1
        self.writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def _cut(self) -> None:
        self.open = False
        if self.server is not None:
            self.server.close()  # New connections are refused ...
            self.server = None
        for writer in list(self.writers):
            writer.transport.abort()  # ... and the open ones are reset.
        self.writers.clear()

    def cut(self) -> None:
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._listen())

    def close(self) -> None:
        if self.thread.is_alive():
            self._call(self._cut())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


@contextmanager
def proxy(target: tuple[str, int]) -> Iterator[TcpProxy]:
    relay = TcpProxy(target)
    relay.start()
    try:
        yield relay
    finally:
        relay.close()


@dataclass
class FaultOutcome:
    fault: str
    requests: int = 0
    during: dict[str, int] = field(default_factory=dict)  # statuses while the fault lasted
    retry_after_30: int = 0
    errors_500: int = 0
    recovery: float | None = None  # seconds from the repair to the first 200
    sent: int = 0
    stored_once: int = 0
    journals: int = 0
    broken: int = 0
    half_written: int = 0
    problems: list[str] = field(default_factory=list)
    skipped: str = ""

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultOutcome:
        return cls(**data)


def _check_database(outcome: FaultOutcome, stats: Stats, url: str, keys_: Keys) -> None:
    stored = asyncio.run(read_back(url, keys_))
    outcome.sent = len(stats.sent)
    outcome.stored_once = sum(1 for m in stats.sent if stored.markers[m] == 1)
    outcome.journals, outcome.broken = stored.journals, len(stored.broken)
    outcome.half_written = len(stored.without_entry) + len(stored.without_message)
    if outcome.stored_once != outcome.sent:
        outcome.problems.append(
            f"{outcome.sent - outcome.stored_once} sent messages not stored once"
        )
    if any(n > 1 for n in stored.markers.values()):
        outcome.problems.append("a message is stored twice")
    outcome.problems += stored.broken[:5]
    if outcome.half_written:
        outcome.problems.append(
            f"half-written: messages without entry {stored.without_entry[:5]}, "
            f"entries without message {stored.without_message[:5]}"
        )


def _people(base_url: str, keys_: Keys, seeded: Any, stats: Stats) -> list[Actor]:
    from bench.stress import actors

    return actors(base_url, keys_, seeded, stats)


# --- (1) PostgreSQL cut ---------------------------------------------------------------------


async def _load_with_cut(
    people: list[Actor], stats: Stats, relay: TcpProxy
) -> tuple[float, float, float]:
    await sign_everyone_in(people)
    stats.started = time.monotonic()
    deadline = stats.started + BEFORE + CUT + AFTER
    runs = asyncio.gather(*(p.run(deadline) for p in people))
    await asyncio.sleep(BEFORE)
    cut_at = stats.now()
    await asyncio.to_thread(relay.cut)
    progress(f"  PostgreSQL cut at {cut_at:.1f} s")
    await asyncio.sleep(CUT)
    restored_at = stats.now()
    await asyncio.to_thread(relay.restore)
    progress(f"  PostgreSQL restored at {restored_at:.1f} s")
    async with asyncio.timeout(AFTER + 60):
        await runs
    return cut_at, restored_at, stats.now()


def postgres_cut() -> FaultOutcome:
    outcome = FaultOutcome("postgres cut 5 s")
    with ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fault-")))
        direct = stack.enter_context(database("postgres", var_dir))
        keys_ = Keys.fresh()
        seeded = asyncio.run(seed(direct, keys_, subjects=6, workers=2))
        relay = stack.enter_context(proxy(PG))
        proxied = direct.replace(f"{PG[0]}:{PG[1]}", f"{HOST}:{relay.port}")
        stats = Stats()
        with app_server(var_dir, proxied, keys_) as server:
            progress(f"[fault] PostgreSQL through the proxy on port {relay.port}; light load ...")
            people = _people(server.base_url, keys_, seeded, stats)
            cut_at, restored_at, _ = asyncio.run(_load_with_cut(people, stats, relay))
            tail = log_tail(server.log, 15)
        outcome.requests = len(stats.hits)
        during = [h for h in stats.hits if cut_at + 0.2 <= h.at < restored_at]
        outcome.during = dict(
            Counter(str(h.status) if h.status > 0 else "no answer" for h in during)
        )
        outcome.retry_after_30 = sum(1 for h in during if h.status == 503 and h.retry_after == "30")
        outcome.errors_500 = sum(1 for h in stats.hits if h.status >= 500 and h.status != 503)
        first_ok = next(
            (h for h in stats.hits if h.at >= restored_at and h.status == 200 and h.label), None
        )
        outcome.recovery = first_ok.at - restored_at if first_ok else None
        if outcome.errors_500:
            bad = Counter(f"{h.label} {h.status}" for h in stats.hits if 500 <= h.status != 503)
            outcome.problems.append(f"5xx other than 503: {dict(bad)}\n{tail}")
        if not during:
            outcome.problems.append("no request was made during the cut")
        others = {k: v for k, v in outcome.during.items() if k != "503"}
        if others:
            outcome.problems.append(f"during the cut, not 503: {others}")
        if outcome.retry_after_30 != outcome.during.get("503", 0):
            outcome.problems.append("a 503 during the cut came without Retry-After: 30")
        if outcome.recovery is None or outcome.recovery > RECOVERY_LIMIT:
            outcome.problems.append(f"no 200 within {RECOVERY_LIMIT:.0f} s of the restore")
        late = [h for h in stats.hits if h.at >= restored_at + RECOVERY_LIMIT and h.status >= 500]
        if late:
            outcome.problems.append(f"{len(late)} 5xx more than 15 s after the restore")
        _check_database(outcome, stats, direct, keys_)
    return outcome


# --- (2) SQLite read-only -------------------------------------------------------------------


def _immutable(paths: list[Path], on: bool) -> None:
    """chattr ±i: unlike chmod, it also binds root (the bench may run as root)."""
    for path in paths:
        if path.exists():
            subprocess.run(
                ["chattr", "+i" if on else "-i", str(path)],
                check=True,
                capture_output=True,
                timeout=10,
            )


async def _read_only_requests(
    subject: Subject, make_read_only: list[Path]
) -> tuple[list[tuple[str, int, str | None]], int]:
    """Before, during and after: (what, status, Retry-After), and the subject's messages sent."""
    await sign_everyone_in([subject])
    ref = subject.references[0]
    seen: list[tuple[str, int, str | None]] = []

    async def post(what: str) -> None:
        before = len(subject.stats.hits)
        await subject.message(f"/espace/{ref}/messages", "subject POST message")
        hit = subject.stats.hits[before]
        seen.append((what, hit.status, hit.retry_after))

    async def get(what: str) -> None:
        before = len(subject.stats.hits)
        await subject.call("GET", f"/espace/{ref}", "subject GET dossier")
        hit = subject.stats.hits[before]
        seen.append((what, hit.status, hit.retry_after))

    try:
        await post("write before")
        await asyncio.to_thread(_immutable, make_read_only, True)
        try:
            await post("write while read-only")
            await post("write while read-only (again)")
            await get("read while read-only")
        finally:
            await asyncio.to_thread(_immutable, make_read_only, False)
        await asyncio.sleep(1)
        await post("write after")
    finally:
        await subject.client.aclose()
    return seen, len(subject.stats.sent)


def sqlite_read_only() -> FaultOutcome:
    outcome = FaultOutcome("sqlite read-only")
    if shutil.which("chattr") is None:
        outcome.skipped = "chattr is missing: as root, chmod cannot make the file read-only"
        return outcome
    with ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fault-")))
        url = stack.enter_context(database("sqlite", var_dir))
        keys_ = Keys.fresh()
        seeded = asyncio.run(seed(url, keys_, subjects=1, workers=1))
        # The data directory of its own, so that the server's log stays writable.
        db_file = var_dir / "portal.sqlite3"
        files = [db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")]
        stats = Stats()
        with app_server(var_dir, url, keys_) as server:
            login, ref = seeded.subjects[0]
            subject = Subject(server.base_url, keys_.secret_key, stats, login, [ref])
            subject.partner_ids = seeded.partner_ids
            try:
                seen, _ = asyncio.run(_read_only_requests(subject, files))
            except subprocess.CalledProcessError as error:
                outcome.skipped = f"chattr +i failed ({error.stderr!r}): cannot make it read-only"
                return outcome
            tail = "\n".join(
                line[:300]
                for line in log_tail(server.log, 60).splitlines()
                if "unavailable" not in line
            )
        outcome.requests = len(stats.hits)
        for what, status, retry in seen:
            if "while" in what:
                key = f"{what.split()[0]} {status}"
                outcome.during[key] = outcome.during.get(key, 0) + 1
                if status == 503 and retry == "30":
                    outcome.retry_after_30 += 1
        outcome.errors_500 = sum(1 for _, status, _ in seen if status >= 500 and status != 503)
        writes = [status for what, status, _ in seen if what.startswith("write while")]
        if any(s != 503 for s in writes):
            outcome.problems.append(f"writes while read-only answered {writes}, not 503\n{tail}")
        after = [status for what, status, _ in seen if what == "write after"]
        outcome.recovery = 0.0 if after == [303] else None
        if after != [303]:
            outcome.problems.append(f"the write after the repair answered {after}")
        if outcome.problems:
            outcome.problems.append(f"seen: {seen}; no answer: {dict(stats.failures)}")
        _check_database(outcome, stats, url, keys_)
    return outcome


def fault_table(outcomes: list[FaultOutcome]) -> str:
    head = (
        f"{'fault':<18}{'requests':>9}  {'during the fault':<28}{'RA 30':>6}{'500':>5}"
        f"{'back in':>9}{'msgs sent/stored':>18}{'journals ok/broken':>20}{'half':>6}"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        if o.skipped:
            lines.append(f"{o.fault:<18}skipped: {o.skipped}")
            continue
        during = ", ".join(f"{k} x{v}" for k, v in sorted(o.during.items())) or "-"
        back = f"{o.recovery:.1f} s" if o.recovery is not None else "never"
        lines.append(
            f"{o.fault:<18}{o.requests:>9}  {during:<28}{o.retry_after_30:>6}{o.errors_500:>5}"
            f"{back:>9}{f'{o.sent}/{o.stored_once}':>18}"
            f"{f'{o.journals - o.broken}/{o.broken}':>20}{o.half_written:>6}"
        )
    for o in outcomes:
        for problem in o.problems:
            lines.append(f"  {o.fault}: {problem}")
    return "\n".join(lines)


def run_fault(kind: str) -> FaultOutcome:
    """The fault of this database kind."""
    return postgres_cut() if kind == "postgres" else sqlite_read_only()
