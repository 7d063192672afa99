"""The reads every signed-in page makes, as plain SQL: one round trip each, rows made into models.

For a page read, Tortoise spends far longer building the query and its objects than the
database spends answering: about 250 µs of CPU against a few µs for SQLite. The session, the
count of what is new and the dossier's page are read on every signed-in request, so they go
through here instead: the SQL is written once, the rows become the same model objects the ORM
would give, and the ORM still does every write.

On SQLite the reads use a connection of the calling thread (the event loop's), synchronously.
A read in WAL mode never waits for a writer and takes microseconds, less than handing it to the
ORM's connection thread and back (about 90 µs). If that connection cannot answer (the file is
being replaced, a lock during recovery), the read goes through the ORM's connection instead,
which waits and reports faults the usual way. On PostgreSQL the reads use the ORM's own pool,
and so its transaction when there is one. The same connection also writes a worker's look when
the file is free at once (see ``ImmediateSqliteClient.run_transaction``): a connection keeps
its page cache across its own writes, and drops it after any other connection's.

Each statement is logged to ``tortoise.db_client`` at DEBUG, as the ORM's own are, so query
counts see them.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from tortoise import Model, connections, timezone
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import SqliteClient
from tortoise.fields import DatetimeField, JSONField

M = TypeVar("M", bound=Model)
Row = Sequence[Any]

log = logging.getLogger("tortoise.db_client")
_local = threading.local()
_PLACEHOLDER = re.compile(r"\?")


@dataclass(frozen=True)
class Only(Generic[M]):
    """Some of a model's columns, for objects that are only shown: an author needs a name and
    a role on a page, not the rest of their account. Objects built from them are partial, as
    the ORM's ``.only()`` makes them: it refuses to save them whole."""

    model: type[M]
    names: tuple[str, ...]


Source = type[M] | Only[M]


def _model(source: Source[M]) -> type[M]:
    return source.model if isinstance(source, Only) else source


def _names(source: Source[Any]) -> tuple[str, ...]:
    """The columns read, in the one order both ``columns`` and ``build`` use."""
    names = _NAMES.get(source)
    if names is None:
        meta = _model(source)._meta
        wanted = source.names if isinstance(source, Only) else meta.db_fields
        # Checked at first use: the models know their foreign keys' columns once set up.
        unknown = set(wanted) - set(meta.db_fields)
        if unknown or meta.db_pk_column not in wanted:
            raise ValueError(f"not columns of {meta.db_table}, or no primary key: {unknown}")
        names = _NAMES[source] = tuple(sorted(wanted))
    return names


_NAMES: dict[Source[Any], tuple[str, ...]] = {}


def columns(source: Source[Any], alias: str) -> str:
    """The select list of the columns read, in the order ``build`` reads them back."""
    return ", ".join(f'{alias}."{name}"' for name in _names(source))


def statement(template: str, *, marks: int = 0, **tables: Source[Any]) -> str:
    """``template`` with ``{x}`` replaced by the columns given as ``x=Model`` (all of them) or
    ``x=Only(Model, names)``.

    Only names from the models' own definitions and ``{marks}`` (that many ``?``) are put
    into the SQL: every value travels as a parameter.
    """
    lists = {alias: columns(source, alias) for alias, source in tables.items()}
    return template.format(marks=", ".join("?" * marks), **lists)


def width(source: Source[Any]) -> int:
    return len(_names(source))


Convert = Callable[[Any], Any]


@dataclass(frozen=True)
class _Plan:
    """How a row's columns become a model's attributes, worked out once per model."""

    attributes: tuple[str, ...]  # in the order of ``_names``
    pk: int  # where the primary key is: None there means an empty outer join
    conversions: tuple[tuple[int, Convert], ...]  # the columns the driver does not give as is
    custom_pk: bool
    partial: bool


def _moment(field: DatetimeField[Any]) -> Convert:
    # The ORM reads its time zone settings from the environment for every value; they are
    # set once the ORM is set up, before any plan is made.
    zone = timezone.get_default_timezone() if timezone.get_use_tz() else None

    def convert(value: Any) -> Any:
        if isinstance(value, str):
            # SQLite keeps datetimes as ISO text; this parser is several times quicker than
            # the ORM's, which then only sets the time zone.
            value = datetime.fromisoformat(value)
        if zone is not None and isinstance(value, datetime) and value.tzinfo is not None:
            return value.astimezone(zone)  # what the ORM does with an aware moment
        return field.to_python_value(value)

    return convert


def _json(field: JSONField[Any]) -> Convert:
    # Most details are empty ("{}", a look's): a new empty dict each time, as json.loads gives.
    return lambda value: {} if value == "{}" else field.to_python_value(value)


def _of_type(field_type: type) -> Convert:
    return lambda value: field_type(value)


def _plan(source: Source[Any]) -> _Plan:
    plan = _PLANS.get(source)
    if plan is None:
        plan = _PLANS[source] = _make_plan(source)
    return plan


