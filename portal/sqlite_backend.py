"""SQLite client whose transactions take the write lock at BEGIN and survive a failing file.

Tortoise starts SQLite transactions with a plain (deferred) ``BEGIN``. When two processes share
one file, a deferred transaction that reads then writes cannot wait for the lock and fails at
once with "database is locked". ``BEGIN IMMEDIATE`` takes the write lock up front, so the
second process waits its turn (``busy_timeout``) instead of failing.

The file itself can fail under a running server: made read-only, its disk full, an I/O error.
Each process keeps one connection, so it must not stay broken after the file is repaired. A
connection opened while the file was read-only stays read-only for good (SQLite fell back to
opening it read-only), so after any such error the connection is closed and the next query
opens a new one. A transaction whose COMMIT failed is rolled back, never left open for the
next BEGIN to commit, and the lock that serialises this process's queries is always released.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar, cast

import aiosqlite
from tortoise.backends.base.client import (
    ConnectionWrapper,
    TransactionalDBClient,
    TransactionContext,
)
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError

from portal.reads import forget_connection, own_connection

log = logging.getLogger("portal.db")
T = TypeVar("T")

# Primary result codes that say the file, not the query, failed: the connection is not to be
# trusted after them. "database is locked" (BUSY) is not one: it is another process's turn.
FILE_FAULTS = frozenset(
    {
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_NOTADB,
    }
)


def file_fault(error: BaseException | None) -> sqlite3.Error | None:
    """The SQLite error behind ``error`` when it says the file failed, else None."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            return error if code is not None and code & 0xFF in FILE_FAULTS else None
        # Tortoise wraps the sqlite3 error: as its argument, its cause or its context.
        inner = error.args[0] if error.args else None
        error = (
            inner if isinstance(inner, BaseException) else (error.__cause__ or error.__context__)
        )
    return None


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    @property
    def client(self) -> ImmediateSqliteClient:
        return cast("ImmediateSqliteClient", self._parent)

    async def begin(self) -> None:
        try:
            # Nothing may be open here; if something was left open, it is dropped, never
            # committed as part of this transaction.
            await self.end_open_transaction()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise TransactionManagementError(exc) from exc

    async def end_open_transaction(self) -> None:
        if self._connection.in_transaction:
            await self._connection.rollback()


class ImmediateTransactionContext(SqliteTransactionContext):
    connection: ImmediateTransactionWrapper

    async def ensure_connection(self) -> None:
        # Read the client's connection under the lock: another task may have replaced it
        # since this transaction's wrapper was made.
        client = self.connection.client
        await client.create_connection(with_db=True)
        self.connection._connection = client.current()

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            await self.connection.begin()
        except BaseException as error:
            # Tortoise's own context keeps the lock when BEGIN fails ("database is locked"
            # after busy_timeout): every later query of the process would wait for ever.
            try:
                await self.connection.client.drop_after(error)
            finally:
                self._trxlock.release()
            raise
        self.token = get_connections().set(self.connection_name, self.connection)
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        failed: BaseException | None = exc_val
        try:
            if not self.connection._finalized:
                if exc_type is None:
                    await self.connection.commit()
                else:
                    # Also after Tortoise's TransactionManagementError, which it leaves open.
                    await self.connection.end_open_transaction()
        except sqlite3.Error as error:
            failed = error
            # SQLite may keep the transaction open after a failed COMMIT (disk full): end it.
            with contextlib.suppress(sqlite3.Error, ValueError):
                await self.connection.end_open_transaction()
            raise OperationalError(error) from error
        finally:
            try:
                await self.connection.client.drop_after(failed)
            finally:
                get_connections().reset(self.token)
                self._trxlock.release()


class ReconnectingWrapper(ConnectionWrapper[aiosqlite.Connection]):
    """One query outside a transaction; drops the connection if the file failed under it."""

    client: ImmediateSqliteClient

    async def ensure_connection(self) -> None:
        await self.client.create_connection(with_db=True)
        self.connection = self.client.current()

    async def __aenter__(self) -> aiosqlite.Connection:
        await self._lock.acquire()
        try:
            await self.ensure_connection()
        except BaseException:
            # Tortoise's own wrapper keeps the lock when the connection cannot be opened (a
            # full disk): every later query of the process would wait for ever.
            self._lock.release()
            raise
        return self.connection

    async def __aexit__(self, exc_type: Any, exc_val: Any, exc_tb: Any) -> None:
        try:
            await self.client.drop_after(exc_val)
        finally:
            self._lock.release()


# Writes done on the event loop's connection between two checkpoints: a look adds a few pages
# to the log, and SQLite's own threshold is 1,000 pages.
CHECKPOINT_EVERY = 200
_NOT_HERE = object()


