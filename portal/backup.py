"""Backups of the whole database, and restoring one: SQLite's online backup, or pg_dump."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

from portal.db import connection_config

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# A file is one of our backups when it holds these tables.
PORTAL_TABLES = ("dossier", "journal_entry", "person")
TOOL_TIMEOUT = 6 * 3600


class BackupError(Exception):
    """A backup or a restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    path: Path
    size: int


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme in {"postgres", "postgresql"}


def default_path(var_dir: Path, database_url: str, now: datetime | None = None) -> Path:
    """var/backups/portal-<UTC time>.sqlite3 (or .dump for PostgreSQL)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    suffix = ".dump" if is_postgres(database_url) else ".sqlite3"
    return var_dir / "backups" / f"portal-{moment:%Y%m%dT%H%M%SZ}{suffix}"


def human_size(size: int) -> str:
    value, unit = float(size), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


def backup(database_url: str, target: Path) -> Written:
    """Write a consistent copy of the whole database to target, readable by its owner only."""
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Written beside the target, then renamed: an interrupted backup never looks like one.
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        # Readable by its owner only from its first byte on.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if is_postgres(database_url):
            _pg_dump(database_url, partial)
        else:
            _sqlite_backup(_sqlite_path(database_url), partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return Written(target, target.stat().st_size)


def check_backup(database_url: str, source: Path) -> None:
    """Refuse a missing file, or one that is not a backup of this portal for this database."""
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with source.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    kind = "sqlite" if head == SQLITE_MAGIC else "postgres" if head[:5] == PG_DUMP_MAGIC else None
    if kind is None:
        raise BackupError(f"{source} is not a backup of the portal (neither SQLite nor pg_dump).")
    wanted = "postgres" if is_postgres(database_url) else "sqlite"
    if kind != wanted:
        names = {"sqlite": "an SQLite", "postgres": "a PostgreSQL"}
        raise BackupError(
            f"{source} is {names[kind]} backup, but DATABASE_URL names {names[wanted]} database."
        )
    found = _pg_tables(source) if kind == "postgres" else _sqlite_tables(source)
    missing = [name for name in PORTAL_TABLES if name not in found]
    if missing:
        raise BackupError(
            f"{source} is a database, but not one of the portal (no {', '.join(missing)} table)."
        )


def restore(database_url: str, source: Path) -> None:
    """Replace everything in the database by the backup's content. Check the file first."""
    check_backup(database_url, source)
    if is_postgres(database_url):
        _pg_restore(database_url, source)
    else:
        _sqlite_restore(source, _sqlite_path(database_url))


KEYS_REMINDER = (
    "The keys are not in the backup: reading it needs the same MASTER_KEY and JOURNAL_KEY. "
    "Keep them safe, apart from the backups."
)


def backup_command(database_url: str, var_dir: Path, to: Path | None) -> int:
    """python -m portal backup [--to PATH]: says where the backup went and its size."""
    target = to or default_path(var_dir, database_url)
    if target.is_dir():
        target = target / default_path(var_dir, database_url).name
    try:
        written = backup(database_url, target)
    except BackupError as error:
        print(f"No backup was made. {error}", file=sys.stderr)
        return 2
    print(f"Backup written to {written.path} ({human_size(written.size)}).")
    print(KEYS_REMINDER)
    return 0


def restore_command(database_url: str, source: Path, yes: bool) -> int:
    """python -m portal restore PATH --yes: replaces the database by a backup."""
    try:
        check_backup(database_url, source)
        if not yes:
            print(
                f"{source} is a backup of the portal. Restoring it replaces everything in the "
                "database by its content. To do it, run the same command with --yes.",
                file=sys.stderr,
            )
            return 2
        restore(database_url, source)
    except BackupError as error:
        print(f"Nothing was restored. {error}", file=sys.stderr)
        return 2
    print(f"Database restored from {source} ({human_size(source.stat().st_size)}).")
    print(
        "If the backup is older than this version of the portal, run `python -m portal migrate`."
        " Then check the journals: `python -m portal verify-journal`."
    )
    return 0