def _make_plan(source: Source[Any]) -> _Plan:
    # The same conversions as the ORM's ``Model._init_from_db``, sorted out ahead of the rows.
    meta = _model(source)._meta
    names = _names(source)
    native = {key for key, _, _ in meta.db_native_fields}
    by_type = {key: field.field_type for key, _, field in meta.db_default_fields}
    conversions: list[tuple[int, Convert]] = []
    for index, name in enumerate(names):
        field = meta.fields_map[meta.fields_db_projection_reverse[name]]
        if name in native:
            continue
        if name in by_type:
            conversions.append((index, _of_type(by_type[name])))
        elif isinstance(field, DatetimeField):
            conversions.append((index, _moment(field)))
        elif isinstance(field, JSONField):
            conversions.append((index, _json(field)))
        else:
            conversions.append((index, field.to_python_value))
    return _Plan(
        attributes=tuple(meta.fields_db_projection_reverse[name] for name in names),
        pk=names.index(meta.db_pk_column),
        conversions=tuple(conversions),
        custom_pk=meta.db_pk_column not in meta.generated_db_fields,
        partial=isinstance(source, Only),
    )


_PLANS: dict[Source[Any], _Plan] = {}


def build(source: Source[M], row: Row, start: int = 0) -> M | None:
    """The model whose columns begin at ``start`` in ``row``; None for an empty outer join.

    The object is the one ``Model._init_from_db`` makes (a test compares every column on
    both databases), made from a plan worked out once per model: a page builds dozens.
    """
    plan = _plan(source)
    model = _model(source)
    values = list(row[start : start + len(plan.attributes)])
    if values[plan.pk] is None:
        return None
    for index, convert in plan.conversions:
        value = values[index]
        if value is not None:
            values[index] = convert(value)
    obj = model.__new__(model)
    state = obj.__dict__
    state.update(zip(plan.attributes, values, strict=True))
    state["_partial"] = plan.partial
    state["_saved_in_db"] = True
    state["_custom_generated_pk"] = plan.custom_pk
    state["_await_when_save"] = {}
    return obj


def build_all(source: Source[M], rows: list[Row]) -> list[M]:
    return [obj for row in rows if (obj := build(source, row)) is not None]


def attach(obj: Model, relation: str, related: Model | None) -> None:
    """Set a foreign key's loaded object, as ``select_related`` does."""
    object.__setattr__(obj, f"_{relation}", related)


def own_connection(client: SqliteClient) -> sqlite3.Connection | None:
    """This thread's connection to the client's file (None for a database in memory).

    Autocommit: every read is its own snapshot, and a write opens its own transaction. It never
    checkpoints the write-ahead log itself, which could stop the event loop for milliseconds:
    the ORM's connection does that on its own thread.
    """
    path = client.filename
    if not path or path == ":memory:" or path.startswith("file::memory:"):
        return None
    connections_here: dict[str, sqlite3.Connection] | None = getattr(_local, "connections", None)
    if connections_here is None:
        connections_here = _local.connections = {}
    connection = connections_here.get(path)
    if connection is None:
        connection = sqlite3.connect(
            f"file:{path}?mode=rw", uri=True, isolation_level=None, timeout=0.05
        )
        try:
            for pragma in (
                "foreign_keys = ON",
                "synchronous = NORMAL",
                "wal_autocheckpoint = 0",
                # As the ORM's connection has it: the log is cut back to this size when reset.
                "journal_size_limit = 16384",
            ):
                connection.execute(f"PRAGMA {pragma}")
        except sqlite3.Error:
            connection.close()
            raise
        connections_here[path] = connection
    return connection


def forget_connection(client: SqliteClient) -> None:
    """Close this thread's connection to the client's file: the next use opens it anew."""
    connections_here: dict[str, sqlite3.Connection] = getattr(_local, "connections", {})
    connection = connections_here.pop(client.filename, None)
    if connection is not None:
        connection.close()


async def rows(sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """Run one SELECT written with ``?`` placeholders and return its rows as sequences."""
    client = connections.get("default")
    # Inside a transaction the read must see its writes: it goes through the transaction.
    if isinstance(client, SqliteClient) and not isinstance(client, TransactionalDBClient):
        try:
            here = own_connection(client)
        except sqlite3.Error:
            here = None  # the ORM's connection says what is wrong with the file
        if here is not None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s: %s", sql, list(params))
            try:
                return here.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                if isinstance(error, sqlite3.ProgrammingError | sqlite3.InterfaceError):
                    raise  # a mistake in the statement: no other connection would do better
                forget_connection(client)
    if isinstance(client, SqliteClient):
        # The ORM's connection waits for a lock and reports a failing file as it should.
        _, found = await client.execute_query(sql, list(params))
        return [tuple(row) for row in found]
    _, records = await client.execute_query(_numbered(sql), list(params))
    return list(records)


def _numbered(sql: str) -> str:
    """PostgreSQL's placeholders are $1, $2…: number the ``?`` in order."""
    count = iter(range(1, 1_000))
    return _PLACEHOLDER.sub(lambda _: f"${next(count)}", sql)


async def hold(model: type[Model], row_id: int) -> None:
    """Inside a transaction: hold one row until it ends, as ``select_for_update`` does.

    PostgreSQL locks the row. SQLite has nothing to do: our transactions begin IMMEDIATE and so
    already hold the whole database.
    """
    client = connections.get("default")
    if isinstance(client, SqliteClient):
        return
    table = model._meta.db_table
    # The table's name comes from the model's definition, never from a request.
    await client.execute_query(f'SELECT 1 FROM "{table}" WHERE id = $1 FOR UPDATE', [row_id])  # noqa: S608
