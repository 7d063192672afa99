"""The database failing under a running server: kind 503s, nothing half-written, back by itself.

Each test starts ``python -m portal run`` in a process of its own, breaks its database for real
while a subject reads their dossier and writes in it, then repairs it:

- PostgreSQL cut through a TCP proxy between the server and the database (PostgreSQL run);
- the SQLite file and its write-ahead log made immutable with ``chattr +i`` (as root, chmod
  binds nobody), on a copy of the test database (SQLite run);
- the SQLite database on a small tmpfs mounted for the test, filled to the last byte by another
  file (SQLite run): a real full disk, not a lowered ``max_page_count``;
- the SQLite shared-memory index (``-shm``) made immutable too, under a running server: a write
  through its memory map would be SIGBUS, which kills the server (SQLite run).

A server started on the broken SQLite file must recover too, and a transaction that could not
begin (the database locked for longer than busy_timeout) must not block the process.

The SQLite faults need root (chattr, mount): elsewhere they are skipped, in CI they fail.
The ways to break the database are in tests/breakers.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest

from portal.domain.journal import verify_dossier
from portal.domain.requests import RequestForm, make_request
from portal.models import Asker, Dossier, JournalEntry, Message, Theme
from tests import factories
from tests.breakers import (
    TcpProxy,
    cannot_break_files,
    fill,
    immutable,
    proxy,
    read_only,
    small_disk,
    sqlite_files,
)
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, TEST_SECRET, on_postgres
from tests.helpers import REPOSITORY, running_portal

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
KIND_503 = "Le site n’est pas disponible pour le moment"
SERVER_KEYS = {
    "SECRET_KEY": TEST_SECRET,
    "JOURNAL_KEY": TEST_JOURNAL_KEY,
    "MASTER_KEY": TEST_MASTER_KEY,
}
DISK_KB = 4096


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _server(
    database_url: str, var_dir: Path, name: str = "portal", *, healthy: bool = True
) -> Iterator[str]:
    """``python -m portal run`` on this database; its base URL while the block lasts (once its
    health check answers 200, or anything unless ``healthy``)."""
    port = _free_port()
    log = var_dir / f"{name}.log"
    env = {
        **os.environ,
        **SERVER_KEYS,
        "DATABASE_URL": database_url,
        "REDIS_URL": "",  # The sign-in throttle in memory: one process.
        "PORT": str(port),
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_ENV": "development",
    }
    with running_portal(env, log, port, healthy=healthy) as base:
        yield base


@dataclass
class Subject:
    """A signed-in subject on the live server; cookies by hand, as they are Secure."""

    base: str
    reference: str
    cookies: dict[str, str]
    token: str = ""

    async def _send(self, method: str, path: str, data: dict[str, str] | None) -> httpx.Response:
        header = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        async with httpx.AsyncClient(base_url=self.base, timeout=20, trust_env=False) as client:
            response = await client.request(method, path, data=data, headers=header)
        for name, value in response.cookies.items():
            self.cookies[name] = value
        return response

    async def read(self) -> httpx.Response:
        return await self._send("GET", f"/espace/{self.reference}", None)

    async def write(self, words: str) -> httpx.Response:
        form = {"csrf_token": self.token, "body": words}
        return await self._send("POST", f"/espace/{self.reference}/messages", form)

    @classmethod
    async def sign_in(cls, base: str, login: str, reference: str) -> Subject:
        subject = cls(base, reference, {})
        page = await subject._send("GET", "/connexion", None)
        token = CSRF_RE.search(page.text)
        assert token, page.text[:300]
        form = {"csrf_token": token.group(1), "login": login, "password": factories.YOUTH_PASSWORD}
        signed = await subject._send("POST", "/connexion", form)
        assert signed.status_code == 303, signed.text[:300]
        dossier = await subject.read()
        assert dossier.status_code == 200
        # The token is fixed for the session: kept for the writes made while reading fails.
        found = CSRF_RE.search(dossier.text)
        assert found
        subject.token = found.group(1)
        return subject


def assert_kind_503(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text[:300]
    assert response.headers["retry-after"] == "30"
    assert KIND_503 in response.text
    lowered = response.text.lower()
    for leak in ("traceback", "sqlite", "asyncpg", "readonly", "disk", "connection"):
        assert leak not in lowered, leak


async def _dossier_of_a_subject(login: str) -> Dossier:
    service = await factories.service()
    person = await factories.youth(login, "Lou")
    return await make_request(
        person, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL], words="Bonjour.")
    )


def _nothing() -> None:
    pass


def assert_read_or_kind_503(response: httpx.Response) -> None:
    """A page that only reads may still be served from a file that cannot be written."""
    if response.status_code != 200:
        assert_kind_503(response)


async def _break_and_repair(
    subject: Subject,
    fault: AbstractContextManager[object],
    again: Callable[[], object],
    *,
    reads_served: bool,
) -> None:
    """Before, during and after the fault: the answers a person gets."""
    assert (await subject.write("Avant la panne.")).status_code == 303
    with fault:
        again()
        assert_kind_503(await subject.write("Pendant la panne."))
        again()
        read = await subject.read()
        if reads_served:
            assert_read_or_kind_503(read)
        else:
            assert_kind_503(read)
        again()
        assert_kind_503(await subject.write("Pendant la panne, encore."))
    # Repaired: the very next requests are served, by the same server process.
    assert (await subject.write("Après la panne.")).status_code == 303
    assert (await subject.read()).status_code == 200


# --- PostgreSQL cut -------------------------------------------------------------------------


def _through(url: str, port: int) -> str:
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


@contextmanager
def _cut(relay: TcpProxy) -> Iterator[None]:
    relay.cut()
    try:
        yield
    finally:
        relay.restore()


async def test_postgresql_cut_gives_kind_503s_and_service_resumes_by_itself(
    db: str, database: str, tmp_path: Path
) -> None:
    if not on_postgres():
        pytest.skip("a PostgreSQL fault: runs on the PostgreSQL run of the suite")
    dossier = await _dossier_of_a_subject("lou")
    await dossier.refresh_from_db(fields=["reference"])
    parts = urlsplit(database)
    with proxy((parts.hostname or "127.0.0.1", parts.port or 5432)) as relay:
        with _server(_through(database, relay.port), tmp_path) as base:
            subject = await Subject.sign_in(base, "lou", dossier.reference)
            await _break_and_repair(subject, _cut(relay), _nothing, reads_served=False)
        assert relay.relayed > 1, "the server did not reconnect through the proxy"
    # Nothing half-written: each stored message has its journal entry, and only those.
    messages = {m.id for m in await Message.filter(dossier_id=dossier.id)}
    sent = await JournalEntry.filter(dossier_id=dossier.id, event="message.sent")
    assert len(messages) == 2
    assert {int(entry.details["message"]) for entry in sent} == messages
    assert await verify_dossier(await Dossier.get(id=dossier.id)) is None


# --- SQLite: read-only, disk full -----------------------------------------------------------


def _need_root_tools() -> None:
    if on_postgres():
        pytest.skip("an SQLite fault: runs on the SQLite run of the suite")
    reason = cannot_break_files()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: the SQLite fault tests must run in CI")
        pytest.skip(reason)


def _copy_of(database: str, target: Path) -> Path:
    """A compact copy of the test database, for a server of its own to break."""
    target.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(urlsplit(database).path)
    try:
        source.execute("VACUUM INTO ?", (str(target),))
    finally:
        source.close()
    return target


def _stored(copy: Path, dossier_id: int) -> tuple[set[int], set[int]]:
    """The dossier's messages, and the messages its journal says were sent."""
    with sqlite3.connect(copy) as connection:
        messages = {
            row[0]
            for row in connection.execute(
                "SELECT id FROM message WHERE dossier_id = ?", [dossier_id]
            )
        }
        named = {
            int(json.loads(row[0])["message"])
            for row in connection.execute(
                "SELECT details FROM journal_entry WHERE dossier_id = ? AND event = ?",
                [dossier_id, "message.sent"],
            )
        }
    connection.close()
    return messages, named


