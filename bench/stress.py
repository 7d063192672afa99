"""Mixed read/write load on `portal serve --workers 2` (SQLite, PostgreSQL) and the checks after."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import math
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.servers import (
    HOST,
    Server,
    ServerError,
    free_port,
    portal_environment,
    serve,
)
from bench.targets import CSRF_COOKIE, SESSION_COOKIE, SetupError, sign_in

PASSWORD = "demo-portail-amo-2026"  # noqa: S105 - the published demo password (portal.demo)
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
REDIS_ADDRESS = ("127.0.0.1", 6379)
REDIS_DB = 13
REQUEST_TIMEOUT = 15.0
PARTNERS = 3
LOCKED = "database is locked"
CHILD_SECONDS = 1800
ACTION_RE = r"/espace/{ref}/demarches/(\d+)/oui"
CONSENT_RE = re.compile(r"/consentements/(\d+)")


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def totp_secret(index: int) -> str:
    """A known TOTP secret per worker, as tests/factories.py gives staff a known one."""
    digest = hashlib.sha256(f"bench-load-worker-{index}".encode()).digest()[:20]
    return base64.b32encode(digest).decode("ascii")


def redis_flush(db: int = REDIS_DB) -> None:
    """Empty the sign-in throttle's Redis database with raw RESP (no redis client needed)."""
    with socket.create_connection(REDIS_ADDRESS, timeout=5) as sock:
        sock.sendall(f"SELECT {db}\r\nFLUSHDB\r\n".encode())
        answer = b""
        while answer.count(b"\r\n") < 2:
            chunk = sock.recv(1024)
            if not chunk:
                break
            answer += chunk
    if answer.count(b"+OK") != 2:
        raise ServerError(f"Redis did not flush database {db}: {answer!r}")


# --- The database ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Keys:
    secret_key: str
    journal_key: str
    master_key: str

    @classmethod
    def fresh(cls) -> Keys:
        from portal.security.crypto import new_master_key

        return cls(secrets.token_urlsafe(48), secrets.token_urlsafe(48), new_master_key())


@dataclass
class Seeded:
    """Who signs in and what they work on."""

    subjects: list[tuple[str, str]]  # (login, dossier reference)
    workers: list[tuple[str, str, list[str]]]  # (login, TOTP secret, references)
    partner_ids: list[int]


async def _admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(PG_ADMIN_URL, timeout=10)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextmanager
def database(kind: str, var_dir: Path) -> Iterator[str]:
    """A fresh database for one run: an SQLite file, or a new PostgreSQL database dropped after."""
    if kind == "sqlite":
        yield f"sqlite://{var_dir / 'portal.sqlite3'}"
        return
    name = f"portal_load_{secrets.token_hex(4)}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgres://postgres@127.0.0.1:5432/{name}"
    finally:
        try:
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except Exception as error:
            progress(f"could not drop {name}: {error}")


async def _orm(url: str, keys_: Keys) -> None:
    from tortoise import Tortoise

    from portal import keys
    from portal.db import tortoise_config

    keys.configure(keys_.journal_key, keys_.master_key)
    await Tortoise.init(config=tortoise_config(url))


