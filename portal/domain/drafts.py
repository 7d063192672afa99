"""What was typed in a signed-in form and not sent yet: kept, so a reload loses nothing.

The request form has its own draft (``portal.domain.requests``); the same table and the same
sealing keep the free text of the signed-in forms: one row per browser, person and form (its
"place": a dossier and which of its forms). Both the row's key and the sealing key come from the
browser's random cookie, which the server does not keep: without the browser, a draft is noise.

The page's script sends the text as it is typed; without JavaScript nothing is sent before the
form itself, so a reload then keeps nothing but what the browser itself keeps.

The caller has checked that this person may send this form for this dossier (the form's own
access rule): a draft is kept only where its form could be sent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from tortoise import timezone
from tortoise.transactions import in_transaction

from portal.domain.errors import Invalid, NotFound
from portal.i18n import lazy as _l
from portal.models import Dossier, DossierStatus, Person, RequestDraft, SubmittedForm
from portal.security.crypto import Box, CryptoError

# As the request form's: long enough to come back to the tab; short, as a phone may be shared.
LIFETIME = timedelta(hours=2)
# A browser's cookie is 43 characters; anything much shorter is no browser of ours.
MIN_BROWSER = 16


@dataclass(frozen=True)
class Place:
    """A form whose text is kept: its fields and their longest lengths (as the form's own)."""

    fields: tuple[tuple[str, int], ...]
    # Only while the dossier is open (a message cannot be sent in an ended dossier).
    open_only: bool = False
    # A field that is a choice, not a text: anything else is forged.
    choices: tuple[tuple[str, frozenset[str]], ...] = ()


MESSAGE = "messages"
COME_BACK = "revenir"
STEP = "demarches"
PLACES = {
    MESSAGE: Place((("body", 4000),), open_only=True),
    COME_BACK: Place((("words", 4000),)),
    # Which of the two step forms ("record" or "propose"), and what is written in it.
    STEP: Place(
        (("description", 2000), ("mode", 10)),
        open_only=True,
        choices=(("mode", frozenset({"record", "propose"})),),
    ),
}
# What the form itself says of a text too long.
TOO_LONG = {4000: _l("At most 4,000 characters."), 2000: _l("At most 2,000 characters.")}


def browser_hash(browser: str) -> str:
    """The same for every draft of one browser (the request form's draft is stored under it)."""
    return hashlib.sha256(f"portal-draft-id:{browser}".encode()).hexdigest()


def sealing_box(browser: str) -> Box:
    """The key every draft of this browser is sealed with (the request form's too)."""
    return Box(0, hashlib.sha256(f"portal-draft-key:{browser}".encode()).digest())


def _where(browser: str, person: Person, reference: str, place: str) -> tuple[str, str]:
    """The row's key, and the label the text is sealed under (a row moved elsewhere does not
    open)."""
    label = f"draft:{person.id}:{reference.upper()[:12]}:{place}"
    return hashlib.sha256(f"portal-draft-id:{browser}:{label}".encode()).hexdigest(), label


def _place(name: str) -> Place:
    place = PLACES.get(name)
    if place is None:
        raise NotFound("no such draft")
    return place


async def keep(
    browser: str,
    person: Person,
    dossier: Dossier,
    name: str,
    values: dict[str, str],
    *,
    sent_key: str | None = None,
) -> None:
    """Keep what this person typed in this form of this dossier (replacing the last draft).

    ``sent_key``: the digest of the form's single-use key. Once the form has been sent, a
    draft still on its way is the text just sent: it is not kept.
    """
    place = _place(name)
    if len(browser) < MIN_BROWSER:
        return
    if place.open_only and dossier.status is DossierStatus.ENDED:
        raise NotFound("the dossier has ended")
    for field, allowed in place.choices:
        if values.get(field, "") not in allowed:
            raise NotFound("no such form")
    typed: dict[str, str] = {}
    for field, longest in place.fields:
        value = values.get(field, "")
        if len(value) > longest:
            raise Invalid(field, TOO_LONG.get(longest, TOO_LONG[2000]))
        typed[field] = value
    where, label = _where(browser, person, dossier.reference, name)
    now = timezone.now()
    async with in_transaction():
        await RequestDraft.filter(expires_at__lt=now).delete()
        if sent_key is not None and await SubmittedForm.filter(key_hash=sent_key).exists():
            return
        await RequestDraft.filter(key_hash=where).delete()
        if not any(typed.get(field, "").strip() for field, _longest in place.fields[:1]):
            return  # Emptied: nothing to keep.
        sealed = sealing_box(browser).seal(json.dumps(typed, ensure_ascii=False), label)
        await RequestDraft.create(
            key_hash=where,
            browser_hash=browser_hash(browser),
            sealed=sealed,
            expires_at=now + LIFETIME,
        )


async def kept(
    browser: str, person: Person, reference: str, names: tuple[str, ...]
) -> dict[str, dict[str, str]]:
    """The drafts of these forms of a dossier, by form (one query for all of them)."""
    if len(browser) < MIN_BROWSER:
        return {}
    wheres: dict[str, tuple[str, str]] = {}
    for name in names:
        where, label = _where(browser, person, reference, name)
        wheres[where] = (name, label)
    rows = await RequestDraft.filter(key_hash__in=list(wheres), expires_at__gte=timezone.now())
    box = sealing_box(browser)
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        name, label = wheres[row.key_hash]
        try:
            values = json.loads(box.open(row.sealed, label))
        except (CryptoError, ValueError):
            continue
        if isinstance(values, dict):
            found[name] = {
                field: values[field][:longest]
                for field, longest in PLACES[name].fields
                if isinstance(values.get(field), str)
            }
    return found


async def drop(browser: str, person: Person, reference: str, name: str) -> None:
    """Forget a form's draft: it was sent."""
    if len(browser) < MIN_BROWSER:
        return
    await RequestDraft.filter(key_hash=_where(browser, person, reference, name)[0]).delete()


async def drop_all(browser: str) -> None:
    """Forget every draft of this browser: whoever picks up the phone next finds none."""
    if len(browser) < MIN_BROWSER:
        return
    await RequestDraft.filter(browser_hash=browser_hash(browser)).delete()
