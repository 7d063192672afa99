"""What is newer in a dossier than what an open page of it shows: for pages that update alone.

A page asks every few seconds; most times nothing happened, and the answer must then cost
next to nothing: the dossier's row already holds the number of its newest journal entry, and
every message is journaled, so a quiet ask reads that row and stops.
"""

from __future__ import annotations

from dataclasses import dataclass

from portal import keys
from portal.domain import journal
from portal.domain.access import readable_dossier
from portal.domain.dossiers import AUTHOR, ENTRY, MESSAGE, THREAD_LIMIT, TIMELINE_PAGE
from portal.domain.errors import NotFound
from portal.domain.journal import LOOKS, Event
from portal.models import Dossier, JournalEntry, Message, Person


def _with(relation: str, *fields: str) -> tuple[str, ...]:
    """The fields the page shows, and its author's (as ``dossiers`` reads them)."""
    return (*fields, f"{relation}_id", *(f"{relation}__{name}" for name in AUTHOR))


@dataclass(frozen=True)
class Fresh:
    """What arrived after what the page shows: messages oldest first, entries newest first."""

    dossier: Dossier
    messages: list[Message]
    entries: list[JournalEntry]
    partner_names: dict[int, str]
    # The subject's "seen up to" before this answer: her new lines are marked as new.
    seen_seq: int

    @property
    def newest_seq(self) -> int:
        return self.entries[0].seq if self.entries else 0


async def readable(reader: Person, reference: str, *, subject: bool) -> Dossier:
    """The dossier, for whom its page is (``subject``: her page; else a worker's): anyone else
    finds nothing, as on the page itself."""
    dossier = await readable_dossier(reader, reference)
    if (reader.id == dossier.subject_id) != subject:
        raise NotFound("not this page's reader")
    return dossier


async def newer_than(
    reader: Person, dossier: Dossier, after_seq: int, after_message: int
) -> Fresh | None:
    """What is newer than journal entry ``after_seq`` and message ``after_message`` in a
    dossier from ``readable``; None if nothing.

    Asked from the subject's page, what she sees live is seen, as when she opens the page. A
    worker's ask that brings something is a read of the dossier, journaled as the page's; one
    that brings nothing read nothing, and writes nothing. Looks by others alone are not worth
    a worker's read (two workers' open pages would otherwise answer each other's looks
    forever): they show with the next news, or the next page.
    """
    is_subject = reader.id == dossier.subject_id
    if dossier.journal_seq <= after_seq:
        return None
    if not is_subject:
        news = JournalEntry.filter(dossier_id=dossier.id, seq__gt=after_seq).exclude(
            event__in=sorted(LOOKS)
        )
        if not await news.exists():
            return None
        # Written first, so that the answer shows it and the next ask starts after it.
        await journal.record_look(dossier, Event.DOSSIER_READ, reader)
    newest_first = (
        await Message.filter(dossier_id=dossier.id, id__gt=after_message)
        .only(*_with("author", *MESSAGE))
        .order_by("-created_at", "-id")
        .limit(THREAD_LIMIT)
    )
    messages = newest_first[::-1]
    entries = (
        await JournalEntry.filter(dossier_id=dossier.id, seq__gt=after_seq)
        .only(*_with("actor", *ENTRY))
        .order_by("-seq")
        .limit(TIMELINE_PAGE)
    )
    if dossier.wrapped_key is not None:
        keys.open_fields(keys.box(dossier), messages, "message", ("body",))
    else:
        # Erased: nothing sealed is readable any more.
        messages = []
    names = await journal.partner_names(entries)
    seen = dossier.subject_seen_seq
    if is_subject and entries and entries[0].seq > seen:
        # As the page does (dossiers.mark_seen); conditional, should another page be ahead.
        await Dossier.filter(id=dossier.id, subject_seen_seq__lt=entries[0].seq).update(
            subject_seen_seq=entries[0].seq
        )
    return Fresh(dossier, messages, entries, names, seen)