async def seed(url: str, keys_: Keys, subjects: int, workers: int) -> Seeded:
    """Migrate, then build the people and dossiers through the domain functions."""
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    from portal.db import tortoise_config
    from portal.domain.accounts import (
        check_new_subject,
        create_subject_with_password,
        new_user_handle,
    )
    from portal.domain.dossiers import take
    from portal.domain.requests import RequestForm, make_request
    from portal.models import (
        Asker,
        ContactChannel,
        Credential,
        CredentialKind,
        Partner,
        Person,
        Role,
        Sector,
        Service,
        Theme,
    )
    from portal.security.passwords import hash_password

    try:
        await migrate(config=tortoise_config(url))
    finally:
        await Tortoise.close_connections()
    await _orm(url, keys_)
    try:
        service = await Service.create(
            name="AMO Charge", communes=["Namur"], response_days=3, phone="081 00 00 00"
        )
        partners = [
            await Partner.create(
                name=f"Partenaire {i}",
                sector=Sector.CPAS,
                bound_by_secrecy=True,
                communes=["Namur"],
            )
            for i in range(PARTNERS)
        ]
        password_hash = hash_password(PASSWORD)
        staff: list[tuple[Person, str]] = []
        for i in range(workers):
            person = await Person.create(
                login=f"worker{i:02d}",
                role=Role.WORKER,
                display_name=f"Worker {i}",
                service=service,
                user_handle=new_user_handle(),
            )
            await Credential.create(
                person=person, kind=CredentialKind.PASSWORD, secret=password_hash
            )
            await Credential.create(person=person, kind=CredentialKind.TOTP, secret=totp_secret(i))
            staff.append((person, totp_secret(i)))
        seeded = Seeded(
            subjects=[],
            # Staff are made with a sign-in name just above.
            workers=[(p.login or "", s, []) for p, s in staff],
            partner_ids=[p.id for p in partners],
        )
        year = time.gmtime().tm_year
        for i in range(subjects):
            new = check_new_subject(Role.YOUTH.value, f"Jeune {i}", "fr")
            login = f"jeune{i:03d}"
            person = await create_subject_with_password(new, login, PASSWORD)
            await Person.filter(id=person.id).update(birth_year=year - 15, birth_month=6)
            await person.refresh_from_db()
            dossier = await make_request(
                person,
                service,
                RequestForm(
                    asker=Asker.YOUTH,
                    themes=[Theme.SCHOOL],
                    words="Je voudrais parler de l'école avec quelqu'un.",
                    contact_channel=ContactChannel.PORTAL,
                ),
            )
            worker, _ = staff[i % workers]
            await take(worker, dossier.id)
            await dossier.refresh_from_db(fields=["reference"])
            seeded.subjects.append((login, dossier.reference))
            seeded.workers[i % workers][2].append(dossier.reference)
        return seeded
    finally:
        await Tortoise.close_connections()


# --- The load -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    at: float  # seconds since the load started
    label: str
    status: int  # -1: no answer (timeout, connection refused or reset)
    seconds: float
    locked: bool
    retry_after: str | None


@dataclass
class Stats:
    started: float = field(default_factory=time.monotonic)
    hits: list[Hit] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)  # markers answered 303
    unsure: list[str] = field(default_factory=list)  # markers without a clear answer
    failures: Counter[str] = field(default_factory=Counter)

    def now(self) -> float:
        return time.monotonic() - self.started

    @property
    def answered(self) -> list[Hit]:
        return [h for h in self.hits if h.status > 0]

    def count(self, low: int, high: int) -> int:
        return sum(1 for h in self.hits if low <= h.status < high)

    def percentile_ms(self, percent: float) -> float:
        ordered = sorted(h.seconds for h in self.answered)
        if not ordered:
            return float("nan")
        rank = min(len(ordered), max(1, math.ceil(percent / 100 * len(ordered))))
        return ordered[rank - 1] * 1000

    def bad_routes(self) -> Counter[str]:
        return Counter(
            f"{h.label} {h.status if h.status > 0 else 'no answer'}"
            for h in self.hits
            if h.status >= 500 or h.status < 0 or h.locked
        )


