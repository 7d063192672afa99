"""Backups through the command line: back up, change, restore, and find everything as it was."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

from portal import backup as backups
from portal import keys
from portal.domain import consent as consent_rules
from portal.domain import ending, journal
from portal.domain.messages import send_message
from portal.domain.requests import RequestForm, make_request
from portal.models import Asker, Consent, Dossier, JournalEntry, Message, Request, Theme
from portal.security.crypto import Erased
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, on_postgres

LOU_WORDS = "Mes parents se disputent tous les soirs"
SAM_WORDS = "Je cherche un kot pour septembre"


def _env(database: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database,
        "JOURNAL_KEY": TEST_JOURNAL_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
    }


async def _portal(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _needs_pg_tools() -> None:
    if not on_postgres():
        return
    missing = [tool for tool in ("pg_dump", "pg_restore") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} not found: required on PostgreSQL in CI")
        pytest.skip(f"{', '.join(missing)} not found on PATH")


async def _everything() -> dict[str, list[Any]]:
    """What a restore must bring back, row for row."""
    return {
        "dossiers": await Dossier.all()
        .order_by("id")
        .values_list(
            "id", "status", "wrapped_key", "erased_at", "ended_at", "journal_seq", "journal_head"
        ),
        "consents": await Consent.all()
        .order_by("id")
        .values_list("id", "dossier_id", "partner_id", "revoked_at", "purpose"),
        "messages": await Message.all().order_by("id").values_list("id", "dossier_id", "body"),
        "journal": await JournalEntry.all()
        .order_by("dossier_id", "seq")
        .values_list("dossier_id", "seq", "event", "hash"),
    }


async def test_back_up_change_restore(db: str, database: str, tmp_path: Path) -> None:
    _needs_pg_tools()
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    cpas = await factories.partner("CPAS")
    lou = await factories.youth()
    kept = await factories.followed_dossier(amina, lou, service, LOU_WORDS, Theme.FAMILY)
    await send_message(amina, kept.reference, "On se voit jeudi ?")
    given = await consent_rules.grant(
        lou, kept.reference, cpas.id, ["request"], "until_stop", "Pour l’aide au CPAS"
    )
    sam = await factories.youth("sam", "Sam")
    gone = await make_request(
        sam, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.HOUSING], words=SAM_WORDS)
    )
    await ending.end_help(sam, gone.reference)
    await ending.erase(sam, gone.reference)
    before = await _everything()
    env = _env(database, tmp_path)

    # While the test's own connection stays open, as the portal's would.
    made = await _portal(env, "backup")
    assert made.returncode == 0, made.stderr
    (file,) = (tmp_path / "backups").iterdir()
    assert file.name.startswith("portal-")
    assert file.name.endswith(".dump.sealed" if on_postgres() else ".sqlite3.sealed")
    assert file.stat().st_mode & 0o077 == 0
    assert str(file) in made.stdout and " KB)" in made.stdout
    assert LOU_WORDS not in made.stdout and TEST_MASTER_KEY not in made.stdout
    # Sealed with a key of its own, kept apart: no dossier key is in it in clear.
    (key,) = (tmp_path / "backup-keys").iterdir()
    assert key.stat().st_mode & 0o077 == 0 and str(key) in made.stdout
    wrapped = await Dossier.get(id=kept.id).values_list("wrapped_key", flat=True)
    content = file.read_bytes()
    assert bytes(wrapped) not in content
    assert not content.startswith((backups.SQLITE_MAGIC, backups.PG_DUMP_MAGIC))

    await send_message(lou, kept.reference, "Finalement ça va mieux")
    await consent_rules.revoke(lou, kept.reference, given.id)
    await ending.end_help(lou, kept.reference)
    await ending.erase(lou, kept.reference)
    changed = await _everything()
    assert changed != before
    with pytest.raises(Erased):
        keys.box(await Dossier.get(id=kept.id))

    asked = await _portal(env, "restore", str(file))
    assert asked.returncode == 2 and "--yes" in asked.stderr
    assert await _everything() == changed

    # pg_restore drops and makes the tables again: our pool must not hold them. On SQLite, a
    # fresh connection reads the restored file even if an earlier test in this process read
    # the database's files itself and so dropped its locks (sqlite.org/howtocorrupt.html 2.2).
    await connections.get("default").close()
    restored = await _portal(env, "restore", str(file), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert "Database restored" in restored.stdout

    assert await _everything() == before
    checked, breaks = await journal.verify_all()
    assert (checked, breaks) == (2, [])
    lou_dossier = await Dossier.get(id=kept.id)
    (request,) = await Request.filter(dossier_id=kept.id)
    assert keys.box(lou_dossier).open(request.words, "request.words") == LOU_WORDS
    consent = await Consent.get(id=given.id)
    assert consent.revoked_at is None
    assert await Message.filter(dossier_id=kept.id).count() == 1
    # Erased before the backup: the backup never held a key to read it.
    with pytest.raises(Erased):
        keys.box(await Dossier.get(id=gone.id))
    verified = await _portal(env, "verify-journal")
    assert verified.returncode == 0 and "0 broken" in verified.stdout


async def test_restore_refuses_a_missing_or_foreign_file(
    db: str, database: str, tmp_path: Path
) -> None:
    service = await factories.service()
    lou = await factories.youth()
    await make_request(
        lou, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.FAMILY], words=LOU_WORDS)
    )
    before = await _everything()
    notes = tmp_path / "notes.txt"
    notes.write_text("pas une sauvegarde\n", encoding="utf-8")
    other = tmp_path / "other-app.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE note (id INTEGER PRIMARY KEY, text TEXT)")
    conn.close()
    forged = tmp_path / "forged.sealed"
    forged.write_bytes(backups.SEALED_MAGIC + b"\x00\x00\x00\x02{}")
    env = _env(database, tmp_path)
    for path, says in (
        (tmp_path / "missing.sqlite3", "There is no backup file"),
        (notes, "not a backup of the portal"),
        (
            other,
            "is an SQLite backup, but DATABASE_URL names a PostgreSQL"
            if on_postgres()
            else "not one of the portal",
        ),
        (forged, "is not a backup of the portal"),
    ):
        refused = await _portal(env, "restore", str(path), "--yes")
        assert refused.returncode == 2, (path, refused.stdout)
        assert "Nothing was restored." in refused.stderr and says in refused.stderr
        assert "Traceback" not in refused.stderr
    assert await _everything() == before


async def test_backup_to_a_chosen_place(db: str, database: str, tmp_path: Path) -> None:
    _needs_pg_tools()
    await factories.service()
    target = tmp_path / "elsewhere" / "tonight.bak"
    made = await _portal(_env(database, tmp_path), "backup", "--to", str(target))
    assert made.returncode == 0, made.stderr
    assert target.is_file() and f"Backup written to {target} (" in made.stdout
    assert [p.name for p in target.parent.iterdir()] == ["tonight.bak"]


def test_without_pg_dump_the_backup_says_what_to_install(tmp_path: Path) -> None:
    env = {
        **_env("postgres://portal:not-shown@127.0.0.1:1/portal", tmp_path),
        "PATH": str(tmp_path / "empty"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "portal", "backup"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "pg_dump was not found on PATH" in result.stderr
    assert "not-shown" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


# --- Sealed backups: a key of their own, deleted after the retention ----------------------------


async def _lou_erased_after_a_backup(database: str, tmp_path: Path) -> tuple[Path, Dossier]:
    """Lou's dossier is in a backup kept elsewhere; then she erases it."""
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, LOU_WORDS, Theme.FAMILY)
    copy = tmp_path / "kept-elsewhere" / "copy.sealed"
    made = await _portal(_env(database, tmp_path), "backup", "--to", str(copy))
    assert made.returncode == 0, made.stderr
    await ending.end_help(lou, dossier.reference)
    await ending.erase(lou, dossier.reference)
    return copy, dossier


