"""Helpers for tests: CSRF tokens from pages, a counter of database queries, a live portal."""

from __future__ import annotations

import logging
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

CSRF_RE = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/") -> str:
    """The CSRF token of this client's browser, read from a page as a browser would."""
    response = await client.get(path)
    if response.is_redirect:
        response = await client.get("/")
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class QueryCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.queries: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        # The client also logs connection events; only statements count.
        if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", message, re.IGNORECASE):
            self.queries.append(message)

    @property
    def count(self) -> int:
        return len(self.queries)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    """Count the SQL statements run inside the block (both backends log them at DEBUG)."""
    logger = logging.getLogger("tortoise.db_client")
    counter = QueryCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)


REPOSITORY = Path(__file__).resolve().parents[1]


def _answers(url: str, healthy: bool = True) -> bool:
    try:
        status = httpx.get(url, timeout=2, trust_env=False).status_code
    except httpx.HTTPError:
        return False
    return status == 200 or not healthy


@contextmanager
def running_portal(
    env: dict[str, str], log: Path, port: int, *, seconds: float = 30.0, healthy: bool = True
) -> Iterator[str]:
    """``python -m portal run`` with ``env``, its output added to ``log``, while the block lasts.

    Yields its address once /healthz answers 200 (or anything, unless ``healthy``: a portal
    whose database is broken answers 503), on localhost (passkeys refuse IP addresses). A
    server that dies or stays silent fails the test with the end of its log; it is always
    stopped at the end.
    """
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "portal", "run"],
            env=env,
            cwd=REPOSITORY,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + seconds
        while not _answers(f"{base_url}/healthz", healthy):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
                raise AssertionError(f"the portal did not start:\n{tail}")
            time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def portal_process(
    database: str, tmp: Path, name: str, redis_url: str, keys: tuple[str, str, str]
) -> Iterator[tuple[str, Path]]:
    """One more portal process on the test database, sharing ``redis_url``: address and log.

    ``keys`` are the secret, journal and master keys of the test run, so that every process
    reads and writes what the others do.
    """
    secret, journal, master = keys
    log = tmp / f"{name}.log"
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "SECRET_KEY": secret,
        "JOURNAL_KEY": journal,
        "MASTER_KEY": master,
        "REDIS_URL": redis_url,
        "PORT": str(port := free_port()),
        "PORTAL_VAR_DIR": str(tmp),
        "PORTAL_ENV": "development",
    }
    with running_portal(env, log, port) as base:
        yield base, log
