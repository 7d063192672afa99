"""SQLite client whose transactions take the write lock at BEGIN and survive a failing file.

Tortoise starts SQLite transactions with a plain (deferred) ``BEGIN``. When two processes share
one file, a deferred transaction that reads then writes cannot wait for the lock and fails at
once with "database is locked". ``BEGIN IMMEDIATE`` takes the write lock up front, so the
second process waits its turn (``busy_timeout``) instead of failing. Tortoise offers no setting
for it (https://github.com/tortoise/tortoise-orm/issues/1675, open): this client chooses how
its transactions begin.

The file itself can fail under a running server: made read-only, its disk full. Each process
keeps one connection, which must not stay broken after the repair:

- after a failure of the database, the connection is closed; the next query opens a new one;
- while a file cannot be written, a connection is closed after each use: SQLite opens such a
  file read-only, and the connection would stay read-only after the repair;
- while the shared-memory index (``-shm``) cannot be written, nothing touches the database at
  all: SQLite writes to that file through a memory map, and a write there once the file is
  read-only kills the whole process with SIGBUS (closing the connection does too);
- a transaction that could not begin or end is never left open, nor keeps the process's turn.

Private names used
------------------
- ``SqliteClient._in_transaction``, overridden: Tortoise's only way to choose the transaction a
  client opens (``in_transaction()`` calls it), hence the only way to begin it IMMEDIATE.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import aiosqlite
from tortoise import connections
from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionWrapper
from tortoise.exceptions import (
    DBConnectionError,
    IntegrityError,
    OperationalError,
    TransactionManagementError,
)


def failed(error: BaseException | None) -> bool:
    """Whether ``error`` says the database failed: not a refused constraint, nor the page's own
    error. The connection is not to be trusted after it."""
    refused = (IntegrityError, sqlite3.IntegrityError)
    database = (OperationalError, DBConnectionError, sqlite3.Error)
    return isinstance(error, database) and not isinstance(error, refused)


def writable(path: str) -> bool:
    return os.access(path, os.W_OK) or not os.path.exists(path)


class ImmediateSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        # One query or transaction at a time on the process's one connection. Tortoise's own
        # wrapper reads the connection when it is made, before it waits: ours is made once the
        # turn is ours, so it uses the connection opened last, never one closed meanwhile.
        self.turn = asyncio.Lock()

    def can_write(self) -> bool:
        """Whether the database's files can all be written; refused if its ``-shm`` cannot."""
        if not writable(f"{self.filename}-shm"):
            raise OperationalError("the shared-memory index of the database cannot be written")
        return writable(self.filename) and writable(f"{self.filename}-wal")

    async def create_connection(self, with_db: bool) -> None:
        """Open the connection unless it is open; never keep one half set up (a pragma failed)."""
        try:
            await super().create_connection(with_db)
        except BaseException as error:
            await self.close()
            if isinstance(error, sqlite3.Error):
                raise DBConnectionError(error) from error
            raise

    @contextlib.asynccontextmanager
    async def acquire_connection(  # type: ignore[override]  # a context manager all the same
        self,
    ) -> AsyncIterator[aiosqlite.Connection]:
        async with self.turn:
            can_write = self.can_write()
            await self.create_connection(with_db=True)
            failure: BaseException | None = None
            try:
                async with super().acquire_connection() as connection:
                    yield connection
            except BaseException as error:
                failure = error
                raise
            finally:
                if failed(failure) or not can_write:
                    await self.close()

    def _in_transaction(self) -> TransactionContext:
        return ImmediateTransaction(self)


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self.execute_query("BEGIN IMMEDIATE")
        except OperationalError as error:
            raise TransactionManagementError(error) from error


class ImmediateTransaction(TransactionContext):
    """A transaction of the client's connection, in the client's turn, begun IMMEDIATE."""

    def __init__(self, parent: ImmediateSqliteClient) -> None:
        self.parent = parent

    async def __aenter__(self) -> TransactionalDBClient:
        await self.parent.turn.acquire()
        try:
            self.can_write = self.parent.can_write()
            await self.parent.create_connection(with_db=True)
            # Made now, in our turn: it takes the connection opened last.
            self.client = ImmediateTransactionWrapper(self.parent)
            try:
                await self.client.begin()
            except BaseException:
                # Not begun ("database is locked" after busy_timeout), or begun and then
                # cancelled: closing ends whatever the connection was left in.
                await self.parent.close()
                raise
        except BaseException:
            self.parent.turn.release()
            raise
        self.token = connections.set(self.client.connection_name, self.client)
        return self.client

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            if exc_type is None:
                await self.client.commit()
            else:
                await self.client.rollback()
        except sqlite3.Error as error:
            # SQLite may keep the transaction open after a failed COMMIT (disk full): closing
            # the connection rolls it back.
            await self.parent.close()
            raise OperationalError(error) from error
        finally:
            try:
                if failed(exc_val) or not self.can_write:
                    await self.parent.close()
            finally:
                connections.reset(self.token)
                self.parent.turn.release()


client_class = ImmediateSqliteClient
