"""The journal of a dossier: append-only, each entry chained to the previous one and MAC'd."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from typing import Any

from tortoise import timezone

from portal import keys
from portal.models import Dossier, JournalEntry, Person

GENESIS = "0" * 64
# Looks, not steps: they do not count as activity in the dossier.
LOOKS = frozenset({"dossier.read", "dossier.read_refused", "share.read"})


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


async def record(
    dossier: Dossier,
    event: str,
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
        .values("seq", "hash")
    )
    seq = last["seq"] + 1 if last else 1
    prev_hash = last["hash"] if last else GENESIS
    at = timezone.now()
    actor_id = actor.id if actor else None
    if event not in LOOKS:
        await Dossier.filter(id=dossier.id).update(last_activity_at=at)
    return await JournalEntry.create(
        dossier_id=dossier.id,
        seq=seq,
        actor_id=actor_id,
        event=event,
        at=at,
        details=details,
        prev_hash=prev_hash,
        hash=entry_mac(dossier.id, seq, actor_id, event, at, details, prev_hash),
    )
