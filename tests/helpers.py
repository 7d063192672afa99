"""Helpers for tests: CSRF tokens from pages, and a counter of database queries."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

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
