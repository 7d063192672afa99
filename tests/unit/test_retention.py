"""Retention: an ended dossier is erased after RETENTION_DAYS, never before its subject was told."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from tortoise import connections, timezone

from portal import keys
from portal.domain import ending, journal
from portal.domain.requests import RequestForm, make_request
from portal.domain.retention import NOTICE, erase_after, erase_expired
from portal.i18n import BRUSSELS, use_language
from portal.models import Asker, Dossier, DossierStatus, JournalEntry, Person, Theme
from portal.pages.timeline import describe
from portal.security.crypto import Erased
from portal.settings import SettingsError, load_settings
from tests import factories
from tests.conftest import TEST_JOURNAL_KEY, TEST_MASTER_KEY

WORDS = "Je ne veux plus aller à l’école"
YEAR = 365


async def _dossier(login: str = "lou", *, end: bool = True) -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff(f"amina-{login}", service_=service)
    subject = await factories.youth(login, login.title())
    dossier = await factories.followed_dossier(amina, subject, service, WORDS)
    if end:
        await ending.end_help(subject, dossier.reference)
    return await Dossier.get(id=dossier.id), subject, amina


def _ended_at(dossier: Dossier) -> datetime:
    assert dossier.ended_at is not None
    return dossier.ended_at


async def _notices(dossier: Dossier) -> list[JournalEntry]:
    return (
        await JournalEntry.filter(dossier_id=dossier.id, event="retention.notice")
        .select_related("actor")
        .order_by("seq")
    )


def _readable(dossier: Dossier) -> bool:
    try:
        keys.box(dossier)
    except Erased:
        return False
    return True


async def test_nothing_happens_before_the_month_of_notice(db: str) -> None:
    dossier, _, _ = await _dossier()
    day = _ended_at(dossier)
    report = await erase_expired(day + timedelta(days=YEAR) - NOTICE - timedelta(hours=1), YEAR)
    assert (report.erased, report.noticed) == (0, 0)
    assert await _notices(dossier) == []
    assert (await Dossier.get(id=dossier.id)).journal_seq == dossier.journal_seq


async def test_told_once_then_erased_only_a_month_after_being_told(db: str) -> None:
    dossier, lou, _ = await _dossier()
    day = _ended_at(dossier)

    told_on = day + timedelta(days=340)
    report = await erase_expired(told_on, YEAR)
    assert (report.erased, report.noticed) == (0, 1)
    assert report.summary() == "0 dossiers erased, 1 notice given."
    (notice,) = await _notices(dossier)
    assert notice.actor_id is None
    # The deadline is day 365, but a notice is never less than a month before the erasure.
    assert erase_after(notice) == told_on + NOTICE

    for later in (told_on + timedelta(days=1), day + timedelta(days=YEAR, hours=1)):
        again = await erase_expired(later, YEAR)
        assert (again.erased, again.noticed) == (0, 0)
        assert len(await _notices(dossier)) == 1
        assert _readable(await Dossier.get(id=dossier.id))

    just_before = await erase_expired(told_on + NOTICE - timedelta(seconds=1), YEAR)
    assert (just_before.erased, just_before.noticed) == (0, 0)

    report = await erase_expired(told_on + NOTICE, YEAR)
    assert (report.erased, report.noticed) == (1, 0)
    assert report.summary() == "1 dossier erased, 0 notices given."
    erased = await Dossier.get(id=dossier.id)
    assert erased.wrapped_key is None and erased.erased_at is not None
    with pytest.raises(Erased):
        keys.box(erased)
    last = (
        await JournalEntry.filter(dossier_id=dossier.id)
        .select_related("actor")
        .order_by("-seq")
        .first()
    )
    assert last is not None and last.event == "dossier.erased" and last.actor_id is None
    assert await journal.verify_dossier(erased) is None

    # Idempotent: nothing more to do, ever.
    again = await erase_expired(told_on + timedelta(days=1000), YEAR)
    assert (again.erased, again.noticed) == (0, 0)
    assert (await Dossier.get(id=dossier.id)).journal_seq == erased.journal_seq

    # The subject reads both in their journal.
    with use_language("en"):
        told = describe(notice, lou, True)
        assert "Come back before then to keep it." in told
        announced = erase_after(notice).astimezone(BRUSSELS)
        assert str(announced.year) in told and announced.strftime("%B") in told
        assert "Come back" not in describe(notice, Person(id=0, display_name="Amina"), False)
        assert "because the help ended long ago" in describe(last, lou, True)


async def test_a_late_run_still_gives_a_full_month_of_notice(db: str) -> None:
    dossier, _, _ = await _dossier()
    first_run = _ended_at(dossier) + timedelta(days=500)
    report = await erase_expired(first_run, YEAR)
    assert (report.erased, report.noticed) == (0, 1)
    report = await erase_expired(first_run + NOTICE - timedelta(minutes=1), YEAR)
    assert (report.erased, report.noticed) == (0, 0)
    report = await erase_expired(first_run + NOTICE, YEAR)
    assert (report.erased, report.noticed) == (1, 0)


async def test_zero_days_keeps_every_dossier(db: str) -> None:
    dossier, _, _ = await _dossier()
    await erase_expired(_ended_at(dossier) + timedelta(days=340), YEAR)
    far = _ended_at(dossier) + timedelta(days=10 * YEAR)
    report = await erase_expired(far, 0)
    assert (report.erased, report.noticed) == (0, 0)
    assert _readable(await Dossier.get(id=dossier.id))


async def test_a_dry_run_changes_nothing(db: str) -> None:
    dossier, _, _ = await _dossier()
    told_on = _ended_at(dossier) + timedelta(days=340)
    report = await erase_expired(told_on, YEAR, dry_run=True)
    assert (report.erased, report.noticed) == (0, 1)
    assert "nothing was changed" in report.summary(dry_run=True)
    assert await _notices(dossier) == []
    assert (await Dossier.get(id=dossier.id)).journal_seq == dossier.journal_seq

    await erase_expired(told_on, YEAR)
    seq = (await Dossier.get(id=dossier.id)).journal_seq
    report = await erase_expired(told_on + NOTICE, YEAR, dry_run=True)
    assert (report.erased, report.noticed) == (1, 0)
    unchanged = await Dossier.get(id=dossier.id)
    assert _readable(unchanged) and unchanged.erased_at is None and unchanged.journal_seq == seq


async def test_a_dossier_still_helped_is_never_erased(db: str) -> None:
    open_one, _, _ = await _dossier("lou", end=False)
    service = await factories.service("AMO Autre")
    sam = await factories.youth("sam", "Sam")
    waiting = await make_request(
        sam, service, RequestForm(asker=Asker.YOUTH, themes=[Theme.FAMILY], words=WORDS)
    )
    far = timezone.now() + timedelta(days=10 * YEAR)
    report = await erase_expired(far, YEAR)
    assert (report.erased, report.noticed) == (0, 0)
    for dossier in (open_one, waiting):
        kept = await Dossier.get(id=dossier.id)
        assert kept.status is not DossierStatus.ENDED and _readable(kept)
        assert await _notices(kept) == []


async def test_coming_back_keeps_the_dossier_and_a_new_ending_needs_a_new_notice(
    db: str,
) -> None:
    dossier, lou, _ = await _dossier()
    first_end = _ended_at(dossier)
    await erase_expired(first_end + timedelta(days=340), YEAR)
    assert len(await _notices(dossier)) == 1

    await ending.reopen(
        lou, dossier.reference, RequestForm(asker=Asker.YOUTH, themes=[Theme.SCHOOL], words="Re")
    )
    report = await erase_expired(first_end + timedelta(days=2 * YEAR), YEAR)
    assert (report.erased, report.noticed) == (0, 0)

    await ending.end_help(lou, dossier.reference)
    ended_again = await Dossier.get(id=dossier.id)
    # The notice about the first ending does not count for the second one.
    report = await erase_expired(_ended_at(ended_again) + timedelta(days=2 * YEAR), YEAR)
    assert (report.erased, report.noticed) == (0, 1)
    assert _readable(await Dossier.get(id=dossier.id))
    assert len(await _notices(dossier)) == 2


async def test_two_runs_at_once_tell_once_and_erase_once(db: str) -> None:
    dossier, _, _ = await _dossier()
    told_on = _ended_at(dossier) + timedelta(days=340)
    first, second = await asyncio.gather(erase_expired(told_on, YEAR), erase_expired(told_on, YEAR))
    assert first.noticed + second.noticed == 1
    first, second = await asyncio.gather(
        erase_expired(told_on + NOTICE, YEAR), erase_expired(told_on + NOTICE, YEAR)
    )
    assert first.erased + second.erased == 1
    erased = await JournalEntry.filter(dossier_id=dossier.id, event="dossier.erased").count()
    assert erased == 1
    assert await journal.verify_dossier(await Dossier.get(id=dossier.id)) is None


async def test_a_naive_clock_is_refused(db: str) -> None:
    with pytest.raises(ValueError, match="aware"):
        await erase_expired(datetime(2030, 1, 1), YEAR)  # noqa: DTZ001 - the point of the test


def test_the_setting(tmp_path: Path) -> None:
    base = {"PORTAL_VAR_DIR": str(tmp_path)}
    assert load_settings(base).retention_days == 365
    assert load_settings({**base, "RETENTION_DAYS": "0"}).retention_days == 0
    for wrong in ("-1", "a year"):
        with pytest.raises(SettingsError, match="RETENTION_DAYS"):
            load_settings({**base, "RETENTION_DAYS": wrong})


async def test_the_command_for_cron(db: str, database: str, tmp_path: Path) -> None:
    dossier, _, _ = await _dossier()
    await Dossier.filter(id=dossier.id).update(ended_at=timezone.now() - timedelta(days=400))
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "JOURNAL_KEY": TEST_JOURNAL_KEY,
        "MASTER_KEY": TEST_MASTER_KEY,
        "PORTAL_VAR_DIR": str(tmp_path),
        "SECRET_KEY": "s" * 40,
        "RETENTION_DAYS": "365",
    }

    async def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        # A fresh connection afterwards: an earlier test that read the SQLite files itself
        # dropped this process's locks on them (sqlite.org/howtocorrupt.html, 2.2), and our
        # old connection would not see what the command writes.
        await connections.get("default").close()
        return await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "portal", "apply-retention", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=60,
        )

    dry = await run("--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "0 dossiers would be erased, 1 notice would be given" in dry.stdout
    assert await _notices(dossier) == []

    kept = await run(RETENTION_DAYS="0")
    assert kept.returncode == 0 and "RETENTION_DAYS is 0" in kept.stdout
    assert await _notices(dossier) == []

    done = await run()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines() == [
        "Older than 30 days: 0 backup keys and 0 backups deleted.",
        "0 dossiers erased, 1 notice given.",
    ]
    assert dossier.reference not in done.stdout and WORDS not in done.stdout
    assert len(await _notices(dossier)) == 1

    again = await run()
    assert again.stdout.strip().splitlines()[-1] == "0 dossiers erased, 0 notices given."

    helped = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "portal", "apply-retention", "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "at least 30 days old" in " ".join(helped.stdout.split())