class Actor:
    """One simulated person with their own connection and signed-in session."""

    def __init__(
        self,
        base_url: str,
        secret_key: str,
        stats: Stats,
        login: str,
        references: list[str],
        totp: str | None = None,
    ) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url, trust_env=False, timeout=REQUEST_TIMEOUT, follow_redirects=False
        )
        self.secret_key = secret_key
        self.stats = stats
        self.login = login
        self.references = references
        self.totp = totp
        self.cookie = ""
        self.token = ""
        self.sequence = 0
        self.deadline = math.inf

    async def sign_in(self) -> None:
        """Sign in once through the pages (bench.targets), then take the landing page's cookie."""
        from portal.security.csrf import token_for

        session = await sign_in(self.client, self.login, PASSWORD, self.totp)
        landing = "/travail" if self.totp else "/espace"
        self.client.cookies.clear()
        page = await self.client.get(landing, headers={"Cookie": f"{SESSION_COOKIE}={session}"})
        self.client.cookies.clear()
        csrf = page.cookies.get(CSRF_COOKIE)
        if page.status_code != 200 or csrf is None:
            raise SetupError(f"GET {landing} as {self.login} answered {page.status_code}")
        self.cookie = f"{SESSION_COOKIE}={session}; {CSRF_COOKIE}={csrf}"
        self.token = token_for(self.secret_key, csrf)

    def marker(self) -> str:
        self.sequence += 1
        return f"charge-{self.login}-{self.sequence}-{secrets.token_hex(3)}"

    async def call(
        self, method: str, path: str, label: str, form: dict[str, Any] | None = None
    ) -> httpx.Response | None:
        headers = {"Cookie": self.cookie, "X-CSRF-Token": self.token}
        data = {"csrf_token": self.token, **form} if form is not None else None
        at, sent = self.stats.now(), time.perf_counter()
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT + 1):
                answer = await self.client.request(method, path, headers=headers, data=data)
        except (httpx.HTTPError, TimeoutError, OSError) as error:
            self.stats.failures[f"{label}: {type(error).__name__}"] += 1
            self.stats.hits.append(Hit(at, label, -1, time.perf_counter() - sent, False, None))
            return None
        finally:
            self.client.cookies.clear()
        self.stats.hits.append(
            Hit(
                at,
                label,
                answer.status_code,
                time.perf_counter() - sent,
                LOCKED in answer.text,
                answer.headers.get("retry-after"),
            )
        )
        return answer

    async def message(self, path: str, label: str) -> None:
        marker = self.marker()
        answer = await self.call("POST", path, label, {"body": f"Message de charge {marker}"})
        if answer is not None and answer.status_code == 303:
            self.stats.sent.append(marker)
        elif answer is None or answer.status_code >= 500:
            self.unsure(marker)

    def unsure(self, marker: str) -> None:
        self.stats.unsure.append(marker)

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    async def run(self, deadline: float) -> None:
        self.deadline = deadline
        try:
            while not self.over():
                await self.step()
        finally:
            await self.client.aclose()

    async def step(self) -> None:
        raise NotImplementedError


class Subject(Actor):
    """Reads the dossier, writes, answers proposed steps, grants a consent and revokes it."""

    partner_ids: list[int]

    async def step(self) -> None:
        ref = self.references[0]
        page = await self.call("GET", f"/espace/{ref}", "subject GET dossier")
        if self.over():
            return
        await self.message(f"/espace/{ref}/messages", "subject POST message")
        proposed = re.findall(ACTION_RE.format(ref=ref), page.text) if page is not None else []
        if proposed and not self.over():
            choice = random.choice(["oui", "non"])
            await self.call(
                "POST", f"/espace/{ref}/demarches/{proposed[0]}/{choice}", "subject POST answer", {}
            )
        if self.over():
            return
        granted = await self.call(
            "POST",
            f"/espace/{ref}/partenaires/{random.choice(self.partner_ids)}/accord",
            "subject POST consent",
            {
                "categories": ["messages", "actions"],
                "duration": "1_month",
                "purpose": "Pour préparer le rendez-vous à l'école.",
                "step": "confirm",
            },
        )
        found = CONSENT_RE.search(granted.headers.get("location", "")) if granted else None
        if found and not self.over():
            await self.call(
                "POST",
                f"/espace/{ref}/consentements/{found.group(1)}/retirer",
                "subject POST revoke",
                {},
            )


class Worker(Actor):
    """Reads each of their dossiers, writes in it and proposes a step with a partner."""

    partner_ids: list[int]

    async def step(self) -> None:
        for ref in self.references:
            if self.over():
                return
            await self.call("GET", f"/travail/dossiers/{ref}", "worker GET dossier")
            if self.over():
                return
            await self.message(f"/travail/dossiers/{ref}/messages", "worker POST message")
            if self.over():
                return
            await self.call(
                "POST",
                f"/travail/dossiers/{ref}/demarches",
                "worker POST propose",
                {
                    "mode": "propose",
                    "kind": "partner_contact",
                    "description": "Prendre contact avec le service pour un rendez-vous.",
                    "third_party": "",
                    "partners": [str(random.choice(self.partner_ids))],
                },
            )


