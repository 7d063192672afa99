"""The journal of a dossier: append-only, each entry chained to the previous one and MAC'd.

Two chains run side by side. The keyed MACs (``hash``) let the server find a change made by
anyone without its journal key. The plain SHA-256 chain (``chain``, see ``portal.proof``) needs
no key at all: it is what her export carries and what a signed head fixes, so that she, or
anyone she trusts, finds a change made even by whoever holds every key of the server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal import keys, proof
from portal.domain import signing
from portal.models import Dossier, JournalEntry, Partner, Person, Service

# Both chains start from the same nothing.
GENESIS = proof.GENESIS


class Event(StrEnum):
    """Every kind of entry the journal holds, by the name stored with it (and in its MAC)."""

    ACTION_AGREED = "action.agreed"
    ACTION_CANCELLED = "action.cancelled"
    ACTION_DECLINED = "action.declined"
    ACTION_DONE = "action.done"
    ACTION_PROPOSED = "action.proposed"
    ACTION_RECORDED = "action.recorded"
    ACTION_WITHDRAWN = "action.withdrawn"
    CONCERTATION_ASKED = "concertation.asked"
    CONCERTATION_INFORMED = "concertation.informed"
    CONCERTATION_MINUTES_APPROVED = "concertation.minutes_approved"
    CONCERTATION_MINUTES_CHANGE_ASKED = "concertation.minutes_change_asked"
    CONCERTATION_MINUTES_SHARED = "concertation.minutes_shared"
    CONCERTATION_MINUTES_WRITTEN = "concertation.minutes_written"
    CONCERTATION_PLANNED = "concertation.planned"
    APPOINTMENT_ACCEPTED = "appointment.accepted"
    APPOINTMENT_CANCELLED = "appointment.cancelled"
    APPOINTMENT_CHANGED = "appointment.changed"
    APPOINTMENT_DECLINED = "appointment.declined"
    APPOINTMENT_DONE = "appointment.done"
    APPOINTMENT_MISSED = "appointment.missed"
    APPOINTMENT_OTHER_TIME_ASKED = "appointment.other_time_asked"
    APPOINTMENT_PROPOSED = "appointment.proposed"
    APPOINTMENT_REMINDER = "appointment.reminder"
    CONSENT_EXPIRED = "consent.expired"
    CONSENT_GRANTED = "consent.granted"
    CONSENT_REVOKED = "consent.revoked"
    CONTACT_CHANGED = "contact.changed"
    DOCUMENT_ADDED = "document.added"
    DOCUMENT_READ = "document.read"
    DOCUMENT_SHARED = "document.shared"
    DOSSIER_ASSIGNED = "dossier.assigned"
    DOSSIER_CLOSED = "dossier.closed"
    DOSSIER_ENDED = "dossier.ended"
    DOSSIER_ERASED = "dossier.erased"
    DOSSIER_EXPORTED = "dossier.exported"
    DOSSIER_HANDED_OVER = "dossier.handed_over"
    DOSSIER_READ = "dossier.read"
    DOSSIER_READ_REFUSED = "dossier.read_refused"
    DOSSIER_REOPENED = "dossier.reopened"
    DOSSIER_RETURNED = "dossier.returned"
    DOSSIER_TAKEN = "dossier.taken"
    MESSAGE_SENT = "message.sent"
    PARTNER_CHANGED = "partner.changed"
    RECOVERY_LINK_ISSUED = "recovery_link.issued"
    RECOVERY_LINK_USED = "recovery_link.used"
    REQUEST_MADE = "request.made"
    RETENTION_NOTICE = "retention.notice"
    SHARE_MADE = "share.made"
    SHARE_READ = "share.read"


# Looks, not steps: they do not count as activity in the dossier.
LOOKS = frozenset(
    {Event.DOSSIER_READ, Event.DOSSIER_READ_REFUSED, Event.SHARE_READ, Event.DOCUMENT_READ}
)


async def partner_names(entries: Sequence[JournalEntry]) -> dict[int, str]:
    """The partners these entries name, by id, as the directory names them: one query, even
    when none is named (a page's count of queries stays the same whatever it shows).

    The dossier's page and its export read the journal through this, so both say the same.
    """
    mentioned = {entry.details.get("partner") for entry in entries}
    named = Partner.filter(id__in=[pid for pid in mentioned if isinstance(pid, int)])
    return dict(await named.values_list("id", "name"))


def runs_of_looks(entries: Sequence[JournalEntry], new_after: int = 0) -> list[list[JournalEntry]]:
    """A page of the journal in runs, in its order: reads of the dossier by one person, one
    after the other with nothing between, make one run; every other entry is a run of its own.

    Every entry is in exactly one run, so a run shown as one line hides no entry. A run never
    mixes entries up to ``new_after`` (a seq: what the reader has seen) with newer ones.
    """
    runs: list[list[JournalEntry]] = []
    for entry in entries:
        if runs and _same_look(runs[-1][-1], entry, new_after):
            runs[-1].append(entry)
        else:
            runs.append([entry])
    return runs


def _same_look(before: JournalEntry, entry: JournalEntry, new_after: int) -> bool:
    return (
        entry.event == Event.DOSSIER_READ
        and before.event == Event.DOSSIER_READ
        and not entry.details
        and not before.details
        and entry.actor_id == before.actor_id
        and (entry.seq > new_after) == (before.seq > new_after)
    )


def entry_mac(
    dossier_id: int,
    seq: int,
    actor_id: int | None,
    event: str,
    at: datetime,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The MAC of an entry over every field that means something, and the previous MAC."""
    payload = json.dumps(
        [
            dossier_id,
            seq,
            actor_id,
            event,
            at.isoformat(timespec="microseconds"),
            details,
            prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hmac.new(keys.journal_key(), payload.encode(), hashlib.sha256).hexdigest()


def public_form(
    reference: str,
    seq: int,
    at: datetime,
    event: str,
    actor_id: int | None,
    details: dict[str, Any],
) -> dict[str, Any]:
    """An entry as her export gives it and the plain chain covers it (``proof.ENTRY_FIELDS``):
    the dossier by its reference, the moment in UTC to the microsecond, the actor by number."""
    return {
        "dossier": reference,
        "seq": seq,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "event": str(event),
        "actor": actor_id,
        "details": details,
    }


def entry_form(reference: str, entry: JournalEntry) -> dict[str, Any]:
    """A stored entry in her export's form, with its chain hash."""
    return {
        **public_form(reference, entry.seq, entry.at, entry.event, entry.actor_id, entry.details),
        "chain": entry.chain,
    }


@dataclass(frozen=True)
class JournalProof:
    """Her journal as public things: every entry in the export's form, and its head signed by
    the service. With it she (or someone she trusts) later proves that an entry shown then
    was changed or removed afterwards, whoever holds the server's keys."""

    entries: list[dict[str, Any]]
    head: str  # a compact JWS of kind ``proof.HEAD``
    signed_at: datetime
    seq: int  # the newest entry's number: how many entries the head covers
    # The service's public keys that day (``/.well-known/jwks.json``): kept with her export,
    # they check its head even should the service later stop publishing them.
    keys: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {"entries": self.entries, "head": self.head, "keys": self.keys}


async def journal_proof(
    dossier: Dossier, entries: Sequence[JournalEntry], origin: str
) -> JournalProof:
    """Every entry of the journal (``entries``: all of them, in seq order, as the caller read
    them) and the head over the newest, signed now. Three queries, whatever the journal holds:
    the service's name, the signing key, the published keys."""
    service = await Service.get(id=dossier.service_id).values_list("name", flat=True)
    signed_at = timezone.now()
    seq = entries[-1].seq if entries else 0
    claims = {
        "iss": origin,
        "iat": int(signed_at.timestamp()),
        "dossier": dossier.reference,
        "seq": seq,
        "chain": entries[-1].chain if entries else GENESIS,
        "controller": service,
    }
    head = await signing.sign(claims, proof.HEAD)
    return JournalProof(
        [entry_form(dossier.reference, entry) for entry in entries],
        head,
        signed_at.replace(microsecond=0),
        seq,
        await signing.jwks(),
    )


async def record(
    dossier: Dossier,
    event: Event,
    actor: Person | None = None,
    details: dict[str, Any] | None = None,
) -> JournalEntry:
    """Append an entry. Call it inside the transaction of the change it records.

    The caller holds the dossier row (``select_for_update`` on PostgreSQL, the one writer on
    SQLite), so two entries of one dossier are never appended at once.
    """
    details = details or {}
    last = (
        await JournalEntry.filter(dossier_id=dossier.id)
        .order_by("-seq")
        .first()
        .values_list("seq", "hash", "chain")
    )
    seq = last[0] + 1 if last else 1
    prev_hash = last[1] if last else GENESIS
    prev_chain = last[2] if last else GENESIS
    at = timezone.now()
    actor_id = actor.id if actor else None
    mac = entry_mac(dossier.id, seq, actor_id, event, at, details, prev_hash)
    chain = proof.chain_hash(
        prev_chain, public_form(dossier.reference, seq, at, event, actor_id, details)
    )
    entry = await JournalEntry.create(
        dossier_id=dossier.id,
        seq=seq,
        actor_id=actor_id,
        event=event,
        at=at,
        details=details,
        prev_hash=prev_hash,
        hash=mac,
        chain=chain,
    )
    head: dict[str, Any] = {"journal_seq": seq, "journal_head": head_mac(dossier.id, seq, mac)}
    if event not in LOOKS:
        head["last_activity_at"] = at
    await Dossier.filter(id=dossier.id).update(**head)
    return entry


async def record_look(
    dossier: Dossier, event: Event, actor: Person, details: dict[str, Any] | None = None
) -> None:
    """Append a look (see LOOKS) in a transaction of its own: every page a worker opens does.

    A look is the same entry as any other, chained and MAC'd; it only changes nothing else, so
    it needs no transaction of the caller's, only the dossier row held while it is appended.
    """
    if event not in LOOKS:
        raise ValueError(f"{event} is not a look")
    async with in_transaction():
        await Dossier.select_for_update().get(id=dossier.id)
        await record(dossier, event, actor, details)


def head_mac(dossier_id: int, seq: int, last_hash: str) -> str:
    """A MAC over the newest entry, kept on the dossier: removing the newest entries shows."""
    payload = f"head:{dossier_id}:{seq}:{last_hash}".encode()
    return hmac.new(keys.journal_key(), payload, hashlib.sha256).hexdigest()


@dataclass
class Break:
    dossier_id: int
    seq: int | None
    reason: str


# Entries read at a time when checking: memory stays flat whatever a journal's length.
VERIFY_PAGE = 1000
# Dossiers read at a time by verify_all.
VERIFY_BATCH = 1000
_VERIFIED = ("seq", "actor_id", "event", "at", "details", "prev_hash", "hash", "chain")


async def verify_dossier(dossier: Dossier) -> Break | None:
    """Walk one chain from the start, a page at a time; return the first broken place, or None.

    Needs only the dossier's ``id``, ``reference``, ``journal_seq`` and ``journal_head``.
    Both chains are checked: the MACs (a change by someone without the journal key) and the
    plain chain her exports carry (which must be the one recomputed from the entries).
    """
    expected_prev = GENESIS
    expected_chain = GENESIS
    expected_seq = 1
    last_hash = GENESIS
    while True:
        query = JournalEntry.filter(dossier_id=dossier.id)
        if expected_seq > 1:
            # Every entry so far had the seq expected: the next page starts after the last one.
            query = query.filter(seq__gt=expected_seq - 1)
        rows = await query.order_by("seq", "id").limit(VERIFY_PAGE).values_list(*_VERIFIED)
        for seq, actor_id, event, at, details, prev_hash, stored, chain in rows:
            if seq != expected_seq:
                return Break(
                    dossier.id,
                    seq,
                    f"entry {expected_seq} is missing or out of order (found {seq})",
                )
            if prev_hash != expected_prev:
                return Break(dossier.id, seq, "does not follow the entry before it")
            mac = entry_mac(dossier.id, seq, actor_id, event, at, details, prev_hash)
            if not hmac.compare_digest(mac, stored):
                return Break(dossier.id, seq, "was changed after it was written")
            expected_chain = proof.chain_hash(
                expected_chain, public_form(dossier.reference, seq, at, event, actor_id, details)
            )
            if not hmac.compare_digest(expected_chain.encode(), chain.encode()):
                return Break(dossier.id, seq, "does not hold the plain chain hash of its entry")
            expected_prev = last_hash = stored
            expected_seq += 1
        if len(rows) < VERIFY_PAGE:
            break
    count = expected_seq - 1
    if dossier.journal_seq != count:
        return Break(
            dossier.id,
            count + 1 if count < dossier.journal_seq else None,
            f"the dossier says {dossier.journal_seq} entries, the journal has {count}",
        )
    if count and not hmac.compare_digest(
        head_mac(dossier.id, count, last_hash), dossier.journal_head
    ):
        return Break(dossier.id, count, "the newest entry is not the one last written")
    return None


async def verify_all() -> tuple[int, list[Break]]:
    """Check every dossier's chain, a batch of dossiers at a time, in the order they were made;
    return how many were checked and what broke."""
    breaks: list[Break] = []
    checked = last_id = 0
    while True:
        dossiers = (
            await Dossier.filter(id__gt=last_id)
            .order_by("id")
            .limit(VERIFY_BATCH)
            .only("id", "reference", "journal_seq", "journal_head")
        )
        if not dossiers:
            return checked, breaks
        for dossier in dossiers:
            found = await verify_dossier(dossier)
            if found:
                breaks.append(found)
        checked += len(dossiers)
        last_id = dossiers[-1].id