def _verify_journal(copy: Path, var_dir: Path) -> None:
    env = {
        **os.environ,
        **SERVER_KEYS,
        "DATABASE_URL": f"sqlite://{copy}",
        "PORTAL_VAR_DIR": str(var_dir),
        "PORTAL_ENV": "development",
    }
    done = subprocess.run(
        [sys.executable, "-m", "portal", "verify-journal"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


async def _sqlite_fault(
    database: str,
    tmp_path: Path,
    data_dir: Path,
    fault: Callable[[], AbstractContextManager[object]],
    again: Callable[[], object] = _nothing,
) -> None:
    """The fault while a server runs, then with a server started on the broken file.

    ``again`` is called before each request while the fault lasts (to keep a disk full).
    """
    dossier = await _dossier_of_a_subject("lou")
    await dossier.refresh_from_db(fields=["reference"])
    copy = _copy_of(database, data_dir / "portal.sqlite3")
    url = f"sqlite://{copy}"
    before, _ = _stored(copy, dossier.id)
    with _server(url, tmp_path, "running") as base:
        subject = await Subject.sign_in(base, "lou", dossier.reference)
        await _break_and_repair(subject, fault(), again, reads_served=True)
    # A server started while the file is broken opens its connection on the broken file:
    # that connection must not outlive the repair. (Its health check may say 503: on a full
    # disk, SQLite cannot even make the index it opens the file with.)
    with ExitStack() as repair:
        repair.enter_context(fault())
        with _server(url, tmp_path, "started-broken", healthy=False) as base:
            subject.base = base
            again()
            assert_kind_503(await subject.write("Pendant la panne, au démarrage."))
            again()
            assert_read_or_kind_503(await subject.read())
            repair.close()
            assert (await subject.write("Après la panne, sans redémarrer.")).status_code == 303
            assert (await subject.read()).status_code == 200
    messages, named = _stored(copy, dossier.id)
    assert len(messages - before) == 3  # Those written while it worked, none of the others.
    assert messages == named
    _verify_journal(copy, tmp_path)


async def test_sqlite_read_only_gives_kind_503s_and_service_resumes_by_itself(
    db: str, database: str, tmp_path: Path
) -> None:
    _need_root_tools()
    data_dir = tmp_path / "data"
    copy = data_dir / "portal.sqlite3"
    try:
        await _sqlite_fault(database, tmp_path, data_dir, lambda: read_only(sqlite_files(copy)))
    finally:
        # Never leave an immutable file behind: pytest could not remove it.
        immutable(sqlite_files(copy), False)


def _all_there(paths: list[Path]) -> bool:
    return all(path.exists() for path in paths)


async def test_sqlite_shared_memory_read_only_gives_kind_503s_and_the_server_lives_on(
    db: str, database: str, tmp_path: Path
) -> None:
    """SQLite writes its ``-shm`` index through a memory map: made read-only under a running
    server, a write there is SIGBUS, which kills the process. The server must refuse instead,
    and serve again once it is repaired."""
    _need_root_tools()
    dossier = await _dossier_of_a_subject("lou")
    await dossier.refresh_from_db(fields=["reference"])
    copy = _copy_of(database, tmp_path / "data" / "portal.sqlite3")
    before, _ = _stored(copy, dossier.id)
    files = sqlite_files(copy, shared_memory=True)
    try:
        with _server(f"sqlite://{copy}", tmp_path) as base:
            subject = await Subject.sign_in(base, "lou", dossier.reference)
            assert _all_there(files)  # The index is mapped: the fault is real.
            await _break_and_repair(subject, read_only(files), _nothing, reads_served=False)
    finally:
        immutable(files, False)
    messages, named = _stored(copy, dossier.id)
    assert len(messages - before) == 2  # Before and after the fault, none during.
    assert messages == named
    _verify_journal(copy, tmp_path)


class _FullDisk(AbstractContextManager[None]):
    """The database's disk filled to the last byte by another file, deleted to repair.

    Filled again before each request: SQLite frees some space when its last connection
    closes (it checkpoints and removes its log), as a disk stays full while what filled it
    keeps writing.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.filler: Path | None = None

    def __enter__(self) -> None:
        self.filler = fill(self.folder)

    def __exit__(self, *exc: object) -> None:
        if self.filler is not None:
            self.filler.unlink()


async def test_sqlite_disk_full_gives_kind_503s_and_service_resumes_by_itself(
    db: str, database: str, tmp_path: Path
) -> None:
    _need_root_tools()
    with small_disk(tmp_path / "disk", DISK_KB) as disk:
        await _sqlite_fault(database, tmp_path, disk, lambda: _FullDisk(disk), lambda: fill(disk))


LOCKED_TOO_LONG = """
import asyncio, sqlite3, sys
from tortoise import Tortoise, connections
from tortoise.exceptions import TransactionManagementError
from tortoise.transactions import in_transaction
from portal.db import tortoise_config

async def main(path: str) -> None:
    await Tortoise.init(config=tortoise_config(f"sqlite://{path}?busy_timeout=100"))
    try:
        await connections.get("default").execute_query("SELECT 1")
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # Another process writing for longer than we wait.

        async def request() -> None:
            try:
                async with in_transaction():
                    raise AssertionError("BEGIN should have waited in vain")
            except TransactionManagementError:
                pass

        await asyncio.create_task(request())  # Each request is a task of its own.
        other.execute("ROLLBACK")
        await asyncio.wait_for(connections.get("default").execute_query("SELECT 1"), 5)
        print("served")
    finally:
        await Tortoise.close_connections()

asyncio.run(main(sys.argv[1]))
"""


def test_a_transaction_that_could_not_begin_does_not_block_the_process(tmp_path: Path) -> None:
    # "database is locked" at BEGIN (another process wrote for longer than busy_timeout): the
    # process's queries must go on once the lock is free, not wait for ever. Its own process:
    # the test process's ORM is bound to the suite's database.
    if on_postgres():
        pytest.skip("an SQLite fault: runs on the SQLite run of the suite")
    done = subprocess.run(
        [sys.executable, "-c", LOCKED_TOO_LONG, str(tmp_path / "locked.sqlite3")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "served"


LOOK_ON_A_BROKEN_FILE = """
import asyncio, sqlite3, sys
from pathlib import Path
from tortoise import Tortoise
from tortoise.exceptions import OperationalError, TransactionManagementError
from tortoise.migrations.api import migrate
from tests.breakers import read_only, sqlite_files
from portal import keys
from portal.db import tortoise_config
from portal.domain import journal
from portal.models import Dossier, Person, Role, Service

async def main(path: str, key: str) -> None:
    keys.configure(key)
    await migrate(config=tortoise_config(f"sqlite://{path}"))
    await Tortoise.init(config=tortoise_config(f"sqlite://{path}"))
    try:
        service = await Service.create(name="AMO")
        youth = await Person.create(role=Role.YOUTH, display_name="Lou")
        worker = await Person.create(role=Role.WORKER, display_name="Amina", service=service)
        dossier = await Dossier.create(reference="ABCD-EFGH", service=service, subject=youth)
        await journal.record_look(dossier, "dossier.read", worker)
        with read_only(sqlite_files(Path(path))):
            try:
                await journal.record_look(dossier, "dossier.read", worker)
            except (OperationalError, TransactionManagementError) as error:
                cause = error
                while not isinstance(cause, sqlite3.Error) and cause.args:
                    cause = cause.args[0]  # The ORM's errors carry SQLite's as their argument.
                print("refused", getattr(cause, "sqlite_errorname", cause))
        # Repaired: the same process writes again, on a connection opened anew.
        await asyncio.wait_for(journal.record_look(dossier, "dossier.read", worker), 10)
        stored = await Dossier.get(id=dossier.id)
        print("entries", stored.journal_seq, "break", await journal.verify_dossier(stored))
    finally:
        await Tortoise.close_connections()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


def test_a_look_on_a_read_only_file_writes_nothing_and_service_resumes(tmp_path: Path) -> None:
    """A worker's look, written on every page they open: a fault there ends cleanly."""
    _need_root_tools()
    path = tmp_path / "look.sqlite3"
    try:
        done = subprocess.run(
            [sys.executable, "-c", LOOK_ON_A_BROKEN_FILE, str(path), TEST_JOURNAL_KEY],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPOSITORY,
        )
    finally:
        immutable(sqlite_files(path), False)
    assert done.returncode == 0, done.stderr[-2000:]
    refused, after = done.stdout.split("\n")[:2]
    # The file refuses the write (read-only, or an I/O error writing the WAL).
    assert refused in {"refused SQLITE_READONLY", "refused SQLITE_IOERR_WRITE"}, refused
    # The refused look left nothing; the one after the repair followed the first.
    assert after == "entries 2 break None"