def actors(base_url: str, keys_: Keys, seeded: Seeded, stats: Stats) -> list[Actor]:
    people: list[Actor] = [
        Subject(base_url, keys_.secret_key, stats, login, [ref]) for login, ref in seeded.subjects
    ]
    people += [
        Worker(base_url, keys_.secret_key, stats, login, refs, secret)
        for login, secret, refs in seeded.workers
    ]
    for person in people:
        person.partner_ids = seeded.partner_ids  # type: ignore[attr-defined]
    return people


async def sign_everyone_in(people: list[Actor]) -> None:
    """Each person signs in once; a TOTP code works once per window, so the session is kept."""
    gate = asyncio.Semaphore(8)

    async def one(person: Actor) -> None:
        async with gate, asyncio.timeout(90):
            await person.sign_in()

    await asyncio.gather(*(one(p) for p in people))


async def sign_in_and_load(people: list[Actor], stats: Stats, seconds: float) -> float:
    """Both in one event loop: the people's connections belong to it."""
    try:
        await sign_everyone_in(people)
    except BaseException:
        await asyncio.gather(*(p.client.aclose() for p in people))
        raise
    progress(f"  {len(people)} people signed in; loading for {seconds:.0f} s ...")
    return await load(people, stats, seconds)


async def load(people: list[Actor], stats: Stats, seconds: float) -> float:
    """Every person loops until the deadline; return the measured wall time."""
    stats.started = time.monotonic()
    deadline = stats.started + seconds
    async with asyncio.timeout(seconds + REQUEST_TIMEOUT + 30):
        await asyncio.gather(*(p.run(deadline) for p in people))
    return time.monotonic() - stats.started


# --- The checks -----------------------------------------------------------------------------


@dataclass
class Stored:
    markers: Counter[str]
    journals: int
    broken: list[str]
    without_entry: list[int]  # message ids no "message.sent" entry names
    without_message: list[int]  # "message.sent" entries naming no message


async def read_back(url: str, keys_: Keys) -> Stored:
    """Open the database with the ORM: the stored markers, the chains, messages vs journal."""
    from tortoise import Tortoise

    from portal import keys
    from portal.domain.journal import verify_all
    from portal.models import Dossier, JournalEntry, Message

    await _orm(url, keys_)
    try:
        boxes = {d.id: keys.box(d) for d in await Dossier.all()}
        markers: Counter[str] = Counter()
        ids: set[int] = set()
        for message in await Message.all():
            ids.add(message.id)
            text = boxes[message.dossier_id].open(message.body, "message.body")
            markers.update(re.findall(r"charge-[\w-]+", text))
        named: set[int] = set()
        for entry in await JournalEntry.filter(event="message.sent"):
            message_id = entry.details.get("message")
            named.add(message_id if isinstance(message_id, int) else -1)
        checked, breaks = await verify_all()
        return Stored(
            markers=markers,
            journals=checked,
            broken=[f"dossier #{b.dossier_id} entry {b.seq}: {b.reason}" for b in breaks],
            without_entry=sorted(ids - named),
            without_message=sorted(named - ids),
        )
    finally:
        await Tortoise.close_connections()


