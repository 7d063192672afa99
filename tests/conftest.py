"""Test fixtures: one fresh database per run, built by the real migrations, emptied per test.

The database is SQLite unless ``DATABASE_URL`` names a PostgreSQL server, in which case a new
database is created on it for this run and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate

from portal import keys
from portal.app import create_app
from portal.db import tortoise_config
from portal.settings import Settings

TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
TEST_JOURNAL_KEY = "test-journal-key-that-is-long-enough-0123456789"
TEST_MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE"
TABLES = [
    "shared_document",
    "document",
    "request_draft",
    "submitted_form",
    "partner_change",
    "first_codes",
    "notice",
    "push_subscription",
    "signing_key",
    "notice_progress",
    "action_partner",
    "concertation",
    "concertation_member",
    "appointment",
    "session",
    "recovery_code",
    "one_time_link",
    "passkey_challenge",
    "journal_entry",
    "share",
    "consent",
    "message",
    "action",
    "request",
    "assignment",
    "dossier",
    "credential",
    "person",
    "partner",
    "service",
]

keys.configure(TEST_JOURNAL_KEY, TEST_MASTER_KEY)


def on_postgres() -> bool:
    return os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


async def _admin_execute(server_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server_url.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(tmp_dir: Path) -> str:
    """A new, empty database for this run: a SQLite file, or a PostgreSQL database."""
    if not on_postgres():
        return f"sqlite://{tmp_dir / 'test.sqlite3'}"
    server_url = os.environ["DATABASE_URL"]
    name = f"portal_test_{uuid.uuid4().hex[:12]}"
    await _admin_execute(server_url, f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def drop_database(url: str) -> None:
    if url.startswith("sqlite"):
        return
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server_url = os.environ["DATABASE_URL"]
    await _admin_execute(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def database(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    url = await create_database(tmp_path_factory.mktemp("db"))
    try:
        await migrate(config=tortoise_config(url))
        await Tortoise.close_connections()
        await Tortoise.init(config=tortoise_config(url))
        yield url
    finally:
        await Tortoise.close_connections()
        await drop_database(url)


@pytest_asyncio.fixture(loop_scope="session")
async def db(database: str) -> AsyncIterator[str]:
    """The database, emptied after the test."""
    yield database
    conn = connections.get("default")
    if database.startswith("sqlite"):
        for table in TABLES:
            await conn.execute_script(f'DELETE FROM "{table}"')  # noqa: S608 - our own names
    else:
        await conn.execute_script(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in TABLES) + " RESTART IDENTITY CASCADE"
        )


@pytest.fixture
def settings(tmp_path: Path, database: str) -> Settings:
    return Settings(
        env="test",
        var_dir=tmp_path,
        database_url=database,
        secret_key=TEST_SECRET,
        journal_key=TEST_JOURNAL_KEY,
        master_key=TEST_MASTER_KEY,
    )


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings, manage_database=False)


@pytest_asyncio.fixture(loop_scope="session")
async def client(app: Starlette, db: str) -> AsyncIterator[httpx.AsyncClient]:
    # https: the session and CSRF cookies are Secure and would not be sent back over http.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as client:
        yield client
