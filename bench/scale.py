"""Scale: every AMO of the Fédération for five years, on PostgreSQL (not in CI).

    python -m bench.scale [--fraction F] [--runs N] [--server URL] [--keep] [--reuse]

Builds ``portal_scale`` (80 services, 100,000 dossiers, 5,000,000 journal entries, 1,000,000
messages; fewer services with ``--fraction``) and ``portal_scale_demo`` (2 services, one year)
by the real migrations and the same code: MACs, heads and sealed texts by the portal's own
functions, rows written with COPY. Every service gets 250 dossiers a year, so the last twelve
months and the measured dossier look alike in both: only the years behind differ. Then the
inbox, dossier and figures pages through the real app, ``verify-journal``, backup and restore.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pyotp
from starlette.config import Environ

from portal import keys
from portal.demo import DEMO_PASSWORD, DEMO_TOTP
from portal.domain.journal import GENESIS, entry_mac, head_mac
from portal.security.crypto import Box, new_data_key, wrap

ROOT = Path(__file__).resolve().parents[1]
KEYS = {
    "SECRET_KEY": "scale-secret-key-that-is-long-enough-0123456789",
    "JOURNAL_KEY": "scale-journal-key-that-is-long-enough-0123456789",
    "MASTER_KEY": "c2NhbGUtbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE",
}
WORKERS, WAITING, OPEN_EACH = 8, 5, 6  # per service; waiting in its inbox; open per worker
OPEN_FROM = (WAITING, WAITING + OPEN_EACH * WORKERS)  # ranks where "open", then "ended" begin
PER_YEAR = 250  # dossiers per service and year: 100,000 / 80 services / 5 years
WEIGHTS = (0.2, 0.6, 1.0, 1.4, 1.8)  # a dossier's length against the average, in turn
CHUNK, ROUNDS = 1000, 3
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
WORDS = "Ça ne va plus trop à l'école depuis la rentrée, et à la maison on se dispute souvent."
MESSAGE = "Bonjour, je voulais te dire que le rendez-vous de jeudi est confirmé, à 16 h à l'AMO."
DROP = 'DROP DATABASE IF EXISTS "{}" WITH (FORCE)'
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
COLUMNS = {
    "service": "id name address hours phone communes response_days created_at email",
    "person": "id role login display_name birth_year birth_month service_id user_handle "
    "created_at language is_active",
    "credential": "person_id kind secret created_at transports label sign_count",
    "dossier": "id reference status created_at opened_at ended_at wrapped_key service_id "
    "subject_id last_activity_at subject_seen_seq journal_seq journal_head end_reason",
    "request": "id dossier_id created_at asker concerned_birth_year concerned_birth_month themes "
    "words contact_channel contact_details contact_hours no_voicemail others_read_messages",
    "assignment": "id dossier_id worker_id assigned_at",
    "action": "id dossier_id kind involves_third_party description status author_id "
    "answer_reason created_at done_at third_party",
    "message": "id dossier_id author_id body created_at",
    "journal_entry": "dossier_id seq actor_id event at details prev_hash hash",
}
Rows = dict[str, list[tuple[Any, ...]]]
Event = tuple[str, int, dict[str, Any]]


@dataclass(frozen=True)
class Plan:
    """Who and what each dossier ``k`` is, from its number alone (every process agrees)."""

    services: int
    dossiers: int
    entries: int
    messages: int
    now: datetime

    def admin(self, service: int) -> int:
        return 1 + service * (WORKERS + 1)  # its workers' ids follow

    def subject(self, k: int) -> int:
        return self.admin(self.services) + k

    def rank(self, k: int) -> int:
        """0 for its service's newest dossier."""
        return (self.dossiers - 1 - k) // self.services

    def status(self, k: int) -> str:
        return ["waiting", "open", "ended"][sum(self.rank(k) >= n for n in OPEN_FROM)]

    def worker(self, k: int) -> int:
        return self.admin(k % self.services) + 1 + self.rank(k) % WORKERS

    def created(self, k: int) -> datetime:
        return self.now - timedelta(days=365 * (self.rank(k) + 0.5 + k % 7 / 10) / PER_YEAR)

    def counts(self, k: int) -> tuple[int, int]:
        """Its journal entries and messages: a waiting request has one entry, no message."""
        if self.status(k) == "waiting":
            return 1, 0
        weight = WEIGHTS[self.rank(k) % len(WEIGHTS)]
        messages = round(self.messages / self.dossiers * weight)
        return max(round(self.entries / self.dossiers * weight), messages + 4), messages

    def reference(self, k: int) -> str:
        n = (k * 7_919_317 + 1234) % 31**8  # one to one: a reference is unique
        letters = "".join(ALPHABET[n // 31**i % 31] for i in range(8))
        return f"{letters[:4]}-{letters[4:]}"

    @property
    def probe(self) -> int:
        """The measured dossier: open, followed by service 1's first worker, of average length."""
        return next(
            k
            for k in range(0, self.dossiers, self.services)
            if self.status(k) == "open" and self.worker(k) == 2 and self.rank(k) % 5 == 2
        )


def people(plan: Plan) -> Rows:
    """Services, their admins and workers, every young person or parent who asked."""
    from portal.security.passwords import hash_password

    start = plan.created(0) - timedelta(days=30)
    rows: Rows = {"service": [], "person": []}
    for s in range(plan.services):
        rows["service"].append((s + 1, f"AMO {s + 1:02}", "", "", "", "[]", 3, start, ""))
        for j in range(WORKERS + 1):
            pid, login = plan.admin(s) + j, f"w{s}-{j - 1}" if j else f"admin{s}"
            role = "worker" if j else "admin"
            rows["person"].append(
                (pid, role, f"{login}@scale.example", login, None, None, s + 1, f"h{pid}", start)
            )
    for k in range(plan.dossiers):
        born = (plan.created(k).year - 12 - k % 9, 1 + k % 12) if k % 5 else (None, None)
        role, when = "youth" if k % 5 else "relative", plan.created(k) - timedelta(minutes=5)
        rows["person"].append((plan.subject(k), role, f"y{k}", "Lou", *born, None, None, when))
    rows["person"] = [(*person, "fr", True) for person in rows["person"]]
    secret = hash_password(DEMO_PASSWORD)
    rows["credential"] = [(p[0], "password", secret, p[8], "[]", "", 0) for p in rows["person"]]
    rows["credential"] += [
        (p[0], "totp", DEMO_TOTP, p[8], "[]", "", 0) for p in rows["person"] if p[6] is not None
    ]
    return rows


def dossier_rows(plan: Plan, k: int, message_id: int, rows: Rows) -> int:
    """Dossier ``k``, its request, worker, step, messages and journal; the next message id."""
    did, subject, worker, status = k + 1, plan.subject(k), plan.worker(k), plan.status(k)
    created, (count, messages) = plan.created(k), plan.counts(k)
    data_key = new_data_key()
    box = Box(did, data_key)
    asker, born = ("youth", (None, None)) if k % 5 else ("relative", (created.year - 14, 5))
    sealed = box.seal(WORDS, "request.words")
    rows["request"].append(
        (did, did, created, asker, *born, '["school"]', sealed, "portal", "", "", False, False)
    )
    events: list[Event] = [("request.made", subject, {"service": k % plan.services + 1})]
    end = plan.now - timedelta(hours=1)
    if status != "waiting":
        rows["assignment"].append((did, did, worker, created))
        middle: list[Event] = [("action.recorded", worker, {"action": did, "kind": "listening"})]
        middle += [("message.sent", (subject, worker)[i % 2], {"message": message_id + i})
                   for i in range(messages)]  # fmt: skip
        middle += [("dossier.read", worker, {})] * (count - messages - 3 - (status == "ended"))
        random.Random(k).shuffle(middle)
        events += [("dossier.taken", worker, {}), *middle]
    if status == "ended":
        events.append(("dossier.ended", subject, {"reason_given": False}))
        end = min(created + timedelta(days=20 + k * 7 % 100), plan.now - timedelta(days=1))
    step = (end - created) / max(1, len(events) - 1)
    mac, opened, last_activity = GENESIS, None, created
    for seq, (event, actor, details) in enumerate(events, 1):
        at, prev = created + step * (seq - 1), mac
        mac = entry_mac(did, seq, actor, event, at, details, prev)
        rows["journal_entry"].append((did, seq, actor, event, at, json.dumps(details), prev, mac))
        if event == "message.sent":
            body = box.seal(MESSAGE, "message.body")
            rows["message"].append((details["message"], did, actor, body, at))
        elif event == "action.recorded":
            text = box.seal("Écoute, et un point sur l'école.", "action.description")
            rows["action"].append(
                (did, did, "listening", False, text, "done", worker, "", at, at, "")
            )
        opened = at if event == "dossier.taken" else opened
        last_activity = last_activity if event == "dossier.read" else at
    ended, wrapped = end if status == "ended" else None, wrap(keys.master_key(), did, data_key)
    head = head_mac(did, len(events), mac)
    rows["dossier"].append(
        (did, plan.reference(k), status, created, opened, ended, wrapped, k % plan.services + 1)  # noqa: RUF005
        + (subject, last_activity, len(events), len(events), head, "")
    )
    return message_id + messages


async def sql(url: str, *statements: str, rows: Rows | None = None) -> list[Any]:
    """Copy the rows in, then run the statements: the first value each returns."""
    conn = await asyncpg.connect(url)
    try:
        for table, records in (rows or {}).items():  # in COLUMNS' order: the pointed-to first
            await conn.copy_records_to_table(table, records=records, columns=COLUMNS[table].split())
        return [await conn.fetchval(statement) for statement in statements]
    finally:
        await conn.close()


def load_chunk(job: tuple[str, Plan, int, int, int]) -> None:
    """Dossiers ``first`` to ``last``, from a process of the pool."""
    url, plan, first, last, message_id = job
    keys.configure(KEYS["JOURNAL_KEY"], KEYS["MASTER_KEY"])
    rows: Rows = {table: [] for table in list(COLUMNS)[3:]}
    for k in range(first, last):
        message_id = dossier_rows(plan, k, message_id, rows)
    asyncio.run(sql(url, rows=rows))


def load(server: str, url: str, plan: Plan) -> float:
    """A new database by the real migrations, filled; the seconds it took."""
    from tortoise import Tortoise
    from tortoise.migrations.api import migrate

    from portal.db import tortoise_config

    started, name = time.perf_counter(), urlsplit(url).path.lstrip("/")
    asyncio.run(sql(server, DROP.format(name), f'CREATE DATABASE "{name}"'))

    async def create() -> None:
        try:
            await migrate(config=tortoise_config(url))
        finally:
            await Tortoise.close_connections()
        await sql(url, rows=people(plan))

    asyncio.run(create())
    jobs, message_id = [], 1
    for first in range(0, plan.dossiers, CHUNK):
        last = min(first + CHUNK, plan.dossiers)
        jobs.append((url, plan, first, last, message_id))
        message_id += sum(plan.counts(k)[1] for k in range(first, last))
    with multiprocessing.get_context("fork").Pool(os.cpu_count()) as pool:
        for done, _ in enumerate(pool.imap_unordered(load_chunk, jobs), 1):
            if done % 10 == 0:
                say(f"  {done}/{len(jobs)} chunks, {time.perf_counter() - started:.0f} s")
    sequence = "SELECT setval(pg_get_serial_sequence('{0}', 'id'), (SELECT max(id) FROM {0}))"
    asyncio.run(sql(url, *(sequence.format(t) for t in COLUMNS), "VACUUM ANALYZE"))
    return time.perf_counter() - started


class Counter(logging.Handler):
    """The statements the ORM's client logs at DEBUG (as tests/ counts them)."""

    count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", record.getMessage(), re.I):
            self.count += 1


async def sign_in(client: httpx.AsyncClient, login: str) -> None:
    steps = [("/connexion", {"login": login, "password": DEMO_PASSWORD})]
    if "@" in login:  # staff: the second factor
        steps.append(("/connexion/code", {"code": pyotp.TOTP(DEMO_TOTP).now()}))
    for path, form in steps:
        token = CSRF.search((await client.get(path)).text)
        answer = await client.post(path, data={"csrf_token": token[1] if token else "", **form})
        if answer.status_code != 303:
            raise RuntimeError(f"signing in {login} at {path}: {answer.status_code}")


class Pages:
    """One database's app, its signed-in browsers, and the times of its pages."""

    def __init__(self, url: str, plan: Plan) -> None:
        from portal.app import create_app
        from portal.settings import load_settings

        self.app = create_app(load_settings(Environ(environment(url))))
        ref = plan.reference(plan.probe)
        self.pages = {
            "worker's inbox": ("w0-0@scale.example", "/travail"),
            "dossier, worker": ("w0-0@scale.example", f"/travail/dossiers/{ref}"),
            "dossier, subject": (f"y{plan.probe}", f"/espace/{ref}"),
            "admin's figures": ("admin0@scale.example", "/admin/chiffres"),
        }
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.times: dict[str, list[float]] = {page: [] for page in self.pages}
        self.counts: dict[str, int] = {}

    async def round(self, runs: int) -> None:
        async with self.app.router.lifespan_context(self.app):
            for page, (login, path) in self.pages.items():
                if login not in self.clients:
                    transport = httpx.ASGITransport(app=self.app)
                    client = httpx.AsyncClient(transport=transport, base_url="https://testserver")
                    await sign_in(client, login)
                    self.clients[login] = client
                client = self.clients[login]
                for run in range(runs + 3):  # three to warm up
                    started = time.perf_counter()
                    answer = await client.get(path)
                    if run >= 3:
                        self.times[page].append(time.perf_counter() - started)
                    if answer.status_code != 200:
                        raise RuntimeError(f"{path} answered {answer.status_code}")
                logger, counter = logging.getLogger("tortoise.db_client"), Counter()
                logger.addHandler(counter)
                logger.setLevel(logging.DEBUG)
                await client.get(path)
                logger.removeHandler(counter)
                logger.setLevel(logging.NOTSET)
                self.counts[page] = counter.count


def environment(url: str) -> dict[str, str]:
    """The portal's settings for one of the databases, as the environment gives them."""
    return {
        **KEYS,
        "DATABASE_URL": url,
        "PORTAL_ENV": "test",
        "PORTAL_VAR_DIR": tempfile.gettempdir(),
    }


def portal(url: str, *command: str) -> tuple[float, int, str]:
    """``python -m portal COMMAND``: its seconds, peak memory (MB) and output. The peak is read
    while it runs: its ``ru_maxrss`` would count this process's, which it was forked from."""
    env = {**os.environ, **environment(url)}
    started, peak = time.perf_counter(), 0
    with tempfile.TemporaryFile("w+") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal", *command], cwd=ROOT, env=env, stdout=output
        )
        while process.poll() is None:
            with contextlib.suppress(OSError, IndexError):
                status = Path(f"/proc/{process.pid}/status").read_text()
                peak = max(peak, int(re.findall(r"VmHWM:\s+(\d+)", status)[0]) // 1024)
            time.sleep(0.1)
        output.seek(0)
        said = output.read().strip()
    if process.returncode:
        raise RuntimeError(f"portal {' '.join(command)} failed:\n{said}")
    return time.perf_counter() - started, peak, said


def totals(url: str) -> list[int]:
    """Dossiers, journal entries, messages."""
    tables = ("dossier", "journal_entry", "message")
    return asyncio.run(sql(url, *(f"SELECT count(*) FROM {t}" for t in tables)))  # noqa: S608


def report(urls: dict[str, str], plans: dict[str, Plan], runs: int) -> None:
    for name, url in urls.items():
        asyncio.run(sql(url, "ANALYZE"))  # a restored database has no statistics yet
        dossiers, entries, messages = totals(url)
        print(f"{name}: {dossiers:,} dossiers, {entries:,} journal entries, {messages:,} messages")
    pages = {name: Pages(url, plans[name]) for name, url in urls.items()}
    for _ in range(ROUNDS):
        for measured in pages.values():
            asyncio.run(measured.round(runs))
    print("\n| page | demo ms | scale ms | scale / demo | statements demo, scale |")
    print("|---|---:|---:|---:|---:|")
    demo, scale = pages["demo"], pages["scale"]
    for page, times in demo.times.items():
        ms = [statistics.median(t) * 1000 for t in (times, scale.times[page])]
        counts = f"{demo.counts[page]}, {scale.counts[page]}"
        print(f"| {page} | {ms[0]:.1f} | {ms[1]:.1f} | {ms[1] / ms[0]:.2f} | {counts} |")
    for name, url in urls.items():
        seconds, rss, output = portal(url, "verify-journal")
        rate = totals(url)[1] / seconds
        print(
            f"verify-journal, {name}: {seconds:.0f} s, {rate:,.0f} entries/s, {rss} MB ({output})"
        )
    with tempfile.TemporaryDirectory(prefix="scale-") as folder:
        dump = Path(folder) / "scale.dump"
        seconds = portal(urls["scale"], "backup", "--to", str(dump))[0]
        print(f"backup: {seconds:.0f} s, {dump.stat().st_size / 1e9:.2f} GB")
        seconds = portal(urls["scale"], "restore", str(dump), "--yes")[0]
        print(f"restore: {seconds:.0f} s, then {totals(urls['scale'])[1]:,} entries")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    parser.add_argument("--fraction", type=float, default=1.0, help="of the full size")
    parser.add_argument("--runs", type=int, default=10, help=f"per page and round ({ROUNDS})")
    parser.add_argument("--server", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the databases at the end")
    parser.add_argument("--reuse", action="store_true", help="measure the kept ones again")
    options = parser.parse_args(argv)
    keys.configure(KEYS["JOURNAL_KEY"], KEYS["MASTER_KEY"])
    now, f = datetime.now(UTC).replace(microsecond=0), options.fraction
    # A fraction of the Fédération: fewer services, each with its five years.
    scale = Plan(max(2, round(80 * f)), round(1e5 * f), round(5e6 * f), round(1e6 * f), now)
    plans = {"demo": Plan(2, 500, 25_000, 5_000, now), "scale": scale}
    server = urlsplit(options.server)
    paths = {"demo": "/portal_scale_demo", "scale": "/portal_scale"}
    urls = {name: urlunsplit(server._replace(path=path)) for name, path in paths.items()}
    try:
        for name, plan in plans.items():
            if not options.reuse:
                say(f"loading {name}: {plan.dossiers:,} dossiers ...")
                say(f"{name} loaded in {load(options.server, urls[name], plan):.0f} s")
        report(urls, plans, options.runs)
    finally:
        for url in [] if options.keep else urls.values():
            name = urlsplit(url).path.lstrip("/")
            asyncio.run(sql(options.server, DROP.format(name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