@dataclass
class Outcome:
    db: str
    requests: int = 0
    seconds: float = 0.0
    p50: float = float("nan")
    p99: float = float("nan")
    errors_5xx: int = 0
    no_answer: int = 0
    locked: int = 0
    sent: int = 0
    stored_once: int = 0
    journals: int = 0
    broken: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mix: str = ""

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def judge(db: str, stats: Stats, seconds: float, stored: Stored) -> Outcome:
    outcome = Outcome(
        db=db,
        requests=len(stats.answered),
        seconds=seconds,
        p50=stats.percentile_ms(50),
        p99=stats.percentile_ms(99),
        errors_5xx=stats.count(500, 600),
        no_answer=sum(1 for h in stats.hits if h.status < 0),
        locked=sum(1 for h in stats.hits if h.locked),
        sent=len(stats.sent),
        stored_once=sum(1 for m in stats.sent if stored.markers[m] == 1),
        journals=stored.journals,
        broken=len(stored.broken),
    )
    problems = outcome.problems
    done = Counter(h.label for h in stats.hits if 200 <= h.status < 400)
    outcome.mix = ", ".join(f"{label} {count}" for label, count in sorted(done.items()))
    refused = Counter(f"{h.label} {h.status}" for h in stats.hits if 400 <= h.status < 500)
    outcome.notes += [f"{count} x {route}" for route, count in sorted(refused.items())]
    for route, count in sorted(stats.bad_routes().items()):
        problems.append(f"{count} x {route}")
    for failure, count in sorted(stats.failures.items()):
        problems.append(f"{count} x {failure}")
    missing = [m for m in stats.sent if stored.markers[m] == 0]
    if missing:
        problems.append(f"{len(missing)} messages answered 303 but not stored, e.g. {missing[0]}")
    twice = [m for m, n in stored.markers.items() if n > 1]
    if twice:
        problems.append(f"{len(twice)} messages stored more than once, e.g. {twice[0]}")
    stray = set(stored.markers) - set(stats.sent) - set(stats.unsure)
    if stray:
        problems.append(f"{len(stray)} stored messages nobody sent")
    problems += stored.broken[:5]
    if stored.without_entry:
        problems.append(f"messages without a journal entry: {stored.without_entry[:5]}")
    if stored.without_message:
        problems.append(f"journal entries naming no message: {stored.without_message[:5]}")
    return outcome


def table(outcomes: list[Outcome]) -> str:
    head = (
        f"{'db':<9}{'requests':>9}{'rps':>8}{'p50 ms':>9}{'p99 ms':>9}{'5xx':>6}"
        f"{'no ans':>7}{'locked':>7}{'msgs sent/stored':>18}{'journals ok/broken':>20}"
    )
    lines = [head, "-" * len(head)]
    for o in outcomes:
        lines.append(
            f"{o.db:<9}{o.requests:>9}{o.rps:>8.1f}{o.p50:>9.1f}{o.p99:>9.1f}{o.errors_5xx:>6}"
            f"{o.no_answer:>7}{o.locked:>7}{f'{o.sent}/{o.stored_once}':>18}"
            f"{f'{o.journals - o.broken}/{o.broken}':>20}"
        )
    for o in outcomes:
        lines.append(f"  {o.db} answered 2xx/3xx: {o.mix}")
        for note in o.notes:
            lines.append(f"  {o.db} (4xx, not a failure): {note}")
        for problem in o.problems:
            lines.append(f"  {o.db}: {problem}")
    return "\n".join(lines)


# --- Serving --------------------------------------------------------------------------------


def app_environment(var_dir: Path, port: int, url: str, keys_: Keys) -> dict[str, str]:
    env = portal_environment(var_dir, port)
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=keys_.secret_key,
        JOURNAL_KEY=keys_.journal_key,
        MASTER_KEY=keys_.master_key,
        REDIS_URL=f"redis://127.0.0.1:6379/{REDIS_DB}",
    )
    return env


@contextmanager
def app_server(var_dir: Path, url: str, keys_: Keys, workers: int = 2) -> Iterator[Server]:
    """``python -m portal serve --workers N`` on loopback, stopped when the block ends."""
    redis_flush()
    port = free_port()
    with serve(
        "portal",
        [sys.executable, "-m", "portal", "serve", "--workers", str(workers)],
        app_environment(var_dir, port, url, keys_),
        port,
        "/healthz",
        var_dir / "portal.log",
    ) as server:
        yield server


def log_tail(server_log: Path, lines: int = 30) -> str:
    try:
        text = server_log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(f"    {line}" for line in text.splitlines()[-lines:])


