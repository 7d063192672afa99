"""Database configuration: an SQLite file under var/ by default, PostgreSQL from DATABASE_URL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tortoise import connections
from tortoise.backends.base.config_generator import expand_db_url

from portal.settings import load_settings

MODELS = ["portal.models"]
SQLITE_PRAGMAS = {
    "journal_mode": "WAL",
    "foreign_keys": "ON",
    "synchronous": "NORMAL",
    "busy_timeout": 5000,
    # An erased dossier's wrapped key is overwritten with zeros in the file, not only unlinked:
    # a copy of the file made after the erasure holds no trace of the key in its free pages.
    "secure_delete": "ON",
}


def connection_config(database_url: str) -> dict[str, Any]:
    """Turn a database URL into a Tortoise connection, with our SQLite client and pragmas."""
    parts = urlsplit(database_url)
    if parts.scheme == "sqlite":
        path = (parts.netloc + parts.path) or ":memory:"
        credentials: dict[str, Any] = {"file_path": path, **SQLITE_PRAGMAS}
        credentials.update(dict(parse_qsl(parts.query)))
        return {"engine": "portal.sqlite_backend", "credentials": credentials}
    if parts.scheme in {"postgres", "postgresql"}:
        return expand_db_url(database_url)
    raise ValueError(
        f"DATABASE_URL must start with sqlite:// or postgres://, not {parts.scheme or '(none)'}://"
    )


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": connection_config(database_url)},
        "apps": {
            "models": {
                "models": MODELS,
                "default_connection": "default",
                "migrations": "migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def sql_rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    """The rows of one statement of plain SQL, written with PostgreSQL's placeholders ($1, $2…),
    which SQLite reads as ?1, ?2…. Through the current connection: inside a transaction, it
    sees that transaction's writes."""
    client = connections.get("default")
    if client.capabilities.dialect == "sqlite":
        sql = sql.replace("$", "?")
    rows: list[dict[str, Any]] = await client.execute_query_dict(sql, list(params))
    return rows


def __getattr__(name: str) -> Any:
    # The tortoise CLI reads TORTOISE_ORM; build it only when asked, from the environment.
    if name == "TORTOISE_ORM":
        return tortoise_config(load_settings().database_url)
    raise AttributeError(name)