async def test_a_backup_whose_key_was_pruned_cannot_be_restored(
    db: str, database: str, tmp_path: Path
) -> None:
    _needs_pg_tools()
    copy, dossier = await _lou_erased_after_a_backup(database, tmp_path)
    before = await _everything()
    env = _env(database, tmp_path)
    # Within the retention, the copy still reads (so a restore brings the dossier back).
    asked = await _portal(env, "restore", str(copy))
    assert asked.returncode == 2 and "--yes" in asked.stderr
    # 31 days on, the daily job deletes its key: the copy, wherever it is, reads no more.
    later = datetime.now(UTC) + timedelta(days=31)
    pruned = backups.prune(tmp_path / "backup-keys", tmp_path / "backups", 30, later)
    assert pruned == backups.Pruned(keys=1, backups=0)
    assert list((tmp_path / "backup-keys").iterdir()) == []
    refused = await _portal(env, "restore", str(copy), "--yes")
    assert refused.returncode == 2
    assert "Nothing was restored." in refused.stderr
    assert "can no longer be read, by design" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert await _everything() == before
    with pytest.raises(Erased):
        keys.box(await Dossier.get(id=dossier.id))


async def test_a_tampered_or_cut_backup_is_refused(db: str, database: str, tmp_path: Path) -> None:
    _needs_pg_tools()
    copy, _dossier = await _lou_erased_after_a_backup(database, tmp_path)
    before = await _everything()
    env = _env(database, tmp_path)
    sealed = copy.read_bytes()
    changed = bytearray(sealed)
    changed[len(sealed) // 2] ^= 0x01
    cut = sealed[: len(sealed) - 20]
    for name, content in (("changed.sealed", bytes(changed)), ("cut.sealed", cut)):
        path = copy.with_name(name)
        path.write_bytes(content)
        refused = await _portal(env, "restore", str(path), "--yes")
        assert refused.returncode == 2, name
        assert "was changed or damaged since it was made" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        # Nothing decrypted is left behind.
        assert not [p for p in os.listdir(tmp_path) if p.startswith(".portal-restore-")]
    assert await _everything() == before


async def test_keys_and_backups_are_pruned_by_their_age(
    db: str, database: str, tmp_path: Path
) -> None:
    _needs_pg_tools()
    await factories.service()
    keys_dir, folder = tmp_path / "backup-keys", tmp_path / "backups"
    day = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
    old = backups.backup(database, backups.default_path(tmp_path, database, day), keys_dir, day)
    newer_day = day + timedelta(days=20)
    newer = backups.backup(
        database, backups.default_path(tmp_path, database, newer_day), keys_dir, newer_day
    )
    # A backup made before backups were sealed, and a file that is none of ours.
    legacy = folder / "portal-20270215T020000Z.sqlite3"
    legacy.write_bytes(b"SQLite format 3\x00 and wrapped keys in clear")
    notes = folder / "notes.txt"
    notes.write_text("à garder", encoding="utf-8")

    assert backups.prune(keys_dir, folder, 30, day + timedelta(days=30)) == backups.Pruned(0, 1)
    assert not legacy.exists() and old.path.exists()
    gone = backups.prune(keys_dir, folder, 30, day + timedelta(days=30, seconds=1))
    assert gone == backups.Pruned(keys=1, backups=1)
    assert not old.path.exists() and newer.path.exists() and notes.exists()
    assert [p.name for p in keys_dir.iterdir()] == [f"{newer.key_id}.key"]
    assert backups.prune(keys_dir, folder, 30, newer_day + timedelta(days=31)) == (
        backups.Pruned(keys=1, backups=1)
    )
    assert [p.name for p in folder.iterdir()] == ["notes.txt"]


async def test_the_backup_command_prunes_and_round_trips_what_it_made(
    db: str, database: str, tmp_path: Path
) -> None:
    """Each backup deletes the keys past BACKUP_RETENTION_DAYS; what is younger restores."""
    _needs_pg_tools()
    service = await factories.service()
    lou = await factories.youth()
    await make_request(
        lou, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.FAMILY], words=LOU_WORDS)
    )
    keys_dir = tmp_path / "backup-keys"
    long_ago = datetime.now(UTC) - timedelta(days=8)
    stale = backups.backup(
        database, backups.default_path(tmp_path, database, long_ago), keys_dir, long_ago
    )
    env = {**_env(database, tmp_path), "BACKUP_RETENTION_DAYS": "7"}
    made = await _portal(env, "backup")
    assert made.returncode == 0, made.stderr
    assert "Older than 7 days: 1 backup key and 1 backup deleted." in made.stdout
    assert not stale.path.exists()
    (fresh,) = (tmp_path / "backups").iterdir()
    before = await _everything()
    await Request.all().delete()
    await connections.get("default").close()
    restored = await _portal(env, "restore", str(fresh), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert await _everything() == before
    assert await Request.all().count() == 1