def _in_transaction(connection: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    connection.execute("BEGIN IMMEDIATE")
    try:
        result = work(connection)
        connection.execute("COMMIT")
    except BaseException:
        # SQLite may keep the transaction open after a failed COMMIT (disk full).
        with contextlib.suppress(sqlite3.Error):
            if connection.in_transaction:
                connection.execute("ROLLBACK")
        raise
    return result


class ImmediateSqliteClient(SqliteClient):
    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self._written_here = 0
        self._checkpoint: asyncio.Task[None] | None = None
        # Pragmas are run in insertion order at connect: WAL first, then the rest.
        self.pragmas.setdefault("synchronous", "NORMAL")
        self.pragmas.setdefault("busy_timeout", 5000)

    async def create_connection(self, with_db: bool) -> None:
        if self._connection is not None:
            return
        try:
            await super().create_connection(with_db)
        except (sqlite3.Error, OSError) as exc:
            # Half set up (a pragma failed): never keep it.
            await self._drop()
            raise DBConnectionError(exc) from exc

    def current(self) -> aiosqlite.Connection:
        if self._connection is None:
            raise DBConnectionError("the SQLite connection is closed")
        return self._connection

    async def drop_after(self, error: BaseException | None) -> None:
        """Close the connection if ``error`` says the file failed; the next query reopens it."""
        fault = file_fault(error)
        if fault is not None and self._connection is not None:
            log.warning(
                "SQLite file failed (%s): connection closed, reopened at the next query",
                getattr(fault, "sqlite_errorname", "error"),
            )
            await self._drop()

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            # Closing rolls back whatever was open; a broken file may refuse even that.
            with contextlib.suppress(sqlite3.Error, ValueError, OSError):
                await connection.close()
        # The page reads' own connection goes too: while any connection of this process keeps
        # the file open, SQLite shares what it opened during the fault (a shared-memory index
        # it could only open read-only) with the connections opened after.
        with contextlib.suppress(sqlite3.Error):
            forget_connection(self)

    async def run_transaction(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` inside BEGIN IMMEDIATE … COMMIT, in one step: a short write done on
        every page view (a worker's look).

        An ORM transaction hands each statement to the connection's thread and back, BEGIN and
        COMMIT included: five hops of about 90 µs of CPU each for a journal entry. When the
        file's write lock is free at once, ``work`` runs right here on the event loop's own
        connection, the one the page then reads through (see ``portal.reads``): no hop, and
        that connection's page cache stays warm. A write takes tens of microseconds, less than
        a hop. Otherwise (another process or an ORM transaction of this one is writing, or the
        file failed) ``work`` runs in one hop on the ORM connection's thread, holding this
        process's query lock as an ORM transaction does: it waits its turn there, and a fault
        ends as one does, rolled back and the connection dropped if the file failed. Either
        way ``work`` must only use the connection it is given.
        """
        here = self._transaction_here(work)
        if here is not _NOT_HERE:
            self._after_write_here()
            return cast("T", here)
        async with self._lock:
            await self.create_connection(with_db=True)
            connection = self.current()
            try:
                # aiosqlite's own way of running a function on its thread, as its methods do.
                result: T = await connection._execute(  # type: ignore[no-untyped-call]
                    _in_transaction, connection._conn, work
                )
            except BaseException as error:
                await self.drop_after(error)
                raise
            return result

    def _transaction_here(self, work: Callable[[sqlite3.Connection], T]) -> T | object:
        """``work`` in a transaction of this thread's connection if the lock is free at once;
        else nothing done and ``_NOT_HERE``. An error of ``work`` other than SQLite's is raised
        as is, after the rollback."""
        try:
            here = own_connection(self)
            if here is None:
                return _NOT_HERE
            # Not a moment's wait on the event loop: a busy file is the other path's to wait for.
            here.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error:
            return _NOT_HERE  # the other path opens the file and reports what is wrong
        try:
            return _in_transaction(here, work)
        except sqlite3.Error as error:
            if file_fault(error) is not None or here.in_transaction:
                # Closed (which rolls back what a failed ROLLBACK left open) and opened anew
                # next time; the other path meets the fault and reports it.
                with contextlib.suppress(sqlite3.Error):
                    forget_connection(self)
            return _NOT_HERE
        finally:
            # Once committed, nothing here may send the write down the other path again.
            with contextlib.suppress(sqlite3.Error):
                here.execute("PRAGMA busy_timeout = 50")

    def _after_write_here(self) -> None:
        """The write-ahead log grows with the writes done here: have it checkpointed, now and
        then, on the ORM connection's thread (PASSIVE: it never waits for a reader or a
        writer, and a failure only leaves it for the next time)."""
        self._written_here += 1
        if self._written_here < CHECKPOINT_EVERY or self._checkpoint is not None:
            return
        self._written_here = 0

        async def checkpoint() -> None:
            try:
                async with self.acquire_connection() as connection:
                    cursor = await connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    await cursor.close()
            except Exception as error:  # whatever it was, a checkpoint missed is made next time
                log.warning("checkpoint of the write-ahead log failed: %s", error)
            finally:
                self._checkpoint = None

        self._checkpoint = asyncio.get_running_loop().create_task(checkpoint())

    def acquire_connection(self) -> ConnectionWrapper[aiosqlite.Connection]:
        return ReconnectingWrapper(self._lock, self)

    def _in_transaction(self) -> TransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
