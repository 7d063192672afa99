"""The journal in plain words: each line says who did what, however many lines look alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from portal.domain import journal
from portal.domain.dossiers import assign, open_dossier
from portal.i18n import use_language
from portal.models import JournalEntry, Person
from portal.pages.timeline import describe, lines
from tests import factories


async def test_a_page_of_looks_names_each_reader_as_one_line_alone_would(db: str) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    jo = await factories.staff("jo", service_=service, name="Jo")
    lou = await factories.youth()
    dossier = await factories.followed_dossier(amina, lou, service)
    await assign(amina, dossier.id, jo.id)
    for reader in (amina, jo, amina, jo, amina):
        await journal.record_look(dossier, "dossier.read", reader)
    # Read by the subject: no look is added, the page shows the five above and what came before.
    view = await open_dossier(lou, dossier.reference)
    shown = {}
    with use_language("en"):
        for viewer, subject_view in ((lou, True), (amina, False), (jo, False)):
            texts = [line.text for line in lines(view.timeline, viewer, subject_view, 0, {})]
            alone = [describe(entry, viewer, subject_view, {}) for entry in view.timeline]
            assert texts == alone
            shown[viewer.login] = texts[:5]
    assert shown["lou"] == [
        "Amina, from the AMO, read your dossier.",
        "Jo, from the AMO, read your dossier.",
    ] * 2 + ["Amina, from the AMO, read your dossier."]
    assert shown["amina"][:2] == ["You read this dossier.", "Jo, from the AMO, read this dossier."]
    assert shown["jo"][:2] == ["Amina, from the AMO, read this dossier.", "You read this dossier."]


def _entry(
    seq: int, event: str, actor: Person | int | None, at: datetime, **details: object
) -> JournalEntry:
    """An entry as a page of the journal holds it (nothing is stored: grouping is pure)."""
    if isinstance(actor, Person):
        return JournalEntry(
            dossier_id=1, seq=seq, event=event, actor=actor, at=at, details=dict(details)
        )
    return JournalEntry(
        dossier_id=1, seq=seq, event=event, actor_id=actor, at=at, details=dict(details)
    )


def _reads(actor: int | None, seqs: range, start: datetime) -> list[JournalEntry]:
    """Reads by one person, newest first, ten seconds apart."""
    return [
        _entry(seq, "dossier.read", actor, start + timedelta(seconds=10 * seq))
        for seq in reversed(seqs)
    ]


async def test_reads_in_a_row_by_one_person_make_one_run_and_no_entry_is_left_out(
    db: str,
) -> None:
    at = datetime(2026, 12, 8, 9, 42, tzinfo=UTC)
    page = [
        *_reads(7, range(12, 15), at),  # Amina three times
        _entry(11, "dossier.read", 8, at),  # Jo between: a run of its own
        *_reads(7, range(9, 11), at),  # Amina again: not merged across Jo
        _entry(8, "message.sent", 7, at, message=3),  # a step breaks a run
        _entry(7, "dossier.read", 7, at),
        _entry(6, "dossier.read_refused", 7, at),  # a refused look is not a read
        _entry(5, "dossier.read", 7, at),
        _entry(4, "dossier.read", 7, at, via="recovery"),  # a read that says more stays alone
        *_reads(None, range(2, 4), at),  # the portal's own reads group like anyone's
    ]
    runs = journal.runs_of_looks(page)
    assert [[e.seq for e in run] for run in runs] == [
        [14, 13, 12],
        [11],
        [10, 9],
        [8],
        [7],
        [6],
        [5],
        [4],
        [3, 2],
    ]
    # Every entry is in exactly one run, in the page's order.
    assert [e for run in runs for e in run] == page
    # Nothing seen is merged with what is new to the reader.
    assert [[e.seq for e in run] for run in journal.runs_of_looks(page[:3], new_after=13)] == [
        [14],
        [13, 12],
    ]
    assert journal.runs_of_looks([]) == []


@pytest.mark.parametrize(
    ("language", "subject", "worker", "own"),
    [
        (
            "fr",
            "Amina, de l’AMO, a lu ton dossier 6 fois, entre 10:42 et 10:43.",
            "Amina, de l’AMO, a lu ce dossier 6 fois, entre 10:42 et 10:43.",
            "Tu as lu ce dossier 6 fois, entre 10:42 et 10:43.",
        ),
        (
            "nl",
            "Amina, van de AMO, heeft je dossier 6 keer gelezen, tussen 10:42 en 10:43.",
            "Amina, van de AMO, heeft dit dossier 6 keer gelezen, tussen 10:42 en 10:43.",
            "Je hebt dit dossier 6 keer gelezen, tussen 10:42 en 10:43.",
        ),
        (
            "en",
            "Amina, from the AMO, read your dossier 6 times, between 10:42 and 10:43.",
            "Amina, from the AMO, read this dossier 6 times, between 10:42 and 10:43.",
            "You read this dossier 6 times, between 10:42 and 10:43.",
        ),
    ],
)
async def test_six_reads_in_a_minute_are_one_line_with_how_many_and_when(
    db: str, language: str, subject: str, worker: str, own: str
) -> None:
    service = await factories.service()
    amina = await factories.staff("amina", service_=service, name="Amina")
    jo = await factories.staff("jo", service_=service, name="Jo")
    lou = await factories.youth()
    # 10:42:05 to 10:43:00 in Brussels (UTC+1 in December), newest first as a page holds them.
    start = datetime(2026, 12, 8, 9, 42, 5, tzinfo=UTC)
    page = [
        _entry(seq, "dossier.read", amina, start + timedelta(seconds=11 * (seq - 1)))
        for seq in range(6, 0, -1)
    ]
    with use_language(language):
        for viewer, subject_view, expected in ((lou, True, subject), (jo, False, worker)):
            (line,) = lines(page, viewer, subject_view, 0, {})
            assert (line.text, line.count, line.is_look) == (expected, 6, True)
            assert line.iso == page[0].at.isoformat()
        (line,) = lines(page, amina, False, 0, {})
        assert line.text == own
        # Read within one minute: said at that minute, not "between 10:42 and 10:42".
        (same,) = lines(page[-2:], lou, True, 0, {})
        assert "10:42" in same.text and "10:43" not in same.text and "2" in same.text
    # What the subject has not seen yet counts every read, not the line.
    new = lines(page, lou, True, 3, {})
    assert [(line.count, line.is_new) for line in new] == [(3, True), (3, False)]


async def test_reads_on_two_days_name_both_days(db: str) -> None:
    amina = await factories.staff("amina", service_=await factories.service(), name="Amina")
    lou = await factories.youth()
    monday = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
    page = [
        _entry(2, "dossier.read", amina, monday + timedelta(days=1)),
        _entry(1, "dossier.read", amina, monday),
    ]
    with use_language("fr"):
        (line,) = lines(page, lou, True, 0, {})
    assert line.text == (
        "Amina, de l’AMO, a lu ton dossier 2 fois, "
        "entre lundi 7 décembre, 16:00 et mardi 8 décembre, 16:00."
    )
