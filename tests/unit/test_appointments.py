"""Appointments in the domain: the calendar file, the day-before reminder, Brussels time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise import timezone

from portal.domain import appointments as rules
from portal.domain import ending, notices
from portal.domain.errors import AlreadyDone, Invalid, NotAllowed, NotFound
from portal.i18n import BRUSSELS
from portal.models import (
    Appointment,
    AppointmentStatus,
    Dossier,
    JournalEntry,
    Notice,
    NoticeProgress,
    Person,
    PlaceKind,
)
from tests import factories


def _brussels(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BRUSSELS).astimezone(UTC)


# --- The calendar file --------------------------------------------------------------------------


def _meeting(start: datetime, minutes: int = 90) -> Appointment:
    return Appointment(
        id=7, starts_at=start, minutes=minutes, place_kind=PlaceKind.HEARING, place="Tribunal"
    )


def test_the_calendar_file_is_rfc_5545_and_says_nothing_but_the_time() -> None:
    start = _brussels(2027, 3, 9, 14, 0)
    body = rules.calendar_file(_meeting(start), "Rendez-vous", now=start - timedelta(days=2))
    assert body.endswith("\r\n")
    lines = body.split("\r\n")[:-1]
    # Every line ends with CRLF: no bare LF anywhere.
    assert "\n" not in "".join(lines)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "VERSION:2.0" in lines and "BEGIN:VEVENT" in lines and "END:VEVENT" in lines
    # 14:00 in Brussels in winter is 13:00 UTC; 90 minutes later.
    assert "DTSTART:20270309T130000Z" in lines
    assert "DTEND:20270309T143000Z" in lines
    assert "SUMMARY:Rendez-vous" in lines
    for forbidden in ("LOCATION", "URL", "DESCRIPTION", "Tribunal", "ORGANIZER", "ATTENDEE"):
        assert forbidden not in body
    assert all(len(line.encode()) <= 75 for line in lines)


def test_each_file_has_its_own_uid() -> None:
    start = _brussels(2027, 3, 9, 14, 0)
    uids = {
        next(
            line
            for line in rules.calendar_file(_meeting(start), "R").split("\r\n")
            if "UID" in line
        )
        for _ in range(5)
    }
    assert len(uids) == 5


def test_a_title_is_escaped_and_folded() -> None:
    start = _brussels(2027, 7, 1, 9, 0)
    body = rules.calendar_file(_meeting(start), "a;b,c\\d\n" + "é" * 60)
    assert "SUMMARY:a\\;b\\,c\\\\d\\n" in body
    lines = body.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    # Summer: 09:00 in Brussels is 07:00 UTC.
    assert "DTSTART:20270701T070000Z" in lines
    # Unfolded, the title is whole (no character cut in two).
    unfolded = body.replace("\r\n ", "")
    assert "é" * 60 in unfolded


# --- Brussels time --------------------------------------------------------------------------------


def test_a_day_and_an_hour_are_read_in_brussels() -> None:
    assert rules.parse_when("2027-01-15", "14:00") == datetime(2027, 1, 15, 13, 0, tzinfo=UTC)
    assert rules.parse_when("2027-07-15", "14:00") == datetime(2027, 7, 15, 12, 0, tzinfo=UTC)
    with pytest.raises(Invalid):
        rules.parse_when("2027-02-30", "14:00")
    with pytest.raises(Invalid):
        rules.parse_when("2027-02-03", "24:00")


@pytest.mark.parametrize(
    ("now", "starts", "due"),
    [
        # Tomorrow, 33 h ahead: due.
        (_brussels(2027, 3, 1, 9, 0), _brussels(2027, 3, 2, 18, 0), True),
        # The day after tomorrow: not yet.
        (_brussels(2027, 3, 1, 9, 0), _brussels(2027, 3, 3, 8, 0), False),
        # Tomorrow, but 43 h ahead: later.
        (_brussels(2027, 3, 1, 0, 30), _brussels(2027, 3, 2, 20, 0), False),
        # Within a day, even if not tomorrow (accepted late): due.
        (_brussels(2027, 3, 1, 9, 0), _brussels(2027, 3, 1, 17, 0), True),
        # Past: never.
        (_brussels(2027, 3, 1, 9, 0), _brussels(2027, 3, 1, 8, 0), False),
        # Over the spring change (Sunday 28 March 2027, 02:00 → 03:00): tomorrow is Sunday.
        (_brussels(2027, 3, 27, 10, 0), _brussels(2027, 3, 28, 9, 0), True),
        (_brussels(2027, 3, 27, 8, 0), _brussels(2027, 3, 29, 7, 30), False),
        # Over the autumn change (Sunday 31 October 2027): 25 h, tomorrow.
        (_brussels(2027, 10, 30, 12, 0), _brussels(2027, 10, 31, 12, 0), True),
        # 23:00 on Monday, 01:00 on Wednesday: 26 h, not tomorrow.
        (_brussels(2027, 3, 1, 23, 0), _brussels(2027, 3, 3, 1, 0), False),
    ],
)
def test_the_reminder_is_due_the_day_before(now: datetime, starts: datetime, due: bool) -> None:
    assert rules.reminder_due(starts, now) is due


# --- The sweep ----------------------------------------------------------------------------------


async def _setup() -> tuple[Dossier, Person, Person]:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service, "Bonjour")
    return dossier, lou, amina


async def _accepted(dossier: Dossier, lou: Person, amina: Person, ahead: timedelta) -> Appointment:
    start = timezone.now() + ahead
    proposal = rules.Proposal(start, 60, PlaceKind.AMO, "Salle")
    appointment = await rules.propose(amina, dossier.reference, proposal)
    await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED)
    return await Appointment.get(id=appointment.id)


async def _reminders(dossier: Dossier) -> int:
    return await JournalEntry.filter(dossier_id=dossier.id, event="appointment.reminder").count()


async def test_the_sweep_reminds_once_accepted_meetings_only(db: str) -> None:
    dossier, lou, amina = await _setup()
    accepted = await _accepted(dossier, lou, amina, timedelta(days=3))
    proposal = rules.Proposal(accepted.starts_at, 60, PlaceKind.PHONE)
    waiting = await rules.propose(amina, dossier.reference, proposal)
    early = accepted.starts_at - timedelta(days=2)
    assert await rules.send_reminders(early) == 0
    day_before = accepted.starts_at - timedelta(hours=20)
    assert await rules.send_reminders(day_before) == 1
    assert await rules.send_reminders(day_before + timedelta(hours=1)) == 0
    assert await _reminders(dossier) == 1
    assert (await Appointment.get(id=accepted.id)).reminded_at is not None
    assert (await Appointment.get(id=waiting.id)).reminded_at is None
    # A new time is a new meeting to remind of, once accepted again.
    new_start = accepted.starts_at + timedelta(days=2)
    await rules.change(amina, dossier.reference, accepted.id, new_start, 60, now=day_before)
    assert (await Appointment.get(id=accepted.id)).reminded_at is None
    await rules.answer(
        lou, dossier.reference, accepted.id, AppointmentStatus.ACCEPTED, now=day_before
    )
    assert await rules.send_reminders(new_start - timedelta(hours=20)) == 1
    assert await _reminders(dossier) == 2


async def test_an_ended_dossier_gets_no_reminder(db: str) -> None:
    dossier, lou, amina = await _setup()
    accepted = await _accepted(dossier, lou, amina, timedelta(days=3))
    await ending.end_help(lou, dossier.reference)
    assert await rules.send_reminders(accepted.starts_at - timedelta(hours=20)) == 0


async def test_the_reminder_reaches_her_and_her_workers(db: str) -> None:
    dossier, lou, amina = await _setup()
    accepted = await _accepted(dossier, lou, amina, timedelta(days=3))
    await notices.set_email_notices(lou, "lou@example.be", True)
    await notices.set_email_notices(amina, "amina@example.be", True)
    day_before = accepted.starts_at - timedelta(hours=20)
    # What came before is read and forgotten: only the reminder is left to tell.
    await notices.read_journal(day_before)
    await Notice.all().delete()
    # The background sender sweeps (its mail server is away: nothing goes, notices wait).
    closed = notices.Mailer(host="127.0.0.1", port=9, sender="p@localhost", site_url="x")
    await notices.send_due(closed, now=day_before)
    assert await _reminders(dossier) == 1
    told = set(await Notice.all().values_list("person_id", flat=True))
    assert told == {lou.id, amina.id}
    assert await NoticeProgress.get(id=1)


async def test_her_answers_follow_the_rules(db: str) -> None:
    dossier, lou, amina = await _setup()
    proposal = rules.Proposal(timezone.now() + timedelta(days=2), 30, PlaceKind.SCHOOL)
    appointment = await rules.propose(amina, dossier.reference, proposal)
    with pytest.raises(NotFound):
        await rules.answer(amina, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED)
    with pytest.raises(NotFound):
        await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.DONE)
    with pytest.raises(Invalid):
        await rules.answer(
            lou, dossier.reference, appointment.id, AppointmentStatus.OTHER_TIME_ASKED, "x" * 501
        )
    # Accepting once the time has passed: refused.
    late = appointment.starts_at + timedelta(minutes=1)
    with pytest.raises(NotAllowed):
        await rules.answer(
            lou, dossier.reference, appointment.id, AppointmentStatus.ACCEPTED, now=late
        )
    await rules.answer(
        lou, dossier.reference, appointment.id, AppointmentStatus.OTHER_TIME_ASKED, "Mercredi"
    )
    stored = await Appointment.get(id=appointment.id)
    assert "Mercredi" not in stored.answer_word
    with pytest.raises(AlreadyDone):
        await rules.answer(lou, dossier.reference, appointment.id, AppointmentStatus.DECLINED)
    # The outcome only after an accepted meeting's time.
    with pytest.raises(NotAllowed):
        await rules.record_outcome(amina, dossier.reference, appointment.id, True, now=late)
