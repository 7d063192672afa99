"""Ending, coming back, export and erasure through the app, and the journal's command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from portal.domain.requests import RequestForm
from portal.models import Asker, Dossier, DossierStatus, Theme
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY, on_postgres
from tests.helpers import csrf_token


async def _dossier() -> Dossier:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service)
    lou = await factories.youth()
    return await factories.followed_dossier(
        amina, lou, service, "Je dors chez une amie.", Theme.HOUSING
    )


async def test_end_come_back_export_erase(client: httpx.AsyncClient) -> None:
    dossier = await _dossier()
    ref = dossier.reference
    await factories.sign_in(client, "lou")
    token = await csrf_token(client, f"/espace/{ref}")
    assert (await client.get(f"/espace/{ref}/effacer")).status_code == 200
    refused = await client.post(
        f"/espace/{ref}/effacer", data={"csrf_token": token, "confirm": "second"}
    )
    assert refused.status_code == 409
    assert (await Dossier.get(id=dossier.id)).wrapped_key is not None

    confirm = await client.get(f"/espace/{ref}/arreter")
    assert confirm.status_code == 200
    ended = await client.post(f"/espace/{ref}/arreter", data={"csrf_token": token, "reason": ""})
    assert ended.headers["location"] == f"/espace/{ref}/fin"
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.ENDED
    again = await client.post(f"/espace/{ref}/arreter", data={"csrf_token": token})
    assert again.status_code == 303  # a double tap: still ended, nothing else

    export = await client.get(f"/espace/{ref}/export")
    assert "Je dors chez une amie." in export.text
    data = json.loads((await client.get(f"/espace/{ref}/export.json")).text)
    assert data["requests"][0]["words"] == "Je dors chez une amie."
    assert data["language"] == "fr" and data["journal"][-1]["event"] == "dossier.exported"
    assert (await client.get(f"/espace/{ref}/export.xml")).status_code == 404

    back = await client.post(
        f"/espace/{ref}/revenir",
        data={
            "csrf_token": token,
            "themes": ["school"],
            "words": "Je reviens",
            "contact_channel": "portal",
        },
    )
    assert back.status_code == 303
    # Amina followed her when she ended: the return goes back to her.
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.OPEN
    await client.post(f"/espace/{ref}/arreter", data={"csrf_token": token})

    first = await client.post(
        f"/espace/{ref}/effacer", data={"csrf_token": token, "confirm": "first"}
    )
    assert first.status_code == 200 and 'value="second"' in first.text
    assert (await Dossier.get(id=dossier.id)).wrapped_key is not None
    erased = await client.post(
        f"/espace/{ref}/effacer", data={"csrf_token": token, "confirm": "second"}
    )
    assert erased.headers["location"] == "/espace?fait=1"
    # Gone from her space: the dossier's own pages find nothing.
    assert (await client.get(f"/espace/{ref}")).status_code == 404
    assert (await client.get(f"/espace/{ref}/export")).status_code == 404


async def test_a_worker_or_a_parent_cannot_export_or_end(client: httpx.AsyncClient) -> None:
    dossier = await _dossier()
    ref = dossier.reference
    await factories.youth("sam", "Sam")
    for login in ("amina", "sam"):
        client.cookies.clear()
        if login == "amina":
            await factories.sign_in_staff(client, login)
        else:
            await factories.sign_in(client, login)
        for path in (
            f"/espace/{ref}/export",
            f"/espace/{ref}/export.json",
            f"/espace/{ref}/arreter",
            f"/espace/{ref}/effacer",
        ):
            assert (await client.get(path)).status_code == 404, (login, path)
    assert (await Dossier.get(id=dossier.id)).status is DossierStatus.OPEN


async def test_verify_journal_command_names_the_broken_entry(
    db: str, database: str, tmp_path: Path
) -> None:
    dossier = await _dossier()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "JOURNAL_KEY": TEST_JOURNAL_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
    }
    command = [sys.executable, "-m", "portal", "verify-journal"]
    ok = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert ok.returncode == 0, ok.stderr
    assert "0 broken" in ok.stdout
    from portal.models import JournalEntry

    await JournalEntry.filter(dossier=dossier, seq=2).update(event="dossier.read")
    if not on_postgres():
        from tortoise import connections

        await connections.get("default").execute_script("PRAGMA wal_checkpoint(PASSIVE)")
    broken = await asyncio.to_thread(
        subprocess.run, command, env=env, capture_output=True, text=True, timeout=60
    )
    assert broken.returncode == 1
    assert f"dossier #{dossier.id}: entry 2 was changed" in broken.stdout


def test_production_refuses_to_start_without_the_journal_key(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PORTAL_ENV": "production",
        "SECRET_KEY": "s" * 40,
        "MASTER_KEY": TEST_MASTER_KEY,
        "DATABASE_URL": "postgres://x@127.0.0.1:1/x",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    env.pop("JOURNAL_KEY", None)
    result = subprocess.run(
        [sys.executable, "-m", "portal", "verify-journal"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "JOURNAL_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr


async def test_the_workers_are_told_when_the_help_ends(client: httpx.AsyncClient) -> None:
    dossier = await _dossier()
    from portal.domain.ending import end_help
    from portal.models import Person

    await end_help(await Person.get(login="lou"), dossier.reference)
    await factories.sign_in_staff(client, "amina")
    inbox = await client.get("/travail")
    assert dossier.reference in inbox.text
    assert "Aide terminée" in inbox.text


async def test_the_young_person_reads_why_they_stopped_while_it_is_stopped(
    client: httpx.AsyncClient,
) -> None:
    """No hidden notes: their reason for ending is on their page, not only in the export."""
    from portal.domain.ending import end_help, reopen
    from portal.models import Person

    dossier = await _dossier()
    lou = await Person.get(login="lou")
    await end_help(lou, dossier.reference, "Ça va mieux <i>grâce à Zébulon</i>")
    stored = await Dossier.get(id=dossier.id)
    assert "Zébulon" not in stored.end_reason  # sealed with the dossier's key
    await factories.sign_in(client, "lou")
    page = await client.get(f"/espace/{dossier.reference}")
    assert "Ça va mieux &lt;i&gt;grâce à Zébulon&lt;/i&gt;" in page.text
    # Coming back starts anew: the old reason is no longer shown as the state of things.
    form = RequestForm(asker=Asker.YOUTH, themes=[Theme.HOUSING], words="Je reviens.")
    await reopen(lou, dossier.reference, form)
    assert "Zébulon" not in (await client.get(f"/espace/{dossier.reference}")).text
