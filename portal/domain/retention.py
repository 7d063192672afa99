"""Retention: an ended dossier is erased after RETENTION_DAYS, its subject told a month before.

The portal cannot send anything yet (no e-mail, no SMS), so the subject is told in their own
journal, where they read it at their next visit: a Event.RETENTION_NOTICE entry, written once for
each ending, when the dossier comes within NOTICE of its erasure. The notice says the date;
the dossier is erased on that date at the earliest, so a notice is always at least NOTICE old.
Coming back (reopening) before then keeps the dossier: only an ended one is erased.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from tortoise.transactions import in_transaction

from portal.domain import journal
from portal.domain.ending import erase_locked
from portal.domain.journal import Event
from portal.models import Dossier, DossierStatus, JournalEntry

NOTICE = timedelta(days=30)
NOTICE_EVENT = Event.RETENTION_NOTICE

Step = Literal["notice", "erase"]


@dataclass
class RetentionReport:
    erased: int = 0
    noticed: int = 0

    def summary(self, dry_run: bool = False) -> str:
        """ "2 dossiers erased, 1 notice given." Counts only: nothing about anyone."""
        dossiers = f"{self.erased} dossier{'' if self.erased == 1 else 's'}"
        notices = f"{self.noticed} notice{'' if self.noticed == 1 else 's'}"
        if dry_run:
            return (
                f"Dry run, nothing was changed: {dossiers} would be erased, "
                f"{notices} would be given."
            )
        return f"{dossiers} erased, {notices} given."


def erase_after(notice: JournalEntry) -> datetime:
    """The moment a notice announced: the dossier is not erased before it."""
    announced = notice.details.get("erase_after")
    if isinstance(announced, str):
        try:
            moment = datetime.fromisoformat(announced)
        except ValueError:
            pass
        else:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return notice.at + NOTICE


def next_step(
    dossier: Dossier, notice: JournalEntry | None, now: datetime, retention_days: int
) -> Step | None:
    """What retention does to this dossier now: tell its subject, erase it, or nothing."""
    if (
        retention_days <= 0
        or dossier.status is not DossierStatus.ENDED
        or dossier.erased_at is not None
        or dossier.ended_at is None
    ):
        return None
    deadline = dossier.ended_at + timedelta(days=retention_days)
    if notice is None:
        return "notice" if now >= deadline - NOTICE else None
    return "erase" if now >= max(deadline, erase_after(notice)) else None


async def _notice_since_ended(dossier: Dossier) -> JournalEntry | None:
    """The notice given since the help last ended: one given before a return does not count."""
    return (
        await JournalEntry.filter(
            dossier_id=dossier.id, event=NOTICE_EVENT, at__gte=dossier.ended_at
        )
        .order_by("-seq")
        .first()
    )


async def erase_expired(
    now: datetime, retention_days: int, *, dry_run: bool = False
) -> RetentionReport:
    """Tell, then erase, every ended dossier kept longer than retention_days (0: never).

    Safe to run again and again (from cron): each dossier is decided under its row lock, and a
    notice is given once, an erasure done once. ``now`` is passed in so tests can move time.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    report = RetentionReport()
    if retention_days <= 0:
        return report
    # Only dossiers within the notice period of their deadline, or past it.
    ended_before = now - timedelta(days=retention_days) + NOTICE
    candidates = (
        await Dossier.filter(
            status=DossierStatus.ENDED, erased_at__isnull=True, ended_at__lte=ended_before
        )
        .order_by("id")
        .values_list("id", flat=True)
    )
    for dossier_id in candidates:
        if dry_run:
            dossier = await Dossier.get(id=dossier_id)
            step = next_step(dossier, await _notice_since_ended(dossier), now, retention_days)
        else:
            async with in_transaction():
                dossier = await Dossier.select_for_update().get(id=dossier_id)
                notice = await _notice_since_ended(dossier)
                step = next_step(dossier, notice, now, retention_days)
                if step == "notice" and dossier.ended_at is not None:
                    # Never less than NOTICE after the subject can read it.
                    when = max(dossier.ended_at + timedelta(days=retention_days), now + NOTICE)
                    details = {"erase_after": when.astimezone(UTC).isoformat()}
                    await journal.record(dossier, NOTICE_EVENT, None, details)
                elif step == "erase":
                    await erase_locked(dossier, None, {"because": "retention"})
        if step == "notice":
            report.noticed += 1
        elif step == "erase":
            report.erased += 1
    return report