# --- SQLite -------------------------------------------------------------------------------------


def _sqlite_path(database_url: str) -> Path:
    path = str(connection_config(database_url)["credentials"]["file_path"])
    if path == ":memory:":
        raise BackupError("DATABASE_URL names an in-memory SQLite database: there is no file.")
    return Path(path)


def _sqlite_backup(source: Path, target: Path) -> None:
    if not source.is_file():
        raise BackupError(f"There is no database at {source}: nothing to back up.")
    # The online backup API reads a consistent snapshot, WAL included, while the portal runs.
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
        # One self-contained file: no -wal beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        (result,) = dst.execute("PRAGMA quick_check").fetchone()
        if result != "ok":
            raise BackupError(f"The copy did not check out ({result}); try again.")
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not back up the database: {error}.") from error
    finally:
        dst.close()
        src.close()


def _sqlite_tables(source: Path) -> set[str]:
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            (result,) = conn.execute("PRAGMA quick_check").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as error:
        raise BackupError(f"{source} cannot be read as an SQLite database: {error}.") from error
    if result != "ok":
        raise BackupError(f"{source} is damaged ({result}).")
    return {str(name) for (name,) in rows}


def _sqlite_restore(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # The backup API in reverse writes every page under the database's write lock, through
    # its WAL: the portal may keep running, it sees the restored content at its next read.
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        src.backup(dst)
    except sqlite3.Error as error:
        raise BackupError(f"SQLite could not restore the database: {error}.") from error
    finally:
        dst.close()
        src.close()


# --- PostgreSQL ---------------------------------------------------------------------------------


def pg_environment(database_url: str) -> dict[str, str]:
    """libpq's variables for this URL: the password never goes on a command line."""
    parts = urlsplit(database_url)
    env = dict(os.environ)
    values = {
        "PGHOST": parts.hostname,
        "PGPORT": str(parts.port) if parts.port else None,
        "PGUSER": unquote(parts.username) if parts.username else None,
        "PGPASSWORD": unquote(parts.password) if parts.password else None,
        "PGDATABASE": unquote(parts.path.lstrip("/")) or None,
        "PGSSLMODE": dict(parse_qsl(parts.query)).get("sslmode"),
    }
    env.update({name: value for name, value in values.items() if value})
    return env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} was not found on PATH. Install the PostgreSQL client tools "
            "(Debian: apt install postgresql-client), of the server's version or newer."
        )
    return found


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(  # noqa: S603 - our own arguments, no shell
            command, env=env, capture_output=True, text=True, timeout=TOOL_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackupError(f"{Path(command[0]).name} could not run: {error}.") from error


def _failed(tool: str, result: subprocess.CompletedProcess[str]) -> BackupError:
    # libpq's messages name the host, the user and the database, never the password.
    said = [line.strip() for line in result.stderr.strip().splitlines()[-5:]]
    return BackupError(f"{tool} failed (exit {result.returncode}): " + " ".join(said))


def _pg_dump(database_url: str, target: Path) -> None:
    command = [_tool("pg_dump"), "--format=custom", "--no-password", f"--file={target}"]
    result = _run(command, pg_environment(database_url))
    if result.returncode != 0:
        raise _failed("pg_dump", result)


def _pg_tables(source: Path) -> set[str]:
    result = _run([_tool("pg_restore"), "--list", str(source)], dict(os.environ))
    if result.returncode != 0:
        raise BackupError(f"{source} cannot be read by pg_restore.")
    return set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", result.stdout, re.MULTILINE))


def _pg_restore(database_url: str, source: Path) -> None:
    env = pg_environment(database_url)
    if not env.get("PGDATABASE"):
        raise BackupError("DATABASE_URL names no database to restore into.")
    command = [
        _tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        # All or nothing: a failure halfway leaves the database as it was.
        "--single-transaction",
        "--no-password",
        f"--dbname={env['PGDATABASE']}",
        str(source),
    ]
    result = _run(command, env)
    if result.returncode != 0:
        raise _failed("pg_restore", result)
