"""Faults under load: PostgreSQL cut behind a TCP proxy; SQLite read-only, and its disk full."""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.breakers import (
    TcpProxy,
    cannot_break_files,
    fill,
    proxy,
    read_only,
    small_disk,
    sqlite_files,
)
from bench.servers import HOST
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

PG = ("127.0.0.1", 5432)
BEFORE, CUT, AFTER = 5.0, 5.0, 20.0
RECOVERY_LIMIT = 15.0
DISK_KB = 8 * 1024


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
    notes: list[str] = field(default_factory=list)
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
    await asyncio.to_thread(relay.cut)
    cut_at = stats.now()  # Once every connection through the proxy is reset.
    progress(f"  PostgreSQL cut at {cut_at:.1f} s")
    await asyncio.sleep(CUT)
    restored_at = stats.now()  # Before the proxy listens again.
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
        # Sent after the cut and answered before the restore: wholly inside the fault.
        during = [h for h in stats.hits if cut_at <= h.at and h.at + h.seconds < restored_at]
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
        others = [h for h in during if h.status != 503]
        if others:
            seen = ", ".join(f"{h.label} {h.status} at {h.at:.2f} s" for h in others[:5])
            outcome.problems.append(f"during the cut, not 503: {seen}")
        if outcome.retry_after_30 != outcome.during.get("503", 0):
            outcome.problems.append("a 503 during the cut came without Retry-After: 30")
        if outcome.recovery is None or outcome.recovery > RECOVERY_LIMIT:
            outcome.problems.append(f"no 200 within {RECOVERY_LIMIT:.0f} s of the restore")
        late = [h for h in stats.hits if h.at >= restored_at + RECOVERY_LIMIT and h.status >= 500]
        if late:
            outcome.problems.append(f"{len(late)} 5xx more than 15 s after the restore")
        _check_database(outcome, stats, direct, keys_)
    return outcome


# --- (2) SQLite: read-only, disk full ------------------------------------------------------


@dataclass
class FileFault:
    """One way to break the SQLite file under the server, and to repair it."""

    name: str
    # Given the database file, a context manager: the fault inside, repaired on leaving.
    breaks: Callable[[Path], AbstractContextManager[None]]
    on_small_disk: bool = False
    # Before each request while it lasts: to keep a disk full (SQLite frees some space when
    # a process's last connection closes).
    again: Callable[[Path], object] = lambda db: None
    # Requests may get no answer: the fault kills the process that serves them.
    kills: bool = False
    note: str = ""


@contextmanager
def _full_disk(db_file: Path) -> Iterator[None]:
    filler = fill(db_file.parent)
    try:
        yield
    finally:
        filler.unlink()


FILE_FAULTS = [
    FileFault(
        "sqlite read-only",
        lambda db: read_only(sqlite_files(db)),
        note="chattr +i on the file and its WAL",
    ),
    FileFault(
        "sqlite disk full",
        lambda db: _full_disk(db),
        on_small_disk=True,
        again=lambda db: fill(db.parent),
        note=f"a {DISK_KB // 1024} MB tmpfs holding the database, filled with a file",
    ),
    FileFault(
        "sqlite -shm too",
        lambda db: read_only(sqlite_files(db, shared_memory=True)),
        kills=True,
        note="chattr +i on the shared-memory index too: a write through its map is SIGBUS, "
        "the worker dies (no answer) and uvicorn starts another",
    ),
]


def _workers(server_pid: int) -> set[str]:
    """The server's live child processes (a dead one stays a zombie until it is reaped)."""
    found = subprocess.run(
        ["pgrep", "-P", str(server_pid)], capture_output=True, text=True, timeout=10
    )
    alive = set()
    for pid in found.stdout.split():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in {"Z", "X"}:
            alive.add(pid)
    return alive


async def _file_fault_requests(
    subject: Subject, breaks: AbstractContextManager[None], again: Callable[[], object]
) -> tuple[list[tuple[str, int, str | None]], float | None]:
    """Before, during and after: (what, status, Retry-After); seconds from repair to a 303."""
    await sign_everyone_in([subject])
    ref = subject.references[0]
    seen: list[tuple[str, int, str | None]] = []

    async def post(what: str) -> int:
        before = len(subject.stats.hits)
        await subject.message(f"/espace/{ref}/messages", "subject POST message")
        hit = subject.stats.hits[before]
        seen.append((what, hit.status, hit.retry_after))
        return hit.status

    async def get(what: str) -> None:
        before = len(subject.stats.hits)
        await subject.call("GET", f"/espace/{ref}", "subject GET dossier")
        hit = subject.stats.hits[before]
        seen.append((what, hit.status, hit.retry_after))

    try:
        await post("write before")
        with breaks:
            again()
            await post("write while broken")
            again()
            await post("write while broken (again)")
            again()
            await get("read while broken")
        repaired = time.monotonic()
        # No pause: the very next request must find the file writable again.
        back = await post("write after") == 303
        recovery = time.monotonic() - repaired if back else None
        await get("read after")
    finally:
        await subject.client.aclose()
    return seen, recovery


