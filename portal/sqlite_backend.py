"""SQLite client whose transactions take the write lock at BEGIN.

Tortoise starts SQLite transactions with a plain (deferred) ``BEGIN``. When two processes share
one file, a deferred transaction that reads then writes cannot wait for the lock and fails at
once with "database is locked". ``BEGIN IMMEDIATE`` takes the write lock up front, so the
second process waits its turn (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        # Pragmas are run in insertion order at connect: WAL first, then the rest.
        self.pragmas.setdefault("synchronous", "NORMAL")
        self.pragmas.setdefault("busy_timeout", 5000)

    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
