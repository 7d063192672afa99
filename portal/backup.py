"""Backups of the whole database, each sealed with a key of its own that is deleted after
BACKUP_RETENTION_DAYS, and restoring one: SQLite's online backup, or pg_dump.

Why a key per backup: a backup holds every dossier's key, wrapped by MASTER_KEY. Without more,
a copy made before an erasure would read the erased dossier for as long as it exists. Each
backup is therefore encrypted (AES-256-GCM, in chunks) with a fresh random key, kept apart in
BACKUP_KEYS_DIR; the key is deleted once the backup is older than the retention (by every
backup, by `apply-retention` and by each running portal process, every hour). From then on the
copy is noise, wherever it was copied to, and an erased dossier is gone from it too.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO
from urllib.parse import parse_qsl, unquote, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.db import connection_config

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# A sealed backup starts with this, then its header (JSON), then the encrypted chunks.
SEALED_MAGIC = b"PORTAL-AMO-BACKUP\x00v1\n"
SEALED_SUFFIX = ".sealed"
CHUNK = 1 << 20
MAX_HEADER = 4096
KEY_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{16}$")
# A file is one of our backups when it holds these tables.
PORTAL_TABLES = ("dossier", "journal_entry", "person")
TOOL_TIMEOUT = 6 * 3600
# How often each portal process deletes the backup keys past the retention.
PRUNE_EVERY = 3600.0

log = logging.getLogger("portal.backup")


class BackupError(Exception):
    """A backup or a restore cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Written:
    path: Path
    size: int
    key_id: str


