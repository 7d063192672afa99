"""Backups through the command line: back up, change, restore, and find everything as it was."""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tortoise import connections

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
    assert file.suffix == (".dump" if on_postgres() else ".sqlite3")
    assert file.stat().st_mode & 0o077 == 0
    assert str(file) in made.stdout and " KB)" in made.stdout
    assert LOU_WORDS not in made.stdout and TEST_MASTER_KEY not in made.stdout

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