def sqlite_file_fault(fault: FileFault) -> FaultOutcome:
    outcome = FaultOutcome(fault.name)
    reason = cannot_break_files()
    if reason:
        outcome.skipped = reason
        return outcome
    with ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-fault-")))
        # The data in a folder of its own (a small disk for the disk-full fault), so that the
        # server's log stays writable.
        data_dir = var_dir / "data"
        if fault.on_small_disk:
            stack.enter_context(small_disk(data_dir, DISK_KB))
        data_dir.mkdir(exist_ok=True)
        url = stack.enter_context(database("sqlite", data_dir))
        keys_ = Keys.fresh()
        seeded = asyncio.run(seed(url, keys_, subjects=1, workers=1))
        db_file = data_dir / "portal.sqlite3"
        stats = Stats()
        with app_server(var_dir, url, keys_) as server:
            login, ref = seeded.subjects[0]
            subject = Subject(server.base_url, keys_.secret_key, stats, login, [ref])
            subject.partner_ids = seeded.partner_ids
            workers = _workers(server.process.pid)
            try:
                seen, outcome.recovery = asyncio.run(
                    _file_fault_requests(
                        subject, fault.breaks(db_file), lambda: fault.again(db_file)
                    )
                )
            except subprocess.CalledProcessError as error:
                outcome.skipped = f"{error.cmd[0]} failed ({error.stderr!r})"
                return outcome
            replaced = len(workers - _workers(server.process.pid))
            tail = "\n".join(
                line[:300]
                for line in log_tail(server.log, 60).splitlines()
                if "unavailable" not in line
            )
        outcome.requests = len(stats.hits)
        for what, status, retry in seen:
            if "while" in what:
                key = f"{what.split()[0]} {status if status > 0 else 'no answer'}"
                outcome.during[key] = outcome.during.get(key, 0) + 1
                if status == 503 and retry == "30":
                    outcome.retry_after_30 += 1
        outcome.errors_500 = sum(1 for _, status, _ in seen if status >= 500 and status != 503)
        during = [status for what, status, _ in seen if "while" in what]
        allowed = {503, -1} if fault.kills else {503}
        if any(s not in allowed for s in during):
            outcome.problems.append(f"while broken, answered {during}, not 503\n{tail}")
        if fault.kills:
            outcome.notes.append(f"{replaced} worker process(es) died")
        after = [status for what, status, _ in seen if what.endswith("after")]
        if after != [303, 200]:
            outcome.problems.append(f"after the repair, the write and read answered {after}")
        if outcome.problems:
            outcome.problems.append(f"seen: {seen}; no answer: {dict(stats.failures)}")
        outcome.notes.append(fault.note)
        _check_database(outcome, stats, url, keys_)
    return outcome


def fault_table(outcomes: list[FaultOutcome]) -> str:
    head = (
        f"{'fault':<18}{'requests':>9}  {'during the fault':<44}{'RA 30':>6}{'500':>5}"
        f"{'back in':>9}{'msgs sent/stored':>18}{'journals ok/broken':>20}{'half':>6}"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        if o.skipped:
            lines.append(f"{o.fault:<18}skipped: {o.skipped}")
            continue
        during = ", ".join(f"{k} x{v}" for k, v in sorted(o.during.items())) or "-"
        back = f"{o.recovery:.2f} s" if o.recovery is not None else "never"
        lines.append(
            f"{o.fault:<18}{o.requests:>9}  {during:<44}{o.retry_after_30:>6}{o.errors_500:>5}"
            f"{back:>9}{f'{o.sent}/{o.stored_once}':>18}"
            f"{f'{o.journals - o.broken}/{o.broken}':>20}{o.half_written:>6}"
        )
    for o in outcomes:
        for note in o.notes:
            lines.append(f"  {o.fault} (note): {note}")
        for problem in o.problems:
            lines.append(f"  {o.fault}: {problem}")
    return "\n".join(lines)


def run_faults(kind: str) -> list[FaultOutcome]:
    """The faults of this database kind."""
    if kind == "postgres":
        return [postgres_cut()]
    return [sqlite_file_fault(fault) for fault in FILE_FAULTS]