@dataclass(frozen=True)
class Header:
    """What a sealed backup says of itself, in clear: which key, when, which database."""

    key_id: str
    made: datetime
    database: str  # "sqlite" or "postgres"

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "key": self.key_id,
                "made": self.made.astimezone(UTC).isoformat(),
                "database": self.database,
            },
            sort_keys=True,
        ).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Header:
        try:
            data = json.loads(raw)
            made = datetime.fromisoformat(data["made"])
            header = cls(str(data["key"]), made, str(data["database"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError("not a header") from error
        if (
            not KEY_ID_RE.fullmatch(header.key_id)
            or made.tzinfo is None
            or header.database not in {"sqlite", "postgres"}
        ):
            raise ValueError("not a header")
        return header


@dataclass(frozen=True)
class Pruned:
    keys: int = 0
    backups: int = 0


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme in {"postgres", "postgresql"}


def _kind(database_url: str) -> str:
    return "postgres" if is_postgres(database_url) else "sqlite"


def backups_dir(var_dir: Path) -> Path:
    return var_dir / "backups"


def default_path(var_dir: Path, database_url: str, now: datetime | None = None) -> Path:
    """var/backups/portal-<UTC time>.sqlite3.sealed (or .dump.sealed for PostgreSQL)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    suffix = ".dump" if is_postgres(database_url) else ".sqlite3"
    return backups_dir(var_dir) / f"portal-{moment:%Y%m%dT%H%M%SZ}{suffix}{SEALED_SUFFIX}"


def human_size(size: int) -> str:
    value, unit = float(size), "bytes"
    for bigger in ("KB", "MB", "GB", "TB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"


# --- Backup keys --------------------------------------------------------------------------------


def _key_path(keys_dir: Path, key_id: str) -> Path:
    return keys_dir / f"{key_id}.key"


def _new_key(keys_dir: Path, made: datetime) -> tuple[str, bytes]:
    """A fresh random key for one backup, written to keys_dir (readable by its owner only)."""
    keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_id = f"{made.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(8)}"
    key = AESGCM.generate_key(bit_length=256)
    record = {"made": made.astimezone(UTC).isoformat(), "key": base64.b64encode(key).decode()}
    descriptor = os.open(_key_path(keys_dir, key_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        json.dump(record, file)
        file.flush()
        os.fsync(file.fileno())
    return key_id, key


def _read_key(path: Path) -> tuple[datetime, bytes]:
    data = json.loads(path.read_text(encoding="utf-8"))
    made = datetime.fromisoformat(data["made"])
    key = base64.b64decode(data["key"], validate=True)
    if made.tzinfo is None or len(key) != 32:
        raise ValueError("not a backup key")
    return made, key


def _shred(path: Path) -> None:
    """Overwrite, then delete: on an ordinary disk the key's bytes do not linger."""
    try:
        size = path.stat().st_size
        with path.open("r+b") as file:
            file.write(b"\0" * size)
            file.flush()
            os.fsync(file.fileno())
    except OSError:
        pass
    path.unlink(missing_ok=True)


def prune(
    keys_dir: Path, folder: Path | None, retention_days: int, now: datetime | None = None
) -> Pruned:
    """Delete the backup keys older than the retention, and the backups of ``folder`` (the
    command's own) that are as old: those can never be read again."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    oldest = moment - timedelta(days=retention_days)
    keys = backups = 0
    for path in sorted(keys_dir.glob("*.key")) if keys_dir.is_dir() else []:
        try:
            made, _key = _read_key(path)
        except (OSError, ValueError, KeyError, TypeError, binascii.Error):
            continue  # not one of ours: left alone
        if made < oldest:
            _shred(path)
            keys += 1
    for path in sorted(folder.iterdir()) if folder is not None and folder.is_dir() else []:
        made_at = _made(path)
        if made_at is not None and made_at < oldest:
            path.unlink(missing_ok=True)
            backups += 1
    return Pruned(keys, backups)


LEGACY_NAME = re.compile(r"^portal-(\d{8}T\d{6}Z)\.(sqlite3|dump)$")


def _made(path: Path) -> datetime | None:
    """When a backup of the command's folder was made; None for anything else."""
    if not path.is_file():
        return None
    if path.name.endswith(SEALED_SUFFIX):
        try:
            with path.open("rb") as file:
                return _read_header(file).made
        except (OSError, BackupError):
            return None
    # Made before backups were sealed: they hold wrapped dossier keys in clear.
    legacy = LEGACY_NAME.match(path.name)
    if legacy:
        return datetime.strptime(legacy.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return None


async def prune_every(
    keys_dir: Path, folder: Path, retention_days: int, interval: float = PRUNE_EVERY
) -> None:
    """The background task of each portal process: past the retention, no backup is readable,
    even where no backup is made any more."""
    while True:
        try:
            await asyncio.to_thread(prune, keys_dir, folder, retention_days)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("deleting the old backup keys failed; it tries again later")
        await asyncio.sleep(interval)


# --- Sealing ------------------------------------------------------------------------------------


def _aad(header: bytes, index: int, last: bool) -> bytes:
    # Each chunk is bound to the header, its place and whether it ends the file: chunks cannot
    # be swapped, moved from another backup, or cut off at the end.
    return SEALED_MAGIC + header + index.to_bytes(8, "big") + (b"\1" if last else b"\0")


def _nonce(index: int) -> bytes:
    # A fresh key for every backup: a counter never repeats a nonce under one key.
    return index.to_bytes(12, "big")


def _seal(plain: Path, target: Path, key: bytes, header: Header) -> None:
    aead = AESGCM(key)
    head = header.to_bytes()
    with plain.open("rb") as source, target.open("wb") as out:
        out.write(SEALED_MAGIC + len(head).to_bytes(4, "big") + head)
        index = 0
        chunk = source.read(CHUNK)
        while True:
            following = source.read(CHUNK) if chunk else b""
            last = not following
            sealed = aead.encrypt(_nonce(index), chunk, _aad(head, index, last))
            out.write((b"\1" if last else b"\0") + len(sealed).to_bytes(4, "big") + sealed)
            if last:
                break
            chunk, index = following, index + 1
        out.flush()
        os.fsync(out.fileno())


def _read_header(file: BinaryIO) -> Header:
    if file.read(len(SEALED_MAGIC)) != SEALED_MAGIC:
        raise BackupError("not a sealed backup")
    size = int.from_bytes(file.read(4), "big")
    if not 0 < size <= MAX_HEADER:
        raise BackupError("not a sealed backup")
    try:
        return Header.from_bytes(file.read(size))
    except ValueError as error:
        raise BackupError("not a sealed backup") from error


def _unseal(source: Path, out: Path, key: bytes) -> None:
    """Decrypt a whole backup; any changed, moved or missing byte refuses it."""
    damaged = BackupError(
        f"{source} was changed or damaged since it was made: it cannot be trusted, "
        "so it is not used."
    )
    aead = AESGCM(key)
    with source.open("rb") as file, out.open("wb") as plain:
        header = _read_header(file)
        head = header.to_bytes()
        index = 0
        while True:
            flag = file.read(1)
            size = int.from_bytes(file.read(4), "big")
            if flag not in {b"\0", b"\1"} or not 16 <= size <= CHUNK + 16:
                raise damaged
            sealed = file.read(size)
            last = flag == b"\1"
            try:
                plain.write(aead.decrypt(_nonce(index), sealed, _aad(head, index, last)))
            except InvalidTag as error:
                raise damaged from error
            if last:
                break
            index += 1
        if file.read(1):
            raise damaged


def _key_for(header: Header, keys_dir: Path, retention_days: int, source: Path) -> bytes:
    path = _key_path(keys_dir, header.key_id)
    if not path.is_file():
        made = header.made.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        raise BackupError(
            f"{source} was made on {made}, and its key ({header.key_id}) is not in "
            f"{keys_dir}. Backup keys are deleted once a backup is older than the retention "
            f"(BACKUP_RETENTION_DAYS, {retention_days} days): such a backup can no longer be "
            "read, by design. If this backup is more recent, its key is in another folder: "
            "set BACKUP_KEYS_DIR to it."
        )
    try:
        return _read_key(path)[1]
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as error:
        raise BackupError(f"The key file {path} cannot be read.") from error


# --- Backing up and restoring -------------------------------------------------------------------


def backup(database_url: str, target: Path, keys_dir: Path, now: datetime | None = None) -> Written:
    """Write a consistent copy of the whole database to target, sealed with a new key."""
    made = (now or datetime.now(UTC)).astimezone(UTC)
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # Everything is written in a private folder beside the target, then renamed: an
    # interrupted backup never looks like one, and the clear copy never outlives the command.
    with tempfile.TemporaryDirectory(prefix=".portal-backup-", dir=target.parent) as work:
        plain, partial = Path(work) / "plain", Path(work) / "sealed"
        # Readable by its owner only from its first byte on.
        os.close(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        if is_postgres(database_url):
            _pg_dump(database_url, plain)
        else:
            _sqlite_backup(_sqlite_path(database_url), plain)
        key_id, key = _new_key(keys_dir, made)
        try:
            _seal(plain, partial, key, Header(key_id, made, _kind(database_url)))
            partial.replace(target)
        except BaseException:
            _shred(_key_path(keys_dir, key_id))
            raise
    return Written(target, target.stat().st_size, key_id)


@contextmanager
def opened(
    database_url: str, source: Path, keys_dir: Path, retention_days: int, work_dir: Path
) -> Iterator[Path]:
    """The backup's database file, checked: decrypted into a private folder while in use
    (then deleted), or the file itself for a backup made before backups were sealed."""
    if not source.is_file():
        raise BackupError(f"There is no backup file at {source}.")
    with source.open("rb") as file:
        head = file.read(len(SEALED_MAGIC))
    if head != SEALED_MAGIC:
        check_backup(database_url, source)
        yield source
        return
    with source.open("rb") as file:
        try:
            header = _read_header(file)
        except BackupError as error:
            raise BackupError(f"{source} is not a backup of the portal.") from error
    _check_kind(database_url, source, header.database)
    key = _key_for(header, keys_dir, retention_days, source)
    work_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".portal-restore-", dir=work_dir) as work:
        plain = Path(work) / "plain"
        os.close(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        _unseal(source, plain, key)
        check_backup(database_url, plain, shown_as=source)
        yield plain


def _check_kind(database_url: str, source: Path, kind: str) -> None:
    wanted = _kind(database_url)
    if kind != wanted:
        names = {"sqlite": "an SQLite", "postgres": "a PostgreSQL"}
        raise BackupError(
            f"{source} is {names[kind]} backup, but DATABASE_URL names {names[wanted]} database."
        )


def check_backup(database_url: str, source: Path, shown_as: Path | None = None) -> None:
    """Refuse a missing file, or one that is not a backup of this portal for this database."""
    name = shown_as or source
    if not source.is_file():
        raise BackupError(f"There is no backup file at {name}.")
    with source.open("rb") as file:
        head = file.read(len(SQLITE_MAGIC))
    kind = "sqlite" if head == SQLITE_MAGIC else "postgres" if head[:5] == PG_DUMP_MAGIC else None
    if kind is None:
        raise BackupError(f"{name} is not a backup of the portal (neither SQLite nor pg_dump).")
    _check_kind(database_url, name, kind)
    found = _pg_tables(source) if kind == "postgres" else _sqlite_tables(source)
    missing = [table for table in PORTAL_TABLES if table not in found]
    if missing:
        raise BackupError(
            f"{name} is a database, but not one of the portal (no {', '.join(missing)} table)."
        )


def restore(database_url: str, plain: Path) -> None:
    """Replace everything in the database by a checked backup's content (see ``opened``)."""
    if is_postgres(database_url):
        _pg_restore(database_url, plain)
    else:
        _sqlite_restore(plain, _sqlite_path(database_url))


def keys_reminder(keys_dir: Path, key_id: str, retention_days: int) -> str:
    return (
        f"Its key is {_key_path(keys_dir, key_id)}: the backup cannot be read without it. "
        f"Backup keys are deleted after {retention_days} days (BACKUP_RETENTION_DAYS); from "
        "then on the backup is unreadable, erased dossiers included. Never copy the backup "
        "keys with the backups. Reading a backup also needs the same MASTER_KEY and "
        "JOURNAL_KEY: keep them safe, apart from the backups."
    )


def backup_command(
    database_url: str,
    var_dir: Path,
    to: Path | None,
    keys_dir: Path,
    retention_days: int,
    now: datetime | None = None,
) -> int:
    """python -m portal backup [--to PATH]: says where the backup went, its size and key, and
    deletes the keys (and the backups of var/backups/) past the retention."""
    target = to or default_path(var_dir, database_url, now)
    if target.is_dir():
        target = target / default_path(var_dir, database_url, now).name
    try:
        written = backup(database_url, target, keys_dir, now)
    except BackupError as error:
        print(f"No backup was made. {error}", file=sys.stderr)
        return 2
    print(f"Backup written to {written.path} ({human_size(written.size)}).")
    print(keys_reminder(keys_dir, written.key_id, retention_days))
    pruned = prune(keys_dir, backups_dir(var_dir), retention_days, now)
    print(pruned_summary(pruned, retention_days))
    return 0


def pruned_summary(pruned: Pruned, retention_days: int) -> str:
    keys = f"{pruned.keys} backup key{'' if pruned.keys == 1 else 's'}"
    files = f"{pruned.backups} backup{'' if pruned.backups == 1 else 's'}"
    return f"Older than {retention_days} days: {keys} and {files} deleted."


def restore_command(
    database_url: str,
    source: Path,
    yes: bool,
    keys_dir: Path,
    retention_days: int,
    work_dir: Path,
) -> int:
    """python -m portal restore PATH --yes: replaces the database by a backup."""
    try:
        with opened(database_url, source, keys_dir, retention_days, work_dir) as plain:
            if not yes:
                print(
                    f"{source} is a backup of the portal. Restoring it replaces everything in "
                    "the database by its content. To do it, run the same command with --yes.",
                    file=sys.stderr,
                )
                return 2
            restore(database_url, plain)
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