def run_one(kind: str, options: argparse.Namespace) -> Outcome:
    with ExitStack() as stack:
        var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        url = stack.enter_context(database(kind, var_dir))
        keys_ = Keys.fresh()
        progress(f"[{kind}] seeding {options.subjects} subjects, {options.workers} workers ...")
        seeded = asyncio.run(seed(url, keys_, options.subjects, options.workers))
        stats = Stats()
        with app_server(var_dir, url, keys_) as server:
            progress(f"[{kind}] signing in on {server.base_url}, then loading ...")
            people = actors(server.base_url, keys_, seeded, stats)
            try:
                seconds = asyncio.run(sign_in_and_load(people, stats, options.seconds))
            except SetupError as error:
                raise SetupError(f"{error}\n{log_tail(server.log)}") from error
            tail = log_tail(server.log)
        progress(f"[{kind}] server stopped; reading the database back ...")
        stored = asyncio.run(read_back(url, keys_))
        outcome = judge(kind, stats, seconds, stored)
        if outcome.problems and (outcome.errors_5xx or outcome.locked or outcome.no_answer):
            outcome.problems.append(f"server log, last lines:\n{tail}")
        return outcome


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.load",
        description="Load `portal serve --workers 2` on loopback with simulated subjects and "
        "workers (messages, proposed steps, answers, consents), then check the database.",
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--subjects", type=int, default=40)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="10 s, 8 subjects, 2 workers")
    parser.add_argument(
        "--faults",
        action="store_true",
        help="PostgreSQL cut; SQLite read-only and disk full (as root) instead",
    )
    parser.add_argument("--outcome", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.quick:
        options.seconds, options.subjects, options.workers = 10.0, 8, 2
    if options.seconds <= 0 or options.subjects < 1 or options.workers < 1:
        parser.error("--seconds, --subjects and --workers must be positive")
    return options


def _stop(signum: int, frame: Any) -> None:
    # Unwinds through the ExitStacks: servers stopped, databases dropped.
    raise KeyboardInterrupt


def in_child(kind: str, argv: list[str]) -> list[dict[str, Any]]:
    """Run one database in its own process: Tortoise keeps the first backend's SQL dialect."""
    with tempfile.TemporaryDirectory(prefix="bench-load-") as folder:
        out = Path(folder) / "outcome.json"
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.load", *argv, "--db", kind, "--outcome", str(out)]
        )
        try:
            code = child.wait(timeout=CHILD_SECONDS)
        finally:
            if child.poll() is None:
                child.terminate()
                child.wait(10)
        if not out.exists():
            raise ServerError(f"the {kind} run ended with {code} and no outcome")
        found: list[dict[str, Any]] = json.loads(out.read_text(encoding="utf-8"))
        return found


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    options = parse_args(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    kinds = ["sqlite", "postgres"] if options.db == "both" else [options.db]
    rest = [a for a in argv if a not in {"--db", "sqlite", "postgres", "both"}]
    try:
        if len(kinds) > 1:
            found = [o for kind in kinds for o in in_child(kind, rest)]
        elif options.faults:
            from bench.faults import run_faults

            found = [asdict(o) for o in run_faults(kinds[0])]
        else:
            found = [asdict(run_one(kinds[0], options))]
    except (ServerError, SetupError) as error:
        print(f"bench.load: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench.load: interrupted; servers stopped.", file=sys.stderr)
        return 130
    if options.outcome:
        options.outcome.write_text(json.dumps(found), encoding="utf-8")
        return 0
    if options.faults:
        from bench.faults import FaultOutcome, fault_table

        faults = [FaultOutcome.from_json(o) for o in found]
        print("Faults: portal serve --workers 2; 503 with Retry-After: 30 expected, never 500")
        print(fault_table(faults))
        return 1 if any(o.problems for o in faults) else 0
    outcomes = [Outcome(**o) for o in found]
    print(
        f"Load: {options.subjects} subjects + {options.workers} workers, "
        f"{options.seconds:.0f} s, portal serve --workers 2 on {HOST}"
    )
    print(table(outcomes))
    return 1 if any(o.problems for o in outcomes) else 0
